//! The simulator's clock: modelled time instead of measured time.
//!
//! Time only moves when a span closes, by that span's own time, so a span lasts its children's
//! time plus its own, exactly as a recorded one does, and no millisecond is left unaccounted for.
//! What is drawn is the span's whole duration, from the model's fit of that phase's durations:
//! the span's own time is that duration less what its children already took (at least a
//! microsecond). A phase is as slow as its children were: a parent draws at the standard score
//! its children drew at (weighted by their phases' medians), so a parent's durations follow
//! the model's for that phase, median included, and rarely fall short of their children's sum
//! (a sum of log-normals is not log-normal: adding independently drawn own times would leave a
//! parent's median below the model's). A phase drawn afresh takes, every other time, the mirror
//! image of its previous score (antithetic draws): each draw is still from the fitted
//! distribution, and over the runs of a `bench` the phase's median is the model's within a few
//! percent even for a phase whose durations spread over orders of magnitude. Spans imported from the shim or the init move the clock
//! to their end. A child process (the shim, the init) continues from the time its parent handed it
//! (`CTRACE_SIM_CLOCK`). With `--realtime` the clock also sleeps what it models, for a class that
//! wants to watch a start take as long as it would.
//!
//! Not here: the model ([`super::latency`]).

use std::sync::Mutex;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::latency::Model;
use crate::trace::clock::Clock;

/// The environment variable that hands the modelled time to a child process.
pub const CLOCK_ENV: &str = "CTRACE_SIM_CLOCK";

/// A modelled clock.
pub struct SimClock {
    model: Model,
    state: Mutex<State>,
    realtime: bool,
}

struct State {
    now: u64,
    rng: ChaCha8Rng,
    /// The spans closed and not yet claimed by a parent: their start, weight (their phase's
    /// median duration, not the drawn one, which would lean on the score) and standard score.
    closed: Vec<(u64, f64, f64)>,
    /// Per phase, the score of its last fresh draw, whose mirror image its next draw takes.
    mirror: std::collections::HashMap<String, f64>,
}

/// The least own time of a span.
const MIN_OWN_NS: u64 = 1_000;

impl SimClock {
    /// A clock at `start_ns`, drawing with a stream keyed by `seed` and this process's `role`.
    pub fn new(model: Model, start_ns: u64, seed: u64, role: &str, realtime: bool) -> SimClock {
        let mut key = seed ^ 0x5eed_c10c;
        for b in role.bytes() {
            key = key.rotate_left(5) ^ u64::from(b);
        }
        SimClock {
            model,
            state: Mutex::new(State {
                now: start_ns,
                rng: ChaCha8Rng::seed_from_u64(key),
                closed: Vec::new(),
                mirror: std::collections::HashMap::new(),
            }),
            realtime,
        }
    }
}

impl Clock for SimClock {
    fn now_unix_ns(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).now
    }

    fn close(&self, name: &str, start: u64, _measured_ns: u64) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Its children are the spans closed since it started (theirs claimed theirs already);
        // its score is theirs weighted by their phases' median durations (scaled back to unit
        // variance), so a parent is slow when its longest child was.
        let (mut sum, mut norm) = (0.0, 0.0);
        while let Some(&(s, d, z)) = st.closed.last() {
            if s < start {
                break;
            }
            st.closed.pop();
            sum += d * z;
            norm += d * d;
        }
        let z = if norm > 0.0 {
            sum / norm.sqrt()
        } else if let Some(z) = st.mirror.remove(name) {
            -z
        } else {
            let z: f64 = StandardNormal.sample(&mut st.rng);
            st.mirror.insert(name.to_string(), z);
            z
        };
        let now = st.now.max(start);
        let total = self.model.total_at(name, z);
        let own = total.saturating_sub(now - start).max(MIN_OWN_NS);
        let end = now + own;
        st.now = end;
        let weight = self.model.total_at(name, 0.0) as f64;
        st.closed.push((start, weight, z));
        // Spans nobody claims (the last of a long-lived process) are forgotten in time.
        if st.closed.len() > 4096 {
            st.closed.drain(..2048);
        }
        drop(st);
        if self.realtime {
            std::thread::sleep(Duration::from_nanos(own));
        }
        end - start
    }

    fn observed(&self, end: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.now = st.now.max(end);
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
                .map(|_| c.close("start.spec", c.now_unix_ns(), 0))
                .collect::<Vec<_>>()
        };
        assert_eq!(run("shim"), run("shim"));
        assert_ne!(run("shim"), run("init"));
    }

    #[test]
    fn a_parent_lasts_the_models_duration_in_the_median_not_the_sum_of_its_parts() {
        let m = Model::embedded();
        let c = SimClock::new(m.clone(), 0, 9, "ctrace", false);
        let kids = [
            "runtime.cgroup",
            "runtime.clone",
            "init.mounts",
            "init.pivot_root",
        ];
        let mut parents: Vec<u64> = (0..2001)
            .map(|_| {
                let start = c.now_unix_ns();
                for k in kids {
                    c.close(k, c.now_unix_ns(), 0);
                }
                c.close("runtime.shim", start, 0)
            })
            .collect();
        parents.sort_unstable();
        let (got, want) = (
            parents[1000] as f64,
            m.phases["runtime.shim"].total_median_ns(),
        );
        assert!(
            (got / want - 1.0).abs() < 0.05,
            "median {got} vs the model's {want}"
        );
        let mut leaves: Vec<u64> = (0..2001)
            .map(|_| c.close("start.mount", c.now_unix_ns(), 0))
            .collect();
        leaves.sort_unstable();
        let (got, want) = (
            leaves[1000] as f64,
            m.phases["start.mount"].total_median_ns(),
        );
        assert!(
            (got / want - 1.0).abs() < 0.05,
            "median {got} vs the model's {want}"
        );
    }
}
