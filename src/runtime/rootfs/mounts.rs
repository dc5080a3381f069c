//! One `spec.mounts` entry under the rootfs: a bind (and the remount its flags need), or a
//! filesystem of its own; and the mount targets they need.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::host::flags::MsFlags;
use oci_spec::runtime::Mount;

use super::{mount_err, sys, RootfsError};
use crate::host::mount::{MountOptions, MS_NOSYMFOLLOW};

/// Mounts one `spec.mounts` entry (not a cgroup one) on `dst`, already resolved in the rootfs.
pub(super) fn mount_entry(m: &Mount, dst: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let typ = m.typ().as_deref().unwrap_or("");
    let dst = dst.to_path_buf();
    if typ == "bind" || opts.is_bind() {
        let src = m.source().clone().unwrap_or_default();
        let src_is_dir = fs::metadata(&src)
            .map_err(|source| RootfsError::Target {
                path: src.clone(),
                source,
            })?
            .is_dir();
        create_target(&dst, src_is_dir)?;
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        sys::mount(Some(&src), &dst, None, flags, None)
            .map_err(|source| mount_err(format!("{} (bind)", src.display()), &dst, source))?;
        tracing::info!(src = ?src, dst = ?dst, recursive = flags.contains(MsFlags::MS_REC), "mount(bind)");
        // A bind mount ignores every flag but MS_BIND|MS_REC: ro, nosuid… need a remount.
        let extra = remount_flags(opts.flags);
        if !extra.is_empty() {
            remount_bind(&dst, extra)?;
        }
        if opts.recursive_read_only {
            read_only_below(&src, m.destination(), &dst)?;
        }
    } else {
        create_target(&dst, true)?;
        let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = opts.data();
        let flags = opts.flags & !MsFlags::MS_REC;
        sys::mount(Some(&src), &dst, Some(typ), flags, data.as_deref())
            .map_err(|source| mount_err(typ, &dst, source))?;
        tracing::info!(src = ?src, dst = ?dst, flags = ?flags, data = data.as_deref().unwrap_or(""), "mount({typ})");
    }

    for p in &opts.propagation {
        sys::mount(None, &dst, None, *p, None)
            .map_err(|source| mount_err("propagation", &dst, source))?;
        tracing::info!(dst = ?dst, flags = ?p, "mount(propagation)");
    }
    Ok(())
}

/// `rro`: the submounts of a read-only bind read-only too (`mount_setattr(2)`, as runc does).
fn read_only_below(src: &Path, destination: &Path, dst: &Path) -> Result<(), RootfsError> {
    match sys::set_read_only_recursive(dst) {
        Ok(()) => {
            tracing::info!(dst = ?dst, "mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE)");
            Ok(())
        }
        Err(nix::errno::Errno::ENOSYS) => Err(RootfsError::NoRecursiveReadOnly {
            src: src.to_path_buf(),
            dst: destination.to_path_buf(),
        }),
        Err(source) => Err(mount_err("read-only (recursive)", dst, source)),
    }
}

/// The per-mount flags `MS_REMOUNT|MS_BIND` may change; the rest is ignored by a bind remount.
pub(super) fn remount_flags(flags: MsFlags) -> MsFlags {
    flags
        & (MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME
            | MsFlags::MS_STRICTATIME
            | MS_NOSYMFOLLOW)
}

/// Remounts an existing bind mount with `flags`, keeping the flags the kernel would refuse to
/// drop (nosuid, nodev, noexec… of the source mount are locked in a user namespace).
pub(super) fn remount_bind(dst: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    let current = nix::sys::statvfs::statvfs(dst)
        .map(|s| MsFlags::from_bits_truncate(s.flags().bits() as _))
        .unwrap_or(MsFlags::empty());
    let locked = current & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let all = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | locked;
    sys::mount(None, dst, None, all, None)
        .map_err(|source| mount_err("remount (bind)", dst, source))?;
    tracing::info!(dst = ?dst, flags = ?all, "mount(remount)");
    Ok(())
}

/// Creates a mount target: a directory, or an empty file for a file bind.
pub(super) fn create_target(dst: &Path, dir: bool) -> Result<(), RootfsError> {
    let err = |source| RootfsError::Target {
        path: dst.to_path_buf(),
        source,
    };
    if dir {
        return fs::create_dir_all(dst).map_err(err);
    }
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    match fs::symlink_metadata(dst) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dst)
            .map(drop)
            .map_err(err),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::mount::parse_options;

    fn opts(o: &[&str]) -> MountOptions {
        parse_options(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn rro_asks_for_a_recursive_read_only_bind_and_is_no_filesystem_data() {
        let o = opts(&["rbind", "ro", "rprivate", "rro"]);
        assert!(o.recursive_read_only);
        assert!(o.data.is_empty());
        assert!(!opts(&["rbind", "ro"]).recursive_read_only);
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data(), Some("mode=755,size=65536k".to_string()));
        assert!(o.propagation.is_empty());

        let o = opts(&["rbind", "rprivate", "ro"]);
        assert!(o.is_bind());
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.propagation, [MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data(), None);
        assert_eq!(remount_flags(o.flags), MsFlags::MS_RDONLY);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(opts(&["nodev", "dev", "noexec"]).flags, MsFlags::MS_NOEXEC);
        assert_eq!(
            opts(&["newinstance", "ptmxmode=0666", "gid=5"]).data(),
            Some("newinstance,ptmxmode=0666,gid=5".into())
        );
    }
}
