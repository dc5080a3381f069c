//! The fds the engine gives the shim (which its init inherits until `execve`): where they send
//! their reports, and where they wait at a `--step` pause.
//!
//! Not here: what travels on them (the runtime's `protocol`), setting them up (the engine's
//! spawn of the shim).

use std::os::fd::RawFd;

/// The fd on which the engine listens for the shim's (and the init's) reports.
pub const REPORT_FD: RawFd = 3;
/// The gate's fd in the shim (and the init): the read end of a pipe the engine writes one byte to
/// at the end of a `--step` pause.
pub const GATE_FD: RawFd = 4;
