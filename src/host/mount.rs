//! Mounts: `mount(2)`, `umount2(2)`, `pivot_root(2)` — overlay rootfs, proc, sysfs, devpts,
//! binds, tmpfs, the netns bind mount.

use std::io;
use std::path::Path;

pub use nix::mount::{MntFlags, MsFlags};

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

    /// `pivot_root(new_root, put_old)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()>;
}
