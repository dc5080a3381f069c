//! Which network namespace a container's init gets: decided by `crate::network` at
//! `start.network.init`, written into the OCI spec by `crate::runtime::spec`. Plain data.
//!
//! Not here: creating or joining a namespace (`crate::network::netns`, the init).

use std::path::PathBuf;

/// Which network namespace the container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkNs {
    /// A fresh, empty one (`--network none`, and bridge before the veth is attached).
    New,
    /// The host's: no network namespace in the spec at all.
    Host,
    /// Join an existing one (a bind-mounted netns, or another container's); the caller must
    /// have joined it before the init's setup (see `rootfs::prepare`).
    Path(PathBuf),
}
