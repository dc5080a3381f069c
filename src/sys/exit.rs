//! The exit codes ctrace shares with docker and a shell. One place, so no bare `125` elsewhere.

/// The engine failed (docker run exits 125 when the daemon fails).
pub const ENGINE: i32 = 125;
/// The command was found but could not be executed (permission, not a binary).
pub const CANNOT_EXEC: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;
/// The user stopped the operation at a `--step` pause (128 + SIGINT, what a shell reports for
/// Ctrl-C): nothing failed, the user asked to stop.
pub const ABORTED: i32 = 130;
/// The container was killed with SIGKILL (128 + 9), e.g. by the OOM killer.
pub const KILLED: i32 = 137;
/// The real exit code was lost with the shim (docker uses 255 for an exit it could not collect).
pub const LOST: i32 = 255;

/// The exit code a shell reports for a process ended by `signal`.
pub fn of_signal(signal: i32) -> i32 {
    128 + signal
}
