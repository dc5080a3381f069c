#!/usr/bin/env bash
# What going through the daemon costs a container run, measured side by side:
#
#   bench/daemon.sh [RUNS]      (as root; builds the release binary; results in bench/results/)
#
# Runs `ctrace run --rm --network none busybox true` RUNS times embedded (no daemon: the engine
# in the CLI's process), RUNS times through `ctrace daemon` (the CLI as a client), interleaved so
# both see the same machine, and — when the docker client is installed — RUNS times as
# `docker run --rm --network none busybox true` against the same ctrace daemon. Prints each
# median and the daemon's extra cost (wall time of the whole command, measured here).
# With DOCKERD=1 (and dockerd installed: `apt-get install docker.io`), it also starts a dockerd of
# its own (own data root, exec root, socket, no bridge) and times the same docker CLI command
# against it, interleaved with the rest, on an image imported from the same static busybox: the
# docker CLI → dockerd baseline for the docker CLI → ctrace daemon row.
# Its own root and exec root, removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-daemonbench.XXXXXX)
export CTRACE_ROOT=$WORK/root CTRACE_EXEC_ROOT=$WORK/run CTRACE_TRACE=off
# The daemon sets up its bridge at start-up: its own, not a user's ctrace0, pruned at the end.
export CTRACE_BRIDGE=ctrbench0 CTRACE_BRIDGE_SUBNET=10.254.78.0/24
# Not the default socket: the embedded runs must not find the daemon.
SOCK=$WORK/daemon.sock
DPID=
DOCKERD_PID=
cleanup() {
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
  [ -n "$DOCKERD_PID" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null || true
  "$BIN" ps -aq 2>/dev/null | xargs -r "$BIN" rm -f >/dev/null 2>&1 || true
  "$BIN" network prune >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" run --rm --network none busybox true   # builds the image once

start_daemon() {
  "$BIN" daemon --socket "$SOCK" >/dev/null 2>&1 &
  DPID=$!
  # Ready when it answers (with docker's 404 for a container that does not exist).
  until out=$("$BIN" -H "unix://$SOCK" rm no-such-container 2>&1); [[ $out == *"no such container"* ]]; do
    sleep 0.05
  done
}
stop_daemon() { kill "$DPID"; wait "$DPID" 2>/dev/null || true; DPID=; }

timed() {  # prints the wall time of "$@" in microseconds
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

: >"$WORK/embedded" ; : >"$WORK/daemon" ; : >"$WORK/docker"
have_docker=0; command -v docker >/dev/null 2>&1 && have_docker=1
have_dockerd=0
if [ "${DOCKERD:-0}" = 1 ] && [ "$have_docker" = 1 ] && command -v dockerd >/dev/null 2>&1; then
  DSOCK=$WORK/dockerd.sock
  dockerd --data-root "$WORK/docker-data" --exec-root "$WORK/docker-run" -H "unix://$DSOCK" \
    --pidfile "$WORK/dockerd.pid" --bridge none --iptables=false >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 120); do DOCKER_HOST=unix://$DSOCK docker info >/dev/null 2>&1 && break; sleep 0.5; done
  rootfs=$WORK/rootfs
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp}
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  for a in sh true echo; do ln -sf busybox "$rootfs/bin/$a"; done
  tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
  DOCKER_HOST=unix://$DSOCK docker import "$WORK/rootfs.tar" ctrace-bench-busybox:latest >/dev/null
  have_dockerd=1
  : >"$WORK/dockerd"
fi
start_daemon
for _ in $(seq "$RUNS"); do
  timed "$BIN" run --rm --network none busybox true >>"$WORK/embedded"
  timed "$BIN" -H "unix://$SOCK" run --rm --network none busybox true >>"$WORK/daemon"
  if [ "$have_docker" = 1 ]; then
    DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$WORK/docker-config \
      timed docker run --rm --network none busybox true >>"$WORK/docker"
  fi
  if [ "$have_dockerd" = 1 ]; then
    DOCKER_HOST=unix://$DSOCK DOCKER_CONFIG=$WORK/docker-config \
      timed docker run --rm --network none ctrace-bench-busybox true >>"$WORK/dockerd"
  fi
done
stop_daemon

mkdir -p bench/results
python3 - "$WORK" "$RUNS" <<'PY' | tee bench/results/daemon.md
import statistics, sys, os
work, runs = sys.argv[1], sys.argv[2]
def load(name):
    p = os.path.join(work, name)
    return [int(l) / 1000 for l in open(p) if l.strip()] if os.path.exists(p) else []
emb, dae, doc, dkd = load("embedded"), load("daemon"), load("docker"), load("dockerd")
print(f"# ctrace run --rm --network none busybox true: embedded vs through the daemon ({runs} runs each)\n")
print("| path | median ms | p90 ms |")
print("|---|---|---|")
def row(name, xs):
    if xs:
        xs = sorted(xs)
        print(f"| {name} | {statistics.median(xs):.1f} | {xs[int(len(xs) * 0.9) - 1]:.1f} |")
row("embedded (`ctrace run`, no daemon)", emb)
row("through the daemon (`ctrace run`, client)", dae)
row("docker CLI → ctrace daemon (`docker run`)", doc)
row("docker CLI → dockerd (`docker run`, same machine, same run)", dkd)
if emb and dae:
    print(f"\nthe daemon adds {statistics.median(dae) - statistics.median(emb):+.1f} ms to the median")
if doc and dkd:
    print(f"docker CLI → ctrace daemon / docker CLI → dockerd: {statistics.median(doc) / statistics.median(dkd):.2f}")
PY
