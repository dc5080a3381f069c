//! The container's filesystem, built by its init: mounts, device nodes, `pivot_root`, masks.
//!
//! Runs inside the init the shim `clone()`d — pid 1 of new pid, mount, uts, ipc (and usually
//! net) namespaces, still root with every capability — in three steps the caller wraps in spans:
//!
//! 1. [`prepare`] (span `init.mounts`): enter the cgroup namespace (so the container's
//!    `/sys/fs/cgroup` shows its own cgroup as the root), make `/` private so nothing propagates
//!    back to the host, bind the rootfs onto itself, mount `spec.mounts` under it, fill `/dev`;
//! 2. [`pivot()`] (span `init.pivot_root`): swap roots and detach the host's;
//! 3. [`finish()`] (same span): sysctls, read-only and masked paths, a read-only `/`.
//!
//! Every path taken from the spec or the image is resolved with [`secure_join()`], which follows
//! symlinks as if the rootfs were `/`: an image whose `/dev` links to the host's `/etc` gets
//! its tmpfs inside the rootfs, never on the host. That is runc's `securejoin`; like runc 1.1 it
//! trusts that nothing else is changing the rootfs while the init works (no process runs in it
//! yet).
//!
//! The files: [`mounts`] (one `spec.mounts` entry, bind remounts, mount targets), [`cgroup`]
//! (the container's `/sys/fs/cgroup`), [`devices`] (`/dev` nodes and links), [`pivot`](mod@pivot)
//! (`pivot_root`), [`finish`](mod@finish) (sysctls, read-only and masked paths) and
//! [`secure_join`](mod@secure_join) (paths inside the rootfs).
//!
//! Not here: which namespaces the spec asks for ([`super::spec`]), the process's own setup
//! (user, capabilities, rlimits — [`super::process`]), overlay mounts of the image (the engine's storage), creating cgroups and writing limits (the
//! cgroups module; only the container's *view* of them is mounted here). Everything mounted
//! here lives in the container's mount namespace and disappears with it: there is nothing to
//! undo.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::host::flags::MsFlags;
use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use super::init_error::{errno_text, io_text};
use super::spec::has_new_namespace;
use super::InitError;
use crate::host::mount::{parse_options, propagation};

mod cgroup;
mod devices;
mod finish;
mod mounts;
mod pivot;
mod secure_join;

pub use finish::finish;
pub use pivot::pivot;
pub use secure_join::secure_join;

