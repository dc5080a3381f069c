//! Namespaces and the identity inside them: `unshare(2)`, `setns(2)`, `sethostname(2)`,
//! `setdomainname(2)`.

use std::io;
use std::os::fd::BorrowedFd;

pub use nix::sched::CloneFlags;

/// The namespace side of the host.
pub trait Namespaces {
    /// `unshare(flags)` for the calling thread/process.
    fn unshare(&self, flags: CloneFlags) -> io::Result<()>;

    /// `setns(fd, nstype)`.
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> io::Result<()>;

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
