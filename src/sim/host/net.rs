//! The network of the simulated host: links, addresses, routes, iptables.

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

use super::{absolute, enoent, me, text, SimHost};
use crate::host::Net;
use crate::sim::model::{HostModel, Link, Route};

/// The link `index` of network namespace `ns` (ENODEV, as netlink says, when there is none).
fn link_at(m: &mut HostModel, ns: u64, index: i32) -> io::Result<&mut Link> {
    m.links
        .iter_mut()
        .find(|l| l.netns == ns && l.index == index)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

impl Net for SimHost {
    fn iptables(&self, args: &[&str]) -> io::Result<()> {
        self.change(|m| Self::iptables_apply(m, args))
    }

    fn iptables_restore(&self, input: &str) -> io::Result<()> {
        self.change(|m| {
            // All or nothing, as iptables-restore commits a table.
            let mut scratch = m.clone();
            let mut table = "filter".to_string();
            for line in input.lines().map(str::trim) {
                if let Some(t) = line.strip_prefix('*') {
                    table = t.to_string();
                } else if line.starts_with('-') {
                    let mut args = vec!["-t", table.as_str()];
                    args.extend(line.split_whitespace());
                    Self::iptables_apply(&mut scratch, &args)?;
                }
            }
            *m = scratch;
            Ok(())
        })
    }

    fn iptables_list(&self, table: &str) -> io::Result<String> {
        let m = self.snapshot()?;
        let prefix = format!("-t {table} ");
        Ok(m.iptables
            .iter()
            .filter_map(|r| r.strip_prefix(&prefix))
            .map(|r| format!("{r}\n"))
            .collect())
    }

    fn link_index(&self, name: &str, netns: Option<&Path>) -> io::Result<i32> {
        let m = self.snapshot()?;
        let ns = Self::netns_ino(&m, netns)?;
        m.links
            .iter()
            .find(|l| l.netns == ns && l.name == name)
            .map(|l| l.index)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    fn link_add_bridge(&self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let ns = m.ns_of(pid)["net"];
            if m.link(ns, name).is_some() {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            m.add_link(name, "bridge", ns);
            if let Some(l) = m.link(ns, name) {
                l.mac = mac
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":");
            }
            Ok(())
        })
    }

    fn link_add_veth(
        &self,
        host_name: &str,
        master: i32,
        peer_name: &str,
        peer_netns: &Path,
    ) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let here = m.ns_of(pid)["net"];
            let there = m
                .netns_at(&text(&absolute(peer_netns)))
                .ok_or_else(enoent)?;
            if m.link(here, host_name).is_some() {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            let a = m.add_link(host_name, "veth", here);
            let b = m.add_link(peer_name, "veth", there);
            for l in m.links.iter_mut() {
                if l.index == a {
                    l.peer = Some(b);
                    l.master = Some(master);
                } else if l.index == b {
                    l.peer = Some(a);
                }
            }
            Ok(())
        })
    }

    fn link_set_up(&self, index: i32, netns: Option<&Path>) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let l = link_at(m, ns, index)?;
            l.up = true;
            Ok(())
        })
    }

    fn link_del(&self, index: i32) -> io::Result<()> {
        let pid = me();
        self.change(|m| {
            let ns = m.ns_of(pid)["net"];
            let peer = m
                .links
                .iter()
                .find(|l| l.netns == ns && l.index == index)
                .and_then(|l| l.peer);
            let before = m.links.len();
            m.links.retain(|l| {
                !(l.netns == ns && l.index == index) && (peer.is_none() || Some(l.index) != peer)
            });
            if m.links.len() == before {
                return Err(io::Error::from_raw_os_error(libc::ENODEV));
            }
            Ok(())
        })
    }

    fn addr_add(
        &self,
        index: i32,
        ip: Ipv4Addr,
        prefix: u8,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let l = link_at(m, ns, index)?;
            let cidr = format!("{ip}/{prefix}");
            if l.addrs.contains(&cidr) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            l.addrs.push(cidr);
            Ok(())
        })
    }

    fn route_add_default(
        &self,
        index: i32,
        gateway: Ipv4Addr,
        netns: Option<&Path>,
    ) -> io::Result<()> {
        self.change(|m| {
            let ns = Self::netns_ino(m, netns)?;
            let dev = link_at(m, ns, index)?.name.clone();
            m.routes.push(Route {
                netns: ns,
                dest: "default".into(),
                via: gateway.to_string(),
                dev,
            });
            Ok(())
        })
    }
}
