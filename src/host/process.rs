//! Processes: start one, signal it, wait for it.

use std::io;

pub use nix::sys::signal::Signal;

/// The process side of the host.
pub trait Processes {
    /// `kill(pid, signal)`.
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()>;
}
