//! The restart decision: docker's restart manager (restartmanager/restartmanager.go) as a pure
//! function — the policy, the restarts so far, the last backoff and how the container exited in,
//! restart-or-not and the next backoff out.
//!
//! Backoff as docker's: 100 ms, doubled at each restart, at most one minute, back to 100 ms when
//! the container had run for 10 s or more.
//!
//! Not here: parsing `--restart` ([`super::RestartPolicy`]), recording the decision (the engine's
//! exit phases), waiting the backoff and starting again (the shim's `restart`).

use std::time::Duration;

use super::RestartPolicy;

/// The first backoff, and the one after a run of [`RESET_AFTER`] or more.
pub const FIRST_DELAY_MS: u64 = 100;
/// The longest backoff.
pub const MAX_DELAY_MS: u64 = 60_000;
/// A run at least this long resets the backoff.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// What the policy says about one exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `Some(delay_ms)`: restart after that long; `None`: stay exited.
    pub restart_after_ms: Option<u64>,
    /// The backoff to remember for the next exit.
    pub delay_ms: u64,
    /// Why, for the trace.
    pub why: String,
}

/// docker's `RestartManager.ShouldRestart`: `count` restarts so far, `prev_delay_ms` the last
/// backoff (0 = none yet), `code` the exit code, `ran_for` how long this run lasted.
pub fn decide(
    policy: &RestartPolicy,
    count: u32,
    prev_delay_ms: u64,
    manually_stopped: bool,
    code: i32,
    ran_for: Duration,
) -> Decision {
    let name = policy.name.as_str();
    let stay = |why: String| Decision {
        restart_after_ms: None,
        delay_ms: prev_delay_ms,
        why,
    };
    if !policy.restarts() {
        return stay("restart policy no: the container stays exited".into());
    }
    if manually_stopped {
        return stay(format!(
            "restart policy {name}: stopped by the user, not restarted"
        ));
    }
    let restart = match name {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            let max = policy.maximum_retry_count;
            if max > 0 && i64::from(count) >= max {
                return stay(format!(
                    "restart policy on-failure:{max}: {count} restarts done, stays exited"
                ));
            }
            code != 0
        }
        _ => false,
    };
    if !restart {
        return stay(format!("restart policy {name}: exit code 0, stays exited"));
    }
    let delay = if ran_for >= RESET_AFTER || prev_delay_ms == 0 {
        FIRST_DELAY_MS
    } else {
        (prev_delay_ms * 2).min(MAX_DELAY_MS)
    };
    let limit = match (name, policy.maximum_retry_count) {
        ("on-failure", n) if n > 0 => format!(" of {n}"),
        _ => String::new(),
    };
    Decision {
        restart_after_ms: Some(delay),
        delay_ms: delay,
        why: format!(
            "restart policy {name}: restart {}{limit} in {delay} ms",
            count + 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(s: &str) -> RestartPolicy {
        RestartPolicy::parse(s).unwrap()
    }

    #[test]
    fn on_failure_counts_and_backs_off_like_docker() {
        let p = policy("on-failure:3");
        let short = Duration::from_millis(5);
        let d1 = decide(&p, 0, 0, false, 1, short);
        assert_eq!(d1.restart_after_ms, Some(100));
        let d2 = decide(&p, 1, d1.delay_ms, false, 1, short);
        assert_eq!(d2.restart_after_ms, Some(200));
        let d3 = decide(&p, 2, d2.delay_ms, false, 1, short);
        assert_eq!(d3.restart_after_ms, Some(400));
        assert_eq!(
            decide(&p, 3, d3.delay_ms, false, 1, short).restart_after_ms,
            None
        );
        assert_eq!(decide(&p, 0, 0, false, 0, short).restart_after_ms, None);
    }

    #[test]
    fn always_restarts_until_a_user_stops_it_and_long_runs_reset_the_backoff() {
        let p = policy("always");
        assert_eq!(
            decide(&p, 9, 40_000, false, 0, Duration::ZERO).restart_after_ms,
            Some(MAX_DELAY_MS)
        );
        assert_eq!(
            decide(&p, 9, 40_000, false, 0, RESET_AFTER).restart_after_ms,
            Some(FIRST_DELAY_MS)
        );
        assert_eq!(
            decide(&p, 0, 0, true, 1, Duration::ZERO).restart_after_ms,
            None
        );
        assert_eq!(
            decide(&policy("no"), 0, 0, false, 1, Duration::ZERO).restart_after_ms,
            None
        );
    }
}
