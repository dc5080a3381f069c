//! The `Host` seam: every effect that the engine, the shim and a container's init have on the
//! kernel goes through one trait, [`Host`]. [`linux::LinuxHost`] does it for real; the simulator
//! implements the same trait over a modelled host, so the phases above run unchanged and the span
//! tree comes out of the phases, never out of the host.
//!
//! The trait is the sum of small per-area traits, each in its own file: [`Mounts`] (mount, umount,
//! pivot_root), [`Namespaces`] (clone, unshare, setns, hostname), [`KernelFs`] (the files of
//! cgroupfs and `/proc/sys`), [`Net`] (netlink links, addresses, routes, network namespaces,
//! iptables) and [`Processes`] (spawn, signal, wait, exec). A method is one kernel effect with
//! plain arguments (paths, names, flags), so a model can answer it without a kernel.
//!
//! Kernel events (`kernel_event!`) are emitted by the callers, next to the call, so a simulated
//! run records the same events with the same wording as a real one.
//!
//! The host is chosen once per process, before the first effect ([`install`]); code asks for it
//! with [`current`]. A process that never installs one gets [`linux::LinuxHost`]. A process-wide
//! choice rather than a parameter threaded through every function: the shim and the init are
//! separate processes that choose the same way (from their environment) as the CLI that started
//! them, and a container operation never mixes two hosts.
//!
//! Not here: reading the machine to describe it (`/proc/self/mountinfo`, pid liveness, sizes):
//! that is [`crate::sys`]. Deciding what to mount or which namespaces to make: that is the
//! runtime, storage and network layers above, which call this seam.

use std::sync::OnceLock;

pub mod cgroupfs;
pub mod flags;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod mount;
pub mod net;
pub mod ns;
pub mod posix;
pub mod process;

pub use cgroupfs::KernelFs;
pub use mount::Mounts;
pub use net::Net;
pub use ns::Namespaces;
pub use process::Processes;

/// Everything ctrace does to the kernel.
pub trait Host: Mounts + Namespaces + KernelFs + Net + Processes + Send + Sync {
    /// `real` or `sim`, as the trace file's `mode` says.
    fn mode(&self) -> &'static str;
}

static HOST: OnceLock<Box<dyn Host>> = OnceLock::new();

/// Chooses this process's host; must come before the first [`current`]. A second call is refused
/// (the host of a process never changes).
pub fn install(host: Box<dyn Host>) -> Result<(), &'static str> {
    HOST.set(host)
        .map_err(|_| "the host of this process is already chosen")
}

/// This process's host ([`linux::LinuxHost`] unless [`install`] chose another).
#[cfg(target_os = "linux")]
pub fn current() -> &'static dyn Host {
    HOST.get_or_init(|| Box::new(linux::LinuxHost)).as_ref()
}

/// This process's host: where there is no Linux, only the simulated one, which the command line
/// installs before anything else runs.
#[cfg(not(target_os = "linux"))]
pub fn current() -> &'static dyn Host {
    HOST.get()
        .expect("no host installed: on this platform ctrace runs only the simulator")
        .as_ref()
}
