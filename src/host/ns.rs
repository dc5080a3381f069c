//! Namespaces and the identity inside them: `unshare(2)`, `setns(2)`, `sethostname(2)`,
//! `setdomainname(2)`.

use std::io;

pub use super::flags::CloneFlags;

/// An open namespace: on a real host, a file descriptor on it; on a simulated one, its inode.
#[derive(Debug)]
pub struct NsHandle {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fd: Option<std::os::fd::OwnedFd>,
    /// The namespace's inode number (what `ls -l /proc/<pid>/ns` shows).
    pub inode: u64,
}

/// The namespace side of the host.
pub trait Namespaces {
    /// `unshare(flags)` for the calling thread/process.
    fn unshare(&self, flags: CloneFlags) -> io::Result<()>;

    /// Opens the namespace the file at `path` names (`/proc/<pid>/ns/net`, a bound netns file):
    /// the handle keeps naming that namespace, whatever the path names later.
    fn open_ns(&self, path: &std::path::Path) -> io::Result<NsHandle>;

    /// `setns(handle, nstype)`: the calling thread joins the namespace.
    fn setns(&self, ns: &NsHandle, nstype: CloneFlags) -> io::Result<()>;

    /// `sethostname(name)` in the current UTS namespace.
    fn sethostname(&self, name: &str) -> io::Result<()>;

    /// `setdomainname(name)` in the current UTS namespace.
    fn setdomainname(&self, name: &str) -> io::Result<()>;

    /// The namespace the file at `path` refers to (`/proc/self/ns/net`, a bound netns file), as
    /// its inode number: two paths with one inode are one namespace.
    fn ns_inode(&self, path: &std::path::Path) -> io::Result<u64>;

    /// `clone(flags | SIGCHLD)`: a child process in the new namespaces `flags` names, running
    /// `child` and exiting with what it returns; the child's pid.
    ///
    /// # Safety
    ///
    /// As `clone(2)` without `CLONE_VM`: the caller must be single-threaded (the child may run
    /// arbitrary code), and `child` must not return into the parent's state.
    unsafe fn clone_process(
        &self,
        flags: CloneFlags,
        child: &mut dyn FnMut() -> isize,
    ) -> io::Result<i32>;
}
