//! Shared test harness: every test gets its own state root, exec root and names, and on drop
//! removes its containers and proves nothing was left behind — no mounts under its roots (the
//! named netns are bind mounts there), no cgroup directories, veths or shim processes for its
//! containers. Each test has its own bridge and subnet, never a user's `ctrace0`; the harness
//! prunes it and checks that the bridge, its iptables rules and its leases are gone.
//!
//! Beside it: [`daemon`] (a `ctrace daemon` and raw HTTP to it), [`containers`] (inspect, state, health and events as a user reads them, and the
//! usual ways to set a container up), [`poll`] (`eventually`: wait for a condition, never for a
//! guessed time), [`archive`] (tar headers, busybox layers, `docker save` archives) and
//! [`registry`] (a real registry and a proxy for the pull tests), [`term`] (a pseudo-terminal a
//! test types into).
//!
//! Not here: a tool the tests need being absent is never a reason to skip: the helpers fail with
//! the install hint (`scripts/deps.sh`).
#![allow(dead_code)]

pub mod archive;
pub mod containers;
pub mod daemon;
pub mod poll;
pub mod registry;
pub mod term;

// Not every test file uses every helper.
#[allow(unused_imports)]
pub use containers::{gone, span_names, PATIENCE};
#[allow(unused_imports)]
pub use poll::{eventually, within};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ctrace");

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The caller's proxy settings, which no test may depend on.
const PROXY_VARS: [&str; 8] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// One isolated ctrace installation.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub tag: String,
    /// This test's bridge and subnet.
    pub bridge: String,
    pub subnet: String,
}

/// The result of one command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Env {
    pub fn new(test: &str) -> Env {
        assert!(
            nix_is_root(),
            "these tests run real containers and need root (sudo cargo test)"
        );
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}-{}-{n}", test.replace('_', "-"), std::process::id());
        let dir = std::env::temp_dir().join(format!("ctrace-test-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pid = std::process::id();
        Env {
            root: dir.join("root"),
            exec_root: dir.join("run"),
            dir,
            tag,
            bridge: format!("ctt{:05}x{n}", pid % 100_000),
            subnet: format!("10.{}.{}.0/24", 200 + pid % 50, n % 256),
        }
    }

    /// A name unique to this test.
    pub fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.tag)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("CTRACE_ROOT", &self.root)
            .env("CTRACE_EXEC_ROOT", &self.exec_root)
            .env("CTRACE_BRIDGE", &self.bridge)
            .env("CTRACE_BRIDGE_SUBNET", &self.subnet)
            // A simulated command (`--sim`) keeps its modelled host in this test's directory.
            .env("CTRACE_SIM_DIR", self.dir.join("sim"))
            .env("NO_COLOR", "1")
            // Hermetic: no test may depend on Docker Hub. Pull tests pass `--pull` or use
            // `ctrace pull` against their own registry.
            .env("CTRACE_PULL", "never")
            .env_remove("CTRACE_TRACE")
            .stdin(Stdio::null());
        c
    }

    /// [`Env::cmd`] without the caller's HTTP proxy (the test registries are on loopback) or
    /// docker credentials (the test's own directory holds its `config.json`).
    pub fn direct_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(args);
        for v in PROXY_VARS {
            c.env_remove(v);
        }
        c.env("DOCKER_CONFIG", &self.dir);
        c
    }

    /// Runs `ctrace ARGS` and collects its output.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("spawn ctrace").into()
    }

    pub fn traces(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("traces")) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "json") {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    out.push(serde_json::from_str(&text).unwrap());
                }
            }
        }
        out.sort_by_key(|t: &serde_json::Value| t["started_unix_ns"].as_u64().unwrap_or(0));
        out
    }

    /// Ids of all containers in this root.
    pub fn ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("containers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Mount points under `dir`, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let d = dir.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(d.as_ref()))
        .map(str::to_string)
        .collect()
}

/// Cgroup directories left for container `id` in any hierarchy.
pub fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    let mut roots: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for r in roots {
        let p = r.join("ctrace").join(id);
        if p.exists() {
            out.push(p);
        }
    }
    out
}

/// Whether a network interface `name` exists in the host's namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether link `name` is gone, waiting up to 2 s: a container's veth goes away with its network
/// namespace, which the kernel destroys in a worker after the last reference is dropped.
pub fn link_gone(name: &str) -> bool {
    within(Duration::from_secs(2), || {
        (!link_exists(name)).then_some(())
    })
    .is_some()
}

/// iptables rules (all tables) whose text mentions `needle`.
pub fn rules_with(needle: &str) -> Vec<String> {
    let out = Command::new("iptables-save").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Processes whose command line mentions `needle`.
pub fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

impl Env {
    /// Asserts that container `id` left nothing behind, checked by the test itself before the
    /// harness's own `rm -f` could tidy anything up: no container, no mounts under this test's
    /// roots, no cgroup, no veth, no process under its root.
    #[track_caller]
    pub fn assert_nothing_left_of(&self, id: &str) {
        assert!(self.ids().is_empty(), "the container is still there");
        let mounts = mounts_under(&self.dir);
        assert!(mounts.is_empty(), "mounts left: {mounts:?}");
        assert!(cgroups_of(id).is_empty(), "{:?}", cgroups_of(id));
        assert!(link_gone(&format!("ctr{}", &id[..11])), "veth left");
        let procs = processes_with(&self.root.to_string_lossy());
        assert!(procs.is_empty(), "processes left: {procs:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.ids();
        for id in &ids {
            let _ = self.run(&["rm", "-f", id]);
        }
        let mounts = mounts_under(&self.dir);
        let cgroups: Vec<PathBuf> = ids.iter().flat_map(|id| cgroups_of(id)).collect();
        let veths: Vec<String> = ids
            .iter()
            .map(|id| format!("ctr{}", &id[..11]))
            .filter(|v| !link_gone(v))
            .collect();
        let leases: Vec<String> =
            std::fs::read_dir(self.root.join("network").join(&self.bridge).join("leases"))
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
        let brif = Path::new("/sys/class/net").join(&self.bridge).join("brif");
        let on_bridge = || -> Vec<String> {
            std::fs::read_dir(&brif)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        // The veths leave the bridge as their namespaces go (a kernel worker): wait a moment.
        let ports = within(Duration::from_secs(2), || {
            Some(on_bridge()).filter(Vec::is_empty)
        })
        .unwrap_or_else(on_bridge);
        let pruned = self.run(&["network", "prune"]);
        let bridge_left = link_exists(&self.bridge);
        let rules = rules_with(&format!("ctrace:{}", self.bridge));
        let procs = processes_with(&self.root.to_string_lossy());
        let leftover_ids = self.ids();
        // Clean up as far as we can before failing, so one broken test does not break the next.
        for m in mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        for v in &veths {
            let _ = Command::new("ip").args(["link", "del", v]).status();
        }
        if bridge_left {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if !std::thread::panicking() {
            assert!(veths.is_empty(), "veths left behind: {veths:?}");
            assert!(ports.is_empty(), "veths left on the bridge: {ports:?}");
            assert!(leases.is_empty(), "leases left behind: {leases:?}");
            assert_eq!(pruned.code, 0, "network prune failed: {}", pruned.stderr);
            assert!(!bridge_left, "bridge {} left behind", self.bridge);
            assert!(rules.is_empty(), "iptables rules left behind: {rules:?}");
            assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
            assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
            assert!(procs.is_empty(), "processes left behind: {procs:?}");
            assert!(
                leftover_ids.is_empty(),
                "containers that rm -f could not remove: {leftover_ids:?}"
            );
        }
    }
}
