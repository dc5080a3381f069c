//! A small, synchronous rtnetlink client: just the requests the bridge driver needs (create a
//! bridge or a veth pair, set a link up, add an address or a default route, delete a link), for
//! [`LinuxHost`](super::LinuxHost)'s [`Net`](crate::host::Net) methods.
//!
//! Why not a crate: the engine is single-threaded and forks the shim, so an async netlink stack
//! (and its runtime) would cost start time for a dozen fixed-format messages. What this is not: a
//! general netlink library — no dumps, no multipart replies, IPv4 only.
//!
//! A netlink socket belongs to the network namespace it was created in, whatever namespace its
//! owner moves to later; [`Netlink::open_in`] uses that to work inside a container's namespace
//! without a thread living there.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sched::{setns, CloneFlags};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLMSG_ERROR: u16 = 2;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

const RTA_GATEWAY: u16 = 5;
const RTA_OIF: u16 = 4;

const IFF_UP: u32 = 0x1;

/// An rtnetlink socket in the network namespace it was opened in.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

/// A message under construction: header, fixed part, attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(typ: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&typ.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(fixed);
        Msg { buf }
    }

    fn attr(&mut self, typ: u16, data: &[u8]) -> &mut Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&typ.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.align();
        self
    }

    fn name(&mut self, typ: u16, name: &str) -> &mut Msg {
        let mut b = name.as_bytes().to_vec();
        b.push(0);
        self.attr(typ, &b)
    }

    /// Opens a nested attribute; close it with [`Msg::end`].
    fn begin(&mut self, typ: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(typ | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.align();
    }

    fn align(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }
}

/// `struct ifinfomsg`.
fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = libc::AF_UNSPEC as u8;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

impl Netlink {
    /// Opens an rtnetlink socket in the current network namespace.
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the fd is owned right after.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2).
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { fd, seq: 0 })
    }

    /// Opens an rtnetlink socket in the network namespace bound at `netns` (`None`: the current
    /// one): the thread steps in for the `socket(2)` and back out at once.
    pub fn open_in(netns: Option<&Path>) -> io::Result<Netlink> {
        let Some(path) = netns else {
            return Netlink::open();
        };
        let target = File::open(path)?;
        let home = File::open("/proc/thread-self/ns/net")?;
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET)?;
        let nl = Netlink::open();
        setns(home.as_fd(), CloneFlags::CLONE_NEWNET)?;
        nl
    }

    /// Sends `msg` and waits for its reply; returns the reply's payload when it is not a bare ack.
    fn call(&mut self, mut msg: Msg) -> io::Result<Vec<u8>> {
        self.seq += 1;
        let len = msg.buf.len() as u32;
        msg.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        msg.buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: zeroed sockaddr_nl is valid; pid 0 = the kernel.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: buffer and address outlive the call.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.buf.as_ptr().cast(),
                msg.buf.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = Vec::new();
        let mut buf = vec![0u8; 16384];
        loop {
            // SAFETY: reading into a buffer we own.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut data = &buf[..n as usize];
            while data.len() >= 16 {
                let mlen = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                let typ = u16::from_ne_bytes(data[4..6].try_into().unwrap());
                let seq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                if mlen < 16 || mlen > data.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink reply",
                    ));
                }
                if seq == self.seq {
                    if typ == NLMSG_ERROR {
                        let code = i32::from_ne_bytes(data[16..20].try_into().unwrap());
                        return if code == 0 {
                            Ok(reply)
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    reply = data[16..mlen].to_vec();
                }
                data = &data[(mlen + 3) & !3..];
            }
        }
    }

    /// The index of link `name` in this socket's namespace.
    pub fn index(&mut self, name: &str) -> io::Result<i32> {
        let mut m = Msg::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0));
        m.name(IFLA_IFNAME, name);
        let reply = self.call(m)?;
        if reply.len() < 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "short RTM_NEWLINK reply",
            ));
        }
        Ok(i32::from_ne_bytes(reply[4..8].try_into().unwrap()))
    }

    /// `ip link add NAME type bridge` (with a fixed MAC, so the bridge does not change address as
    /// ports come and go).
    pub fn add_bridge(&mut self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0, 0, 0));
        m.name(IFLA_IFNAME, name);
        m.attr(IFLA_ADDRESS, &mac);
        let info = m.begin(IFLA_LINKINFO);
        m.name(IFLA_INFO_KIND, "bridge");
        m.end(info);
        self.call(m).map(drop)
    }

    /// `ip link add HOST master BRIDGE type veth peer name PEER netns FD`: the peer is born
    /// inside the container's namespace, so it never needs moving or renaming.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: i32,
        peer: &str,
        peer_netns: RawFd,
    ) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0, 0, 0));
        m.name(IFLA_IFNAME, host);
        m.attr(IFLA_MASTER, &(master as u32).to_ne_bytes());
        let info = m.begin(IFLA_LINKINFO);
        m.name(IFLA_INFO_KIND, "veth");
        let data = m.begin(IFLA_INFO_DATA);
        let p = m.begin(VETH_INFO_PEER);
        m.raw(&ifinfomsg(0, 0, 0));
        m.name(IFLA_IFNAME, peer);
        m.attr(IFLA_NET_NS_FD, &(peer_netns as u32).to_ne_bytes());
        m.end(p);
        m.end(data);
        m.end(info);
        self.call(m).map(drop)
    }

    /// `ip link set dev INDEX up`.
    pub fn set_up(&mut self, index: i32) -> io::Result<()> {
        let m = Msg::new(RTM_NEWLINK, 0, &ifinfomsg(index, IFF_UP, IFF_UP));
        self.call(m).map(drop)
    }

    /// `ip link del INDEX`.
    pub fn delete(&mut self, index: i32) -> io::Result<()> {
        let m = Msg::new(RTM_DELLINK, 0, &ifinfomsg(index, 0, 0));
        self.call(m).map(drop)
    }

    /// `ip addr add IP/PREFIX brd + dev INDEX`.
    pub fn add_address(&mut self, index: i32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut fixed = [0u8; 8];
        fixed[0] = libc::AF_INET as u8;
        fixed[1] = prefix;
        fixed[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &fixed);
        let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        let brd = Ipv4Addr::from(u32::from(ip) | host_bits);
        m.attr(IFA_LOCAL, &ip.octets());
        m.attr(IFA_ADDRESS, &ip.octets());
        m.attr(IFA_BROADCAST, &brd.octets());
        self.call(m).map(drop)
    }

    /// `ip route add default via GATEWAY dev INDEX`.
    pub fn add_default_route(&mut self, index: i32, gateway: Ipv4Addr) -> io::Result<()> {
        let fixed = [
            libc::AF_INET as u8,
            0,                   // dst_len: default
            0,                   // src_len
            0,                   // tos
            libc::RT_TABLE_MAIN, // table
            libc::RTPROT_BOOT,   // protocol
            libc::RT_SCOPE_UNIVERSE,
            libc::RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &fixed);
        m.attr(RTA_GATEWAY, &gateway.octets());
        m.attr(RTA_OIF, &(index as u32).to_ne_bytes());
        self.call(m).map(drop)
    }
}
