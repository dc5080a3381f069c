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

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::SFlag;
use nix::sys::wait::WaitStatus;

use super::model::{HostModel, Mount, Route, Store};
use super::shell::{self, Container, Outcome};
use super::vfs;
use crate::host::{KernelFs, Mounts, Namespaces, Net, Processes};

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

    /// The namespace an fd opened on `/proc/<pid>/ns/<kind>` or a bound netns file refers to.
    fn ns_of_fd(m: &HostModel, fd: RawFd, kind: &str) -> Option<u64> {
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
        let t = target.to_string_lossy().to_string();
        if let Some(ino) = m.netns_at(&t) {
            return Some(ino);
        }
        // A real namespace file (`net:[…]`): the process that opened it never left the host's,
        // so it is the model's host namespace of that kind.
        if t.contains(":[") {
            return m.host_ns.get(kind).copied();
        }
        None
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

impl Mounts for SimHost {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        let target = absolute(target);
        let pid = me();
        // Propagation changes alone leave the table as it is.
        let propagation = MsFlags::MS_PRIVATE
            | MsFlags::MS_SLAVE
            | MsFlags::MS_SHARED
            | MsFlags::MS_UNBINDABLE
            | MsFlags::MS_REC;
        if source.is_none() && fstype.is_none() && (flags - propagation).is_empty() {
            return Ok(());
        }
        self.change(|m| {
            let src = source.map(text).unwrap_or_default();
            if flags.contains(MsFlags::MS_BIND) && src.contains("/ns/net") {
                // Binding a network namespace's file keeps the namespace alive under a name.
                let ino = m.ns_of(pid)["net"];
                m.named_netns.insert(text(&target), ino);
                m.mount(
                    pid,
                    Mount {
                        ns: 0,
                        target: text(&target),
                        fstype: "nsfs".into(),
                        source: format!("net:[{ino}]"),
                        options: "rw,bind".into(),
                    },
                );
                return Ok(());
            }
            if flags.contains(MsFlags::MS_BIND) && !src.is_empty() {
                // A bind mount carries what is mounted at its source, not the path: resolve it
                // now, as the kernel does, so it still shows the files after `pivot_root`.
                let entry = bind_of(m, pid, &src, &target, flags, data);
                m.mount(pid, entry);
                return Ok(());
            }
            let fstype = fstype.unwrap_or("");
            m.mount(
                pid,
                Mount {
                    ns: 0,
                    target: text(&target),
                    fstype: fstype.to_string(),
                    source: if src.is_empty() {
                        fstype.to_string()
                    } else {
                        src
                    },
                    options: options(flags, data),
                },
            );
            Ok(())
        })
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> io::Result<()> {
        let pid = me();
        let target = absolute(target);
        self.change(|m| {
            let root = m
                .processes
                .get(&pid)
                .map(|p| p.root.clone())
                .unwrap_or_default();
            // runc's `pivot_root(".", ".")` leaves the old root stacked on the new one, and
            // `umount2(".", MNT_DETACH)` takes it away.
            if !root.is_empty() && (text(&target) == root || target == Path::new("/")) {
                return m.umount(pid, "/.pivot_old", true);
            }
            m.umount(pid, &text(&target), flags.contains(MntFlags::MNT_DETACH))
        })
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
        let (new, old) = (absolute(new_root), absolute(put_old));
        let old = if old == new {
            new.join(".pivot_old")
        } else {
            old
        };
        self.change(|m| {
            m.pivot_root(me(), &text(&new), &text(&old));
            Ok(())
        })
    }

    fn mknod(&self, path: &Path, _kind: SFlag, _major: u64, _minor: u64) -> io::Result<()> {
        // A device node is modelled by an empty file where the rootfs is ours; nothing else.
        let p = absolute(path);
        if self.is_ours(&p) {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)?;
        }
        Ok(())
    }

    fn set_owner_mode(&self, _path: &Path, _uid: u32, _gid: u32, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    fn mountinfo(&self) -> io::Result<String> {
        let m = self.snapshot()?;
        let ns = m.ns_of(me())["mnt"];
        let mut out = String::new();
        for (i, e) in m.mounts.iter().filter(|e| e.ns == ns).enumerate() {
            let target = e.target.replace(' ', "\\040");
            let source = if e.source.is_empty() {
                "none"
            } else {
                &e.source
            };
            let (per_mount, per_sb): (Vec<&str>, Vec<&str>) = e
                .options
                .split(',')
                .partition(|o| matches!(*o, "ro" | "rw" | "nosuid" | "nodev" | "noexec"));
            out += &format!(
                "{} 1 0:{} / {target} {} - {} {source} {}\n",
                i + 20,
                i + 20,
                if per_mount.is_empty() {
                    "rw".to_string()
                } else {
                    per_mount.join(",")
                },
                if e.fstype.is_empty() {
                    "none"
                } else {
                    &e.fstype
                },
                if per_sb.is_empty() {
                    "rw".to_string()
                } else {
                    format!("rw,{}", per_sb.join(","))
                }
            );
        }
        Ok(out)
    }

    fn in_root(&self, path: &Path) -> PathBuf {
        let Ok(m) = self.store.load() else {
            return path.to_path_buf();
        };
        let pid = me();
        if m.processes.get(&pid).is_none_or(|p| p.root.is_empty()) {
            return path.to_path_buf();
        }
        match vfs::place(&m, pid, &text(path)) {
            vfs::Place::Dirs(dirs) => dirs
                .iter()
                .find(|d| d.exists())
                .or(dirs.first())
                .cloned()
                .unwrap_or_else(|| path.to_path_buf()),
            _ => self
                .ours
                .first()
                .map(|o| {
                    o.join("kernel")
                        .join(path.strip_prefix("/").unwrap_or(path))
                })
                .unwrap_or_else(|| path.to_path_buf()),
        }
    }
}

impl Namespaces for SimHost {
    fn unshare(&self, flags: CloneFlags) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            m.process(pid, 0, "ctrace");
            m.unshare(pid, &kinds(flags));
            Ok(())
        })
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> io::Result<()> {
        let kind = kinds(nstype).first().copied().unwrap_or("net");
        let pid = me();
        self.change(|m| {
            let ino = Self::ns_of_fd(m, fd.as_raw_fd(), kind).ok_or_else(einval)?;
            m.setns(pid, kind, ino);
            Ok(())
        })
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let uts = m.ns_of(pid)["uts"];
            m.hostnames.insert(uts, name.to_string());
            Ok(())
        })
    }

    fn setdomainname(&self, _name: &str) -> io::Result<()> {
        Ok(())
    }

    fn ns_inode(&self, path: &Path) -> io::Result<u64> {
        let m = self.snapshot()?;
        let p = absolute(path);
        if let Some(ino) = m.netns_at(&text(&p)) {
            return Ok(ino);
        }
        // `/proc/<pid|self>/ns/<kind>`.
        let parts: Vec<String> = p.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if let [_, proc_, who, ns, kind] = parts.as_slice() {
            if proc_ == "proc" && ns == "ns" {
                let pid = if who == "self" || who == "thread-self" {
                    me()
                } else {
                    who.parse().map_err(|_| enoent())?
                };
                return m.ns_of(pid).get(kind.as_str()).copied().ok_or_else(enoent);
            }
        }
        Err(enoent())
    }

    unsafe fn clone_process(
        &self,
        flags: CloneFlags,
        child: &mut dyn FnMut() -> isize,
    ) -> io::Result<i32> {
        // SAFETY: the caller upholds clone(2)'s rules (see the trait); a fork is a clone with
        // no namespace flags.
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            nix::unistd::ForkResult::Child => {
                let code = child();
                // SAFETY: leaving the child without running the parent's exit handlers.
                unsafe { libc::_exit(code as i32) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let pid = child.as_raw();
                let parent = me();
                self.change(|m| {
                    m.process(pid, parent, "init");
                    m.unshare(pid, &kinds(flags));
                    Ok(())
                })?;
                Ok(pid)
            }
        }
    }
}

