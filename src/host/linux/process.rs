use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::{io, LinuxHost};
use crate::host::process::{Processes, Signal, WaitStatus};

impl Processes for LinuxHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(io)
    }

    // The engine's and the shim's side.

    fn spawn(&self, cmd: &mut Command, fds: &[(RawFd, RawFd)], setsid: bool) -> io::Result<Child> {
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
                Ok(())
            });
        }
        cmd.spawn()
    }

    fn wait_child(&self, pid: i32) -> io::Result<WaitStatus> {
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).map_err(io)
    }

    fn set_child_subreaper(&self) -> io::Result<()> {
        // SAFETY: plain prctl on this process.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn setsid(&self) -> io::Result<()> {
        nix::unistd::setsid().map(drop).map_err(io)
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
