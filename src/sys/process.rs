//! Looking at processes: the one meaning of "alive", and waiting for a process that is not our
//! child to end.
//!
//! A zombie is **not** alive: it has done all it will ever do, and whoever adopted it reaps it
//! whenever it gets to it. Every caller that asks "is the container's process still running" wants
//! this answer (a stop that waits for a zombie to disappear waits for somebody else's `waitpid`).

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// True when `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    !matches!(state(pid), Some('Z' | 'X') | None)
}

/// The one-letter state of `pid` from `/proc/<pid>/stat` (`R`, `S`, `D`, `T`, `Z`, …).
pub fn state(pid: i32) -> Option<char> {
    use std::io::Read;
    // One read: the line is short, and /proc reports no size to size a buffer by.
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let stat = String::from_utf8_lossy(&buf[..n]);
    // The state follows the command name, which is in parentheses and may contain spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// Waits until `pid` has exited or become a zombie, at most `timeout`; true when it has. A pidfd
/// sees the exit even though the process is not our child.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    if !alive(pid) {
        return true;
    }
    // SAFETY: plain syscall; the fd it returns is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return !alive(pid);
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
        if !alive(pid) {
            return true;
        }
        if left.is_zero() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_and_a_zombie_are_not() {
        assert!(alive(std::process::id() as i32));
        assert!(!alive(0) && !alive(-1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Not yet reaped: a zombie once it has exited, which is not alive.
        assert!(wait_gone(pid, Duration::from_secs(10)));
        assert!(!alive(pid));
        child.wait().unwrap();
        assert!(!alive(pid));
    }
}
