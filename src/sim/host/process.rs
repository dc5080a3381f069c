//! Processes of the simulated host: real ones, with the interpreter in place of `execve`.

use std::ffi::{CStr, CString};
use std::io::{self, Write};
use std::os::fd::RawFd;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::container::SimContainer;
use super::{einval, me, set_me, SimHost, PID_ENV};
use crate::host::Processes;
use crate::sim::shell::{self, Outcome};

/// The host condition under which the engine's process dies as it spawns a container's shim.
pub const KILLED_MID_START: &str = "killed-mid-start";

impl Processes for SimHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        let real = self.real_of(pid)?;
        crate::host::posix::kill(real, signal)
    }

    fn pid(&self) -> i32 {
        me()
    }

    fn child_pid(&self, child: &Child) -> i32 {
        let real = child.id() as i32;
        let kids = self.kids.lock().unwrap_or_else(|e| e.into_inner());
        kids.iter()
            .find(|(_, r)| **r == real)
            .map(|(p, _)| *p)
            .unwrap_or(real)
    }

    fn alive(&self, pid: i32) -> bool {
        self.real_of(pid).is_ok_and(crate::sys::process::alive)
    }

    fn wait_gone(&self, pid: i32, timeout: Duration) -> bool {
        match self.real_of(pid) {
            Ok(r) => crate::sys::process::wait_gone(r, timeout),
            Err(_) => true,
        }
    }

    fn os_pid(&self, pid: i32) -> i32 {
        self.real_of(pid).unwrap_or(0)
    }

    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child> {
        if cmd.get_args().next().is_some_and(|a| a == "shim") {
            killed_mid_start();
        }
        // The child continues from the modelled time of now.
        cmd.env(
            crate::sim::clock::CLOCK_ENV,
            crate::trace::clock::current().now_unix_ns().to_string(),
        );
        let what = cmd.get_args().next().map_or_else(
            || "ctrace".to_string(),
            |a| format!("ctrace {}", a.to_string_lossy()),
        );
        let pid = self.birth(&what, &[])?;
        cmd.env(PID_ENV, format!("{pid}:{}", std::process::id()));
        match crate::host::posix::spawn(cmd, fds, setsid) {
            Ok(child) => {
                self.born(pid, Some(child.id() as i32))?;
                Ok(child)
            }
            Err(e) => {
                let _ = self.born(pid, None);
                Err(e)
            }
        }
    }

    fn spawn_fork(
        &self,
        argv: &[String],
        fds: &[(RawFd, RawFd)],
        setsid: bool,
        child: &mut dyn FnMut() -> i32,
    ) -> io::Result<i32> {
        let sub = argv.get(1).map_or("", String::as_str);
        if sub == "shim" {
            killed_mid_start();
        }
        let pid = self.birth(&format!("ctrace {sub}"), &[])?;
        // The child takes its modelled pid; it has no children yet, and it reopens the store
        // (whose descriptors are close-on-exec) when it needs it. The modelled clock goes on
        // from the parent's time, in the memory the child shares.
        let mut first = || {
            set_me(pid);
            self.kids.lock().unwrap_or_else(|e| e.into_inner()).clear();
            self.store.forget();
        };
        match crate::host::posix::spawn_fork(argv, fds, setsid, &mut first, child) {
            Ok(real) => {
                self.born(pid, Some(real))?;
                Ok(pid)
            }
            Err(e) => {
                let _ = self.born(pid, None);
                Err(e)
            }
        }
    }

    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus> {
        let real = self.real_of(pid)?;
        let status = crate::host::posix::wait_child(real)?;
        Ok(as_pid(status, pid))
    }

    fn set_child_subreaper(&self) -> io::Result<()> {
        crate::host::posix::set_child_subreaper()
    }

    fn setsid(&self) -> io::Result<()> {
        crate::host::posix::setsid()
    }

    unsafe fn fork(&self) -> io::Result<i32> {
        let pid = self.birth("exec", &[])?;
        // SAFETY: as the trait says; the caller upholds fork(2)'s rules.
        match unsafe { crate::host::posix::fork() } {
            Ok(0) => {
                set_me(pid);
                Ok(0)
            }
            Ok(real) => {
                self.born(pid, Some(real))?;
                Ok(pid)
            }
            Err(e) => {
                let _ = self.born(pid, None);
                Err(e)
            }
        }
    }

    fn execve(&self, program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let env: Vec<String> = envp
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let pid = me();
        let _ = self.change(|m| {
            m.process(pid, 0, "").command = argv.join(" ");
            Ok(())
        });
        let _ = program;
        // As pid 1 of its namespace, the container's process ignores the signals it has no
        // handler for: `stop` waits its timeout and then kills, as with a real busybox.
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            // SAFETY: setting a signal's disposition to ignore.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        // The store's lock file is one of them: closed through the store, which reopens it.
        self.store.forget();
        crate::host::posix::close_on_exec();
        let c = SimContainer { host: self, pid };
        let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
        let outcome = shell::run(&argv, &env, &c, &mut out, &mut err);
        let _ = out.flush();
        let _ = err.flush();
        match outcome {
            Outcome::Exit(code) => std::process::exit(code),
            Outcome::Killed(sig) => {
                // SAFETY: the default action, then the signal: the process ends by it.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::kill(libc::getpid(), sig);
                }
                std::process::exit(128 + sig)
            }
        }
    }

    fn reap(&self, pid: i32) -> io::Result<()> {
        crate::host::posix::reap(self.real_of(pid)?)
    }

    fn setrlimit(&self, _resource: u32, _soft: u64, _hard: u64) -> io::Result<()> {
        Ok(())
    }
    fn set_no_new_privs(&self) -> io::Result<()> {
        Ok(())
    }
    fn set_keepcaps(&self, _keep: bool) -> io::Result<()> {
        Ok(())
    }
    fn setgroups(&self, _gids: &[u32]) -> io::Result<()> {
        Ok(())
    }
    fn setresgid(&self, _gid: u32) -> io::Result<()> {
        Ok(())
    }
    fn setresuid(&self, _uid: u32) -> io::Result<()> {
        Ok(())
    }
    fn capbset_drop(&self, cap: u32) -> io::Result<()> {
        // The kernel's last capability is 40 (CAP_CHECKPOINT_RESTORE).
        if cap > 40 {
            return Err(einval());
        }
        Ok(())
    }
    fn capset(&self, _e: u64, _p: u64, _i: u64) -> io::Result<()> {
        Ok(())
    }
    fn ambient_clear(&self) -> io::Result<()> {
        Ok(())
    }
    fn ambient_raise(&self, _cap: u32) -> io::Result<()> {
        Ok(())
    }
    fn seccomp_load(&self, bpf: &[u8]) -> io::Result<()> {
        if bpf.is_empty() || bpf.len() % 8 != 0 {
            return Err(einval());
        }
        let pid = me();
        self.change(|m| {
            m.process(pid, 0, "").seccomp = bpf.len() / 8;
            Ok(())
        })
    }
}

/// `status` as the simulated host reports it: about modelled `pid`.
fn as_pid(status: WaitStatus, pid: i32) -> WaitStatus {
    let p = nix::unistd::Pid::from_raw(pid);
    match status {
        WaitStatus::Exited(_, c) => WaitStatus::Exited(p, c),
        WaitStatus::Signaled(_, s, core) => WaitStatus::Signaled(p, s, core),
        WaitStatus::Stopped(_, s) => WaitStatus::Stopped(p, s),
        WaitStatus::Continued(_) => WaitStatus::Continued(p),
        other => other,
    }
}

/// The host condition `killed-mid-start`: the process running the engine (a daemon, or the CLI)
/// is killed — `kill -9`, the OOM killer — the moment it asks for a container's shim: the start
/// has mounted the rootfs and set up the network, no process of the container exists yet, and
/// nobody is left to undo it.
fn killed_mid_start() {
    if std::env::var(crate::sim::scenario::HOST_FAULT_ENV).as_deref() == Ok(KILLED_MID_START) {
        // SAFETY: the process ends itself, as the modelled kernel decided.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        loop {
            std::thread::park();
        }
    }
}
