//! The spec's mounts: docker's defaults, the `/etc` binds, the user's mounts last, and the
//! rootfs propagation they need.

use oci_spec::runtime::Mount;

use super::{SpecError, SpecInput};

/// docker's rule (`WithMounts`): a shared bind needs the container's `/` rshared, a slave bind
/// needs it rslave, or mounts made on the host under the source would stop at the rootfs.
pub(super) fn rootfs_propagation(mounts: &[Mount]) -> Option<String> {
    let has = |names: &[&str]| {
        mounts.iter().any(|m| {
            m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| names.contains(&o.as_str()))
        })
    };
    if has(&["shared", "rshared"]) {
        Some("rshared".into())
    } else if has(&["slave", "rslave"]) {
        Some("rslave".into())
    } else {
        None
    }
}

/// Docker's default mounts, then the `/etc` files the engine wrote, then the user's mounts,
/// parents before children (docker's `sortMounts`).
pub(super) fn mounts(input: &SpecInput) -> Result<Vec<Mount>, SpecError> {
    let m = |dst: &str, typ: &str, src: &str, opts: &[&str]| {
        let mut mount = Mount::default();
        mount.set_destination(dst.into());
        mount.set_typ(Some(typ.into()));
        mount.set_source(Some(src.into()));
        mount.set_options(Some(opts.iter().map(|o| o.to_string()).collect()));
        mount
    };
    let mut out = vec![
        m("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        m(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        m(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        m(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        m(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        m(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ];
    for (src, dst) in &input.etc_binds {
        let mut bind = m(dst, "bind", "", &["rbind", "rprivate"]);
        bind.set_source(Some(src.clone()));
        out.push(bind);
    }
    let mut user = input.mounts.clone();
    out.retain(|d| !user.iter().any(|u| u.destination() == d.destination()));
    user.sort_by_key(|m| m.destination().components().count());
    out.extend(user);
    Ok(out)
}
