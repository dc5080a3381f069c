//! What the shim tells the engine, and what the init tells the shim.
//!
//! Both channels carry one JSON object per line. The shim's report pipe is fd 3 of the shim; the
//! init talks to the shim over a socketpair whose init end is close-on-exec, so a successful
//! `execve` is seen by the shim as end-of-file — the same trick runc uses to know exec happened.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::trace::format::SpanRecord;

/// Tells the shim when the engine spawned it (nanoseconds since the epoch, by the trace's clock),
/// so the shim's first span, `runtime.shim.start`, covers its exec too.
pub const SHIM_SPAWNED_ENV: &str = "CTRACE_SHIM_SPAWNED_NS";

/// Shim → engine.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Report {
    /// The init exists, in its namespaces and cgroup, blocked on the exec fifo.
    Created { pid: i32, spans: Vec<SpanRecord> },
    /// Creating the container failed; the shim has undone what it did and exits.
    Failed {
        code: i32,
        message: String,
        spans: Vec<SpanRecord>,
    },
    /// The init has exec'd the user's command.
    Started { spans: Vec<SpanRecord> },
    /// `execve` itself failed (after the fifo was released).
    ExecFailed { code: i32, message: String },
    /// `--step`: a phase of the shim or the init is done; it waits on the gate
    /// (`crate::phase::gate`). `pid` is the init's host pid once it exists, else 0.
    Paused {
        phase: String,
        pid: i32,
        spans: Vec<SpanRecord>,
    },
    /// The container's process exited and the exit phases ran.
    Exited {
        code: i32,
        oom_killed: bool,
        spans: Vec<SpanRecord>,
    },
}

/// Init → shim.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InitMsg {
    Ready {
        spans: Vec<SpanRecord>,
    },
    Failed {
        code: i32,
        message: String,
        spans: Vec<SpanRecord>,
    },
    ExecFailed {
        code: i32,
        message: String,
    },
}

/// Writes one message as a line, in one `write` so a reader never sees half of it.
pub fn send<T: Serialize>(mut w: impl Write, msg: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)
}

/// Reads one message; `Ok(None)` at end of file.
pub fn recv<T: for<'de> Deserialize<'de>>(r: &mut impl BufRead) -> io::Result<Option<T>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
