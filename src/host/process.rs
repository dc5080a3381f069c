//! Processes: start one, signal it, wait for it; fork, exec and reap for the init and `exec`,
//! and the credentials (rlimits, ids, capabilities) they set on themselves before `execve`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::process::{Child, Command};
use std::time::Duration;

pub use nix::sys::signal::Signal;
pub use nix::sys::wait::WaitStatus;

/// The process side of the host.
pub trait Processes {
    /// `kill(pid, signal)`.
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()>;

    // ---- Pids: every pid above this seam is the host's numbering (a simulated host has its
    // own pid space), so these are asked here, never of the operating system directly. ----

    /// `getpid()`: this process's pid on this host.
    fn pid(&self) -> i32;
    /// The pid of a child that [`Processes::spawn`] started.
    fn child_pid(&self, child: &Child) -> i32;
    /// True when `pid` exists and is not a zombie (see [`crate::sys::process::alive`]).
    fn alive(&self, pid: i32) -> bool;
    /// Waits until `pid` (not necessarily our child) has ended, at most `timeout`; true when it
    /// has.
    fn wait_gone(&self, pid: i32, timeout: Duration) -> bool;
    /// The operating system's pid of this host's `pid`: for a signal handler, which must only
    /// make async-signal-safe calls and so cannot ask the host.
    fn os_pid(&self, pid: i32) -> i32;

    // The engine's and the shim's side: the shim is spawned, signalled and reaped.

    /// `fork` + `execve` of `cmd`, the child first giving each `(ours, theirs)` of `fds` the
    /// number `theirs` (`dup2`) and, with `setsid`, leaving our session. The shim is a re-exec
    /// of ctrace this way.
    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child>;
    /// `fork` without `execve`: the child gives each `(ours, theirs)` of `fds` the number
    /// `theirs`, with `setsid` leaves our session, starts with no signal blocked and every
    /// signal's default disposition but SIGPIPE's (ignored, as in every Rust program), closes
    /// every close-on-exec descriptor (as `execve` would), then runs `child` and exits with what
    /// it returns. Returns the child's pid. For a single-threaded caller only: the child goes
    /// on running ordinary code. `argv` is the command line the child shows (`ps`, and whoever
    /// looks for a container's shim by it), as if it had exec'd it. The shim starts this way from
    /// the CLI: a copy of a ctrace already loaded, without the exec.
    fn spawn_fork(
        &self,
        argv: &[String],
        fds: &[(RawFd, RawFd)],
        setsid: bool,
        child: &mut dyn FnMut() -> i32,
    ) -> io::Result<i32>;
    /// `waitpid(pid, 0)`: blocks until our child `pid` has changed state and reaps it if it
    /// ended.
    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus>;
    /// `prctl(PR_SET_CHILD_SUBREAPER)`: orphans of our descendants become our children.
    fn set_child_subreaper(&self) -> io::Result<()>;
    /// `setsid()`: this process leaves its session (and its terminal).
    fn setsid(&self) -> io::Result<()>;

    // ---- The init and exec side (the runtime's): fork the exec helper, exec the container's
    // process, reap a child. ----

    /// `fork()`: 0 in the child, the child's pid in the parent.
    ///
    /// # Safety
    ///
    /// As `fork(2)`: in a multi-threaded process the child may only call async-signal-safe
    /// functions until it execs or exits.
    unsafe fn fork(&self) -> io::Result<i32>;

    /// `execve(program, argv, envp)`; returns only on failure, with why. The program starts
    /// with every signal's default disposition (an ignored signal would stay ignored across
    /// `execve`, and the runtime ignores SIGPIPE).
    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error;

    /// `waitpid(pid, 0)`: waits for the child `pid` to end and reaps it.
    fn reap(&self, pid: i32) -> io::Result<()>;

    // ---- Credentials: the calling process's own limits, ids and capabilities, set by the
    // init (and an exec'd process) just before `execve`. ----

    /// `setrlimit(resource, {soft, hard})`; `resource` is a `RLIMIT_*` number.
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> io::Result<()>;
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    fn set_no_new_privs(&self) -> io::Result<()>;
    /// `prctl(PR_SET_KEEPCAPS, keep)`.
    fn set_keepcaps(&self, keep: bool) -> io::Result<()>;
    /// `setgroups(gids)`.
    fn setgroups(&self, gids: &[u32]) -> io::Result<()>;
    /// `setresgid(gid, gid, gid)`.
    fn setresgid(&self, gid: u32) -> io::Result<()>;
    /// `setresuid(uid, uid, uid)`.
    fn setresuid(&self, uid: u32) -> io::Result<()>;
    /// `prctl(PR_CAPBSET_DROP, cap)`; EINVAL past the kernel's last capability.
    fn capbset_drop(&self, cap: u32) -> io::Result<()>;
    /// `capset` of this thread's effective, permitted and inheritable sets (bit n: capability n).
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()>;
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
    fn ambient_clear(&self) -> io::Result<()>;
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`.
    fn ambient_raise(&self, cap: u32) -> io::Result<()>;
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)`: installs `bpf` (an array of
    /// `struct sock_filter`) as this thread's seccomp filter; needs `no_new_privs` or
    /// `CAP_SYS_ADMIN`.
    fn seccomp_load(&self, bpf: &[u8]) -> io::Result<()>;
}
