//! [`LinuxHost`]: the [`Host`](super::Host) that asks the Linux kernel. One file per area, each
//! implementing that area's trait with the real syscalls.

mod cgroupfs;
mod mount;
mod net;
mod netlink;
mod ns;
mod process;

/// The real host.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxHost;

impl super::Host for LinuxHost {
    fn mode(&self) -> &'static str {
        "real"
    }
}

/// nix's errors as io's.
fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}
