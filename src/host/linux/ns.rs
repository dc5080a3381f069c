use std::io;
use std::os::fd::BorrowedFd;

use super::{io, LinuxHost};
use crate::host::ns::{CloneFlags, Namespaces};

impl Namespaces for LinuxHost {
    fn unshare(&self, flags: CloneFlags) -> io::Result<()> {
        nix::sched::unshare(flags).map_err(io)
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> io::Result<()> {
        nix::sched::setns(fd, nstype).map_err(io)
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        nix::unistd::sethostname(name).map_err(io)
    }
}
