#!/usr/bin/env bash
# What the bridge network costs a start, phase by phase, from ctrace's own trace files:
#
#   bench/network.sh [RUNS]      (as root; builds the release binary; results in bench/results/)
#
# Runs `ctrace run --rm busybox true` RUNS times in bridge mode and in none mode (its own root,
# bridge and subnet, removed afterwards), then prints the median of each network phase
# (start.network.init, init.namespaces, start.network.attach, exit.network) and its share of the
# whole `run`, next to the median totals of both modes. For the comparison with docker's bridge,
# see ../shared/bench/peers.sh (ctrace-bridge against docker-bridge).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-netbench.XXXXXX)
export CTRACE_ROOT=$WORK/root CTRACE_EXEC_ROOT=$WORK/run CTRACE_TRACE=on
export CTRACE_BRIDGE=ctbench$$ CTRACE_BRIDGE_SUBNET=10.254.$(($$ % 250)).0/24
cleanup() {
  "$BIN" ps -aq 2>/dev/null | xargs -r "$BIN" rm -f >/dev/null 2>&1 || true
  "$BIN" network prune >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" run --rm busybox true >/dev/null   # builds the image and the bridge once
rm -rf "$CTRACE_ROOT/traces"
for mode in bridge none; do
  for _ in $(seq "$RUNS"); do "$BIN" run --rm --network "$mode" busybox true; done
done
mkdir -p bench/results
python3 - "$CTRACE_ROOT/traces" <<'PY' | tee bench/results/network.md
import json, os, statistics, sys
runs = {"bridge": [], "none": []}
for f in os.listdir(sys.argv[1]):
    t = json.load(open(os.path.join(sys.argv[1], f)))
    if t.get("operation") != "run":
        continue
    mode = "none" if "none" in t.get("argv", []) else "bridge"
    runs[mode].append(t)
phases = ["start.network.init", "init.namespaces", "start.network.attach", "exit.network"]
med = lambda xs: statistics.median(xs) if xs else 0.0
total = {m: med([t["duration_ns"] / 1e6 for t in ts]) for m, ts in runs.items()}
print(f"| phase (bridge, {len(runs['bridge'])} runs) | median ms | share of run |")
print("|:---|---:|---:|")
net = 0.0
for p in phases:
    d = med([sum(s["duration_ns"] for s in t["spans"] if s["name"] == p) / 1e6 for t in runs["bridge"]])
    net += d
    print(f"| `{p}` | {d:.2f} | {100 * d / total['bridge']:.1f}% |")
print(f"| network phases together | {net:.2f} | {100 * net / total['bridge']:.1f}% |")
print(f"| `run` total, bridge | {total['bridge']:.2f} | 100% |")
print(f"| `run` total, none ({len(runs['none'])} runs) | {total['none']:.2f} | |")
PY
