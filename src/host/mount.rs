//! Mounts: `mount(2)`, `umount2(2)`, `pivot_root(2)` — overlay rootfs, proc, sysfs, devpts,
//! binds, tmpfs, the netns bind mount —, `mknod(2)` of the container's device nodes, and the
//! one parser of mount option strings into the flags and data `mount(2)` takes, and
//! `mount_setattr(2)` for a read-only bind whose submounts are read-only too.

use std::io;
use std::path::{Path, PathBuf};

pub use super::flags::{MntFlags, MsFlags};
pub use nix::sys::stat::SFlag;

/// The mount table's side of the host.
pub trait Mounts {
    /// `mount(source, target, fstype, flags, data)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()>;

    /// `umount2(target, flags)`.
    fn umount(&self, target: &Path, flags: MntFlags) -> io::Result<()>;

    /// `mount_setattr(target, AT_RECURSIVE, {attr_set: MOUNT_ATTR_RDONLY})` (Linux 5.12): the
    /// mount at `target` and every mount below it read-only. `ENOSYS` on an older kernel.
    fn set_read_only_recursive(&self, target: &Path) -> io::Result<()>;

    /// `pivot_root(new_root, put_old)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()>;

    /// `mknod(path, kind, 0, makedev(major, minor))`: a device node (or fifo) in the container's
    /// `/dev`; its mode and owner are set afterwards like any file's.
    fn mknod(&self, path: &Path, kind: SFlag, major: u64, minor: u64) -> io::Result<()>;

    /// `chmod(path, mode)` and `chown(path, uid, gid)` of a node just made with [`Mounts::mknod`].
    fn set_owner_mode(&self, path: &Path, uid: u32, gid: u32, mode: u32) -> io::Result<()>;

    /// The mount table as this process sees it, in `/proc/self/mountinfo`'s format (parse it
    /// with `sys::mountinfo`).
    fn mountinfo(&self) -> io::Result<String>;

    /// Where this process finds `path` on the real filesystem: the path itself on a real host
    /// (after `pivot_root` the kernel resolves it in the container); for a simulated one, the
    /// file the modelled mount table leads to.
    fn in_root(&self, path: &Path) -> PathBuf;
}

/// The mount options of one spec entry, split the way `mount(2)` wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call itself (`MS_BIND`, `MS_REC`, `MS_RDONLY`, `MS_NOSUID`…).
    pub flags: MsFlags,
    /// Propagation changes, each its own `mount(2)` call after the mount.
    pub propagation: Vec<MsFlags>,
    /// Everything else, for the filesystem (`mode=755`, `size=65536k`, `gid=5`…).
    pub data: Vec<String>,
    /// `rro` (runc ≥ 1.1): read-only down to every submount, with `mount_setattr(2)`.
    pub recursive_read_only: bool,
}

impl Default for MountOptions {
    fn default() -> MountOptions {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
            recursive_read_only: false,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn data(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// `MS_NOSYMFOLLOW` (Linux 5.10), missing from nix.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// Parses OCI mount options as runc does: known flags set or clear bits, propagation options
/// are collected apart, anything else is filesystem data.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    for o in options {
        let (set, flag) = match o.as_str() {
            "defaults" => continue,
            "rro" => {
                out.recursive_read_only = true;
                continue;
            }
            "ro" => (true, MsFlags::MS_RDONLY),
            "rw" => (false, MsFlags::MS_RDONLY),
            "nosuid" => (true, MsFlags::MS_NOSUID),
            "suid" => (false, MsFlags::MS_NOSUID),
            "nodev" => (true, MsFlags::MS_NODEV),
            "dev" => (false, MsFlags::MS_NODEV),
            "noexec" => (true, MsFlags::MS_NOEXEC),
            "exec" => (false, MsFlags::MS_NOEXEC),
            "sync" => (true, MsFlags::MS_SYNCHRONOUS),
            "async" => (false, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (true, MsFlags::MS_DIRSYNC),
            "mand" => (true, MsFlags::MS_MANDLOCK),
            "nomand" => (false, MsFlags::MS_MANDLOCK),
            "noatime" => (true, MsFlags::MS_NOATIME),
            "atime" => (false, MsFlags::MS_NOATIME),
            "nodiratime" => (true, MsFlags::MS_NODIRATIME),
            "diratime" => (false, MsFlags::MS_NODIRATIME),
            "relatime" => (true, MsFlags::MS_RELATIME),
            "norelatime" => (false, MsFlags::MS_RELATIME),
            "strictatime" => (true, MsFlags::MS_STRICTATIME),
            "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
            "nosymfollow" => (true, MS_NOSYMFOLLOW),
            "symfollow" => (false, MS_NOSYMFOLLOW),
            "bind" => (true, MsFlags::MS_BIND),
            "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
            "remount" => (true, MsFlags::MS_REMOUNT),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                out.propagation
                    .push(propagation(o).unwrap_or(MsFlags::MS_PRIVATE));
                continue;
            }
            _ => {
                out.data.push(o.clone());
                continue;
            }
        };
        if set {
            out.flags |= flag;
        } else {
            out.flags &= !flag;
        }
    }
    out
}

pub fn propagation(o: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match o {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}
