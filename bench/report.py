#!/usr/bin/env python3
"""Where ctrace's start latency and memory stand, on this machine, in one run: the whole table.

    bench/report.py [--smoke] [--runs N] [--out DIR] [--bin PATH]      (as root)

Measured side by side in the same run (quote the ratios; machines are shared and noisy):

  peers     floor (unshare + chroot + exec), `ctrace run --rm` with --network none and bridge,
            `runc run` on a prepared bundle, `docker run --rm --network none` (a dockerd of the
            script's own: data root, socket, no bridge; hyperfine medians)
  cold      the first run in a fresh root with a new bridge after dropping the page cache,
            against the warm median
  shim      N idle detached containers: the shims' summed RSS and PSS (smaps_rollup)
  scale     50 concurrent `run -d` (p50, p99 of each command's wall time, failures); 1000 idle
            containers: `ps -a`, `inspect`, total shim RSS; `stop` of 100 at once vs its timeout
  daemon    ctrace CLI → ctrace daemon vs embedded; docker CLI → ctrace daemon vs → dockerd
  exporters flamegraph, chrome, jaeger, otlp-json of a 200-run `bench` trace: wall time, max RSS

`--smoke` runs every section with a handful of iterations (CI runs it to check the script works;
its numbers mean nothing). Writes `report.json` and `report.md` into --out (default: a temp dir);
for the record, copy them to bench/results/ with the date. Everything it creates — roots,
bridge, containers, daemons, dockerd if it started one — is removed at the end.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*args, check=True, env=None, capture=True, timeout=600):
    r = subprocess.run(
        args,
        env=env,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
        timeout=timeout,
    )
    if check and r.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed ({r.returncode}): {(r.stderr or '').strip()}")
    return r


def need(tool, package):
    if shutil.which(tool) is None:
        sys.exit(f"bench: {tool} is missing: apt-get install {package} (scripts/deps.sh installs it)")


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.work = tempfile.mkdtemp(prefix="ctrace-report.")
        pid = os.getpid()
        self.env = dict(
            os.environ,
            CTRACE_ROOT=f"{self.work}/root",
            CTRACE_EXEC_ROOT=f"{self.work}/run",
            CTRACE_BRIDGE=f"ctrep{pid % 100000}",
            CTRACE_BRIDGE_SUBNET=f"10.251.{pid % 200}.0/24",
            CTRACE_PULL="never",
            NO_COLOR="1",
        )
        self.env.pop("CTRACE_TRACE", None)
        self.daemons = []
        self.started_dockerd = None
        self.result = {"machine": machine(), "smoke": args.smoke}

    # --- plumbing -------------------------------------------------------------------------

    def ctrace(self, *a, check=True, env=None, timeout=600):
        return sh(self.bin, *a, check=check, env=env or self.env, timeout=timeout)

    def timed(self, *a, env=None):
        t = time.perf_counter()
        r = self.ctrace(*a, check=False, env=env)
        return time.perf_counter() - t, r

    def rootfs(self):
        root = f"{self.work}/rootfs"
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
            os.makedirs(f"{root}/{d}", exist_ok=True)
        shutil.copy(shutil.which("busybox"), f"{root}/bin/busybox")
        for a in ("sh", "true", "echo", "sleep"):
            os.symlink("busybox", f"{root}/bin/{a}")
        with open(f"{root}/etc/passwd", "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        tar = f"{self.work}/rootfs.tar"
        sh("tar", "-C", root, "-cf", tar, ".")
        return root, tar

    def hyperfine(self, runs, commands):
        out = f"{self.work}/hf-{len(os.listdir(self.work))}.json"
        argv = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--export-json", out]
        for name, cmd in commands:
            argv += ["-n", name, cmd]
        sh(*argv, env=self.env, timeout=3600)
        data = json.load(open(out))["results"]
        return {r["command"]: r["median"] * 1000 for r in data}

    def shim_pids(self):
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
                env_root = f"{self.work}/root".encode()
            except OSError:
                continue
            if len(cmd) > 1 and cmd[1] == b"shim" and env_root in cmd:
                pids.append(int(p))
        return pids

    def shim_memory(self):
        rss = pss = 0
        pids = self.shim_pids()
        for p in pids:
            try:
                for line in open(f"/proc/{p}/smaps_rollup"):
                    k, _, v = line.partition(":")
                    if k == "Rss":
                        rss += int(v.split()[0])
                    elif k == "Pss":
                        pss += int(v.split()[0])
            except OSError:
                pass
        return len(pids), rss, pss

    def remove_all(self):
        ids = self.ctrace("ps", "-aq", check=False).stdout.split()
        for i in range(0, len(ids), 50):
            self.ctrace("rm", "-f", *ids[i : i + 50], check=False, timeout=900)

    def cleanup(self):
        for d in self.daemons:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(20)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
        self.remove_all()
        self.ctrace("network", "prune", check=False)
        if self.started_dockerd:
            sh("docker", "container", "prune", "-f", check=False, env=self.env)
            self.started_dockerd.terminate()
            self.started_dockerd.wait(60)
            # What dockerd mounted under its roots (its containerd's shm and overlay mounts).
            for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
                target = line.split()[4]
                if target.startswith(f"{self.work}/docker"):
                    sh("umount", "-l", target, check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def dockerd(self):
        """A dockerd of our own (its own data root, socket and containerd; no bridge, no
        iptables rules), so the machine's Docker, if any, is neither needed nor touched."""
        d = f"{self.work}/docker"
        os.makedirs(d)
        sock = f"{d}/docker.sock"
        log = open(f"{d}/dockerd.log", "w")
        self.started_dockerd = subprocess.Popen(
            ["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/run", "--pidfile", f"{d}/docker.pid",
             "-H", f"unix://{sock}", "--bridge", "none", "--iptables=false", "--ip6tables=false"],
            stdout=log, stderr=log)
        self.env["DOCKER_HOST"] = f"unix://{sock}"
        deadline = time.time() + 60
        while sh("docker", "info", check=False, env=self.env).returncode != 0:
            if time.time() > deadline or self.started_dockerd.poll() is not None:
                sys.exit(f"bench: dockerd did not answer within 60 s (log: {d}/dockerd.log)")
            time.sleep(0.3)

    def daemon(self, sock):
        log = open(f"{self.work}/daemon.log", "a")
        d = subprocess.Popen([self.bin, "daemon", "--socket", sock], env=self.env, stdout=log, stderr=log)
        self.daemons.append(d)
        deadline = time.time() + 30
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.close()
                return
            except OSError:
                if time.time() > deadline:
                    sys.exit("bench: ctrace daemon did not listen within 30 s")
                time.sleep(0.05)

    # --- sections -------------------------------------------------------------------------

    def peers(self, root, tar):
        runs = 3 if self.args.smoke else self.args.runs
        bundle = f"{self.work}/bundle"
        shutil.copytree(root, f"{bundle}/rootfs", symlinks=True)
        sh("runc", "spec", "-b", bundle)
        spec = json.load(open(f"{bundle}/config.json"))
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        json.dump(spec, open(f"{bundle}/config.json", "w"))
        self.dockerd()
        sh("docker", "import", "-c", 'CMD ["sh"]', tar, "ctrace-report-busybox", env=self.env)
        self.ctrace("image", "import", "--rootfs", tar, "busybox:latest")
        self.ctrace("run", "--rm", "busybox", "true")  # the bridge exists before timing
        b = self.bin
        m = self.hyperfine(
            runs,
            [
                ("floor", f"unshare --pid --mount --uts --ipc --net --fork chroot {root} /bin/true"),
                ("ctrace-none", f"{b} run --rm --network none busybox true"),
                ("ctrace-bridge", f"{b} run --rm busybox true"),
                ("runc", f"runc --root {self.work}/runc-root run -b {bundle} ctrace-report-runc"),
                ("docker-none", "docker run --rm --network none ctrace-report-busybox true"),
            ],
        )
        floor = m["floor"]
        self.result["peers"] = {k: {"median_ms": v, "x_floor": v / floor} for k, v in m.items()}
        return m

    def cold(self, tar, warm_ms):
        env = dict(
            self.env,
            CTRACE_ROOT=f"{self.work}/cold-root",
            CTRACE_EXEC_ROOT=f"{self.work}/cold-run",
            CTRACE_BRIDGE=self.env["CTRACE_BRIDGE"] + "c",
            CTRACE_BRIDGE_SUBNET=self.env["CTRACE_BRIDGE_SUBNET"].replace("10.251.", "10.252."),
        )
        self.ctrace("image", "import", "--rootfs", tar, "busybox:latest", env=env)
        sh("sync")
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        took, r = self.timed("run", "--rm", "busybox", "true", env=env)
        self.ctrace("network", "prune", check=False, env=env)
        ms = took * 1000
        self.result["cold"] = {"first_run_ms": ms, "warm_median_ms": warm_ms, "x_warm": ms / warm_ms, "exit": r.returncode}

    def shims(self):
        n = 3 if self.args.smoke else 100
        ids = [self.ctrace("run", "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip() for _ in range(n)]
        # An idle shim gives its start-up pages back after a second with nothing to do.
        time.sleep(2.5)
        count, rss, pss = self.shim_memory()
        self.result["shim"] = {
            "containers": n,
            "shims": count,
            "rss_kb_total": rss,
            "pss_kb_total": pss,
            "rss_kb_per_shim": rss / max(count, 1),
            "pss_kb_per_shim": pss / max(count, 1),
        }
        self.ctrace("rm", "-f", *ids)

    def scale(self):
        smoke = self.args.smoke
        conc = 4 if smoke else 50

        def one(_):
            t = time.perf_counter()
            r = self.ctrace("run", "-d", "--network", "none", "busybox", "sleep", "100000", check=False)
            return time.perf_counter() - t, r.returncode, r.stdout.strip()

        with concurrent.futures.ThreadPoolExecutor(conc) as ex:
            got = list(ex.map(one, range(conc)))
        times = [t * 1000 for t, _, _ in got]
        fails = sum(1 for _, rc, _ in got if rc != 0)
        p50, p99 = pct(times, 50), pct(times, 99)
        conc_res = {"runs": conc, "p50_ms": p50, "p99_ms": p99, "p99_over_p50": p99 / p50, "failures": fails}
        self.remove_all()

        idle = 10 if smoke else 1000
        for _ in range(idle):
            self.ctrace("run", "-d", "--network", "none", "busybox", "sleep", "100000")
        time.sleep(2.5)
        ps_ms = [self.timed("ps", "-a")[0] * 1000 for _ in range(5)]
        some = self.ctrace("ps", "-q").stdout.split()[0]
        inspect_ms = [self.timed("inspect", some)[0] * 1000 for _ in range(5)]
        count, rss, pss = self.shim_memory()
        idle_res = {
            "containers": idle,
            "ps_a_ms": statistics.median(ps_ms),
            "inspect_ms": statistics.median(inspect_ms),
            "shim_rss_mb_total": rss / 1024,
            "shim_pss_mb_total": pss / 1024,
        }
        self.remove_all()

        n_stop, timeout = (4, 2) if smoke else (100, 10)
        ids = [self.ctrace("run", "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip() for _ in range(n_stop)]
        t = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n_stop) as ex:
            codes = list(ex.map(lambda i: self.ctrace("stop", "-t", str(timeout), i, check=False).returncode, ids))
        took = time.perf_counter() - t
        stop_res = {"containers": n_stop, "timeout_s": timeout, "wall_s": took, "within_timeout_plus_1s": took <= timeout + 1, "failures": sum(1 for c in codes if c)}
        self.remove_all()
        self.result["scale"] = {"concurrent_run_d": conc_res, "idle": idle_res, "stop_at_once": stop_res}

    def daemons_section(self):
        runs = 3 if self.args.smoke else self.args.runs
        sock = f"{self.work}/ctrace.sock"
        self.daemon(sock)
        b = self.bin
        m = self.hyperfine(
            runs,
            [
                ("embedded", f"{b} run --rm --network none busybox true"),
                ("ctrace-cli-daemon", f"{b} -H unix://{sock} run --rm --network none busybox true"),
                ("docker-cli-ctrace", f"docker -H unix://{sock} run --rm --network none busybox true"),
                ("docker-cli-dockerd", "docker run --rm --network none ctrace-report-busybox true"),
            ],
        )
        self.result["daemon"] = {
            "medians_ms": m,
            "client_daemon_minus_embedded_ms": m["ctrace-cli-daemon"] - m["embedded"],
            "docker_cli_ctrace_over_dockerd": m["docker-cli-ctrace"] / m["docker-cli-dockerd"],
        }

    def exporters(self):
        n = 5 if self.args.smoke else 200
        self.ctrace("bench", "-n", str(n), "busybox", timeout=3600)
        traces = f"{self.work}/root/traces"
        files = sorted((os.path.join(traces, f) for f in os.listdir(traces)), key=os.path.getmtime, reverse=True)
        bench = next(f for f in files if json.load(open(f)).get("operation") == "bench")
        out = {}
        for name, argv in [
            ("flamegraph", ["trace", "flamegraph", "-o", f"{self.work}/fg.svg", bench]),
            ("chrome", ["trace", "export", "--format", "chrome", "-o", f"{self.work}/c.json", bench]),
            ("jaeger", ["trace", "export", "--format", "jaeger", "-o", f"{self.work}/j.json", bench]),
            ("otlp-json", ["trace", "export", "--format", "otlp-json", "-o", f"{self.work}/o.json", bench]),
        ]:
            t = time.perf_counter()
            r = sh("/usr/bin/time", "-f", "%M", self.bin, *argv, env=self.env)
            wall = time.perf_counter() - t
            max_kb = int(r.stderr.strip().splitlines()[-1])
            out[name] = {"wall_s": wall, "max_rss_mb": max_kb / 1024}
        self.result["exporters"] = {"bench_runs": n, "trace_bytes": os.path.getsize(bench), **out}


def machine():
    def first(path, key):
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            return "?"
        return "?"

    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": first("/proc/meminfo", "MemTotal"),
        "cgroup": "v2" if v2 else "v1",
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
    }


def markdown(r):
    L = [f"# ctrace: start latency and memory ({r['machine']['date']})", ""]
    m = r["machine"]
    L.append(f"Machine: {m['cpus']} × {m['cpu']}, {m['memory']}, kernel {m['kernel']}, cgroup {m['cgroup']}, load {' '.join(m['loadavg_at_start'])} at start.")
    if r["smoke"]:
        L.append("**Smoke run: a handful of iterations, the numbers mean nothing.**")
    L += ["", "| command | median ms | × floor |", "|---|---:|---:|"]
    for k, v in r["peers"].items():
        L.append(f"| {k} | {v['median_ms']:.1f} | {v['x_floor']:.2f} |")
    c = r["cold"]
    L += ["", f"Cold first run (fresh root, new bridge, page cache dropped): {c['first_run_ms']:.1f} ms, {c['x_warm']:.2f}× the warm median."]
    s = r["shim"]
    L += ["", f"Idle shims: {s['shims']} for {s['containers']} containers, RSS {s['rss_kb_per_shim'] / 1024:.2f} MB and PSS {s['pss_kb_per_shim'] / 1024:.2f} MB per shim (total RSS {s['rss_kb_total'] / 1024:.1f} MB)."]
    sc = r["scale"]
    cr, idle, st = sc["concurrent_run_d"], sc["idle"], sc["stop_at_once"]
    L += [
        "",
        "| scale | result |",
        "|---|---|",
        f"| {cr['runs']} concurrent `run -d` | p50 {cr['p50_ms']:.0f} ms, p99 {cr['p99_ms']:.0f} ms, p99/p50 {cr['p99_over_p50']:.2f}, {cr['failures']} failed |",
        f"| {idle['containers']} idle containers | `ps -a` {idle['ps_a_ms']:.0f} ms, `inspect` {idle['inspect_ms']:.1f} ms, shims {idle['shim_rss_mb_total']:.0f} MB RSS ({idle['shim_pss_mb_total']:.0f} MB PSS) |",
        f"| `stop -t {st['timeout_s']}` of {st['containers']} at once | {st['wall_s']:.1f} s ({'within' if st['within_timeout_plus_1s'] else 'over'} timeout + 1 s), {st['failures']} failed |",
    ]
    d = r["daemon"]
    L += ["", "| through the daemon | median ms |", "|---|---:|"]
    for k, v in d["medians_ms"].items():
        L.append(f"| {k} | {v:.1f} |")
    L.append(f"\nctrace CLI → daemon adds {d['client_daemon_minus_embedded_ms']:.1f} ms over embedded; docker CLI → ctrace daemon is {d['docker_cli_ctrace_over_dockerd']:.2f}× docker CLI → dockerd.")
    e = r["exporters"]
    L += ["", f"Exporters on a {e['bench_runs']}-run bench trace ({e['trace_bytes'] / 1e6:.1f} MB):", "", "| exporter | wall s | max RSS MB |", "|---|---:|---:|"]
    for k in ("flamegraph", "chrome", "jaeger", "otlp-json"):
        L.append(f"| {k} | {e[k]['wall_s']:.2f} | {e[k]['max_rss_mb']:.0f} |")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a few iterations: checks the script runs")
    ap.add_argument("--runs", type=int, default=20, help="hyperfine runs per command")
    ap.add_argument("--out", help="directory for report.json and report.md")
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release/ctrace"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (real containers)")
    for tool, pkg in [("hyperfine", "hyperfine"), ("runc", "runc"), ("docker", "docker.io"), ("dockerd", "docker.io"), ("busybox", "busybox-static"), ("unshare", "util-linux")]:
        need(tool, pkg)
    if not os.path.exists("/usr/bin/time"):
        sys.exit("bench: /usr/bin/time is missing: apt-get install time (scripts/deps.sh installs it)")
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"bench: {args.bin} is not built: cargo build --release (or pass --bin)")
    b = Bench(args)
    try:
        root, tar = b.rootfs()
        m = b.peers(root, tar)
        b.cold(tar, m["ctrace-bridge"])
        b.shims()
        b.scale()
        b.daemons_section()
        b.exporters()
    finally:
        b.cleanup()
    out = args.out or tempfile.mkdtemp(prefix="ctrace-report-out.")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(b.result, f, indent=2)
    md = markdown(b.result)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"written: {out}/report.json, {out}/report.md", file=sys.stderr)


if __name__ == "__main__":
    main()
