//! The mount table and namespaces of the simulated host.

use std::io;
use std::path::{Path, PathBuf};

use crate::host::flags::CloneFlags;
use crate::host::flags::{MntFlags, MsFlags};
use nix::sys::stat::SFlag;

use super::{absolute, bind_of, enoent, kinds, me, options, set_me, text, SimHost};
use crate::host::ns::NsHandle;
use crate::host::{Mounts, Namespaces};
use crate::sim::model::HostModel;
use crate::sim::model::Mount;
use crate::sim::vfs;

/// Inside a container (after `pivot_root`), `/proc` and `/sys` are the kernel's: a bind onto a
/// path there fails as the kernel would — ENOENT where this kernel has no such file, ENOTDIR for
/// a file (`/dev/null`, to mask) onto a directory. The simulator asks the machine it runs on
/// (these are facts about kernels, the same as reading `/proc`), so masked paths are masked as
/// they would be here.
fn kernel_file_check(
    m: &HostModel,
    pid: i32,
    src: &str,
    target: &Path,
    flags: MsFlags,
) -> io::Result<()> {
    let pivoted = m.processes.get(&pid).is_some_and(|p| !p.root.is_empty());
    let kernel = target.starts_with("/proc") || target.starts_with("/sys");
    if !pivoted
        || !kernel
        || !flags.contains(MsFlags::MS_BIND)
        || flags.contains(MsFlags::MS_REMOUNT)
    {
        return Ok(());
    }
    let md = std::fs::symlink_metadata(target).map_err(|_| enoent())?;
    let src_is_dir = std::fs::metadata(src).map(|s| s.is_dir()).unwrap_or(false);
    if md.is_dir() && !src_is_dir {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    Ok(())
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
        // A condition a scenario set on the simulated host: its disk is full.
        if fstype == Some("overlay")
            && std::env::var(crate::sim::scenario::HOST_FAULT_ENV).as_deref() == Ok("full-disk")
        {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.change(|m| {
            let src = source.map(text).unwrap_or_default();
            kernel_file_check(m, pid, &src, &target, flags)?;
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

    fn set_read_only_recursive(&self, target: &Path) -> io::Result<()> {
        // A condition a scenario set on the simulated host: a kernel older than 5.12.
        if std::env::var(crate::sim::scenario::HOST_FAULT_ENV).as_deref() == Ok("old-kernel") {
            return Err(io::Error::from_raw_os_error(libc::ENOSYS));
        }
        let (pid, target) = (me(), text(&absolute(target)));
        self.change(|m| {
            let ns = m.ns_of(pid)["mnt"];
            let below = format!("{}/", target.trim_end_matches('/'));
            let mut found = false;
            for e in m.mounts.iter_mut().filter(|e| e.ns == ns) {
                if e.target == target || e.target.starts_with(&below) {
                    found |= e.target == target;
                    let rest = e.options.split_once(',').map_or("", |(_, r)| r);
                    e.options = if rest.is_empty() {
                        "ro".into()
                    } else {
                        format!("ro,{rest}")
                    };
                }
            }
            if found {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            }
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

    fn open_ns(&self, path: &Path) -> io::Result<NsHandle> {
        Ok(NsHandle {
            fd: None,
            inode: self.ns_inode(path)?,
        })
    }

    fn setns(&self, ns: &NsHandle, nstype: CloneFlags) -> io::Result<()> {
        let kind = kinds(nstype).first().copied().unwrap_or("net");
        let pid = me();
        self.change(|m| {
            m.setns(pid, kind, ns.inode);
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
        // Registered first, with its namespaces, so the child finds itself from its start.
        let pid = self.birth("init", &kinds(flags))?;
        // SAFETY: the caller upholds clone(2)'s rules (see the trait); a fork is a clone with
        // no namespace flags.
        let forked = unsafe { nix::unistd::fork() }.map_err(io::Error::from);
        match forked {
            Ok(nix::unistd::ForkResult::Child) => {
                set_me(pid);
                let code = child();
                // SAFETY: leaving the child without running the parent's exit handlers.
                unsafe { libc::_exit(code as i32) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                self.born(pid, Some(child.as_raw()))?;
                Ok(pid)
            }
            Err(e) => {
                let _ = self.born(pid, None);
                Err(e)
            }
        }
    }
}
