"""The README's container scenarios, through the Docker SDK for Python with its default
settings, against `ctrace daemon`; each one checks what came of it, not only that the calls
returned.

    python3 tests/sdk/readme.py unix:///path/to/ctrace.sock PREFIX SCRATCH

Container and volume names start with PREFIX (the test's own); host files go under SCRATCH.
Every scenario runs, each failure is printed with its traceback; the exit status is the number
of failures. Driven by tests/sdk.rs.
"""

import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
import urllib.request

import docker
from docker.errors import APIError, ContainerError

URL, PREFIX, SCRATCH = sys.argv[1], sys.argv[2], sys.argv[3]
client = docker.DockerClient(base_url=URL)
SCENARIOS = []
PATIENCE = 60


def scenario(f):
    SCENARIOS.append(f)
    return f


def name(base):
    return f"{PREFIX}-{base}"


def eventually(probe, what):
    """Polls `probe` until it returns something true (returned), failing after PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {PATIENCE}s")
        time.sleep(0.05)


def run(*cmd, **kw):
    """`docker run --rm busybox CMD…`: its output as text."""
    return client.containers.run("busybox", list(cmd), remove=True, **kw).decode()


def eq(got, want, what=""):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def has(text, part, what=""):
    assert part in text, f"{what}: {part!r} not in {text!r}"


@scenario
def run_rm_and_exit_codes():
    eq(run("echo", "hi"), "hi\n", "output")
    try:
        run("sh", "-c", "echo gone >&2; exit 3")
        raise AssertionError("a failing command did not raise ContainerError")
    except ContainerError as e:
        eq(e.exit_status, 3, "exit status")
    try:
        client.containers.run("busybox", ["no-such-command"], remove=True)
        raise AssertionError("a missing command did not fail")
    except (ContainerError, APIError) as e:
        code = getattr(e, "exit_status", None)
        assert code == 127 or "no-such-command" in str(e), repr(e)
    # Removed: nothing of them is listed.
    eq([c.name for c in client.containers.list(all=True) if c.name.startswith(PREFIX)], [], "left")


@scenario
def resource_limits():
    out = run(
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        mem_limit="64m",
        pids_limit=20,
        nano_cpus=500_000_000,
    )
    eq(out.strip(), str(64 << 20), "memory limit")
    c = client.containers.create(
        "busybox",
        ["true"],
        name=name("limits"),
        mem_limit="64m",
        pids_limit=20,
        nano_cpus=500_000_000,
    )
    try:
        h = c.attrs["HostConfig"]
        eq((h["Memory"], h["PidsLimit"], h["NanoCpus"]), (64 << 20, 20, 500_000_000), "HostConfig")
    finally:
        c.remove()


@scenario
def runc_runtime():
    eq(run("hostname", runtime="runc", hostname="by-runc").strip(), "by-runc", "hostname")


@scenario
def seccomp_capabilities_and_ulimits():
    has(run("grep", "Seccomp", "/proc/self/status"), "Seccomp:\t2", "default profile")
    out = run(
        "sh",
        "-c",
        "grep CapEff /proc/self/status; ulimit -n",
        cap_drop=["ALL"],
        ulimits=[docker.types.Ulimit(name="nofile", soft=64, hard=64)],
    )
    eq(out, "CapEff:\t0000000000000000\n64\n", "caps and ulimit")
    out = run(
        "sh",
        "-c",
        "mount -t tmpfs none /tmp && echo mounted",
        security_opt=["seccomp=unconfined"],
        cap_add=["SYS_ADMIN"],
    )
    eq(out, "mounted\n", "unconfined with SYS_ADMIN")
    try:
        run("true", privileged=True)
        raise AssertionError("--privileged was not refused")
    except APIError as e:
        assert e.status_code == 400, repr(e)


@scenario
def create_start_list_remove():
    c = client.containers.create("busybox", ["sleep", "1000"], name=name("web"))
    eq(c.status, "created", "status after create")
    c.start()
    c.reload()
    eq(c.status, "running", "status after start")
    listed = {x.name for x in client.containers.list()}
    assert c.name in listed, f"{c.name} not in {listed}"
    c.remove(force=True)
    eq([x for x in client.containers.list(all=True) if x.id == c.id], [], "after rm -f")


@scenario
def detached_stop_wait_kill():
    c = client.containers.run("busybox", ["sleep", "1000"], name=name("stop"), detach=True)
    try:
        # `sleep` as pid 1 has no handler for SIGTERM: stop's SIGKILL ends it.
        c.stop(timeout=1)
        eq(c.wait()["StatusCode"], 137, "stopped by SIGKILL")
        c.reload()
        eq(c.status, "exited", "status")
    finally:
        c.remove(force=True)
    trap = "trap 'exit 7' TERM; while true; do sleep 0.1; done"
    c = client.containers.run("busybox", ["sh", "-c", trap], name=name("kill"), detach=True)
    try:
        # The trap is set once the loop runs (its `sleep` shows).
        def looping():
            return "sleep 0.1" in c.exec_run(["ps", "-o", "args"]).output.decode()

        eventually(looping, "looping")
        c.kill(signal="TERM")
        eq(c.wait()["StatusCode"], 7, "the trap's exit code")
    finally:
        c.remove(force=True)


@scenario
def pause_unpause_restart():
    c = client.containers.run("busybox", ["sleep", "1000"], name=name("pause"), detach=True)
    try:
        c.pause()
        c.reload()
        eq(c.status, "paused", "after pause")
        paused = client.containers.list(filters={"status": "paused"})
        eq([x.name for x in paused], [c.name], "ps -f status=paused")
        c.unpause()
        c.reload()
        eq(c.status, "running", "after unpause")
        before = c.attrs["State"]["StartedAt"]
        c.restart(timeout=1)
        c.reload()
        eq(c.status, "running", "after restart")
        assert c.attrs["State"]["StartedAt"] != before, "restart did not start it again"
    finally:
        c.remove(force=True)


@scenario
def restart_policy_on_failure():
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "exit 1"],
        name=name("onfail"),
        detach=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )
    try:

        def done():
            c.reload()
            s = c.attrs["State"]
            return c.attrs["RestartCount"] == 3 and s["Status"] == "exited" and s

        state = eventually(done, "exited after 3 restarts")
        eq(state["ExitCode"], 1, "exit code")
        exited = client.containers.list(all=True, filters={"status": "exited", "exited": 1})
        assert c.name in [x.name for x in exited], "ps -f status=exited -f exited=1"
    finally:
        c.remove(force=True)


@scenario
def events_of_a_container():
    since = int(time.time()) - 1
    c = client.containers.run("busybox", ["true"], name=name("events"), detach=True)
    c.wait()
    c.remove()
    until = int(time.time()) + 1
    events = client.events(since=since, until=until, decode=True, filters={"container": c.name})
    actions = [e["Action"] for e in events]
    for want in ("create", "start", "die", "destroy"):
        assert want in actions, f"{want} not in {actions}"


@scenario
def logs_follow_tail_timestamps():
    script = "echo one; echo two >&2; sleep 0.5; echo three"
    c = client.containers.run("busybox", ["sh", "-c", script], name=name("logs"), detach=True)
    try:
        followed = b"".join(c.logs(stream=True, follow=True))
        eq(sorted(followed.decode().splitlines()), ["one", "three", "two"], "followed")
        eq(c.wait()["StatusCode"], 0, "exit")
        eq(c.logs(stderr=False).decode(), "one\nthree\n", "stdout only")
        eq(c.logs(stdout=False).decode(), "two\n", "stderr only")
        eq(c.logs(tail=1).decode(), "three\n", "tail")
        stamped = c.logs(timestamps=True, stderr=False).decode().splitlines()
        eq(len(stamped), 2, "timestamped lines")
        assert stamped[0].split(" ", 1)[1] == "one" and "T" in stamped[0].split(" ")[0], stamped
    finally:
        c.remove(force=True)


@scenario
def exec_runs_in_the_container():
    c = client.containers.run("busybox", ["sleep", "1000"], name=name("exec"), detach=True)
    try:
        r = c.exec_run(
            ["sh", "-c", "echo $X in $(pwd) as $(id -u); exit 4"],
            environment={"X": "x1"},
            workdir="/tmp",
            user="65534",
        )
        eq((r.exit_code, r.output.decode()), (4, "x1 in /tmp as 65534\n"), "exec")
        r = c.exec_run(["ps", "-o", "args"])
        has(r.output.decode(), "sleep 1000", "ps")
        r = c.exec_run("no-such-command")
        eq(r.exit_code, 127, "missing command")
        # `exec -it`: a terminal for the exec, raw output.
        r = c.exec_run("tty", tty=True)
        eq((r.exit_code, r.output.decode().startswith("/dev/pts/")), (0, True), r.output)
    finally:
        c.remove(force=True)


@scenario
def interactive_attach_and_stdin():
    # `echo hi | docker run -i --rm busybox cat`: the SDK's attach socket as stdin (its
    # `stdin_open` sets `StdinOnce` too, as the docker CLI's `run -i` does).
    c = client.containers.create("busybox", ["cat"], name=name("cat"), stdin_open=True)
    try:
        s = c.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
        c.start()
        s._sock.sendall(b"piped in\n")
        s._sock.shutdown(socket.SHUT_WR)
        eq(c.wait()["StatusCode"], 0, "cat's exit")
        eq(c.logs().decode(), "piped in\n", "what cat read")
    finally:
        c.remove(force=True)
    # `docker run -it`: a terminal, typed into through the attach, detached with ^P^Q by the
    # daemon (the SDK has no detach logic of its own).
    c = client.containers.run(
        "busybox", ["sh"], name=name("tty"), stdin_open=True, tty=True, detach=True
    )
    try:
        c.resize(height=30, width=100)
        s = c.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        sock = s._sock
        sock.settimeout(PATIENCE)
        sock.sendall(b"stty size; echo typed-$((6*7))\n")
        seen = b""
        while b"typed-42\r\n" not in seen:
            chunk = sock.recv(4096)
            assert chunk, f"the attach ended before the output: {seen!r}"
            seen += chunk
        has(seen.decode(), "30 100\r\n", "the terminal's size after resize")
        sock.sendall(b"\x10\x11")
        while sock.recv(4096):
            pass
        c.reload()
        eq(c.status, "running", "after ^P^Q")
    finally:
        c.remove(force=True)


@scenario
def health_check():
    c = client.containers.run(
        "busybox",
        ["sleep", "100"],
        name=name("hc"),
        detach=True,
        healthcheck={
            "test": ["CMD-SHELL", "test -f /tmp/ok"],
            "interval": 200_000_000,
            "retries": 2,
        },
    )
    try:
        def health():
            c.reload()
            return c.attrs["State"]["Health"]["Status"]

        eventually(lambda: health() == "unhealthy", "unhealthy")
        c.exec_run(["touch", "/tmp/ok"])
        eventually(lambda: health() == "healthy", "healthy")
    finally:
        c.remove(force=True)


@scenario
def volumes_binds_tmpfs_read_only():
    src = tempfile.mkdtemp(prefix="src-", dir=SCRATCH)
    try:
        binds_volumes_tmpfs(src)
    finally:
        shutil.rmtree(src)


def binds_volumes_tmpfs(src):
    with open(os.path.join(src, "hello.txt"), "w") as f:
        f.write("from the host\n")
    ro = {src: {"bind": "/src", "mode": "ro"}}
    eq(run("cat", "hello.txt", volumes=ro, working_dir="/src"), "from the host\n", "bind")
    try:
        run("touch", "/src/x", volumes=ro)
        raise AssertionError("a read-only bind was written")
    except ContainerError as e:
        assert e.exit_status != 0
    vol = name("data")
    created = client.volumes.create(vol, labels={"course": "ctrace"})
    eq((created.name, created.attrs["Driver"]), (vol, "local"), "volume create")
    try:
        named_volume_and_top(vol, created.attrs["Mountpoint"])
    finally:
        client.volumes.get(vol).remove()
    try:
        client.volumes.get(vol)
        raise AssertionError("a removed volume is still there")
    except docker.errors.NotFound:
        pass
    spare = client.volumes.create(name("spare"), labels={"prune": PREFIX})
    report = client.volumes.prune(filters={"all": True, "label": f"prune={PREFIX}"})
    eq(report["VolumesDeleted"], [spare.name], "volume prune -a -f label=")
    has(run("df", "/run", tmpfs={"/run": "size=8m,mode=1777"}), "tmpfs", "tmpfs")
    try:
        run("touch", "/x", read_only=True)
        raise AssertionError("a read-only rootfs was written")
    except ContainerError as e:
        assert e.exit_status != 0


def named_volume_and_top(vol, mountpoint):
    rw = {vol: {"bind": "/data", "mode": "rw"}}
    run("sh", "-c", "echo 1 > /data/x", volumes=rw)
    eq(run("cat", "/data/x", volumes=rw), "1\n", "named volume kept")
    eq(client.volumes.get(vol).attrs["Mountpoint"], mountpoint, "volume inspect")
    listed = client.volumes.list(filters={"label": "course=ctrace"})
    eq([v.name for v in listed], [vol], "volume ls -f label=")
    db = client.containers.run(
        "busybox", ["sleep", "1000"], name=name("db"), detach=True, volumes=["/var/lib/db"]
    )
    try:
        db.exec_run(["sh", "-c", "echo kept > /var/lib/db/f"])
        eq(run("cat", "/var/lib/db/f", volumes_from=[db.name]), "kept\n", "volumes-from")
        mounts = db.attrs["Mounts"]
        eq([(m["Type"], m["Destination"]) for m in mounts], [("volume", "/var/lib/db")], "Mounts")
        top = db.top()
        assert "PID" in top["Titles"], top
        eq([p[-1] for p in top["Processes"]], ["sleep 1000"], "top")
    finally:
        db.remove(force=True, v=True)


@scenario
def env_and_inspect():
    c = client.containers.run(
        "busybox", ["sh", "-c", "echo $GREETING $UNSET_ONE"], name=name("env"), detach=True,
        environment={"GREETING": "hello"}, labels={"course": "ctrace"},
    )
    try:
        eq(c.wait()["StatusCode"], 0, "exit")
        eq(c.logs().decode(), "hello\n", "env in the container")
        a = client.api.inspect_container(c.id)
        assert "GREETING=hello" in a["Config"]["Env"], a["Config"]["Env"]
        eq(a["Config"]["Labels"]["course"], "ctrace", "labels")
        eq(a["Name"], "/" + c.name, "Name")
        eq(a["State"]["Status"], "exited", "State")
        eq(a["Config"]["Image"], "busybox", "Image as given")
    finally:
        c.remove()


@scenario
def images():
    tags = [t for i in client.images.list() for t in i.tags]
    assert "busybox:latest" in tags, tags
    eq(client.images.get("busybox").tags, ["busybox:latest"], "images.get")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@scenario
def published_port():
    port = free_port()
    c = client.containers.run(
        "busybox",
        ["httpd", "-f", "-p", "80", "-h", "/etc"],
        name=name("httpd"),
        detach=True,
        ports={"80/tcp": port},
    )
    try:
        def fetch():
            try:
                url = f"http://127.0.0.1:{port}/passwd"
                return urllib.request.urlopen(url, timeout=2).read().decode()
            except OSError:
                return None

        has(eventually(fetch, "served"), "root:", "the published port")
        c.reload()
        eq(c.ports["80/tcp"][0]["HostPort"], str(port), "ports")
    finally:
        c.remove(force=True)


@scenario
def networks_dns_and_hosts():
    has(run("ip", "addr", "show", "eth0"), "inet ", "bridge address")
    links = run("ip", "-o", "link", network_mode="none")
    eq([l.split(":")[1].strip() for l in links.splitlines()], ["lo"], "--network none")
    eq(run("hostname", network_mode="host").strip(), socket.gethostname(), "--network host")
    web = client.containers.run("busybox", ["sleep", "1000"], name=name("netweb"), detach=True)
    try:
        networks = client.api.inspect_container(web.id)["NetworkSettings"]["Networks"]
        ip = next(iter(networks.values()))["IPAddress"]
        has(run("ip", "addr", network_mode=f"container:{web.name}"), ip, "--network container:")
    finally:
        web.remove(force=True)
    out = run(
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
        dns=["1.1.1.1"],
        extra_hosts={"db": "10.0.0.5"},
        hostname="box",
    )
    has(out, "10.0.0.5\tdb", "--add-host")
    has(out, "nameserver 1.1.1.1", "--dns")
    has(out, "box", "-h")


print(f"scenarios {len(SCENARIOS)}", flush=True)
failures = 0
for f in SCENARIOS:
    t0 = time.monotonic()
    try:
        f()
        print(f"ok {f.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
    except Exception:
        failures += 1
        print(f"FAILED {f.__name__}\n{traceback.format_exc()}", flush=True)
sys.exit(failures)