impl KernelFs for SimHost {
    fn kfs_mkdir(&self, path: &Path) -> io::Result<()> {
        let Some(rel) = Self::cgroup_rel(path) else {
            return Ok(());
        };
        self.change(|m| {
            let mut acc = String::new();
            for part in rel.split('/').filter(|p| !p.is_empty()) {
                acc = if acc.is_empty() {
                    part.to_string()
                } else {
                    format!("{acc}/{part}")
                };
                m.cgroups
                    .entry(acc.clone())
                    .or_insert_with(Self::fresh_cgroup);
            }
            Ok(())
        })
    }

    fn kfs_create_dir(&self, path: &Path) -> io::Result<()> {
        let Some(rel) = Self::cgroup_rel(path) else {
            return Ok(());
        };
        self.change(|m| {
            if m.cgroups.contains_key(&rel) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            let parent = rel.rsplit_once('/').map_or("", |(p, _)| p);
            if !parent.is_empty() && !m.cgroups.contains_key(parent) {
                return Err(enoent());
            }
            m.cgroups.insert(rel, Self::fresh_cgroup());
            Ok(())
        })
    }

    fn kfs_write(&self, path: &Path, value: &str) -> io::Result<()> {
        let p = text(path);
        if let Some(key) = p.strip_prefix("/proc/sys/") {
            let pid = me();
            return self.change(|m| {
                let net = m.ns_of(pid)["net"];
                m.sysctls.insert(
                    format!("{} (net:[{net}])", key.replace('/', ".")),
                    value.into(),
                );
                Ok(())
            });
        }
        if p.starts_with("/proc/") {
            return Ok(()); // oom_score_adj and the like: the process's own, nothing to model
        }
        let Some(rel) = Self::cgroup_rel(path) else {
            return Err(enoent());
        };
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let (dir, file, value) = (dir.to_string(), file.to_string(), value.trim().to_string());
        let stop = self.change(|m| {
            let files = m.cgroups.get_mut(&dir).ok_or_else(enoent)?;
            match file.as_str() {
                "cgroup.procs" | "tasks" => {
                    let pid: i32 = value.parse().map_err(|_| einval())?;
                    let procs = files.entry(file.clone()).or_default();
                    if !procs.lines().any(|l| l == value) {
                        procs.push_str(&format!("{value}\n"));
                    }
                    m.process(pid, 0, "").cgroup = dir.clone();
                    Ok(None)
                }
                "cgroup.freeze" | "freezer.state" => {
                    let frozen = value == "1" || value == "FROZEN";
                    files.insert(file.clone(), value.clone());
                    let pids: Vec<i32> = m
                        .processes
                        .values()
                        .filter(|p| p.cgroup == dir)
                        .map(|p| p.pid)
                        .collect();
                    Ok(Some((frozen, pids)))
                }
                "devices.allow" | "devices.deny" => {
                    let v = files.entry(file.clone()).or_default();
                    v.push_str(&format!("{value}\n"));
                    Ok(None)
                }
                _ => {
                    files.insert(file.clone(), value.clone());
                    Ok(None)
                }
            }
        })?;
        // Freezing really stops the (real) processes of the modelled cgroup.
        if let Some((frozen, pids)) = stop {
            let sig = if frozen {
                Signal::SIGSTOP
            } else {
                Signal::SIGCONT
            };
            for pid in pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
        Ok(())
    }

    fn kfs_read(&self, path: &Path) -> io::Result<String> {
        let p = text(path);
        if p == "/proc/self/cgroup" {
            let m = self.snapshot()?;
            let cg = m
                .processes
                .get(&me())
                .map(|p| p.cgroup.clone())
                .unwrap_or_default();
            return Ok(format!("0::/{cg}\n"));
        }
        let m = self.snapshot()?;
        if let Some(key) = p.strip_prefix("/proc/sys/") {
            let key = key.replace('/', ".");
            return m
                .sysctls
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{key} ")))
                .map(|(_, v)| v.clone())
                .ok_or_else(enoent);
        }
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        if file == "cgroup.procs" {
            // Only the live ones, as the kernel lists them.
            let live: Vec<String> = m
                .processes
                .values()
                .filter(|p| p.cgroup == dir)
                .map(|p| p.pid.to_string())
                .collect();
            return Ok(live.iter().map(|p| format!("{p}\n")).collect());
        }
        m.cgroups
            .get(dir)
            .and_then(|f| f.get(file))
            .cloned()
            .ok_or_else(enoent)
    }

    fn kfs_rmdir(&self, path: &Path) -> io::Result<()> {
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        self.change(|m| {
            if !m.cgroups.contains_key(&rel) {
                return Err(enoent());
            }
            let busy = m.processes.values().any(|p| p.cgroup == rel)
                || m.cgroups.keys().any(|k| k.starts_with(&format!("{rel}/")));
            if busy {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            m.cgroups.remove(&rel);
            Ok(())
        })
    }

    fn kfs_subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        let m = self.snapshot()?;
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        Ok(m.cgroups
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|r| !r.is_empty() && !r.contains('/'))
            .map(|r| path.join(r))
            .collect())
    }

