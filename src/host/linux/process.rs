use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::process::{Child, Command};

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use super::{io, LinuxHost};
use crate::host::posix;
use crate::host::process::{Processes, Signal, WaitStatus};

impl Processes for LinuxHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        posix::kill(pid, signal)
    }

    fn pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn child_pid(&self, child: &Child) -> i32 {
        child.id() as i32
    }

    fn alive(&self, pid: i32) -> bool {
        crate::sys::process::alive(pid)
    }

    fn wait_gone(&self, pid: i32, timeout: std::time::Duration) -> bool {
        crate::sys::process::wait_gone(pid, timeout)
    }

    fn os_pid(&self, pid: i32) -> i32 {
        pid
    }

    // The engine's and the shim's side.

    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child> {
        posix::spawn(cmd, fds, setsid)
    }

    fn spawn_fork(
        &self,
        argv: &[String],
        fds: &[(RawFd, RawFd)],
        setsid: bool,
        child: &mut dyn FnMut() -> i32,
    ) -> io::Result<i32> {
        posix::spawn_fork(argv, fds, setsid, &mut || {}, child)
    }

    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus> {
        posix::wait_child(pid)
    }

    fn set_child_subreaper(&self) -> io::Result<()> {
        posix::set_child_subreaper()
    }

    fn setsid(&self) -> io::Result<()> {
        posix::setsid()
    }

    // ---- The init and exec side (the runtime's). ----

    unsafe fn fork(&self) -> io::Result<i32> {
        // SAFETY: the caller upholds fork(2)'s rules (see the trait).
        unsafe { posix::fork() }
    }

    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
        posix::default_signal_dispositions();
        let Err(errno) = nix::unistd::execve(program, argv, envp);
        io(errno)
    }

    fn reap(&self, pid: i32) -> io::Result<()> {
        posix::reap(pid)
    }

    // ---- Credentials. ----

    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
        let lim = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: a valid rlimit struct; the kernel checks the resource number.
        let rc = unsafe { libc::setrlimit(resource as libc::__rlimit_resource_t, &lim) };
        Errno::result(rc).map(drop).map_err(io)
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        nix::sys::prctl::set_no_new_privs().map_err(io)
    }

    fn set_keepcaps(&self, keep: bool) -> io::Result<()> {
        nix::sys::prctl::set_keepcaps(keep).map_err(io)
    }

    fn setgroups(&self, gids: &[u32]) -> io::Result<()> {
        let gids: Vec<Gid> = gids.iter().map(|&g| Gid::from_raw(g)).collect();
        nix::unistd::setgroups(&gids).map_err(io)
    }

    fn setresgid(&self, gid: u32) -> io::Result<()> {
        let g = Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g).map_err(io)
    }

    fn setresuid(&self, uid: u32) -> io::Result<()> {
        let u = Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u).map_err(io)
    }

    fn capbset_drop(&self, cap: u32) -> io::Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        Errno::result(rc).map(drop).map_err(io)
    }

    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
        caps::capset(effective, permitted, inheritable).map_err(io)
    }

    fn ambient_clear(&self) -> io::Result<()> {
        caps::ambient(libc::PR_CAP_AMBIENT_CLEAR_ALL, 0).map_err(io)
    }

    fn ambient_raise(&self, cap: u32) -> io::Result<()> {
        caps::ambient(libc::PR_CAP_AMBIENT_RAISE, cap).map_err(io)
    }

    fn seccomp_load(&self, bpf: &[u8]) -> io::Result<()> {
        if bpf.is_empty() || bpf.len() % std::mem::size_of::<libc::sock_filter>() != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let prog = libc::sock_fprog {
            len: (bpf.len() / std::mem::size_of::<libc::sock_filter>()) as u16,
            filter: bpf.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `len` whole instructions that outlive the call; the kernel
        // copies them.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        Errno::result(rc).map(drop).map_err(io)
    }
}

/// The capability syscalls nix does not offer.
mod caps {
    use nix::errno::Errno;

    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    /// Sets the three base sets of this thread at once.
    pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        let mut header = Header {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let half = |shift: u32| Data {
            effective: (effective >> shift) as u32,
            permitted: (permitted >> shift) as u32,
            inheritable: (inheritable >> shift) as u32,
        };
        let data = [half(0), half(32)];
        // SAFETY: a v3 header and the two data structs v3 requires.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
        Errno::result(rc).map(drop)
    }

    /// `prctl(PR_CAP_AMBIENT, op, cap)`.
    pub fn ambient(op: libc::c_int, cap: u32) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                op as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        Errno::result(rc).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    #[allow(clippy::zombie_processes)] // reaped by wait_child, the method under test
    fn a_spawned_child_gets_our_fd_under_its_number_and_is_reaped_with_its_status() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hi >&7; exit 3"]);
        let child = LinuxHost
            .spawn(&mut cmd, &[(w.as_raw_fd(), 7)], true)
            .unwrap();
        drop(w);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut out).unwrap();
        assert_eq!(out, "hi\n");
        let status = LinuxHost.wait_child(child.id() as i32).unwrap();
        assert!(matches!(status, WaitStatus::Exited(_, 3)), "{status:?}");
    }
}
