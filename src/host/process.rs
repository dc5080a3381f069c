//! Processes: start one, signal it, wait for it.

use std::io;
use std::os::fd::RawFd;
use std::process::{Child, Command};

pub use nix::sys::signal::Signal;
pub use nix::sys::wait::WaitStatus;

/// The process side of the host.
pub trait Processes {
    /// `kill(pid, signal)`.
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()>;

    // The engine's and the shim's side: the shim is spawned, signalled and reaped.

    /// `fork` + `execve` of `cmd`, the child first giving each `(ours, theirs)` of `fds` the
    /// number `theirs` (`dup2`) and, with `setsid`, leaving our session. The shim is a re-exec
    /// of ctrace this way.
    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child>;
    /// `waitpid(pid, 0)`: blocks until our child `pid` has changed state and reaps it if it
    /// ended.
    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus>;
    /// `prctl(PR_SET_CHILD_SUBREAPER)`: orphans of our descendants become our children.
    fn set_child_subreaper(&self) -> io::Result<()>;
    /// `setsid()`: this process leaves its session (and its terminal).
    fn setsid(&self) -> io::Result<()>;
}
