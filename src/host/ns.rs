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
}