    fn kfs_exists(&self, path: &Path) -> bool {
        let Some(rel) = Self::cgroup_rel(path) else {
            return false;
        };
        let Ok(m) = self.store.load() else {
            return false;
        };
        if m.cgroups.contains_key(&rel) {
            return true;
        }
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        m.cgroups.get(dir).is_some_and(|f| f.contains_key(file))
    }
}

impl Net for SimHost {
    fn iptables(&self, args: &[&str]) -> io::Result<()> {
        self.change(|m| Self::iptables_apply(m, args))
    }

    fn iptables_restore(&self, input: &str) -> io::Result<()> {
        self.change(|m| {
            // All or nothing, as iptables-restore commits a table.
            let mut scratch = m.clone();
            let mut table = "filter".to_string();
            for line in input.lines().map(str::trim) {
                if let Some(t) = line.strip_prefix('*') {
                    table = t.to_string();
                } else if line.starts_with('-') {
                    let mut args = vec!["-t", table.as_str()];
                    args.extend(line.split_whitespace());
                    Self::iptables_apply(&mut scratch, &args)?;
                }
            }
            *m = scratch;
            Ok(())
        })
    }

    fn iptables_list(&self, table: &str) -> io::Result<String> {
        let m = self.snapshot()?;
        let prefix = format!("-t {table} ");
        Ok(m.iptables
            .iter()
            .filter_map(|r| r.strip_prefix(&prefix))
            .map(|r| format!("{r}\n"))
            .collect())
    }

