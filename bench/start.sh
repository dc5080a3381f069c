#!/usr/bin/env bash
# Start latency of `ctrace run --rm --network none busybox true`, side by side with its peers, in
# one hyperfine run on this machine:
#
#   floor          unshare(pid,mnt,uts,ipc,net) + chroot + true: namespaces and exec, nothing else
#   runc           runc run on a prepared bundle (no image, no overlay, no trace)
#   ctrace         the whole engine path: image lookup, overlay, cgroup, shim, trace file
#   ctrace-notrace the same with CTRACE_TRACE=off (the cost of recording is the difference)
#   ctrace-runc    ctrace driving runc on the same bundle (--runtime runc)
#
#   bench/start.sh [RUNS]      (as root; builds the release binary; results in bench/results/)
#
# Quote the ratios, not the absolute times: machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >/dev/null; }
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-bench.XXXXXX)
export CTRACE_ROOT=$WORK/root CTRACE_EXEC_ROOT=$WORK/run
cleanup() { "$BIN" ps -aq 2>/dev/null | xargs -r "$BIN" rm -f >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

# One busybox rootfs for everybody (the same bytes ctrace's own busybox image is built from).
root=$WORK/rootfs
mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true echo; do ln -sf busybox "$root/bin/$a"; done
"$BIN" run --rm --network none busybox true >/dev/null   # builds the busybox image once
bundle=$WORK/bundle
mkdir -p "$bundle" && cp -a "$root" "$bundle/rootfs"
(cd "$bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)

mkdir -p bench/results
hyperfine -N --warmup 3 --runs "$RUNS" \
  --export-markdown bench/results/start.md --export-json bench/results/start.json \
  -n floor "unshare --pid --mount --uts --ipc --net --fork chroot $root /bin/true" \
  -n runc "runc --root $WORK/runc-root run -b $bundle ctrace-bench-runc" \
  -n ctrace "env CTRACE_TRACE=on $BIN run --rm --network none busybox true" \
  -n ctrace-notrace "env CTRACE_TRACE=off $BIN run --rm --network none busybox true" \
  -n ctrace-runc "$BIN run --rm --network none --runtime runc busybox true" >&2
cat bench/results/start.md
