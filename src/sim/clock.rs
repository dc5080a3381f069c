//! The simulator's clock: modelled time instead of measured time.
//!
//! Time only moves when a span closes: its own time is drawn from the latency model and added to
//! the clock, so a span lasts its children's time plus its own, exactly as a recorded one does, and
//! no millisecond is left unaccounted for. Spans imported from the shim or the init move the clock
//! to their end. A child process (the shim, the init) continues from the time its parent handed it
//! (`CTRACE_SIM_CLOCK`). With `--realtime` the clock also sleeps what it models, for a class that
//! wants to watch a start take as long as it would.
//!
//! Not here: the model ([`super::latency`]).

use std::sync::Mutex;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::latency::Model;
use crate::trace::clock::Clock;

/// The environment variable that hands the modelled time to a child process.
pub const CLOCK_ENV: &str = "CTRACE_SIM_CLOCK";

/// A modelled clock.
pub struct SimClock {
    model: Model,
    state: Mutex<(u64, ChaCha8Rng)>,
    realtime: bool,
}

impl SimClock {
    /// A clock at `start_ns`, drawing with a stream keyed by `seed` and this process's `role`.
    pub fn new(model: Model, start_ns: u64, seed: u64, role: &str, realtime: bool) -> SimClock {
        let mut key = seed ^ 0x5eed_c10c;
        for b in role.bytes() {
            key = key.rotate_left(5) ^ u64::from(b);
        }
        SimClock {
            model,
            state: Mutex::new((start_ns, ChaCha8Rng::seed_from_u64(key))),
            realtime,
        }
    }
}

impl Clock for SimClock {
    fn now_unix_ns(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn close(&self, name: &str, start: u64, _measured_ns: u64) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let own = self.model.sample(name, &mut st.1);
        let end = st.0.max(start) + own;
        st.0 = end;
        drop(st);
        if self.realtime {
            std::thread::sleep(Duration::from_nanos(own));
        }
        end - start
    }

    fn observed(&self, end: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.max(end);
    }

    fn mode(&self) -> &'static str {
        "sim"
    }

    fn model_source(&self) -> Option<String> {
        Some(self.model.source.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_only_when_a_span_closes_and_a_parent_covers_its_children() {
        let c = SimClock::new(Model::embedded(), 1_000, 3, "ctrace", false);
        let parent_start = c.now_unix_ns();
        let child_start = c.now_unix_ns();
        assert_eq!(child_start, 1_000);
        let child = c.close("start.mount", child_start, 0);
        assert!(child > 0);
        let parent = c.close("start", parent_start, 0);
        assert!(
            parent > child,
            "the parent lasts its child's time plus its own"
        );
        c.observed(1_000_000_000_000);
        assert_eq!(c.now_unix_ns(), 1_000_000_000_000);
    }

    #[test]
    fn the_same_seed_and_role_give_the_same_times() {
        let run = |role| {
            let c = SimClock::new(Model::embedded(), 0, 42, role, false);
            (0..4)
                .map(|_| c.close("start.spec", 0, 0))
                .collect::<Vec<_>>()
        };
        assert_eq!(run("shim"), run("shim"));
        assert_ne!(run("shim"), run("init"));
    }
}
