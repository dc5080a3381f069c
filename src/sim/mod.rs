//! The educational simulator: the engine's own phases over a modelled host, for every student in
//! the room — no root, no Linux kernel features, same walkthrough.
//!
//! A simulated command runs the very code a real one runs (the same engine functions, shim and
//! init processes, state files, trace recorder, lessons and exporters); only the kernel's side is
//! modelled: [`host::SimHost`] implements the `Host` seam over [`model::HostModel`] (processes,
//! namespaces, mounts, cgroups, links, routes, iptables), [`clock::SimClock`] gives every span a
//! duration drawn from [`latency::Model`] (fitted on recorded traces), and the container's
//! command runs in [`shell`], a small interpreter, instead of `execve`.
//!
//! Not here: the phases (the engine's), the trace format (the recorder's), the lessons.

pub mod clock;
pub mod latency;
pub mod mode;
pub mod model;
pub mod replay;
pub mod shell;
pub mod vfs;
pub mod view;
