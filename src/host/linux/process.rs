use std::ffi::{CStr, CString};
use std::io;

use super::{io, LinuxHost};
use crate::host::process::{Processes, Signal};

impl Processes for LinuxHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(io)
    }

    // ---- The init and exec side (the runtime's). ----

    unsafe fn fork(&self) -> io::Result<i32> {
        // SAFETY: the caller upholds fork(2)'s rules (see the trait).
        match unsafe { nix::unistd::fork() }.map_err(io)? {
            nix::unistd::ForkResult::Child => Ok(0),
            nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw()),
        }
    }

    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
        let Err(errno) = nix::unistd::execve(program, argv, envp);
        io(errno)
    }

    fn reap(&self, pid: i32) -> io::Result<()> {
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None)
            .map(drop)
            .map_err(io)
    }
}
