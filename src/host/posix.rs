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

/// See [`super::process::Processes::spawn_fork`]; `first` runs in the child before anything
/// else (the simulated host lets go of its store's descriptors there, before they are closed).
pub fn spawn_fork(
    argv: &[String],
    fds: &[(RawFd, RawFd)],
    setsid: bool,
    first: &mut dyn FnMut(),
    child: &mut dyn FnMut() -> i32,
) -> io::Result<i32> {
    // SAFETY: the caller is single-threaded (the trait's contract), so the child may run any
    // code; it never returns into the caller's frames (`_exit`).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            first();
            // Best effort: without CAP_SYS_RESOURCE (a simulation without root) the child shows
            // its parent's command line.
            let _ = set_cmdline(argv);
            let code = (|| -> io::Result<i32> {
                for &(ours, theirs) in fds {
                    // SAFETY: descriptors the caller handed over for this.
                    if unsafe { libc::dup2(ours, theirs) } < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if setsid && unsafe { libc::setsid() } < 0 {
                    return Err(io::Error::last_os_error());
                }
                default_signal_dispositions();
                // SAFETY: as the Rust runtime does at the start of every program.
                unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
                let mut none: libc::sigset_t = unsafe { std::mem::zeroed() };
                unsafe {
                    libc::sigemptyset(&mut none);
                    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                }
                close_on_exec();
                Ok(child())
            })();
            // SAFETY: the child's end; no unwinding into the parent's frames, no flushing of the
            // parent's buffered output a second time.
            unsafe { libc::_exit(code.unwrap_or(crate::sys::exit::ENGINE)) }
        }
        pid => Ok(pid),
    }
}

/// Makes `/proc/self/cmdline` (what `ps` shows) `argv`, as an exec of it would have: the
/// kernel's pointers to the command line are moved to a copy that lives as long as the process.
/// `PR_SET_MM_MAP` (made for checkpoint/restore), which unlike `PR_SET_MM_ARG_START` needs no
/// `CAP_SYS_RESOURCE`: the process's other bounds are handed back as `/proc/self/stat` has them.
#[cfg(target_os = "linux")]
fn set_cmdline(argv: &[String]) -> io::Result<()> {
    /// The kernel's `struct prctl_mm_map` (`linux/prctl.h`).
    #[repr(C)]
    struct MmMap {
        start_code: u64,
        end_code: u64,
        start_data: u64,
        end_data: u64,
        start_brk: u64,
        brk: u64,
        start_stack: u64,
        arg_start: u64,
        arg_end: u64,
        env_start: u64,
        env_end: u64,
        auxv: *mut u64,
        auxv_size: u32,
        exe_fd: u32,
    }
    let bytes: Vec<u8> = argv
        .iter()
        .flat_map(|a| a.bytes().chain(std::iter::once(0)))
        .collect();
    let buf: &'static [u8] = bytes.leak();
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command name (which may hold spaces), numbered as proc(5) does.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("no command name in /proc/self/stat"))?;
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    // SAFETY: sbrk(0) only reads the current program break.
    let brk = unsafe { libc::sbrk(0) } as u64;
    let map = MmMap {
        start_code: field(26),
        end_code: field(27),
        start_data: field(45),
        end_data: field(46),
        start_brk: field(47),
        brk,
        start_stack: field(28),
        arg_start: buf.as_ptr() as u64,
        arg_end: buf.as_ptr() as u64 + buf.len() as u64,
        env_start: field(50),
        env_end: field(51),
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    // SAFETY: a valid `prctl_mm_map` of the size given; the kernel checks every bound.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP,
            &map as *const MmMap,
            std::mem::size_of::<MmMap>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_cmdline(_argv: &[String]) -> io::Result<()> {
    Ok(())
}

/// What `execve` does to a process's files: every descriptor marked close-on-exec is closed. For
/// a child that goes on without exec: a shim forked from the CLI, and the simulated host's
/// processes, whose `execve` is an interpreter (the init's end of the exec fifo and of its sync
/// socket go, so whoever waits on them learns that the program "started", as with a real exec).
pub fn close_on_exec() {
    let fds: Vec<i32> = std::fs::read_dir(crate::sys::process::FD_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        // SAFETY: querying and closing descriptors of this process, as execve would.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::close(fd);
            }
        }
    }
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
