//! The container's filesystem, built by its init: mounts, device nodes, `pivot_root`, masks.
//!
//! Runs inside the init the shim `clone()`d — pid 1 of new pid, mount, uts, ipc (and usually
//! net) namespaces, still root with every capability — in three steps the caller wraps in spans:
//!
//! 1. [`prepare`] (span `init.mounts`): enter the cgroup namespace (so the container's
//!    `/sys/fs/cgroup` shows its own cgroup as the root), make `/` private so nothing propagates
//!    back to the host, bind the rootfs onto itself, mount `spec.mounts` under it, fill `/dev`;
//! 2. [`pivot`] (span `init.pivot_root`): swap roots and detach the host's;
//! 3. [`finish`] (same span): sysctls, read-only and masked paths, a read-only `/`.
//!
//! Every path taken from the spec or the image is resolved with [`secure_join`], which follows
//! symlinks as if the rootfs were `/`: an image whose `/dev` links to the host's `/etc` gets
//! its tmpfs inside the rootfs, never on the host. That is runc's `securejoin`; like runc 1.1 it
//! trusts that nothing else is changing the rootfs while the init works (no process runs in it
//! yet).
//!
//! Not here: the process's own setup (user, capabilities, rlimits — [`super::process`]),
//! overlay mounts of the image (the engine's storage), creating cgroups and writing limits (the
//! cgroups module; only the container's *view* of them is mounted here). Everything mounted
//! here lives in the container's mount namespace and disappears with it: there is nothing to
//! undo.

use crate::host::mount::{parse_options, propagation, MountOptions, MS_NOSYMFOLLOW};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Mount, Spec};

use super::init_error::{errno_text, io_text};
use super::InitError;

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
        InitError::new(super::init_error::RUNTIME, e.to_string())
    }
}

/// Resolves `unsafe_path` under `root` as if `root` were `/`: `..` stops at `root`, and symlinks
/// (absolute or relative) are followed inside it. The result need not exist; whatever part of it
/// does is free of symlinks, so creating the rest with `create_dir_all` stays inside `root`.
/// `root` must already be canonical.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    const MAX_LINKS: usize = 255;
    let mut pending: VecDeque<OsString> = components(unsafe_path).collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(c);
                }
            }
            Ok(_) => resolved.push(&part),
            Err(e) if e.kind() == io::ErrorKind::NotFound => resolved.push(&part),
            // Something below a regular file: let the caller's open or mount report it.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => resolved.push(&part),
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(resolved))
}

