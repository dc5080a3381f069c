#!/usr/bin/env bash
# Records the reference traces kept in traces/: real runs on a real Linux host, which the book and
# the exporters' examples are built from (traces/manifest says which chapter shows which). Re-run
# after changing the engine, then regenerate the book. As root.
#
#   scripts/record-traces.sh [CTRACE_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/ctrace}
[ -x "$BIN" ] || cargo build --release -q
work=$(mktemp -d /tmp/ctrace-record.XXXXXX)
export CTRACE_ROOT=$work/root CTRACE_EXEC_ROOT=$work/run NO_COLOR=1
# A bridge of its own, removed at the end, so recording never touches the user's.
export CTRACE_BRIDGE=ctrrec0 CTRACE_BRIDGE_SUBNET=10.254.77.0/24
trap '"$BIN" network prune >/dev/null 2>&1; rm -rf "$work"' EXIT

record() { # NAME ARGS...: run ctrace ARGS, keep the newest trace as traces/NAME.json
  local name=$1; shift
  "$BIN" "$@" >/dev/null 2>&1 || true
  # The newest trace of this operation (a detached container's shim may write an `exit` trace too).
  local newest
  newest=$(python3 -c 'import json,sys,glob,os
op = sys.argv[2]
files = sorted(glob.glob(sys.argv[1] + "/*.json"), key=os.path.getmtime, reverse=True)
print(next(f for f in files if json.load(open(f))["operation"] == op))' "$CTRACE_ROOT/traces" "$1")
  cp "$newest" "traces/$name.json"
  echo "traces/$name.json  ← ctrace $*"
}

# A pull from a registry on 127.0.0.1 (Debian's docker-registry, its own storage and port) that
# holds the busybox image pushed from ctrace's own store (an OCI layout) by skopeo; pulled into a
# second, empty root so every blob is really fetched.
record-pull() {
  local port reg
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry" "$port" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
  reg=$!
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break
    sleep 0.1
  done
  skopeo copy -q --dest-tls-verify=false "oci:$CTRACE_ROOT/images:docker.io/library/busybox:latest" \
    "docker://127.0.0.1:$port/course/busybox:1.0" >/dev/null
  CTRACE_ROOT=$work/pull-root record pull pull -q "127.0.0.1:$port/course/busybox:1.0"
  kill "$reg"
  wait "$reg" 2>/dev/null || true
}

# The daemon's start-up trace, then a `run` through it (client, daemon, shim and init in one
# trace); SIGTERM stops it.
record-daemon() {
  local sock=$work/ctrace.sock d
  "$BIN" daemon --socket "$sock" >/dev/null 2>&1 &
  d=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  sleep 0.2
  python3 -c 'import json,sys,glob,os
files = sorted(glob.glob(sys.argv[1] + "/*.json"), key=os.path.getmtime, reverse=True)
print(next(f for f in files if json.load(open(f))["operation"] == "daemon"))' "$CTRACE_ROOT/traces" |
    xargs -I{} cp {} traces/daemon.json
  echo "traces/daemon.json  ← ctrace daemon"
  CTRACE_HOST=unix://$sock record run-daemon run --rm busybox echo hi
  kill "$d"
  wait "$d" 2>/dev/null || true
}

"$BIN" run --rm busybox true >/dev/null 2>&1   # builds the busybox image, not recorded
record run-echo run --rm busybox echo hi
record run-none run --rm --network none busybox echo hi
record run-publish run --rm -p 18081:80 busybox true
record run-volume run --rm -v recorded-data:/data busybox sh -c 'echo 1 > /data/x'
record run-limits run --rm -m 64m --pids-limit 50 --cpus 0.5 busybox true
record run-runc run --rm --runtime runc busybox echo hi
record create create --name recorded busybox sleep 30
record start start recorded
record rm-force rm -f recorded
"$BIN" run -d --name recorded-stop busybox sleep 30 >/dev/null 2>&1
record stop stop -t 1 recorded-stop     # sleep ignores SIGTERM as pid 1: the grace period, then SIGKILL
"$BIN" rm recorded-stop >/dev/null 2>&1
"$BIN" run -d --name recorded-kill busybox sleep 30 >/dev/null 2>&1
record kill kill recorded-kill
"$BIN" rm recorded-kill >/dev/null 2>&1
"$BIN" run -d --name recorded-life busybox sleep 30 >/dev/null 2>&1
record pause pause recorded-life
"$BIN" unpause recorded-life >/dev/null 2>&1
record exec exec recorded-life ps
record restart restart -t 0 recorded-life
"$BIN" rm -f recorded-life >/dev/null 2>&1
record failed-start run --rm --fail-at init.process busybox true
record-pull
record-daemon
record bench bench -n 10 busybox true
