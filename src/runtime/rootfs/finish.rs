//! After `pivot_root`: the working directory, sysctls, read-only and masked paths, and a
//! read-only `/`.

use std::fs;
use std::path::Path;

use crate::host::flags::MsFlags;
use nix::errno::Errno;
use oci_spec::runtime::Spec;

use super::mounts::remount_bind;
use super::{mount_err, sys, RootfsError};
use crate::host;
use crate::runtime::InitError;

/// After `pivot_root`: the working directory, sysctls, read-only paths, masked paths, and a
/// read-only `/` when `root.readonly`. Paths are now inside the container, so a symlink can
/// lead nowhere else.
pub fn finish(spec: &Spec) -> Result<(), InitError> {
    // runc creates the cwd here, in the jail but before `/` goes read-only; docker creates it
    // on the container's layer before start, which a read-only rootfs would otherwise refuse.
    if let Some(p) = spec.process() {
        let cwd = p.cwd();
        let real = host::current().in_root(cwd);
        if !cwd.as_os_str().is_empty() && !real.exists() {
            fs::create_dir_all(&real).map_err(|source| RootfsError::Cwd {
                path: cwd.clone(),
                source,
            })?;
            tracing::info!(path = ?cwd, "mkdir(cwd)");
        }
    }
    let linux = spec.linux().as_ref();
    if let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut sorted: Vec<_> = sysctls.iter().collect();
        sorted.sort();
        for (key, value) in sorted {
            set_sysctl(key, value)?;
        }
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default()
    {
        readonly_path(Path::new(path))?;
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default()
    {
        mask_path(Path::new(path))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

fn set_sysctl(key: &str, value: &str) -> Result<(), RootfsError> {
    if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
        return Err(RootfsError::SysctlName(key.into()));
    }
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    host::current()
        .kfs_write(&path, value)
        .map_err(|source| RootfsError::Sysctl {
            key: key.into(),
            value: value.into(),
            source,
        })?;
    tracing::info!(key, value, "sysctl");
    Ok(())
}

/// Binds `path` onto itself and remounts it read-only; a path this kernel lacks is skipped.
fn readonly_path(path: &Path) -> Result<(), RootfsError> {
    match sys::mount(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    ) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(source) => {
            return Err(mount_err(
                format!("{} (bind)", path.display()),
                path,
                source,
            ))
        }
    }
    remount_bind(path, MsFlags::MS_RDONLY)
}

/// Hides `path`: `/dev/null` over a file, an empty read-only tmpfs over a directory.
fn mask_path(path: &Path) -> Result<(), RootfsError> {
    match sys::mount(
        Some(Path::new("/dev/null")),
        path,
        None,
        MsFlags::MS_BIND,
        None,
    ) {
        Ok(()) => {
            tracing::info!(src = "/dev/null", dst = ?path, "mount(bind) mask");
            Ok(())
        }
        Err(Errno::ENOENT) => Ok(()),
        Err(Errno::ENOTDIR) => {
            sys::mount(
                Some(Path::new("tmpfs")),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
            .map_err(|source| mount_err("tmpfs (mask)", path, source))?;
            tracing::info!(dst = ?path, "mount(tmpfs) mask");
            Ok(())
        }
        Err(source) => Err(mount_err("/dev/null (mask)", path, source)),
    }
}
