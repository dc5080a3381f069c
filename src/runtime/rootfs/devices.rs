//! The container's `/dev`: the standard nodes and `linux.devices` (`mknod`, or a bind of the
//! host's node where mknod is not allowed) and the `/dev/fd`, `/dev/std*`, `/dev/ptmx` links.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::host::flags::MsFlags;
use nix::errno::Errno;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::mounts::create_target;
use super::{mount_err, resolve, sys, RootfsError};
use crate::host;
use crate::runtime::init_error::errno_of;

/// The standard nodes every container's `/dev` has: path, major, minor (all `c`, mode 0666).
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The standard nodes plus `linux.devices`: `mknod`, or a bind of the host's node where mknod
/// is not allowed (a user namespace, a nodev mount).
pub(super) fn create_devices(spec: &Spec, rootfs: &Path) -> Result<(), RootfsError> {
    let mut nodes: Vec<(PathBuf, SFlag, u64, u64, u32, u32, u32)> = DEFAULT_DEVICES
        .iter()
        .map(|&(p, major, minor)| (PathBuf::from(p), SFlag::S_IFCHR, major, minor, 0o666, 0, 0))
        .collect();
    let extra = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default();
    for d in extra {
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let (major, minor) = (d.major() as u64, d.minor() as u64);
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        nodes.push((
            d.path().clone(),
            kind,
            major,
            minor,
            mode,
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        ));
    }
    for (path, kind, major, minor, mode, uid, gid) in nodes {
        let dst = resolve(rootfs, &path)?;
        let err = |source| RootfsError::Device {
            path: path.clone(),
            source,
        };
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        match host::current()
            .mknod(&dst, kind, major, minor)
            .map_err(|e| errno_of(&e))
        {
            Ok(()) => {
                // mknod's mode goes through the umask; set it exactly, and the owner.
                host::current()
                    .set_owner_mode(&dst, uid, gid, mode)
                    .map_err(err)?;
                tracing::info!(path = ?dst, major, minor, mode = %format!("{mode:o}"), "mknod");
            }
            Err(Errno::EEXIST) => {}
            Err(Errno::EPERM | Errno::EACCES) => {
                create_target(&dst, false)?;
                sys::mount(Some(&path), &dst, None, MsFlags::MS_BIND, None).map_err(|source| {
                    mount_err(format!("{} (bind)", path.display()), &dst, source)
                })?;
                tracing::info!(src = ?path, dst = ?dst, "mount(bind)");
            }
            Err(e) => return Err(err(e.into())),
        }
    }
    Ok(())
}

/// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/ptmx` (to the container's own devpts instance) and
/// `/dev/core`, as runc creates them.
pub(super) fn create_dev_symlinks(rootfs: &Path) -> Result<(), RootfsError> {
    let dev = resolve(rootfs, Path::new("/dev"))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    // ptmx must point into the devpts mounted with newinstance, whatever the tmpfs had.
    let ptmx = dev.join("ptmx");
    match fs::remove_file(&ptmx) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(RootfsError::Symlink {
                path: ptmx,
                target: "pts/ptmx".into(),
                source,
            })
        }
    }
    links.push(("pts/ptmx", "ptmx"));
    for (target, name) in links {
        let path = dev.join(name);
        match std::os::unix::fs::symlink(target, &path) {
            Ok(()) => tracing::info!(path = ?path, to = target, "symlink"),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(RootfsError::Symlink {
                    path,
                    target: target.into(),
                    source,
                })
            }
        }
    }
    Ok(())
}
