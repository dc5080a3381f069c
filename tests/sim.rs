//! The simulator: the engine's own phases over a modelled host.
//!
//! - A student without root runs the walkthrough: the commands are run as the unprivileged user
//!   `nobody` with a temporary HOME, and must work, say they are simulated, and leave the real
//!   host untouched (no mount, network device, cgroup or iptables rule added; nothing under
//!   `/var/lib/ctrace` or `/run/ctrace`).
//! - A simulated run records the span tree of a real run of the same command: the same span
//!   names, parents and recording processes, and the same kernel events (by name) outside the
//!   cgroup phases, whose events depend on the cgroup version (the model is cgroup v2, this host
//!   may be v1).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Env, Run};
use serde_json::Value;

/// The walkthrough compares the whole host before and after; the real containers of the other
/// test in this file would show up in that comparison, so the two take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A simulated session of the unprivileged user `nobody`, in a HOME of its own.
struct Student {
    home: PathBuf,
    bin: PathBuf,
}

impl Student {
    fn new(tag: &str) -> Student {
        let home = std::env::temp_dir().join(format!("ctrace-sim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
        // The binary where `nobody` may run it, whatever the permissions of the build tree.
        let bin = home.join("ctrace");
        std::fs::copy(env!("CARGO_BIN_EXE_ctrace"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Student { home, bin }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env("CTRACE_PULL", "never")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args)
            .output()
            .expect("setpriv (util-linux)")
            .into()
    }

    fn traces(&self) -> Vec<Value> {
        let dir = self.home.join(".local/share/ctrace/sim/root/traces");
        let mut v: Vec<Value> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|t: &Value| t["started_unix_ns"].as_u64().unwrap_or(0));
        v
    }
}

impl Drop for Student {
    fn drop(&mut self) {
        // Containers of a simulated session are real processes of `nobody`: stop them.
        let _ = self.run(&["rm", "-f", "web", "db", "sleeper"]);
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The directories below `dir`, relative to it.
fn dirs_below(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                found.push(e.path().strip_prefix(dir).unwrap().display().to_string());
                todo.push(e.path());
            }
        }
    }
    found
}

#[test]
fn a_students_bundles_live_in_the_runtime_directory_and_go_with_their_container() {
    let s = Student::new("xdg");
    // A login session's runtime directory: the student's own, mode 0700.
    let runtime = s.home.join("xdg-runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = |args: &[&str]| -> Run {
        s.cmd(args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .expect("setpriv (util-linux)")
            .into()
    };
    let r = run(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_string();
    let bundles: Vec<String> = dirs_below(&runtime)
        .into_iter()
        .filter(|d| d.ends_with(&format!("{id}/rootfs")))
        .collect();
    assert_eq!(bundles.len(), 1, "{:?}", dirs_below(&runtime));
    assert!(
        !s.home
            .join(".local/share/ctrace/sim/run")
            .join(&id)
            .exists(),
        "the bundle is in the runtime directory only"
    );
    let ps = run(&["ps"]);
    assert!(ps.stdout.contains("sleeper"), "{}", ps.stdout);
    assert_eq!(run(&["rm", "-f", "sleeper"]).code, 0);
    assert!(
        !dirs_below(&runtime).iter().any(|d| d.contains(&id)),
        "the bundle goes with its container: {:?}",
        dirs_below(&runtime)
    );
}

/// What the real host has that a simulated session must not change.
/// What of the real host a simulated session could have touched, for the containers `ids`:
/// mounts, links, cgroups and iptables rules that name one of them.
/// (Matching by the session's own ids keeps other tests' real containers out of the picture.)
fn host_traces_of(ids: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let ours = |s: &str| {
        ids.iter()
            .any(|id| s.contains(&id[..12]) || s.contains(&id[..11]))
    };
    for l in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if ours(l) {
            found.push(format!("mount: {l}"));
        }
    }
    for e in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if ours(&n) {
            found.push(format!("link: {n}"));
        }
    }
    for base in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/pids",
    ] {
        for dir in [
            Path::new(base).to_path_buf(),
            Path::new(base).join("ctrace"),
        ] {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path().display().to_string();
                if ours(&p) {
                    found.push(format!("cgroup: {p}"));
                }
            }
        }
    }
    let rules = Command::new("iptables-save").output().unwrap();
    for l in String::from_utf8_lossy(&rules.stdout).lines() {
        if ours(l) {
            found.push(format!("rule: {l}"));
        }
    }
    found
}

