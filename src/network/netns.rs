//! Named network namespaces: a new namespace kept alive by a bind mount of its nsfs file
//! (`ip netns add`'s trick), so it exists before the container's init and can be joined by path.
//!
//! Not here: joining a namespace (the init does that, `runtime::init`), or what goes inside it
//! ([`super::bridge`]).

use std::fs::File;
use std::io;
use std::path::Path;

use crate::host::mount::{MntFlags, MsFlags};
use crate::host::ns::CloneFlags;
use crate::host::{self, Host};
use crate::kernel_event;

/// Creates a network namespace bound at `path`, with `lo` up.
pub fn create(path: &Path) -> io::Result<()> {
    let host = host::current();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A bind mount left by a crash would make the file below unwritable.
    let _ = host.umount(path, MntFlags::MNT_DETACH);
    File::create(path)?;
    let home = host.open_ns(Path::new("/proc/thread-self/ns/net"))?;
    host.unshare(CloneFlags::CLONE_NEWNET)?;
    kernel_event!("unshare(CLONE_NEWNET)");
    // From here on we are in the new namespace: whatever happens, go home before returning.
    let inside = bind_and_up(host, path);
    host.setns(&home, CloneFlags::CLONE_NEWNET)?;
    kernel_event!("setns(host netns)");
    if let Err(e) = inside {
        remove(path);
        return Err(e);
    }
    Ok(())
}

/// Inside the new namespace: bind it at `path`, set `lo` up.
fn bind_and_up(host: &dyn Host, path: &Path) -> io::Result<()> {
    host.mount(
        Some(Path::new("/proc/thread-self/ns/net")),
        path,
        None,
        MsFlags::MS_BIND,
        None,
    )?;
    kernel_event!(path = %path.display(), "mount(/proc/thread-self/ns/net, MS_BIND)");
    host.link_set_up(1, None)?;
    kernel_event!(dev = "lo", "ip link set lo up");
    Ok(())
}

/// Unmounts and removes a namespace made by [`create`]; a missing one is not an error. The
/// namespace itself dies with its last user (the container's processes).
pub fn remove(path: &Path) -> bool {
    let was = host::current().umount(path, MntFlags::MNT_DETACH).is_ok();
    if was {
        kernel_event!(path = %path.display(), "umount2(netns, MNT_DETACH)");
    }
    let _ = std::fs::remove_file(path);
    was
}
