//! The process calls every Unix has — spawn with fds in place, waitpid, setsid, fork, execve,
//! kill — for both hosts: [`super::linux::LinuxHost`] makes them for real, and the simulated
//! host makes them too (its processes are real; only their commands are interpreted), which is
//! why they live here and not under `linux/`.
//!
//! Not here: anything only Linux has (namespaces, `prctl`, capabilities): that is `linux/`.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use nix::unistd::Pid;

use super::process::{Signal, WaitStatus};

/// `kill(pid, signal)`.
pub fn kill(pid: i32, signal: Signal) -> io::Result<()> {
    nix::sys::signal::kill(Pid::from_raw(pid), signal).map_err(io::Error::from)
}

/// `fork` + `execve` of `cmd`, the child first giving each `(ours, theirs)` of `fds` the number
/// `theirs` and, with `setsid`, leaving our session.
pub fn spawn(cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child> {
    let fds = fds.to_vec();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for &(ours, theirs) in &fds {
                if libc::dup2(ours, theirs) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if setsid && libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // No signal ignored (see `default_signal_dispositions`), none blocked: a daemon
            // blocks its stop signals in every thread (one thread waits for them), and a shim,
            // or a container, must not inherit that mask.
            default_signal_dispositions();
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Every signal back to its default disposition. The engine, the shim and the init ignore
/// SIGPIPE (as every Rust program does), whoever started the engine may have ignored others,
/// and `execve` keeps an ignored signal ignored: a shim, runc and a container's process start
/// with none ignored, as under docker (`yes | head -1` must end `yes` by SIGPIPE). On Linux the
/// system call itself: the C library refuses the two real-time signals it reserves (32 and 33),
/// which an ancestor may still have ignored. Only async-signal-safe calls: used between fork
/// and exec.
pub fn default_signal_dispositions() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        #[cfg(target_os = "linux")]
        {
            // The kernel's `struct sigaction` with every field zero: handler SIG_DFL (0), no
            // flags, no restorer, an empty mask.
            let dfl = [0usize; 4];
            // SAFETY: rt_sigaction with a valid struct and the kernel's 8-byte signal set; the
            // old action is not asked for. Numbers past the system's answer EINVAL.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<usize>(),
                    8usize,
                )
            };
        }
        #[cfg(not(target_os = "linux"))]
        // SAFETY: setting a disposition; numbers past the system's answer EINVAL.
        unsafe {
            libc::signal(sig, libc::SIG_DFL)
        };
    }
}

/// `waitpid(pid, 0)`.
pub fn wait_child(pid: i32) -> io::Result<WaitStatus> {
    nix::sys::wait::waitpid(Pid::from_raw(pid), None).map_err(io::Error::from)
}

/// `setsid()`.
pub fn setsid() -> io::Result<()> {
    nix::unistd::setsid().map(drop).map_err(io::Error::from)
}

/// `fork()`: 0 in the child, the child's pid in the parent.
///
/// # Safety
///
/// As `fork(2)`: in a multi-threaded process the child may only call async-signal-safe
/// functions until it execs or exits.
pub unsafe fn fork() -> io::Result<i32> {
    // SAFETY: the caller upholds fork(2)'s rules.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Child => Ok(0),
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw()),
    }
}

/// `waitpid(pid, 0)`, for a child that is to end: reaps it.
pub fn reap(pid: i32) -> io::Result<()> {
    wait_child(pid).map(drop)
}

/// `prctl(PR_SET_CHILD_SUBREAPER)` where the kernel has it (Linux); elsewhere orphans go to the
/// system's init and nothing is asked (the simulator's shim is its init's parent, so it still
/// reaps it).
pub fn set_child_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: plain prctl on this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