    fn link_index(&self, name: &str, netns: Option<&Path>) -> io::Result<i32> {
        let m = self.snapshot()?;
        let ns = Self::netns_ino(&m, netns)?;
        m.links
            .iter()
            .find(|l| l.netns == ns && l.name == name)
            .map(|l| l.index)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    fn link_add_bridge(&self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let ns = m.ns_of(pid)["net"];
            if m.link(ns, name).is_some() {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            m.add_link(name, "bridge", ns);
            if let Some(l) = m.link(ns, name) {
                l.mac = mac
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":");
            }
            Ok(())
        })
    }

    fn link_add_veth(
        &self,
        host_name: &str,
        master: i32,
        peer_name: &str,
        peer_netns: &Path,
    ) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let here = m.ns_of(pid)["net"];
            let there = m
                .netns_at(&text(&absolute(peer_netns)))
                .ok_or_else(enoent)?;
            if m.link(here, host_name).is_some() {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            let a = m.add_link(host_name, "veth", here);
            let b = m.add_link(peer_name, "veth", there);
            for l in m.links.iter_mut() {
                if l.index == a {
                    l.peer = Some(b);
                    l.master = Some(master);
                } else if l.index == b {
                    l.peer = Some(a);
                }
            }
            Ok(())
        })
    }

    fn link_set_up(&self, index: i32, netns: Option<&Path>) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let l = m
                .links
                .iter_mut()
                .find(|l| l.netns == ns && l.index == index)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
            l.up = true;
            Ok(())
        })
    }

    fn link_del(&self, index: i32) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let ns = m.ns_of(pid)["net"];
            let peer = m
                .links
                .iter()
                .find(|l| l.netns == ns && l.index == index)
                .and_then(|l| l.peer);
            let before = m.links.len();
            m.links.retain(|l| {
                !(l.netns == ns && l.index == index) && (peer.is_none() || Some(l.index) != peer)
            });
            if m.links.len() == before {
                return Err(io::Error::from_raw_os_error(libc::ENODEV));
            }
            Ok(())
        })
    }

    fn addr_add(
        &self,
        index: i32,
        ip: Ipv4Addr,
        prefix: u8,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let l = m
                .links
                .iter_mut()
                .find(|l| l.netns == ns && l.index == index)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
            let cidr = format!("{ip}/{prefix}");
            if l.addrs.contains(&cidr) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            l.addrs.push(cidr);
            Ok(())
        })
    }

    fn route_add_default(
        &self,
        index: i32,
        gateway: Ipv4Addr,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let dev = m
                .links
                .iter()
                .find(|l| l.netns == ns && l.index == index)
                .map(|l| l.name.clone())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
            m.routes.push(Route {
                netns: ns,
                dest: "default".into(),
                via: gateway.to_string(),
                dev,
            });
            Ok(())
        })
    }
}

