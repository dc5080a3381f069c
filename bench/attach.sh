#!/usr/bin/env bash
# How fast a keystroke typed into an attached container comes back, through the daemon:
#
#   bench/attach.sh [SAMPLES]      (as root; builds the release binary; results in bench/results/)
#
# Starts a `ctrace daemon` of its own (own root, exec root, bridge, socket); bench/attach.py
# creates and starts `busybox sh` on a terminal through the API (as `docker run -dit` does) and
# types SAMPLES keys over each attach path — the hijacked connection and the websocket — in
# interleaved blocks, each key timed from its write to its echo on the same connection. Prints
# the median and p99 of each path, with the machine's facts.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${1:-2000}
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-attachbench.XXXXXX)
export CTRACE_ROOT=$WORK/root CTRACE_EXEC_ROOT=$WORK/run CTRACE_TRACE=off
export CTRACE_BRIDGE=ctrattach0 CTRACE_BRIDGE_SUBNET=10.254.79.0/24
SOCK=$WORK/daemon.sock
DPID=
cleanup() {
  "$BIN" ps -aq 2>/dev/null | xargs -r "$BIN" rm -f >/dev/null 2>&1 || true
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
  "$BIN" network prune >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" run --rm --network none busybox true >/dev/null 2>&1   # builds the image once
"$BIN" daemon --socket "$SOCK" >"$WORK/daemon.log" 2>&1 &
DPID=$!
until out=$("$BIN" -H "unix://$SOCK" rm no-such-container 2>&1); [[ $out == *"no such container"* ]]; do
  sleep 0.05
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/attach.py "$SOCK" "$SAMPLES" >"$WORK/samples.json"

python3 - "$WORK/samples.json" "$SAMPLES" "$LOAD_BEFORE" <<'PY'
import json, os, platform, statistics, sys
samples = json.load(open(sys.argv[1]))
rows = {
    "direct": "floor: a host pty, no container, no daemon",
    "hijacked": "hijacked attach (`POST /containers/{id}/attach`, `Upgrade: tcp`)",
    "websocket": "websocket attach (`GET /containers/{id}/attach/ws`)",
}
def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
load = " ".join(open("/proc/loadavg").read().split()[:3])
print(f"## Keystroke → echo through `ctrace daemon` ({sys.argv[2]} keys per path, interleaved blocks)\n")
print(f"machine: {cpu()}, {os.cpu_count()} cores, Linux {platform.release()};")
print(f"load average {sys.argv[3]} before, {load} after; release build; `busybox sh` on a terminal")
print("(as `docker run -dit`), typed into by a Python client on the daemon's unix socket.\n")
print("| path | keys | median ms | p99 ms | max ms |")
print("|---|---|---|---|---|")
for name, xs in samples.items():
    xs = sorted(x / 1000 for x in xs)
    p99 = xs[max(0, int(len(xs) * 0.99) - 1)]
    print(f"| {rows.get(name, name)} | {len(xs)} | {statistics.median(xs):.3f} | {p99:.3f} | {xs[-1]:.3f} |")
PY
