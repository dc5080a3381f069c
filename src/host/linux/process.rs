use std::io;

use super::{io, LinuxHost};
use crate::host::process::{Processes, Signal};

impl Processes for LinuxHost {
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(io)
    }
}
