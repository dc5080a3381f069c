//! The container's `/sys/fs/cgroup`, laid out like the host's (read on
//! [`crate::sys::mountinfo`]), showing only the container's own cgroup.
//!
//! Not here: creating the cgroup or writing its limits (the cgroups module, from the shim).

use std::io;
use std::path::{Path, PathBuf};

use crate::host::flags::MsFlags;

use super::mounts::{create_target, remount_bind, remount_flags};
use super::{mount_err, sys, RootfsError};
use crate::host::mount::MountOptions;
use crate::sys::mountinfo;

/// Where the host mounts its cgroup hierarchies; the container gets the same layout.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One cgroup hierarchy the host has mounted under [`CGROUP_ROOT`], from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    /// Where the host mounts it, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// The superblock options without `rw`/`ro`: `memory`, `cpu,cpuacct`, `name=systemd`.
    pub options: String,
}

/// The cgroup filesystems at or under [`CGROUP_ROOT`] among `mounts`.
fn cgroup_mounts(mounts: Vec<mountinfo::Mount>) -> Vec<CgroupMount> {
    mounts
        .into_iter()
        .filter(|m| {
            (m.fstype == "cgroup" || m.fstype == "cgroup2")
                && m.mount_point.starts_with(CGROUP_ROOT)
        })
        .map(|m| CgroupMount {
            options: m
                .super_options
                .split(',')
                .filter(|o| *o != "rw" && *o != "ro")
                .collect::<Vec<_>>()
                .join(","),
            mountpoint: m.mount_point,
            fstype: m.fstype,
        })
        .collect()
}

/// The container's `/sys/fs/cgroup`, laid out like the host's, showing only its own cgroup.
///
/// A unified (v2-only) host gets one `cgroup2` mount. A v1 or hybrid host gets what runc
/// builds: a tmpfs with one mount per hierarchy (and `cpu` → `cpu,cpuacct` links for merged
/// ones). Each hierarchy is a fresh mount when we have a cgroup namespace — the kernel roots
/// it at the container's cgroup — and otherwise a bind of the container's own directory of the
/// host's hierarchy, as runc does for docker's `--cgroupns=host`.
pub(super) fn mount_cgroup(
    dst: &Path,
    opts: &MountOptions,
    cgroup_ns: bool,
) -> Result<(), RootfsError> {
    let mounts = crate::host::current()
        .mountinfo()
        .map(|t| mountinfo::parse(&t))
        .map_err(|source| RootfsError::CgroupMounts {
            path: "/proc/self/mountinfo",
            source,
        })?;
    let hierarchies = cgroup_mounts(mounts);
    let own = crate::host::current()
        .kfs_read(Path::new("/proc/self/cgroup"))
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = cgroup_mounts(mountinfo::parse(MOUNTINFO));
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
    }
}
