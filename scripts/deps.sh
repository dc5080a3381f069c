#!/usr/bin/env bash
# Installs what ctrace's tests and its offline busybox image need, from Debian/Ubuntu packages:
#   busybox-static  the static busybox the default `busybox` image is built from
#   runc            the external runtime behind `--runtime runc`
#   iproute2        `ip`, used by the tests to clean up a leaked veth or bridge
#   iptables        outbound NAT and published ports of the bridge network (and iptables-save,
#                   with which the tests look for leaked rules)
#   docker-registry a real OCI registry on 127.0.0.1 that the pull tests and bench/pull.sh use
#   skopeo          pushes the test images into it (and is what bench/pull.sh compares with)
#   apache2-utils   htpasswd, for the registry with basic auth
#   docker.io       its `docker` client: the daemon tests drive `ctrace daemon` with the stock
#                   docker CLI (Debian 12 ships the client only inside docker.io); and dockerd,
#                   the peer bench/report.py measures against (started only if none runs)
#   libseccomp-dev  libseccomp, which compiles the containers' seccomp profiles (the build links
#                   it: the `libseccomp` crate)
#   hyperfine, time the benchmarks' timers (bench/report.py, whose smoke mode tests/bench.rs
#                   runs: hyperfine for medians, /usr/bin/time for an exporter's peak memory)
#   chromium        the headless browser in which tests/player.rs clicks through the book's
#                   step-through player (offline, from file://)
# from PyPI:
#   playwright      drives that Chromium (its own browser download is never used: the test
#                   points it at Debian's chromium)
#   docker          the Docker SDK for Python: tests/api.rs drives the daemon with it at its
#                   default API version, as scripts written against a current dockerd do
# and, from crates.io (not a Debian package):
#   mdbook          builds the book; tests/book.rs runs `mdbook build` on both books. Without
#                   default features (no `serve`/`watch`, no search index) there is less to
#                   compile, and `build` is all the tests need: mdbook 0.5.4 installed this way in
#                   about 6 minutes on two busy cores.
# Every test needs what is listed here: a missing tool fails its tests, it never skips them.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail
need=()
# A dynamically linked busybox (package busybox) cannot run in a container without a libc.
static_busybox() { dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; }
static_busybox || need+=(busybox-static)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables-save >/dev/null 2>&1 || need+=(iptables)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
dpkg-query -W -f='${Status}' libseccomp-dev 2>/dev/null | grep -q 'ok installed' || need+=(libseccomp-dev)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
if ! python3 -c 'import playwright' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check playwright
fi
if ! python3 -c 'import docker' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check docker
fi
if ! command -v mdbook >/dev/null 2>&1; then
  cargo install mdbook --locked --no-default-features
fi
