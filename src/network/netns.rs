//! Named network namespaces: a new namespace kept alive by a bind mount of its nsfs file
//! (`ip netns add`'s trick), so it exists before the container's init and can be joined by path.
//!
//! Not here: joining a namespace (the init does that, `runtime::init`), or what goes inside it
//! ([`super::bridge`]).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::netlink::Netlink;
use crate::kernel_event;

/// Creates a network namespace bound at `path`, with `lo` up; returns an open handle on it and a
/// netlink socket that lives inside it.
pub fn create(path: &Path) -> io::Result<(File, Netlink)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A bind mount left by a crash would make the file below unwritable.
    let _ = umount2(path, MntFlags::MNT_DETACH);
    File::create(path)?;
    let home = File::open("/proc/thread-self/ns/net")?;
    unshare(CloneFlags::CLONE_NEWNET)?;
    kernel_event!("unshare(CLONE_NEWNET)");
    // From here on we are in the new namespace: whatever happens, go home before returning.
    let inside = (|| -> io::Result<Netlink> {
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        kernel_event!(path = %path.display(), "mount(/proc/thread-self/ns/net, MS_BIND)");
        let mut nl = Netlink::open()?;
        nl.set_up(1)?;
        kernel_event!(dev = "lo", "ip link set lo up");
        Ok(nl)
    })();
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET)?;
    kernel_event!("setns(host netns)");
    let nl = match inside {
        Ok(nl) => nl,
        Err(e) => {
            remove(path);
            return Err(e);
        }
    };
    Ok((File::open(path)?, nl))
}

/// Unmounts and removes a namespace made by [`create`]; a missing one is not an error. The
/// namespace itself dies with its last user (the container's processes).
pub fn remove(path: &Path) -> bool {
    let was = umount2(path, MntFlags::MNT_DETACH).is_ok();
    if was {
        kernel_event!(path = %path.display(), "umount2(netns, MNT_DETACH)");
    }
    let _ = std::fs::remove_file(path);
    was
}
