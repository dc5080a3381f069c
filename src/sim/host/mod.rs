//! [`SimHost`]: the `Host` seam over a modelled host. Each method does to [`HostModel`] what the
//! kernel would do to itself — a mount lands in the caller's mount namespace's table, `clone`
//! with namespace flags gives the child fresh namespaces with inode numbers, a cgroup write sets
//! a file in the modelled tree, a veth pair appears in two network namespaces — so the engine's
//! own phases run unchanged and the host can be looked at afterwards (`ctrace sim host`).
//!
//! Processes stay real: the shim and the container's init are real processes (a plain `fork`, no
//! namespaces, no root needed), so signals, `stop`, `kill`, exit codes, logs and the exec fifo
//! behave as they do for real. Only where a real run would `execve` the container's program does
//! the simulated init run [`super::shell`] instead. Freezing a modelled cgroup stops its
//! processes (SIGSTOP), thawing continues them.
//!
//! Files: nothing outside the simulator's own directories (and the engine roots it was given) is
//! ever written; a path that would land elsewhere (a device node after `pivot_root`) is only
//! modelled.
//!
//! Not here: the model's rules ([`super::model`]), what the container sees ([`super::vfs`]).
//!
//! One file per area, as the seam's traits are: [`mounts`] (and namespaces), [`kfs`] (cgroupfs
//! and sysctls), [`net`], [`process`] (processes, credentials, and `execve` into the
//! interpreter) and [`container`] (what the interpreter sees).

use std::collections::{BTreeMap, HashMap};
use std::io::{self};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::host::flags::CloneFlags;
use crate::host::flags::MsFlags;

use crate::sim::model::{HostModel, Mount, Store};
use crate::sim::vfs;

mod container;
mod kfs;
mod mounts;
mod net;
mod process;

/// The simulated host of one process.
pub struct SimHost {
    store: Store,
    /// Where this simulated session may write real files.
    ours: Vec<PathBuf>,
    /// The children this process made: modelled pid → the operating system's.
    kids: Mutex<HashMap<i32, i32>>,
}

/// The environment variable that tells a spawned process which modelled pid it is:
/// `<pid>:<the parent's operating-system pid>` (a grandchild that inherits it is not fooled).
const PID_ENV: &str = "CTRACE_SIM_PID";

/// This process's modelled pid (low half) and the operating system's pid it was set for (high
/// half): a forked child still holds its parent's until it sets its own.
static ME: AtomicU64 = AtomicU64::new(0);

/// The store of this process's simulated host, for [`me`] to find a process the host did not
/// make.
static STORE: OnceLock<Store> = OnceLock::new();

/// Set once this process's modelled clock is installed: from then on every change of the model
/// records how far the clock has come.
static CLOCK_READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This process's modelled clock is installed; the model may ask it the time.
pub fn clock_installed() {
    CLOCK_READY.store(true, Ordering::SeqCst);
}

fn os_pid() -> u32 {
    std::process::id()
}

/// From now on this process is `pid` on the simulated host. Async-signal-safe (a forked child
/// calls it first thing).
fn set_me(pid: i32) {
    ME.store(
        (u64::from(os_pid()) << 32) | u64::from(pid as u32),
        Ordering::SeqCst,
    );
}

/// This process's modelled pid. A process the simulated host did not start (the CLI a user
/// typed) is registered on first sight, its parent being whoever plays its real parent.
fn me() -> i32 {
    let v = ME.load(Ordering::SeqCst);
    if (v >> 32) as u32 == os_pid() {
        return v as u32 as i32;
    }
    let Some(store) = STORE.get() else {
        return os_pid() as i32;
    };
    let real = os_pid() as i32;
    let parent = nix::unistd::getppid().as_raw();
    let pid = store
        .change(|m| {
            if let Some(p) = m.pid_of_real(real) {
                return Ok(p);
            }
            let ppid = m.pid_of_real(parent).unwrap_or(0);
            let pid = m.birth(ppid, "ctrace", crate::sys::random::u64);
            m.processes.get_mut(&pid).expect("just born").real = real;
            Ok(pid)
        })
        .unwrap_or(real);
    set_me(pid);
    pid
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn enoent() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// Namespace kinds named by clone flags.
fn kinds(flags: CloneFlags) -> Vec<&'static str> {
    [
        (CloneFlags::CLONE_NEWNS, "mnt"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::CLONE_NEWNET, "net"),
        (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (CloneFlags::CLONE_NEWUSER, "user"),
    ]
    .into_iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, k)| k)
    .collect()
}

