//! The container's root filesystem: the image's layers as read-only overlayfs lowerdirs, the
//! container's own `upper/` for every change it makes, `work/` for overlayfs's bookkeeping.
//!
//! Mounted on the host (in the host's mount namespace) at `<exec-root>/<id>/rootfs`, where both
//! runtimes find it as the bundle's rootfs, exactly like containerd mounts a snapshot there.

use std::io;
use std::path::{Path, PathBuf};

use crate::host;
use crate::host::mount::{MntFlags, MsFlags};
use crate::kernel_event;

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("cannot mount the overlay rootfs at {target}: {source}{}", hint(.source))]
    Mount { target: PathBuf, source: io::Error },
    #[error("cannot unmount {target}: {source}")]
    Unmount { target: PathBuf, source: io::Error },
    #[error("the image has no layers to mount")]
    NoLayers,
}

/// What to try, for the errors that have a usual cause.
fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENODEV) => " (is the overlay module loaded? try `modprobe overlay`)",
        Some(libc::ENOSPC) => " (the disk is full: free some space and start it again)",
        _ => "",
    }
}

/// The mount options for `layers` (bottom first) under `upper`/`work`.
pub fn options(layers: &[PathBuf], upper: &Path, work: &Path) -> String {
    // overlayfs lists lowerdirs top first.
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| l.display().to_string())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

/// Mounts the overlay at `target` (created if missing). `volatile`: the upper layer is thrown
/// away when the container exits (`--rm`), so overlayfs may skip every sync of it — above all
/// the `syncfs` of the whole upper filesystem at unmount, which waits for everything any process
/// has written there. Returns whether the mount is volatile (a kernel before 5.10 refuses the
/// option: then it is an ordinary mount).
pub fn mount_rootfs(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    volatile: bool,
) -> Result<bool, OverlayError> {
    if layers.is_empty() {
        return Err(OverlayError::NoLayers);
    }
    let err = |source| OverlayError::Mount {
        target: target.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(target).map_err(err)?;
    let mount = |opts: &str| {
        host::current().mount(
            Some(Path::new("overlay")),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts),
        )
    };
    let plain = options(layers, upper, work);
    if volatile {
        // A volatile mount leaves `work/incompat/volatile` behind, and overlayfs refuses to mount
        // over it again (the upper may be torn after a crash). This container's upper is
        // disposable, so an earlier run's marker (`restart` of an `--rm` container) goes.
        let _ = std::fs::remove_dir_all(work.join("work").join("incompat"));
        let opts = format!("{plain},volatile");
        match mount(&opts) {
            Ok(()) => {
                kernel_event!(target = %target.display(), lowers = layers.len(), options = %opts, "mount(overlay)");
                return Ok(true);
            }
            Err(e) if e.raw_os_error() != Some(libc::EINVAL) => return Err(err(e)),
            Err(_) => {}
        }
    }
    mount(&plain).map_err(err)?;
    kernel_event!(target = %target.display(), lowers = layers.len(), options = %plain, "mount(overlay)");
    Ok(false)
}

/// Unmounts `target`; not mounted is fine (cleanup is idempotent).
pub fn unmount(target: &Path) -> Result<bool, OverlayError> {
    match host::current().umount(target, MntFlags::MNT_DETACH) {
        Ok(()) => {
            kernel_event!(target = %target.display(), "umount2(MNT_DETACH)");
            Ok(true)
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => Ok(false),
        Err(source) => Err(OverlayError::Unmount {
            target: target.to_path_buf(),
            source,
        }),
    }
}
