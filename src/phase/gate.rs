//! `--step` across processes: the shim and the container's init pause after their phases too.
//!
//! The engine gives the shim a gate, the read end of a pipe on fd [`GATE_FD`], and sets [`ENV`].
//! After a phase, the shim (and the init, a `clone()` of it that shares its fds until `execve`)
//! sends the protocol's `Report::Paused` with the spans recorded so far on the report fd and blocks until the
//! engine writes one byte: `c` to go on, anything else (or end of file) to abort. Only one of them
//! is ever paused: the shim pauses before it releases the init, and waits for the init's report
//! while the init pauses, so the two never write the report pipe at the same time.
//!
//! Not here: showing the pause to the user (the engine's process: [`super::step`] and the CLI);
//! the other reports on the same pipe (the runtime's `protocol`, whose `Report::Paused` this
//! module writes).

use std::fs::File;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

pub use super::fds::{GATE_FD, REPORT_FD};
use crate::trace::format::SpanRecord;
use crate::trace::recorder;

/// The runtime protocol's `Report::Paused`, as it goes on the wire (one JSON line).
#[derive(Serialize)]
#[serde(tag = "type", rename = "paused")]
struct Paused<'a> {
    phase: &'a str,
    pid: i32,
    spans: Vec<SpanRecord>,
}

impl Paused<'_> {
    fn line(&self) -> std::io::Result<Vec<u8>> {
        let mut line = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        line.push(b'\n');
        Ok(line)
    }
}
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
    let mut report = ManuallyDrop::new(unsafe { File::from_raw_fd(REPORT_FD) });
    let mut gate = ManuallyDrop::new(unsafe { File::from_raw_fd(GATE_FD) });
    let msg = Paused {
        phase,
        pid,
        spans: recorder::take(),
    };
    // One write, so the engine never reads half a line.
    msg.line()
        .and_then(|l| report.write_all(&l))
        .map_err(|e| format!("--step: cannot report {phase}: {e}"))?;
    let mut b = [0u8; 1];
    match gate.read(&mut b) {
        Ok(1) if b[0] == GO => Ok(()),
        _ => Err(format!("aborted after {phase} (--step)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_report_is_one_json_line_tagged_paused() {
        let line = Paused {
            phase: "runtime.clone",
            pid: 42,
            spans: Vec::new(),
        }
        .line()
        .unwrap();
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["type"], "paused");
        assert_eq!(v["phase"], "runtime.clone");
        assert_eq!(v["pid"], 42);
        assert!(v["spans"].as_array().unwrap().is_empty());
    }
}
