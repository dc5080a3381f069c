//! `--step` across processes: the shim and the container's init pause after their phases too.
//!
//! The engine gives the shim a gate, the read end of a pipe on fd [`GATE_FD`], and sets [`ENV`].
//! After a phase, the shim (and the init, a `clone()` of it that shares its fds until `execve`)
//! sends [`Report::Paused`] with the spans recorded so far on the report fd and blocks until the
//! engine writes one byte: `c` to go on, anything else (or end of file) to abort. Only one of them
//! is ever paused: the shim pauses before it releases the init, and waits for the init's report
//! while the init pauses, so the two never write the report pipe at the same time.
//!
//! Not here: showing the pause to the user (the engine's [`crate::engine::step`] and the CLI).

use std::fs::File;
use std::io::Read;
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::protocol::{send, Report};
use crate::shim::REPORT_FD;
use crate::trace::recorder;

/// The gate's fd in the shim (and the init).
pub const GATE_FD: RawFd = 4;
/// Set by the engine when the shim is to pause.
pub const ENV: &str = "CTRACE_STEP";
/// What the engine writes to let a paused process go on.
pub const GO: u8 = b'c';
/// What it writes to make it abort.
pub const QUIT: u8 = b'q';

static ON: AtomicBool = AtomicBool::new(false);

/// In the shim: turns pausing on when the engine asked for it. The init inherits the setting
/// through `clone()`.
pub fn arm_from_env() {
    if std::env::var_os(ENV).is_some() {
        // The user's command must not inherit the gate.
        unsafe {
            let flags = libc::fcntl(GATE_FD, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(GATE_FD, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                ON.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// After `phase`: report it and wait for the engine. `pid` is the init's host pid when known
/// (0 otherwise). `Err` when the user quit: the caller fails the way a failed phase does.
pub fn pause(phase: &str, pid: i32) -> Result<(), String> {
    if !ON.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Borrowed, not owned: the shim's main owns these fds.
    let report = ManuallyDrop::new(unsafe { File::from_raw_fd(REPORT_FD) });
    let mut gate = ManuallyDrop::new(unsafe { File::from_raw_fd(GATE_FD) });
    let msg = Report::Paused {
        phase: phase.to_string(),
        pid,
        spans: recorder::take(),
    };
    send(&*report, &msg).map_err(|e| format!("--step: cannot report {phase}: {e}"))?;
    let mut b = [0u8; 1];
    match gate.read(&mut b) {
        Ok(1) if b[0] == GO => Ok(()),
        _ => Err(format!("aborted after {phase} (--step)")),
    }
}
