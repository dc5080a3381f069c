//! Where the recorder's times come from. A real run reads the wall clock (span starts, events) and
//! a monotonic clock (durations). A simulated run installs a [`Clock`] whose time is *modelled*:
//! each span's own time is drawn from a latency model fitted on recorded traces, so the same
//! phases produce a timeline with a real run's proportions without doing (or waiting for) the
//! kernel work.
//!
//! The clock is chosen once per process ([`install`]); the recorder asks it when a span opens,
//! when an event happens, and when a span closes. Spans imported from another process (the shim's,
//! the init's) move a modelled clock forward to their end ([`Clock::observed`]), so the parent's
//! time always covers its children.
//!
//! Not here: the latency model itself (the simulator's), or any rendering of times.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of span times.
pub trait Clock: Send + Sync {
    /// Now, in nanoseconds since the epoch.
    fn now_unix_ns(&self) -> u64;
    /// The span `name` that started at `start` (from [`Clock::now_unix_ns`]) and measured
    /// `measured_ns` of real time is closing: its duration.
    fn close(&self, name: &str, start: u64, measured_ns: u64) -> u64;
    /// A span that ended at `end` was recorded elsewhere: time here is at least that.
    fn observed(&self, _end: u64) {}
    /// `real` or `sim`.
    fn mode(&self) -> &'static str {
        "real"
    }
    /// Where a modelled clock's latency model comes from.
    fn model_source(&self) -> Option<String> {
        None
    }
}

/// The wall clock, and durations as measured.
#[derive(Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_unix_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }

    fn close(&self, _name: &str, _start: u64, measured_ns: u64) -> u64 {
        measured_ns
    }
}

static CLOCK: OnceLock<Box<dyn Clock>> = OnceLock::new();

/// Chooses this process's clock; before the first span. A second call is refused.
pub fn install(clock: Box<dyn Clock>) -> Result<(), &'static str> {
    CLOCK
        .set(clock)
        .map_err(|_| "the clock of this process is already chosen")
}

/// This process's clock ([`WallClock`] unless [`install`] chose another).
pub fn current() -> &'static dyn Clock {
    CLOCK.get_or_init(|| Box::new(WallClock)).as_ref()
}

/// Now by this process's clock (the modelled time in a simulation): what the engine stamps on
/// what it records (created, started, finished, log lines) and measures ages against.
pub fn now() -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_nanos(current().now_unix_ns())
}

/// [`now`] as RFC 3339 with nanoseconds.
pub fn now_rfc3339() -> String {
    crate::sys::time::rfc3339_nanos(now())
}
