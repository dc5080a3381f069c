use std::fs::File;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

use super::netlink::Netlink;
use super::LinuxHost;
use crate::host::net::Net;

/// An error of a program that ran and failed: its stderr.
fn failed(stderr: &[u8]) -> io::Error {
    io::Error::other(String::from_utf8_lossy(stderr).trim().to_string())
}

fn iptables_output(args: &[&str]) -> io::Result<std::process::Output> {
    Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run iptables: {e}: install iptables"),
            )
        })
}

impl Net for LinuxHost {
    fn iptables(&self, args: &[&str]) -> io::Result<()> {
        let out = iptables_output(args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failed(&out.stderr))
        }
    }

    fn iptables_restore(&self, input: &str) -> io::Result<()> {
        let mut child = Command::new("iptables-restore")
            .args(["-w", "--noflush"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot run it: {e}: install iptables"))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failed(&out.stderr))
        }
    }

    fn iptables_list(&self, table: &str) -> io::Result<String> {
        let out = iptables_output(&["-t", table, "-S"])?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(failed(&out.stderr))
        }
    }

    fn link_index(&self, name: &str, netns: Option<&Path>) -> io::Result<i32> {
        Netlink::open_in(netns)?.index(name)
    }

    fn link_add_bridge(&self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        Netlink::open()?.add_bridge(name, mac)
    }

    fn link_add_veth(
        &self,
        host_name: &str,
        master: i32,
        peer_name: &str,
        peer_netns: &Path,
    ) -> io::Result<()> {
        let ns = File::open(peer_netns)?;
        Netlink::open()?.add_veth(host_name, master, peer_name, ns.as_raw_fd())
    }

    fn link_set_up(&self, index: i32, netns: Option<&Path>) -> io::Result<()> {
        Netlink::open_in(netns)?.set_up(index)
    }

    fn link_del(&self, index: i32) -> io::Result<()> {
        Netlink::open()?.delete(index)
    }

    fn addr_add(
        &self,
        index: i32,
        ip: Ipv4Addr,
        prefix: u8,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        Netlink::open_in(netns)?.add_address(index, ip, prefix)
    }

    fn route_add_default(
        &self,
        index: i32,
        gateway: Ipv4Addr,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        Netlink::open_in(netns)?.add_default_route(index, gateway)
    }
}
