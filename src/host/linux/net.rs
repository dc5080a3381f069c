use std::io;
use std::process::Command;

use super::LinuxHost;
use crate::host::net::Net;

impl Net for LinuxHost {
    fn iptables(&self, args: &[&str]) -> io::Result<()> {
        let out = Command::new("iptables")
            .arg("-w")
            .args(args)
            .output()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run iptables: {e}: install iptables"),
                )
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }
}
