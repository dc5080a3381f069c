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

use std::collections::BTreeMap;
use std::io::{self};
use std::path::{Path, PathBuf};

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
}

fn me() -> i32 {
    std::process::id() as i32
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
    pub fn new(dir: &Path, ours: Vec<PathBuf>) -> SimHost {
        SimHost {
            store: Store::new(dir),
            ours,
        }
    }

    /// The model, as it is now (dead processes and what only they held collected).
    pub fn snapshot(&self) -> io::Result<HostModel> {
        self.change(|_| Ok(()))?;
        self.store.load()
    }

    fn change<T>(&self, f: impl FnOnce(&mut HostModel) -> io::Result<T>) -> io::Result<T> {
        self.store.change(|m| {
            m.collect(crate::sys::process::alive);
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
