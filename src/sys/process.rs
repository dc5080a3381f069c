//! Looking at processes: the one meaning of "alive", and waiting for a process that is not our
//! child to end.
//!
//! A zombie is **not** alive: it has done all it will ever do, and whoever adopted it reaps it
//! whenever it gets to it. Every caller that asks "is the container's process still running" wants
//! this answer (a stop that waits for a zombie to disappear waits for somebody else's `waitpid`).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// Whether this process runs a single thread (false when it cannot tell): only then may a fork
/// go on without exec.
pub fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// True when `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    !matches!(state(pid), Some('Z' | 'X') | None)
}

/// The directory listing this process's open descriptors.
#[cfg(target_os = "linux")]
pub const FD_DIR: &str = "/proc/self/fd";
#[cfg(not(target_os = "linux"))]
pub const FD_DIR: &str = "/dev/fd";

/// The one-letter state of `pid` from `/proc/<pid>/stat` (`R`, `S`, `D`, `T`, `Z`, …).
#[cfg(target_os = "linux")]
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

/// The state of `pid` as the kernel's process table says (`Z` for a zombie, `S` otherwise):
/// macOS has no `/proc`, so `proc_pidinfo(PROC_PIDTBSDINFO)`.
#[cfg(target_os = "macos")]
pub fn state(pid: i32) -> Option<char> {
    // SAFETY: a zeroed plain-data struct, filled by the call up to the size passed.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    let got = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    if got != size {
        return None;
    }
    Some(if info.pbi_status == libc::SZOMB {
        'Z'
    } else {
        'S'
    })
}

/// Other systems: a process that exists counts as running.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn state(_pid: i32) -> Option<char> {
    Some('S')
}

/// A descriptor that becomes readable when `pid` exits, for `poll` — whether or not `pid` is
/// our child: a pidfd on Linux, a kqueue watching `NOTE_EXIT` on macOS and the BSDs. `None` when
/// the process is already gone or the system has neither.
pub fn exit_fd(pid: i32) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall; the fd it returns is ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: pidfd_open returned a new fd that nothing else owns.
        (fd >= 0).then(|| unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) })
    }
    #[cfg(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    {
        // SAFETY: kqueue() returns a new fd that nothing else owns.
        let kq = unsafe { libc::kqueue() };
        if kq < 0 {
            return None;
        }
        let kq: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(kq) };
        // SAFETY: a zeroed kevent filled in below, registered on the kqueue we own.
        let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
        ev.ident = pid as _;
        ev.filter = libc::EVFILT_PROC as _;
        ev.flags = (libc::EV_ADD | libc::EV_ONESHOT) as _;
        ev.fflags = libc::NOTE_EXIT as _;
        let rc = unsafe {
            libc::kevent(
                std::os::fd::AsRawFd::as_raw_fd(&kq),
                &ev,
                1,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            )
        };
        (rc == 0).then_some(kq)
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )))]
    None
}

/// Waits until `pid` has exited or become a zombie, at most `timeout`; true when it has. A pidfd
/// sees the exit even though the process is not our child.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    if !alive(pid) {
        return true;
    }
    let Some(fd) = exit_fd(pid) else {
        return !alive(pid);
    };
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
