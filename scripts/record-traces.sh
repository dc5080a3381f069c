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
record failed-start run --rm --fail-at init.process busybox true
record bench bench -n 10 busybox true