impl Processes for SimHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(io::Error::from)
    }

    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child> {
        // The child continues from the modelled time of now.
        cmd.env(
            super::clock::CLOCK_ENV,
            crate::trace::clock::current().now_unix_ns().to_string(),
        );
        let child = crate::host::linux::LinuxHost.spawn(cmd, fds, setsid)?;
        let (pid, parent) = (child.id() as i32, me());
        let what = cmd.get_args().next().map_or_else(
            || "ctrace".to_string(),
            |a| format!("ctrace {}", a.to_string_lossy()),
        );
        self.change(|m| {
            m.process(parent, 0, "ctrace");
            m.process(pid, parent, &what);
            Ok(())
        })?;
        Ok(child)
    }

    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus> {
        crate::host::linux::LinuxHost.wait_child(pid)
    }

    fn set_child_subreaper(&self) -> io::Result<()> {
        crate::host::linux::LinuxHost.set_child_subreaper()
    }

    fn setsid(&self) -> io::Result<()> {
        crate::host::linux::LinuxHost.setsid()
    }

    unsafe fn fork(&self) -> io::Result<i32> {
        // SAFETY: as the trait says; the caller upholds fork(2)'s rules.
        let pid = unsafe { crate::host::linux::LinuxHost.fork() }?;
        if pid > 0 {
            let parent = me();
            self.change(|m| {
                m.process(pid, parent, "exec");
                Ok(())
            })?;
        }
        Ok(pid)
    }

    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let env: Vec<String> = envp
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let pid = me();
        let _ = self.change(|m| {
            m.process(pid, 0, "").command = argv.join(" ");
            Ok(())
        });
        let is_init = self
            .store
            .load()
            .ok()
            .and_then(|m| m.processes.get(&pid).map(|p| p.command.clone()))
            .is_some();
        let _ = (program, is_init);
        // As pid 1 of its namespace, the container's process ignores the signals it has no
        // handler for: `stop` waits its timeout and then kills, as with a real busybox.
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            // SAFETY: setting a signal's disposition to ignore.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        close_on_exec();
        let c = SimContainer { host: self, pid };
        let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
        let outcome = shell::run(&argv, &env, &c, &mut out, &mut err);
        let _ = out.flush();
        let _ = err.flush();
        match outcome {
            Outcome::Exit(code) => std::process::exit(code),
            Outcome::Killed(sig) => {
                // SAFETY: the default action, then the signal: the process ends by it.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::kill(libc::getpid(), sig);
                }
                std::process::exit(128 + sig)
            }
        }
    }

    fn reap(&self, pid: i32) -> io::Result<()> {
        crate::host::linux::LinuxHost.reap(pid)
    }

    fn setrlimit(&self, _resource: u32, _soft: u64, _hard: u64) -> io::Result<()> {
        Ok(())
    }
    fn set_no_new_privs(&self) -> io::Result<()> {
        Ok(())
    }
    fn set_keepcaps(&self, _keep: bool) -> io::Result<()> {
        Ok(())
    }
    fn setgroups(&self, _gids: &[u32]) -> io::Result<()> {
        Ok(())
    }
    fn setresgid(&self, _gid: u32) -> io::Result<()> {
        Ok(())
    }
    fn setresuid(&self, _uid: u32) -> io::Result<()> {
        Ok(())
    }
    fn capbset_drop(&self, cap: u32) -> io::Result<()> {
        // The kernel's last capability is 40 (CAP_CHECKPOINT_RESTORE).
        if cap > 40 {
            return Err(einval());
        }
        Ok(())
    }
    fn capset(&self, _e: u64, _p: u64, _i: u64) -> io::Result<()> {
        Ok(())
    }
    fn ambient_clear(&self) -> io::Result<()> {
        Ok(())
    }
    fn ambient_raise(&self, _cap: u32) -> io::Result<()> {
        Ok(())
    }
}

/// What `execve` does to a process's files: every descriptor marked close-on-exec is closed.
/// The init's end of the exec fifo and of its sync socket go, so whoever waits on them learns
/// that the program "started", as with a real exec.
fn close_on_exec() {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        // SAFETY: querying and closing descriptors of this process, as execve would.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::close(fd);
            }
        }
    }
}

/// What a simulated container's process sees, from the model.
struct SimContainer<'a> {
    host: &'a SimHost,
    pid: i32,
}

impl SimContainer<'_> {
    fn model(&self) -> HostModel {
        self.host.store.load().unwrap_or_default()
    }

    fn cgroup_file(&self, names: &[&str]) -> Option<String> {
        let m = self.model();
        let cg = m.processes.get(&self.pid)?.cgroup.clone();
        let files = m.cgroups.get(&cg)?;
        names.iter().find_map(|n| files.get(*n).cloned())
    }

    fn limit(&self, names: &[&str]) -> Option<u64> {
        self.cgroup_file(names)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|v| *v < (1 << 62))
    }
}