/// The normal and `..` components of a path; `/` and `.` say nothing once inside the root.
fn components(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(s) => Some(s.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn resolve(rootfs: &Path, path: &Path) -> Result<PathBuf, RootfsError> {
    secure_join(rootfs, path).map_err(|source| RootfsError::Resolve {
        rootfs: rootfs.to_path_buf(),
        path: path.to_path_buf(),
        source,
    })
}

/// The per-mount flags `MS_REMOUNT|MS_BIND` may change; the rest is ignored by a bind remount.
fn remount_flags(flags: MsFlags) -> MsFlags {
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

/// The standard nodes every container's `/dev` has: path, major, minor (all `c`, mode 0666).
pub const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

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

    // Like runc: only a /dev the spec mounts (a fresh tmpfs) is ours to fill; an image's own
    // /dev is left as the image has it.
    if mounts.iter().any(|m| m.destination() == Path::new("/dev")) {
        create_devices(spec, &rootfs)?;
        create_dev_symlinks(&rootfs)?;
    }
    Ok(())
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
        let same = match (fs::metadata(path), fs::metadata(&ours)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.dev() == b.dev() && a.ino() == b.ino()
            }
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

fn mount_err(what: impl Into<String>, dst: impl Into<PathBuf>, source: Errno) -> RootfsError {
    RootfsError::Mount {
        what: what.into(),
        dst: dst.into(),
        source,
    }
}

/// Mounts one `spec.mounts` entry under the rootfs.
fn mount_entry(m: &Mount, rootfs: &Path, cgroup_ns: bool) -> Result<(), RootfsError> {
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let dst = resolve(rootfs, m.destination())?;
    if typ == "cgroup" {
        return mount_cgroup(&dst, &opts, cgroup_ns);
    }

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

/// Where the host mounts its cgroup hierarchies; the container gets the same layout.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One cgroup hierarchy the host has mounted under [`CGROUP_ROOT`], from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where the host mounts it, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// The superblock options without `rw`/`ro`: `memory`, `cpu,cpuacct`, `name=systemd`.
    pub options: String,
}

/// Parses `/proc/self/mountinfo` for the cgroup filesystems at or under [`CGROUP_ROOT`].
pub fn parse_cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options [optional…] - fstype source super-options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let (Some(mountpoint), mut right) = (left.split(' ').nth(4), right.split(' ')) else {
            continue;
        };
        let (Some(fstype), Some(_source), Some(super_opts)) =
            (right.next(), right.next(), right.next())
        else {
            continue;
        };
        let mountpoint = PathBuf::from(unescape_mountinfo(mountpoint));
        if !(fstype == "cgroup" || fstype == "cgroup2") || !mountpoint.starts_with(CGROUP_ROOT) {
            continue;
        }
        let options = super_opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect::<Vec<_>>()
            .join(",");
        out.push(CgroupMount {
            mountpoint,
            fstype: fstype.into(),
            options,
        });
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let digit = |c: u8| u32::from(c - b'0');
            out.push((digit(b[i + 1]) * 64 + digit(b[i + 2]) * 8 + digit(b[i + 3])) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The container's `/sys/fs/cgroup`, laid out like the host's, showing only its own cgroup.
///
/// A unified (v2-only) host gets one `cgroup2` mount. A v1 or hybrid host gets what runc
/// builds: a tmpfs with one mount per hierarchy (and `cpu` → `cpu,cpuacct` links for merged
/// ones). Each hierarchy is a fresh mount when we have a cgroup namespace — the kernel roots
/// it at the container's cgroup — and otherwise a bind of the container's own directory of the
/// host's hierarchy, as runc does for docker's `--cgroupns=host`.
fn mount_cgroup(dst: &Path, opts: &MountOptions, cgroup_ns: bool) -> Result<(), RootfsError> {
    const MOUNTINFO: &str = "/proc/self/mountinfo";
    let mountinfo = fs::read_to_string(MOUNTINFO).map_err(|source| RootfsError::CgroupMounts {
        path: MOUNTINFO,
        source,
    })?;
    let hierarchies = parse_cgroup_mounts(&mountinfo);
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let flags = remount_flags(opts.flags);
    create_target(dst, true)?;

    if let Some(unified) = hierarchies
        .iter()
        .find(|h| h.fstype == "cgroup2" && h.mountpoint == Path::new(CGROUP_ROOT))
    {
        return mount_hierarchy(unified, dst, flags, cgroup_ns, &own);
    }

    let tmpfs_flags =
        (flags & !MsFlags::MS_RDONLY) | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys::mount(
        Some(Path::new("tmpfs")),
        dst,
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .map_err(|source| mount_err("tmpfs (cgroup root)", dst, source))?;
    tracing::info!(dst = ?dst, "mount(tmpfs)");
    for h in &hierarchies {
        let Some(name) = h.mountpoint.file_name() else {
            continue;
        };
        let sub = dst.join(name);
        create_target(&sub, true)?;
        mount_hierarchy(h, &sub, flags, cgroup_ns, &own)?;
        // `cpu,cpuacct` mounted as one hierarchy is also reachable as `cpu` and `cpuacct`.
        for controller in h.options.split(',').filter(|c| !c.contains('=')) {
            if controller != name && h.options.contains(',') {
                let link = dst.join(controller);
                if let Err(source) = std::os::unix::fs::symlink(name, &link) {
                    if source.kind() != io::ErrorKind::AlreadyExists {
                        return Err(RootfsError::Symlink {
                            path: link,
                            target: name.to_string_lossy().into_owned(),
                            source,
                        });
                    }
                }
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let all = MsFlags::MS_REMOUNT | tmpfs_flags | MsFlags::MS_RDONLY;
        sys::mount(None, dst, None, all, None)
            .map_err(|source| mount_err("remount (cgroup root, ro)", dst, source))?;
        tracing::info!(dst = ?dst, flags = ?all, "mount(remount)");
    }
    Ok(())
}

/// One hierarchy on `dst`: a fresh mount inside a cgroup namespace, else a bind of our own
/// directory of the host's mount (a fresh mount there would show the host's whole tree).
fn mount_hierarchy(
    h: &CgroupMount,
    dst: &Path,
    flags: MsFlags,
    cgroup_ns: bool,
    own: &str,
) -> Result<(), RootfsError> {
    if cgroup_ns {
        let fstype = h.fstype.as_str();
        let data = (fstype == "cgroup").then_some(h.options.as_str());
        sys::mount(Some(Path::new(fstype)), dst, Some(fstype), flags, data)
            .map_err(|source| mount_err(fstype, dst, source))?;
        tracing::info!(dst = ?dst, data = data.unwrap_or(""), flags = ?flags, "mount({fstype})");
        return Ok(());
    }
    let rel = own_cgroup_path(own, h).unwrap_or_default();
    let src = h.mountpoint.join(rel.trim_start_matches('/'));
    sys::mount(
        Some(&src),
        dst,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|source| mount_err(format!("{} (bind)", src.display()), dst, source))?;
    tracing::info!(src = ?src, dst = ?dst, "mount(bind)");
    if !flags.is_empty() {
        remount_bind(dst, flags)?;
    }
    Ok(())
}

/// This process's cgroup in hierarchy `h`, from `/proc/self/cgroup` (`id:controllers:path`).
fn own_cgroup_path(proc_cgroup: &str, h: &CgroupMount) -> Option<String> {
    proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if h.fstype == "cgroup2" {
            controllers.is_empty()
        } else {
            !controllers.is_empty() && same_set(controllers, &h.options)
        };
        matches.then(|| path.to_string())
    })
}

fn same_set(a: &str, b: &str) -> bool {
    let mut a: Vec<&str> = a.split(',').collect();
    let mut b: Vec<&str> = b
        .split(',')
        .filter(|o| *o != "xattr" && *o != "clone_children")
        .collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Remounts an existing bind mount with `flags`, keeping the flags the kernel would refuse to
/// drop (nosuid, nodev, noexec… of the source mount are locked in a user namespace).
fn remount_bind(dst: &Path, flags: MsFlags) -> Result<(), RootfsError> {
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
fn create_target(dst: &Path, dir: bool) -> Result<(), RootfsError> {
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

/// The standard nodes plus `linux.devices`: `mknod`, or a bind of the host's node where mknod
/// is not allowed (a user namespace, a nodev mount).
fn create_devices(spec: &Spec, rootfs: &Path) -> Result<(), RootfsError> {
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
        let dev = nix::sys::stat::makedev(major, minor);
        match nix::sys::stat::mknod(&dst, kind, Mode::empty(), dev) {
            Ok(()) => {
                // mknod's mode goes through the umask; set it exactly.
                fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).map_err(err)?;
                nix::unistd::chown(&dst, Some(uid.into()), Some(gid.into()))
                    .map_err(|e| err(e.into()))?;
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
fn create_dev_symlinks(rootfs: &Path) -> Result<(), RootfsError> {
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
    nix::unistd::pivot_root(".", ".").map_err(err("pivot_root"))?;
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
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(err("umount2 the old root"))?;
    tracing::info!(old_root = ".", flags = "MNT_DETACH", "umount2");
    nix::unistd::chdir("/").map_err(err("chdir /"))?;
    Ok(())
}

/// After `pivot_root`: the working directory, sysctls, read-only paths, masked paths, and a
/// read-only `/` when `root.readonly`. Paths are now inside the container, so a symlink can
/// lead nowhere else.
pub fn finish(spec: &Spec) -> Result<(), InitError> {
    // runc creates the cwd here, in the jail but before `/` goes read-only; docker creates it
    // on the container's layer before start, which a read-only rootfs would otherwise refuse.
    if let Some(p) = spec.process() {
        let cwd = p.cwd();
        if !cwd.as_os_str().is_empty() && !cwd.exists() {
            fs::create_dir_all(cwd).map_err(|source| RootfsError::Cwd {
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
    fs::write(&path, value).map_err(|source| RootfsError::Sysctl {
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

/// Does the spec ask for a new namespace of this type (not one joined by path)?
pub fn has_new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == typ && n.path().is_none())
}

/// The few syscalls this module makes, in one place.
mod sys {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::mount::MsFlags;
    use nix::sys::stat::Mode;

    pub fn mount(
        src: Option<&Path>,
        dst: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(src, dst, fstype, flags, data)
    }

    pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
        nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[&str]) -> MountOptions {
        parse_options(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/with\\040space rw - cgroup cgroup rw,pids
";

    #[test]
    fn cgroup_hierarchies_come_from_mountinfo() {
        let h = parse_cgroup_mounts(MOUNTINFO);
        let got: Vec<(&str, &str, &str)> = h
            .iter()
            .map(|h| {
                (
                    h.mountpoint.to_str().unwrap(),
                    h.fstype.as_str(),
                    h.options.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"),
                ("/sys/fs/cgroup/memory", "cgroup", "memory"),
                ("/sys/fs/cgroup/systemd", "cgroup", "xattr,name=systemd"),
                ("/sys/fs/cgroup/unified", "cgroup2", ""),
            ]
        );
        let own = "9:name=systemd:/a\n4:memory:/ctrace/x\n1:cpuacct,cpu:/ctrace/x\n0::/u\n";
        assert_eq!(own_cgroup_path(own, &h[0]).as_deref(), Some("/ctrace/x"));
        assert_eq!(own_cgroup_path(own, &h[1]).as_deref(), Some("/ctrace/x"));
        assert_eq!(own_cgroup_path(own, &h[2]).as_deref(), Some("/a"));
        assert_eq!(own_cgroup_path(own, &h[3]).as_deref(), Some("/u"));
        assert_eq!(unescape_mountinfo("/mnt/with\\040space"), "/mnt/with space");
    }

    /// A unique scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!(
                "ctrace-rootfs-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Scratch(fs::canonicalize(&p).unwrap())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn secure_join_keeps_symlinks_inside_the_root() {
        let s = Scratch::new("join");
        let root = &s.0;
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();

        let j = |p: &str| secure_join(root, Path::new(p)).unwrap();
        assert_eq!(j("/abs/passwd"), root.join("etc/passwd"));
        assert_eq!(j("/etc/rel/hosts"), root.join("etc/hosts"));
        assert_eq!(j("/../../x/../y"), root.join("y"));
        assert_eq!(j("/missing/../etc"), root.join("etc"));
        assert_eq!(j("/"), root.to_path_buf());
        let e = secure_join(root, Path::new("/loop/x")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }
}
