//! The runtime: turning an OCI bundle into a process in its own namespaces and cgroup.
//!
//! Two runtimes run the same bundle (`<exec-root>/<id>/config.json` + `rootfs/`):
//!
//! - **embedded** — ctrace itself: the shim `clone()`s an init ([`init`]) that sets up the
//!   filesystem ([`rootfs`]) and the process ([`process`]) from the spec, then waits on the exec
//!   fifo until `start` releases it;
//! - **runc** — the external OCI CLI ([`runc`]): `runc create` / `runc start` / `runc delete`.
//!
//! [`spec`] builds the config both read (docker's `createSpec`), [`cgroups`] owns cgroup v1/v2.
//! The files only call each other downwards: `spec` needs nothing of the others but
//! [`rootfs::secure_join()`]; `process` reads the spec; `rootfs` uses both; `init` runs them all.
//!
//! Every effect on the kernel — mounts, `pivot_root`, device nodes, namespaces, hostname,
//! cgroupfs and `/proc/sys` writes, fork, exec, wait, the process's ids, capabilities and
//! rlimits — goes through [`crate::host::current`]; the `tracing` events that record them are
//! made here, beside each call, so a simulated host records the same ones.
//!
//! Not here: deciding *when* to create or start (the engine), or keeping the container's stdio
//! and exit code (the shim); the syscalls themselves (the host's `LinuxHost`).

pub mod cgroups;
pub mod console;
pub mod exec;
pub mod init;
pub mod init_error;
pub mod process;
pub mod protocol;
pub mod rootfs;
pub mod runc;
pub mod seccomp;
pub mod spec;

pub use init_error::InitError;

/// Which runtime runs a container: the state's plain data, stored in a container's config.
pub use crate::state::container::Runtime as Kind;
