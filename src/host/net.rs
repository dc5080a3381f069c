//! The network side of the host: network namespaces, links (bridge, veth), addresses and routes
//! over netlink, and iptables rules.

use std::io;

/// The network side of the host.
pub trait Net {
    /// Runs `iptables -w ARGS…`; the error carries iptables' stderr.
    fn iptables(&self, args: &[&str]) -> io::Result<()>;
}
