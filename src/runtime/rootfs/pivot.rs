//! `pivot_root` into the rootfs, and the host's root detached.

use std::fs;
use std::path::Path;

use crate::host::flags::{MntFlags, MsFlags};

use super::{sys, RootfsError};
use crate::host;
use crate::runtime::init_error::errno_of;
use crate::runtime::InitError;

/// `pivot_root(".", ".")` inside the rootfs, then detach the old root stacked on top of it —
/// runc's trick, which needs no directory for the old root inside the image.
pub fn pivot(rootfs: &Path) -> Result<(), InitError> {
    let rootfs = fs::canonicalize(rootfs).map_err(|e| {
        InitError::runtime(format!("cannot find the rootfs {}", rootfs.display()), e)
    })?;
    let err = |step: &'static str| {
        let rootfs = rootfs.clone();
        move |source| RootfsError::Pivot {
            rootfs,
            step,
            source,
        }
    };
    let oldroot = sys::open_dir(Path::new("/")).map_err(err("open /"))?;
    let newroot = sys::open_dir(&rootfs).map_err(err("open the rootfs"))?;
    nix::unistd::fchdir(&newroot).map_err(err("fchdir to the rootfs"))?;
    host::current()
        .pivot_root(Path::new("."), Path::new("."))
        .map_err(|e| errno_of(&e))
        .map_err(err("pivot_root"))?;
    tracing::info!(new_root = ?rootfs, put_old = ".", "pivot_root");
    // The old root is now mounted over the new one; step into it to take it away.
    nix::unistd::fchdir(&oldroot).map_err(err("fchdir to the old root"))?;
    // Slave first, so the detach cannot propagate back to the host's mounts.
    sys::mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .map_err(err("make the old root rslave"))?;
    host::current()
        .umount(Path::new("."), MntFlags::MNT_DETACH)
        .map_err(|e| errno_of(&e))
        .map_err(err("umount2 the old root"))?;
    tracing::info!(old_root = ".", flags = "MNT_DETACH", "umount2");
    nix::unistd::chdir("/").map_err(err("chdir /"))?;
    Ok(())
}
