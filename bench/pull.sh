#!/usr/bin/env bash
# Pull throughput from a registry on 127.0.0.1, ctrace against skopeo, in one run on this machine:
#
#   bench/pull.sh [RUNS] [LAYERS] [MIB_PER_LAYER]   (as root; builds the release binary;
#                                                    results in bench/results/pull.md)
#
# Starts Debian's docker-registry on a free loopback port with its own storage, builds an OCI
# layout of LAYERS gzip layers of MIB_PER_LAYER random MiB each (incompressible, so the bytes on
# the wire are the bytes counted), pushes it with skopeo, then RUNS times each, every run into an
# empty store:
#
#   skopeo          skopeo copy docker://… oci:DIR        (download + verify, no extraction)
#   ctrace          ctrace pull -q …                       (download + verify + unpack + register)
#   ctrace-download the same ctrace runs, wall time from the first pull.blob span's start to the
#                   last one's end (download + verify only: the like-for-like number)
#
# MB/s = compressed bytes of the image's blobs / median seconds. Quote the ratios, not the
# absolute numbers: machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
LAYERS=${2:-4}
MIB=${3:-16}
scripts/deps.sh
cargo build --release -q
BIN=$PWD/target/release/ctrace
WORK=$(mktemp -d /tmp/ctrace-pullbench.XXXXXX)
REG_PID=
cleanup() {
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break
  sleep 0.1
done

# The image: LAYERS layers of random bytes, gzip level 1.
python3 - "$WORK/layout" "$LAYERS" "$MIB" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, layers, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, h), "wb").write(data)
    return "sha256:" + h, len(data)
descs, diffs = [], []
for i in range(layers):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = os.urandom(mib << 20)
        info = tarfile.TarInfo(f"data/layer{i}")
        info.size, info.mtime = len(data), 0
        t.addfile(info, io.BytesIO(data))
    raw = raw.getvalue()
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    d, s = put(gzip.compress(raw, compresslevel=1, mtime=0))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
config = {"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
          "config": {"Cmd": ["true"]}, "rootfs": {"type": "layers", "diff_ids": diffs}}
cd, cs = put(json.dumps(config).encode())
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs}
md, ms = put(json.dumps(manifest).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
          open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
print(sum(d["size"] for d in descs) + cs, file=open(os.path.join(out, "..", "bytes"), "w"))
PY
BYTES=$(cat "$WORK/bytes")
REF=127.0.0.1:$PORT/bench/pull:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/layout:bench" "docker://$REF"

now() { date +%s.%N; }
: > "$WORK/skopeo.times"
: > "$WORK/ctrace.times"
for _ in $(seq "$RUNS"); do
  rm -rf "$WORK/skopeo-out"
  t0=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$REF" "oci:$WORK/skopeo-out:bench"
  python3 -c "print($(now) - $t0)" >> "$WORK/skopeo.times"

  rm -rf "$WORK/root"
  t0=$(now)
  CTRACE_ROOT=$WORK/root CTRACE_EXEC_ROOT=$WORK/run "$BIN" pull -q "$REF" >/dev/null
  python3 -c "print($(now) - $t0)" >> "$WORK/ctrace.times"
  cp "$WORK"/root/traces/*.json "$WORK/" 2>/dev/null || true
done

mkdir -p bench/results
python3 - "$WORK" "$BYTES" "$RUNS" "$LAYERS" "$MIB" <<'PY' | tee bench/results/pull.md
import glob, json, os, statistics, sys
work, nbytes, runs, layers, mib = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def times(name):
    return [float(l) for l in open(os.path.join(work, name + ".times")) if l.strip()]
dl = []
for f in glob.glob(os.path.join(work, "*.json")):
    t = json.load(open(f))
    if t.get("operation") != "pull":
        continue
    blobs = [s for s in t["spans"] if s["name"] == "pull.blob"]
    if blobs:
        start = min(s["start_unix_ns"] for s in blobs)
        end = max(s["start_unix_ns"] + s["duration_ns"] for s in blobs)
        dl.append((end - start) / 1e9)
rows = [("skopeo copy (download + verify)", times("skopeo")),
        ("ctrace pull (download + verify + unpack + register)", times("ctrace")),
        ("ctrace pull.blob spans (download + verify)", dl)]
print(f"# Pull throughput from a local registry ({layers} layers x {mib} MiB, {nbytes/1e6:.1f} MB of blobs, {runs} runs)\n")
print("| what | median s | MB/s |")
print("|---|---:|---:|")
med = {}
for name, ts in rows:
    if not ts:
        continue
    m = statistics.median(ts)
    med[name] = m
    print(f"| {name} | {m:.3f} | {nbytes/1e6/m:.1f} |")
sk = med.get(rows[0][0])
if sk:
    for name, _ in rows[1:]:
        if name in med:
            print(f"\n{name}: {sk/med[name]:.2f}x skopeo's throughput")
PY
