//! Processes: start one, signal it, wait for it; fork, exec and reap for the init and `exec`.

use std::ffi::{CStr, CString};
use std::io;

pub use nix::sys::signal::Signal;

/// The process side of the host.
pub trait Processes {
    /// `kill(pid, signal)`.
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()>;

    // ---- The init and exec side (the runtime's): fork the exec helper, exec the container's
    // process, reap a child. ----

    /// `fork()`: 0 in the child, the child's pid in the parent.
    ///
    /// # Safety
    ///
    /// As `fork(2)`: in a multi-threaded process the child may only call async-signal-safe
    /// functions until it execs or exits.
    unsafe fn fork(&self) -> io::Result<i32>;

    /// `execve(program, argv, envp)`; returns only on failure, with why.
    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error;

    /// `waitpid(pid, 0)`: waits for the child `pid` to end and reaps it.
    fn reap(&self, pid: i32) -> io::Result<()>;
}
