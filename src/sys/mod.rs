//! The bottom layer: small, dependency-free helpers that every other layer shares — the one
//! mountinfo parser, the one `flock`, the one crash-safe file writer, the one meaning of "this
//! process is alive", docker's size and time formats, exit codes and the host's architecture name.
//!
//! Each helper exists once, here; a second copy elsewhere is a defect. Everything in this module
//! imports only `std` and a few crates, never another ctrace module.
//!
//! Not here: anything that changes the host on behalf of a container (mounts, namespaces,
//! cgroups, network devices, processes): that is the [`crate::host`] seam, so the simulator can
//! model it. Reading `/proc` to look at the machine is fine here; writing to it is not.

pub mod arch;
pub mod atomic;
pub mod capability;
pub mod exit;
pub mod filters;
pub mod flock;
pub mod memory;
pub mod mountinfo;
pub mod pipe;
pub mod process;
#[cfg(test)]
mod props;
pub mod random;
pub mod size;
pub mod time;