impl Container for SimContainer<'_> {
    fn hostname(&self) -> String {
        let m = self.model();
        let uts = m.ns_of(self.pid)["uts"];
        m.hostnames.get(&uts).cloned().unwrap_or_default()
    }

    fn read(&self, path: &str) -> Option<String> {
        let m = self.model();
        match path {
            "/proc/self/cgroup" | "/proc/1/cgroup" => {
                return Some("0::/\n".into());
            }
            "/etc/hostname" => {
                if let Some(t) = vfs::read(&m, self.pid, path) {
                    return Some(t);
                }
                return Some(format!("{}\n", self.hostname()));
            }
            _ => {}
        }
        if let Some(key) = path.strip_prefix("/proc/sys/") {
            let key = key.replace('/', ".");
            return m
                .sysctls
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{key} ")))
                .map(|(_, v)| format!("{v}\n"));
        }
        if let Some(f) = path.strip_prefix("/sys/fs/cgroup/") {
            return self
                .cgroup_file(&[f])
                .map(|v| format!("{}\n", v.trim_end()));
        }
        vfs::read(&m, self.pid, path)
    }

    fn list(&self, path: &str) -> Option<Vec<String>> {
        vfs::list(&self.model(), self.pid, path)
    }

    fn addresses(&self) -> Vec<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        let mut out = Vec::new();
        for l in m.links.iter().filter(|l| l.netns == net) {
            out.push(format!(
                "{}: {}: <{}> mtu {}",
                l.index,
                l.name,
                if l.up { "UP,LOWER_UP" } else { "DOWN" },
                if l.kind == "loopback" { 65536 } else { 1500 }
            ));
            out.push(format!("    link/ether {}", l.mac));
            for a in &l.addrs {
                out.push(format!("    inet {a} scope global {}", l.name));
            }
        }
        out
    }

    fn routes(&self) -> Vec<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        m.routes
            .iter()
            .filter(|r| r.netns == net)
            .map(|r| format!("{} via {} dev {}", r.dest, r.via, r.dev))
            .collect()
    }

    fn processes(&self) -> Vec<(i32, String)> {
        let m = self.model();
        let pidns = m.ns_of(self.pid)["pid"];
        let mut v: Vec<(i32, String)> = m
            .processes
            .values()
            .filter(|p| p.ns.get("pid") == Some(&pidns))
            .enumerate()
            .map(|(i, p)| (i as i32 + 1, p.command.clone()))
            .collect();
        v.push((v.len() as i32 + 1, "ps".into()));
        v
    }

    fn reach(&self, host: &str) -> Option<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        if matches!(host, "localhost" | "127.0.0.1") {
            return Some("127.0.0.1".into());
        }
        // Another simulated container on the same bridge, by address or hostname.
        let bridged = m.links.iter().any(|l| l.netns == net && l.kind == "veth");
        for l in &m.links {
            for a in &l.addrs {
                let ip = a.split('/').next().unwrap_or("");
                let name = m.hostnames.get(&l.netns).cloned().unwrap_or_default();
                if bridged && l.kind == "veth" && (ip == host || (!name.is_empty() && name == host))
                {
                    return Some(ip.to_string());
                }
                if bridged && l.kind == "bridge" && ip == host {
                    return Some(ip.to_string());
                }
            }
        }
        None
    }

    fn memory_limit(&self) -> Option<u64> {
        self.limit(&["memory.max", "memory.limit_in_bytes"])
    }

    fn pids_limit(&self) -> Option<u64> {
        self.limit(&["pids.max"])
    }

    fn oom_kill(&self) {
        let pid = self.pid;
        let _ = self.host.change(|m| {
            let cg = m
                .processes
                .get(&pid)
                .map(|p| p.cgroup.clone())
                .unwrap_or_default();
            if let Some(files) = m.cgroups.get_mut(&cg) {
                files.insert(
                    "memory.events".into(),
                    "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n".into(),
                );
                files.insert(
                    "memory.oom_control".into(),
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n".into(),
                );
            }
            Ok(())
        });
    }

    fn serve_http(&self, port: u16, out: &mut dyn Write) -> ! {
        let _ = writeln!(out, "httpd: serving on port {port} (simulated)");
        let _ = out.flush();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