/// Mount flags as `findmnt` shows options.
fn options(flags: MsFlags, data: Option<&str>) -> String {
    let mut o = vec![if flags.contains(MsFlags::MS_RDONLY) {
        "ro"
    } else {
        "rw"
    }];
    for (f, name) in [
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_BIND, "bind"),
        (MsFlags::MS_REMOUNT, "remount"),
    ] {
        if flags.contains(f) {
            o.push(name);
        }
    }
    let mut s = o.join(",");
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        s = format!("{s},{d}");
    }
    s
}

/// An absolute, lexically clean form of `p` (relative to this process's working directory).
fn absolute(p: &Path) -> PathBuf {
    let base = if p.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    };
    let mut out = PathBuf::from("/");
    for c in base.join(p).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn text(p: &Path) -> String {
    p.display().to_string()
}

/// The mount entry of a bind of `src` onto `target`: what `src` resolves to in `pid`'s table.
fn bind_of(
    m: &HostModel,
    pid: i32,
    src: &str,
    target: &Path,
    flags: MsFlags,
    data: Option<&str>,
) -> Mount {
    let opts = options(flags | MsFlags::MS_BIND, data);
    let (fstype, source, options) = match vfs::place(m, pid, src) {
        vfs::Place::Dirs(dirs) if dirs.len() > 1 => {
            let lowers: Vec<String> = dirs[1..].iter().map(|d| text(d)).collect();
            (
                "overlay".to_string(),
                "overlay".to_string(),
                format!(
                    "{opts},lowerdir={},upperdir={}",
                    lowers.join(":"),
                    text(&dirs[0])
                ),
            )
        }
        vfs::Place::Dirs(dirs) => (
            "none".to_string(),
            dirs.first().map_or_else(|| src.to_string(), |d| text(d)),
            opts,
        ),
        vfs::Place::Kernel { fstype, .. } => (fstype.clone(), fstype, opts),
        vfs::Place::Empty => ("none".to_string(), src.to_string(), opts),
    };
    Mount {
        ns: 0,
        target: text(target),
        fstype,
        source,
        options,
    }
}

impl SimHost {
    /// A simulated host kept in `dir`, allowed to write real files only below `ours`.
    ///
    /// This process takes its modelled pid now: the one its parent registered for it (handed
    /// down in the environment) or, for a process the host did not start, a new one.
    pub fn new(dir: &Path, ours: Vec<PathBuf>) -> SimHost {
        let store = Store::new(dir);
        let _ = STORE.set(store.clone());
        let handed = std::env::var(PID_ENV).ok().and_then(|v| {
            let (pid, parent) = v.split_once(':')?;
            (parent.parse::<i32>().ok()? == nix::unistd::getppid().as_raw())
                .then(|| pid.parse::<i32>().ok())
                .flatten()
        });
        // Read once: the variable is for this process only (set before any thread starts).
        std::env::remove_var(PID_ENV);
        match handed {
            Some(pid) => set_me(pid),
            None => {
                me();
            }
        }
        SimHost {
            store,
            ours,
            kids: Mutex::new(HashMap::new()),
        }
    }

    /// This process's modelled pid.
    pub fn pid(&self) -> i32 {
        me()
    }

