//! The network side of the host: links (bridge, veth), addresses and routes over netlink, and
//! iptables rules. A link is named by its index in the namespace it lives in; `netns` is the path
//! of a bound network namespace (`None`: the caller's own).
//!
//! Not here: making a network namespace (that is `Namespaces::unshare` plus a `Mounts::mount` of
//! its nsfs file, composed by `crate::network::netns`), or choosing names, addresses and rules
//! (`crate::network`).

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

/// The network side of the host.
pub trait Net {
    /// Runs `iptables -w ARGS…`; the error carries iptables' stderr.
    fn iptables(&self, args: &[&str]) -> io::Result<()>;

    /// Feeds `input` to `iptables-restore -w --noflush`: one transaction, all rules or none.
    fn iptables_restore(&self, input: &str) -> io::Result<()>;

    /// `iptables -w -t TABLE -S`: the table's rules, one per line.
    fn iptables_list(&self, table: &str) -> io::Result<String>;

    /// The index of link `name` (`ip link show NAME`).
    fn link_index(&self, name: &str, netns: Option<&Path>) -> io::Result<i32>;

    /// `ip link add NAME address MAC type bridge` in the caller's namespace.
    fn link_add_bridge(&self, name: &str, mac: [u8; 6]) -> io::Result<()>;

    /// `ip link add HOST master MASTER type veth peer name PEER netns PEER_NETNS`: the peer is
    /// born inside `peer_netns`, so it never needs moving or renaming.
    fn link_add_veth(
        &self,
        host_name: &str,
        master: i32,
        peer_name: &str,
        peer_netns: &Path,
    ) -> io::Result<()>;

    /// `ip link set dev INDEX up`.
    fn link_set_up(&self, index: i32, netns: Option<&Path>) -> io::Result<()>;

    /// `ip link del INDEX` in the caller's namespace.
    fn link_del(&self, index: i32) -> io::Result<()>;

    /// `ip addr add IP/PREFIX brd + dev INDEX`.
    fn addr_add(
        &self,
        index: i32,
        ip: Ipv4Addr,
        prefix: u8,
        netns: Option<&Path>,
    ) -> io::Result<()>;

    /// `ip route add default via GATEWAY dev INDEX`.
    fn route_add_default(
        &self,
        index: i32,
        gateway: Ipv4Addr,
        netns: Option<&Path>,
    ) -> io::Result<()>;
}
