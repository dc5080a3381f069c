#!/usr/bin/env bash
# What a dead OTLP collector costs a container start through the daemon, measured side by side:
#
#   bench/otlp.sh [RUNS]      (as root; builds the release binary; results in bench/results/)
#
# Two ctrace daemons, each with its own root, exec root, bridge and socket: one without OTLP, one
# exporting live to a collector that accepts connections and never answers
# (OTEL_EXPORTER_OTLP_ENDPOINT). `ctrace -H … run --rm --network none busybox true` is timed
# RUNS times against each, interleaved so both see the same machine; prints each median, the
# ratio, and what the exporting daemon's /info counted (sent, dropped, failed spans).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-otlpbench.XXXXXX)
export CTRACE_TRACE=on
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  for d in plain otlp; do
    CTRACE_ROOT=$WORK/$d/root CTRACE_EXEC_ROOT=$WORK/$d/run "$BIN" ps -aq 2>/dev/null |
      CTRACE_ROOT=$WORK/$d/root CTRACE_EXEC_ROOT=$WORK/$d/run xargs -r "$BIN" rm -f >/dev/null 2>&1 || true
    CTRACE_ROOT=$WORK/$d/root CTRACE_EXEC_ROOT=$WORK/$d/run CTRACE_BRIDGE=$(bridge $d) \
      "$BIN" network prune >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
bridge() { [ "$1" = plain ] && echo ctrotlp0 || echo ctrotlp1; }
subnet() { [ "$1" = plain ] && echo 10.254.80.0/24 || echo 10.254.81.0/24; }
trap cleanup EXIT

# A collector that never answers: the kernel accepts connections into the backlog, nobody reads.
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(4096)
print(s.getsockname()[1], flush=True); time.sleep(10**6)' >"$WORK/port" &
PIDS+=($!)
until [ -s "$WORK/port" ]; do sleep 0.05; done
PORT=$(cat "$WORK/port")

start_daemon() {  # NAME [ENV...]
  local d=$1; shift
  mkdir -p "$WORK/$d"
  env CTRACE_ROOT="$WORK/$d/root" CTRACE_EXEC_ROOT="$WORK/$d/run" CTRACE_BRIDGE="$(bridge "$d")" \
    CTRACE_BRIDGE_SUBNET="$(subnet "$d")" "$@" \
    "$BIN" daemon --socket "$WORK/$d.sock" >"$WORK/$d.log" 2>&1 &
  PIDS+=($!)
  until out=$("$BIN" -H "unix://$WORK/$d.sock" rm no-such-container 2>&1); [[ $out == *"no such container"* ]]; do
    sleep 0.05
  done
}
start_daemon plain
start_daemon otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT"

timed() {  # prints the wall time of "$@" in microseconds
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
run() { "$BIN" -H "unix://$WORK/$1.sock" run --rm --network none busybox true; }
run plain; run otlp   # each root builds its image once
: >"$WORK/plain.times"; : >"$WORK/otlp.times"
for _ in $(seq "$RUNS"); do
  timed run plain >>"$WORK/plain.times"
  timed run otlp >>"$WORK/otlp.times"
done
info=$(python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /info HTTP/1.0\r\nHost: x\r\n\r\n"); d=b""
while (c := s.recv(65536)): d += c
print(d.split(b"\r\n\r\n", 1)[1].decode())' "$WORK/otlp.sock")

mkdir -p bench/results
python3 - "$WORK" "$RUNS" "$info" <<'PY' | tee bench/results/otlp.md
import json, statistics, sys, os
work, runs, info = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
load = lambda n: sorted(int(l) / 1000 for l in open(os.path.join(work, n)) if l.strip())
plain, otlp = load("plain.times"), load("otlp.times")
print(f"# A dead OTLP collector and container starts through the daemon ({runs} runs each, interleaved)\n")
print("`ctrace -H … run --rm --network none busybox true`, wall time of the whole command.\n")
print("| daemon | median ms | p90 ms |")
print("|---|---|---|")
for name, xs in [("no OTLP export", plain), ("live export to a collector that never answers", otlp)]:
    print(f"| {name} | {statistics.median(xs):.1f} | {xs[int(len(xs) * 0.9) - 1]:.1f} |")
print(f"\nexporting / not exporting: {statistics.median(otlp) / statistics.median(plain):.3f}")
e = info.get("OtlpExport") or {}
print(f"\nthe exporting daemon's /info: sent {e.get('SentSpans')}, dropped {e.get('DroppedSpans')}, "
      f"failed {e.get('FailedSpans')} spans")
PY