    /// The operating system's pid of modelled `pid` (ESRCH: no such process).
    fn real_of(&self, pid: i32) -> io::Result<i32> {
        let esrch = || io::Error::from_raw_os_error(libc::ESRCH);
        if pid <= 0 {
            return Err(esrch());
        }
        if pid == me() {
            return Ok(os_pid() as i32);
        }
        if let Some(r) = self
            .kids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pid)
        {
            return Ok(*r);
        }
        self.store
            .read(|m| m.processes.get(&pid).map(|p| p.real))?
            .filter(|r| *r > 0)
            .ok_or_else(esrch)
    }

    /// Registers the birth of a child of ours (before the fork or spawn makes it).
    fn birth(&self, command: &str, kinds: &[&str]) -> io::Result<i32> {
        let parent = me();
        self.change(|m| {
            let pid = m.birth(parent, command, crate::sys::random::u64);
            if !kinds.is_empty() {
                m.unshare(pid, kinds);
            }
            Ok(pid)
        })
    }

    /// The child registered as `pid` is the operating system's `real` (`None`: it was not made).
    fn born(&self, pid: i32, real: Option<i32>) -> io::Result<()> {
        if let Some(r) = real {
            self.kids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(pid, r);
        }
        self.change(|m| {
            match real {
                Some(r) => {
                    if let Some(p) = m.processes.get_mut(&pid) {
                        p.real = r;
                    }
                }
                None => {
                    m.processes.remove(&pid);
                }
            }
            Ok(())
        })
    }

    /// The model, as it is now (dead processes and what only they held collected).
    pub fn snapshot(&self) -> io::Result<HostModel> {
        self.change(|m| Ok(m.clone()))
    }

    fn change<T>(&self, f: impl FnOnce(&mut HostModel) -> io::Result<T>) -> io::Result<T> {
        self.store.change(|m| {
            if CLOCK_READY.load(Ordering::Relaxed) {
                m.clock_ns = m.clock_ns.max(crate::trace::clock::current().now_unix_ns());
            }
            // This process is alive, and so is its parent while it is still our parent (an
            // orphan is handed to another at once): only the others are asked about.
            let (me, parent) = (os_pid() as i32, nix::unistd::getppid().as_raw());
            m.collect(|real| real == me || real == parent || crate::sys::process::alive(real));
            f(m)
        })
    }

    fn is_ours(&self, p: &Path) -> bool {
        self.ours.iter().any(|o| p.starts_with(o))
    }

    /// A cgroupfs path's directory relative to the cgroup root.
    fn cgroup_rel(p: &Path) -> Option<String> {
        p.strip_prefix("/sys/fs/cgroup")
            .ok()
            .map(|r| r.to_string_lossy().trim_end_matches('/').to_string())
    }

    /// The files a new cgroup starts with.
    fn fresh_cgroup() -> BTreeMap<String, String> {
        [
            ("cgroup.procs", ""),
            ("cgroup.freeze", "0"),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
            ("cgroup.controllers", "cpu memory pids"),
            ("cgroup.subtree_control", ""),
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
            ("pids.max", "max"),
            ("cpu.max", "max 100000"),
            ("cpu.weight", "100"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn iptables_apply(m: &mut HostModel, args: &[&str]) -> io::Result<()> {
        let mut table = "filter".to_string();
        let mut rest: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            match args[i] {
                "-w" => {}
                "-t" => {
                    table = args.get(i + 1).copied().unwrap_or("filter").to_string();
                    i += 1;
                }
                a => rest.push(a),
            }
            i += 1;
        }
        let Some((&op, tail)) = rest.split_first() else {
            return Err(io::Error::other("iptables: no command given"));
        };
        let rule = |tail: &[&str]| format!("-t {table} -A {}", tail.join(" "));
        match op {
            "-A" | "-I" => {
                m.iptables.push(rule(tail));
                Ok(())
            }
            "-D" => {
                let r = rule(tail);
                let before = m.iptables.len();
                m.iptables.retain(|x| *x != r);
                if m.iptables.len() == before {
                    Err(io::Error::other(
                        "iptables: Bad rule (does a matching rule exist in that chain?).",
                    ))
                } else {
                    Ok(())
                }
            }
            "-C" => {
                if m.iptables.contains(&rule(tail)) {
                    Ok(())
                } else {
                    Err(io::Error::other(
                        "iptables: Bad rule (does a matching rule exist in that chain?).",
                    ))
                }
            }
            "-N" | "-X" | "-F" | "-Z" | "-P" => Ok(()),
            other => Err(io::Error::other(format!(
                "iptables: the simulator does not model {other}"
            ))),
        }
    }

    fn netns_ino(m: &HostModel, netns: Option<&Path>) -> io::Result<u64> {
        match netns {
            Some(p) => m.netns_at(&text(&absolute(p))).ok_or_else(enoent),
            None => Ok(m.ns_of(me())["net"]),
        }
    }
}

impl crate::host::Host for SimHost {
    fn mode(&self) -> &'static str {
        "sim"
    }
}
