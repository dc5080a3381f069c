//! Pipes for plumbing between ctrace's own processes (the exec fifo's partner pipes, health
//! probes, the shim's status pipe), made the same way on every Unix.
//!
//! Not here: anything the container sees (that goes through `host`).

use std::io;
use std::os::fd::OwnedFd;

/// A pipe whose two ends close on exec: `pipe2(O_CLOEXEC)` where there is one; `pipe` +
/// `FD_CLOEXEC` elsewhere (only the simulator runs there, and nothing of ctrace's forks between
/// the two calls).
pub fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(target_os = "linux")]
    return nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from);
    #[cfg(not(target_os = "linux"))]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (r, w) = nix::unistd::pipe().map_err(io::Error::from)?;
        for fd in [&r, &w] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
        }
        Ok((r, w))
    }
}