/// What went wrong while building the container's filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("cannot resolve {path} inside the rootfs {rootfs}: {}", io_text(.source))]
    Resolve {
        rootfs: PathBuf,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create mount target {path}: {}", io_text(.source))]
    Target {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot mount {what} on {dst}: {}{}", errno_text(*.source), hint(.source))]
    Mount {
        what: String,
        dst: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("cannot make the read-only bind of {src} on {dst} read-only in its submounts: this kernel has no mount_setattr(2) (Linux 5.12 or later); for a read-only bind whose submounts stay writable use --mount type=bind,source={src},target={dst},readonly,bind-recursive=writable")]
    NoRecursiveReadOnly { src: PathBuf, dst: PathBuf },
    #[error("cannot read the host's cgroup mounts from {path}: {}", io_text(.source))]
    CgroupMounts {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the init is not in the {typ} namespace {path} the spec joins: join it (setns) before the init's setup")]
    NotJoined { typ: &'static str, path: PathBuf },
    #[error("cannot create device {path}: {}", io_text(.source))]
    Device {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create symlink {path} -> {target}: {}", io_text(.source))]
    Symlink {
        path: PathBuf,
        target: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot pivot_root into {rootfs}: {step}: {}", errno_text(*.source))]
    Pivot {
        rootfs: PathBuf,
        step: &'static str,
        #[source]
        source: Errno,
    },
    #[error("invalid sysctl {0:?}: give a dotted name like net.ipv4.ip_forward")]
    SysctlName(String),
    #[error("cannot set sysctl {key}={value}: {}", io_text(.source))]
    Sysctl {
        key: String,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create the working directory {path}: {}", io_text(.source))]
    Cwd {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Adds what to do for the errors a user can fix.
fn hint(e: &Errno) -> &'static str {
    match e {
        Errno::ENOTDIR => {
            " (a directory mounted onto a file or the other way round? check the source's type)"
        }
        Errno::ENOENT => " (check that the source exists)",
        Errno::ENODEV => " (the kernel does not know this filesystem type)",
        _ => "",
    }
}

impl From<RootfsError> for InitError {
    fn from(e: RootfsError) -> InitError {
        InitError::new(crate::sys::exit::ENGINE, e.to_string())
    }
}

pub(super) fn resolve(rootfs: &Path, path: &Path) -> Result<PathBuf, RootfsError> {
    secure_join(rootfs, path).map_err(|source| RootfsError::Resolve {
        rootfs: rootfs.to_path_buf(),
        path: path.to_path_buf(),
        source,
    })
}

/// Before `pivot_root`: propagation, the rootfs as a mount point, `spec.mounts`, and `/dev`.
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<(), InitError> {
    let rootfs = fs::canonicalize(rootfs).map_err(|e| {
        InitError::runtime(
            format!(
                "cannot find the rootfs {} (is the image mounted?)",
                rootfs.display()
            ),
            e,
        )
    })?;
    let linux = spec.linux().as_ref();
    check_joined_namespaces(spec)?;
    let cgroup_ns = has_new_namespace(spec, LinuxNamespaceType::Cgroup);
    if cgroup_ns {
        // Before any mount, as runc does: a cgroup filesystem mounted below must show the
        // container's own cgroup as its root, not the host's tree.
        super::process::enter_cgroup_namespace()?;
    }

    // Private unless the spec asks otherwise: our mounts must not show up on the host, and the
    // host's later mounts need not show up here.
    let root_propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation)
        .unwrap_or(MsFlags::MS_PRIVATE | MsFlags::MS_REC);
    sys::mount(None, Path::new("/"), None, root_propagation, None)
        .map_err(|source| mount_err("propagation of /", "/", source))?;
    tracing::info!(dst = "/", flags = ?root_propagation, "mount(propagation)");

    // pivot_root refuses a new root whose parent mount is shared (an rshared `/`, asked for by
    // a shared bind): make the mount holding the rootfs private, as runc does. EINVAL means the
    // rootfs is a plain directory, not a mount of its own: nothing to change.
    if root_propagation.contains(MsFlags::MS_SHARED) {
        match sys::mount(None, &rootfs, None, MsFlags::MS_PRIVATE, None) {
            Ok(()) => tracing::info!(dst = ?rootfs, "mount(private)"),
            Err(Errno::EINVAL) => {}
            Err(source) => {
                return Err(mount_err("propagation of the rootfs", &rootfs, source).into())
            }
        }
    }

    // pivot_root wants the new root to be a mount point.
    sys::mount(
        Some(&rootfs),
        &rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|source| mount_err("the rootfs (bind)", &rootfs, source))?;
    tracing::info!(src = ?rootfs, dst = ?rootfs, "mount(bind)");

    let mounts = spec.mounts().as_deref().unwrap_or_default();
    for m in mounts {
        mount_entry(m, &rootfs, cgroup_ns)?;
    }

    // Like runc (`needsSetupDev`): only a /dev the spec mounts fresh (a tmpfs) is ours to fill;
    // an image's own /dev is left as the image has it, and a /dev bound from the host
    // (`-v DIR:/dev`) is the user's directory, never written into.
    let dev = mounts
        .iter()
        .rev()
        .find(|m| m.destination() == Path::new("/dev"));
    let bound = |m: &&Mount| {
        m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
    };
    if dev.is_some_and(|m| !bound(&m)) {
        devices::create_devices(spec, &rootfs)?;
        devices::create_dev_symlinks(&rootfs)?;
    }
    Ok(())
}

/// Mounts one `spec.mounts` entry under the rootfs: a cgroup filesystem as the container's view
/// of the host's hierarchies, anything else as the spec says.
fn mount_entry(m: &Mount, rootfs: &Path, cgroup_ns: bool) -> Result<(), RootfsError> {
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let dst = resolve(rootfs, m.destination())?;
    if m.typ().as_deref() == Some("cgroup") {
        return cgroup::mount_cgroup(&dst, &opts, cgroup_ns);
    }
    mounts::mount_entry(m, &dst, &opts)
}

/// A namespace the spec joins by path must already be ours: the caller joins it before setup
/// (runc does it in `nsexec`). Checked because everything after — sysctls above all — would
/// otherwise land in the namespace we happen to be in, which may be the host's.
fn check_joined_namespaces(spec: &Spec) -> Result<(), RootfsError> {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default();
    for ns in namespaces {
        let (Some(path), Some(name)) = (ns.path(), proc_ns_name(ns.typ())) else {
            continue;
        };
        let ours = Path::new("/proc/self/ns").join(name);
        let host = crate::host::current();
        let same = match (host.ns_inode(path), host.ns_inode(&ours)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            return Err(RootfsError::NotJoined {
                typ: name,
                path: path.clone(),
            });
        }
    }
    Ok(())
}

/// The `/proc/self/ns` entry of the namespaces a container may join by path.
fn proc_ns_name(t: LinuxNamespaceType) -> Option<&'static str> {
    match t {
        LinuxNamespaceType::Network => Some("net"),
        LinuxNamespaceType::Ipc => Some("ipc"),
        LinuxNamespaceType::Uts => Some("uts"),
        _ => None,
    }
}

pub(super) fn mount_err(
    what: impl Into<String>,
    dst: impl Into<PathBuf>,
    source: Errno,
) -> RootfsError {
    RootfsError::Mount {
        what: what.into(),
        dst: dst.into(),
        source,
    }
}

/// The few syscalls this module makes, in one place: mounts go through the host seam.
mod sys {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use crate::host::flags::MsFlags;
    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;

    pub fn mount(
        src: Option<&Path>,
        dst: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        crate::host::current()
            .mount(src, dst, fstype, flags, data)
            .map_err(|e| crate::runtime::init_error::errno_of(&e))
    }

    pub fn set_read_only_recursive(dst: &Path) -> Result<(), Errno> {
        crate::host::current()
            .set_read_only_recursive(dst)
            .map_err(|e| crate::runtime::init_error::errno_of(&e))
    }

    pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
        nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    }
}