/// Every container id the session made, from its events log.
fn session_ids(s: &Student) -> Vec<String> {
    let log = std::fs::read_to_string(s.home.join(".local/share/ctrace/sim/root/events.jsonl"))
        .unwrap_or_default();
    let mut ids = BTreeSet::new();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_default();
        for key in ["id", "ID", "Id"] {
            if let Some(id) = v.get(key).and_then(Value::as_str) {
                if id.len() == 64 {
                    ids.insert(id.to_string());
                }
            }
        }
        if let Some(id) = v.pointer("/Actor/ID").and_then(Value::as_str) {
            ids.insert(id.to_string());
        }
    }
    ids.into_iter().collect()
}

#[test]
fn a_student_without_root_runs_the_walkthrough_simulated_and_the_host_is_untouched() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bridge_before = Path::new("/sys/class/net/ctrace0").exists();
    let lib_before = Path::new("/var/lib/ctrace").exists();
    let run_before = Path::new("/run/ctrace").exists();
    let s = Student::new("walk");

    let r = s.run(&["run", "--explain", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "hi\n");
    assert!(
        r.stderr
            .contains("no root here: simulating; run as root for real containers"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("start.runtime.create"), "{}", r.stderr);
    let trace = s.traces().into_iter().last().expect("a trace file");
    assert_eq!(trace["mode"], "sim");
    assert!(trace["latency_model"]
        .as_str()
        .is_some_and(|m| m.contains("reference traces")));

    // Detached, listed, stopped (SIGTERM ignored by pid 1, then SIGKILL: 137), removed.
    let r = s.run(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ps = s.run(&["ps"]);
    assert!(
        ps.stdout.contains("sleeper") && ps.stdout.contains("Up"),
        "{}",
        ps.stdout
    );
    let r = s.run(&["stop", "-t", "1", "sleeper"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ps = s.run(&["ps", "-a"]);
    assert!(ps.stdout.contains("Exited (137)"), "{}", ps.stdout);
    assert_eq!(s.run(&["rm", "sleeper"]).code, 0);

    // The container's view: hostname, network and files come from the modelled host.
    let r = s.run(&[
        "run",
        "--rm",
        "--hostname",
        "lab",
        "busybox",
        "sh",
        "-c",
        "hostname; ip route; cat /etc/hostname; nosuchcmd",
    ]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(r.stdout.starts_with("lab\ndefault via "), "{}", r.stdout);
    assert!(r.stderr.contains("nosuchcmd: not found"), "{}", r.stderr);

    // A command the image does not have fails as docker's does.
    let r = s.run(&["run", "--rm", "busybox", "no-such-program"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found in $PATH"),
        "{}",
        r.stderr
    );

    // The memory cgroup's OOM killer, modelled: 137 and OOMKilled.
    let r = s.run(&[
        "run",
        "--name",
        "db",
        "-m",
        "16m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(r.code, 137, "{}", r.stderr);
    let inspect: Value = serde_json::from_str(&s.run(&["inspect", "db"]).stdout).unwrap();
    assert_eq!(inspect[0]["State"]["OOMKilled"], true, "{inspect}");
    assert_eq!(s.run(&["rm", "db"]).code, 0);

    // A published port reaches the container's httpd through the modelled DNAT rule.
    let r = s.run(&[
        "run", "-d", "--name", "web", "-p", "18080:80", "busybox", "httpd", "-f", "-p", "80",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = common::within(std::time::Duration::from_secs(30), || {
        let c = s.run(&["sim", "curl", "http://localhost:18080/"]);
        (c.code == 0).then_some(c.stdout)
    })
    .expect("the published port answers");
    assert!(got.contains("It works"), "{got}");
    // Containers on the bridge reach each other by address; one with no network does not.
    let inspect: Value = serde_json::from_str(&s.run(&["inspect", "web"]).stdout).unwrap();
    let ip = inspect[0]["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.run(&["run", "--rm", "busybox", "ping", "-c", "1", &ip]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("64 bytes from {ip}")),
        "{}",
        r.stdout
    );
    let r = s.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ping",
        "-c",
        "1",
        &ip,
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let fw = s.run(&["sim", "host", "iptables"]);
    assert!(
        fw.stdout.contains("--dport 18080") && fw.stdout.contains("DNAT"),
        "{}",
        fw.stdout
    );
    assert_eq!(s.run(&["rm", "-f", "web"]).code, 0);
    let c = s.run(&["sim", "curl", "http://localhost:18080/"]);
    assert_eq!(c.code, 7, "{}", c.stderr);

    let ids = session_ids(&s);
    assert!(ids.len() >= 5, "the session's containers: {ids:?}");
    let left = host_traces_of(&ids);
    assert!(left.is_empty(), "the real host changed: {left:?}");
    assert_eq!(
        Path::new("/sys/class/net/ctrace0").exists(),
        bridge_before,
        "the simulated bridge was made for real"
    );
    assert_eq!(Path::new("/var/lib/ctrace").exists(), lib_before);
    assert_eq!(Path::new("/run/ctrace").exists(), run_before);
}

/// A trace's tree: (span, parent span, process) for every span, and per span the names of its
/// kernel events (outside the cgroup phases).
type Tree = BTreeSet<(String, String, String)>;
type Events = BTreeSet<(String, String)>;

fn shape(trace: &Value) -> (Tree, Events) {
    let spans = trace["spans"].as_array().unwrap();
    let name_of = |id: &str| {
        spans
            .iter()
            .find(|s| s["span_id"] == id)
            .map_or("-".to_string(), |s| s["name"].as_str().unwrap().to_string())
    };
    let mut tree = BTreeSet::new();
    let mut events = BTreeSet::new();
    let cgroup_bound = [
        "runtime.cgroup",
        "exit.cgroup",
        "init.mounts",
        "start.verify",
    ];
    for s in spans {
        let name = s["name"].as_str().unwrap().to_string();
        let parent = s["parent_id"].as_str().map_or("-".to_string(), name_of);
        tree.insert((name.clone(), parent, s["process"].as_str().unwrap().into()));
        if cgroup_bound.contains(&name.as_str()) {
            continue;
        }
        for e in s["events"].as_array().into_iter().flatten() {
            let ev = e["name"].as_str().unwrap_or("");
            // The offline image is made on first use, in whichever root asks first.
            // Events about cgroups depend on the cgroup version (a v1 host also unshares the
            // cgroup namespace a second time: its other hierarchies do not show `/`).
            // cgroup files differ by version (the model is v2): `write tasks` is v1's
            // `write cgroup.procs`.
            if !ev.is_empty()
                && !ev.starts_with("image ")
                && !ev.to_lowercase().contains("cgroup")
                && ev != "write tasks"
            {
                events.insert((name.clone(), ev.to_string()));
            }
        }
    }
    (tree, events)
}

fn simulated(env: &Env, args: &[&str]) -> Run {
    let mut c = env.cmd(args);
    c.env("CTRACE_SIM", "1")
        .env("CTRACE_SIM_DIR", env.dir.join("sim"))
        .env("CTRACE_ROOT", env.dir.join("sim-root"))
        .env("CTRACE_EXEC_ROOT", env.dir.join("sim-run"));
    c.output().unwrap().into()
}

fn sim_traces(env: &Env) -> Vec<Value> {
    let mut v: Vec<Value> = std::fs::read_dir(env.dir.join("sim-root/traces"))
        .map(|rd| {
            rd.flatten()
                .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|t: &Value| t["started_unix_ns"].as_u64().unwrap_or(0));
    v
}

#[test]
fn a_simulated_run_records_the_span_tree_of_a_real_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new("sim-tree");
    for args in [
        &["run", "--rm", "--network", "none", "busybox", "echo", "hi"][..],
        &["run", "--rm", "busybox", "true"][..],
        &[
            "run",
            "--rm",
            "-m",
            "64m",
            "--pids-limit",
            "20",
            "busybox",
            "true",
        ][..],
        &[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "true",
        ][..],
    ] {
        let real = env.run(args);
        assert_eq!(real.code, 0, "{}", real.stderr);
        let sim = simulated(&env, args);
        assert_eq!(sim.code, 0, "{}", sim.stderr);
        assert_eq!(real.stdout, sim.stdout);
        let real_trace = env.traces().into_iter().last().unwrap();
        let sim_trace = sim_traces(&env).into_iter().last().unwrap();
        assert_eq!(real_trace["mode"], "real");
        assert_eq!(sim_trace["mode"], "sim");
        let (rt, re) = shape(&real_trace);
        let (st, se) = shape(&sim_trace);
        assert_eq!(
            rt.symmetric_difference(&st).collect::<Vec<_>>(),
            Vec::<&(String, String, String)>::new(),
            "span trees differ for {args:?}"
        );
        assert_eq!(
            re.symmetric_difference(&se).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "kernel events differ for {args:?}"
        );
        let confined = !args.contains(&"seccomp=unconfined");
        assert_eq!(
            rt.iter().any(|(name, _, _)| name == "init.seccomp"),
            confined,
            "{args:?}"
        );
    }
    // The simulated process records the filter it loaded, as the kernel's status shows it.
    let status = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
        let r = simulated(&env, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    assert!(status(&[]).contains("Seccomp:\t2"));
    assert!(status(&["--security-opt", "seccomp=unconfined"]).contains("Seccomp:\t0"));
}

#[test]
fn a_simulated_read_only_bind_is_read_only_below_and_an_old_kernel_says_how_to_do_without() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new("sim-rro");
    let src = env.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let spec = format!("{}:/r:ro", src.display());
    let args = ["run", "--rm", "-v", &spec, "busybox", "true"];
    let r = simulated(&env, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A kernel older than 5.12 has no mount_setattr(2): one line, and the way without it.
    let old_kernel = |args: &[&str]| -> Run {
        let mut c = env.cmd(args);
        c.env("CTRACE_SIM", "1")
            .env("CTRACE_SIM_DIR", env.dir.join("sim"))
            .env("CTRACE_ROOT", env.dir.join("sim-root"))
            .env("CTRACE_EXEC_ROOT", env.dir.join("sim-run"))
            .env("CTRACE_SIM_HOST", "old-kernel");
        c.output().unwrap().into()
    };
    let r = old_kernel(&args);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("this kernel has no mount_setattr(2) (Linux 5.12 or later)")
            && r.stderr.contains("readonly,bind-recursive=writable"),
        "{}",
        r.stderr
    );
    let m = format!(
        "type=bind,source={},target=/r,readonly,bind-recursive=writable",
        src.display()
    );
    let r = old_kernel(&["run", "--rm", "--mount", &m, "busybox", "true"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn the_stock_docker_cli_runs_simulated_containers_through_a_simulated_daemon() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new("sim-daemon");
    let socket = env.dir.join("d.sock");
    let mut daemon = env
        .cmd(&["--sim", "daemon", "--socket"])
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = common::within(std::time::Duration::from_secs(30), || {
        socket.exists().then_some(())
    });
    let docker = |args: &[&str]| -> Run {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", socket.display()))
            .env("DOCKER_CONFIG", &env.dir)
            .stdin(Stdio::null())
            .output()
            .expect("the docker client is not installed: run scripts/deps.sh (docker.io)")
            .into()
    };
    let result = up.map(|()| {
        let r = docker(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo from-docker; exit 3",
        ]);
        let traces = env.traces();
        (r, traces)
    });
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
    let (r, traces) = result.expect("the simulated daemon never listened");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout, "from-docker\n");
    let start = traces
        .iter()
        .find(|t| t["operation"] == "start")
        .expect("the daemon's start trace");
    assert_eq!(start["mode"], "sim");
}

#[test]
fn a_student_pulls_from_the_simulated_registry_and_runs_what_was_pulled() {
    let s = Student::new("pull");
    for (image, repository) in [
        ("busybox", "library/busybox"),
        ("alpine", "library/alpine"),
        ("course/web:1", "course/web"),
    ] {
        let r = s.run(&["pull", image]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out = format!("{}{}", r.stdout, r.stderr);
        let tag = image.split_once(':').map_or("latest", |(_, t)| t);
        assert!(
            out.contains(&format!("{tag}: Pulling from {repository}"))
                && out.contains("Digest: sha256:")
                && out.contains("Status: Downloaded newer image for"),
            "{out}"
        );
    }
    // The engine's own pull, every phase a span.
    let pull = s
        .traces()
        .into_iter()
        .rev()
        .find(|t| t["operation"] == "pull")
        .expect("a pull trace");
    assert_eq!(pull["mode"], "sim");
    let names: BTreeSet<&str> = pull["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for phase in [
        "pull.resolve",
        "pull.auth",
        "pull.manifest",
        "pull.blob",
        "pull.verify",
        "pull.unpack",
        "pull.register",
    ] {
        assert!(names.contains(phase), "{phase} missing from {names:?}");
    }
    let images = s.run(&["images"]);
    for repo in ["busybox", "alpine", "course/web"] {
        assert!(
            images.stdout.lines().any(|l| l.starts_with(repo)),
            "{}",
            images.stdout
        );
    }
    let r = s.run(&["run", "--rm", "alpine", "cat", "/etc/alpine-release"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "3.20.3\n"), "{}", r.stderr);

    // `run` of an image that is not in the store pulls it, as the default `--pull missing` does.
    let r: Run = s
        .cmd(&["run", "--rm", "busybox:1.36", "echo", "pulled"])
        .env("CTRACE_PULL", "missing")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "pulled\n");
    assert!(
        r.stderr
            .contains("Unable to find image 'busybox:1.36' locally")
            && r.stderr.contains("1.36: Pulling from library/busybox"),
        "{}",
        r.stderr
    );

    // Docker's errors for what the registry does not have.
    let r = s.run(&["pull", "no-such-image"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "pull access denied for no-such-image, repository does not exist or may require"
        ),
        "{}",
        r.stderr
    );
    let r = s.run(&["pull", "alpine:0.0"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("manifest for alpine:0.0 not found: manifest unknown"),
        "{}",
        r.stderr
    );

    // A host whose registry cannot be reached says so as a real one does; a run of a missing
    // image fails as the engine's (125).
    let unreachable = |args: &[&str]| -> Run {
        s.cmd(args)
            .env("CTRACE_SIM_HOST", "registry-unreachable")
            .env("CTRACE_PULL", "missing")
            .output()
            .unwrap()
            .into()
    };
    let r = unreachable(&["pull", "alpine:3.20"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "cannot reach registry https://registry-1.docker.io: failed to lookup address information"
        ),
        "{}",
        r.stderr
    );
    let r = unreachable(&["run", "--rm", "alpine:3.20", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach registry"), "{}", r.stderr);
}

#[test]
fn every_scenario_plays_to_its_end_with_the_exit_codes_it_expects() {
    let s = Student::new("scenarios");
    let list = s.run(&["sim", "scenarios"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let names: Vec<String> = list
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    for expected in ["image-not-found", "port-allocated", "daemon-restore"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for name in &names {
        // A student's shell: the default `--pull missing`.
        let r: Run = s
            .cmd(&["sim", "scenario", name])
            .env_remove("CTRACE_PULL")
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "scenario {name}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            !r.stdout.contains("the scenario expected") && r.stdout.contains("What to check:"),
            "scenario {name}:\n{}",
            r.stdout
        );
    }
    // Nothing a scenario started is left running: no container, no daemon.
    let ps = s.run(&["ps", "-q"]);
    assert_eq!(ps.stdout, "", "{}", ps.stderr);
    let daemons: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.starts_with(&s.bin.display().to_string()) && c.contains(" daemon"))
        .collect();
    assert!(daemons.is_empty(), "daemons left running: {daemons:?}");
}
