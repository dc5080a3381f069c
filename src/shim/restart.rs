//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`): docker's restart
//! manager (restartmanager/restartmanager.go) without a daemon.
//!
//! Who restarts: the shim, the one process sure to be alive when the container exits. The exit
//! phases decide ([`decide`], in `exit.state`): the container becomes `restarting`, with its
//! restart count and backoff in `state.json`. After the exit trace is written, this shim waits the
//! backoff and starts the container again through the engine's ordinary start path
//! ([`crate::engine::start::start_by_policy`]), which spawns a *new* shim for the new process and
//! records a `start` trace like any start; then this shim exits. So each restart is one start
//! trace, one exit trace, one shim: nothing lives longer than the process it watches.
//!
//! A user's `stop`, `kill` or `rm -f` sets `manually_stopped` (docker's
//! `HasBeenManuallyStopped`) and, while the container waits in `restarting`, ends the waiting
//! shim and records `exited`; the start re-checks the state under the container lock, so a stop
//! racing the end of the backoff wins either way.
//!
//! Backoff as docker's: 100 ms, doubled at each restart, at most one minute, back to 100 ms when
//! the container had run for 10 s or more.

use std::time::Duration;

use crate::engine::Engine;
use crate::state::{ContainerConfig, RestartPolicy, Status};
use crate::trace::{self, recorder};

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

/// After the exit phases: when they left the container `restarting` for this shim, waits the
/// backoff and starts it again (a new shim), recording that start as its own trace.
/// `attached`: a CLI waits for this shim to end, so the waiting goes on in a child process.
pub fn after_exit(engine: &Engine, cfg: &ContainerConfig, attached: bool) {
    let Ok(st) = engine.store.load_state(&cfg.id) else {
        return;
    };
    if st.status != Status::Restarting || st.manually_stopped {
        return;
    }
    if attached && !detach(engine, &cfg.id) {
        return;
    }
    std::thread::sleep(Duration::from_millis(st.restart_delay_ms));
    recorder::restart(None);
    // A failed start is recorded in the container's state (exited, with the error) and in the
    // trace; the new shim, when there is one, goes on alone.
    let _ = crate::engine::start::start_by_policy(engine, &cfg.id);
    let spans = recorder::take();
    if !spans.is_empty() && crate::cli::recording_enabled() {
        let file = crate::engine::trace_file(
            "start",
            Some(cfg),
            vec!["(restart policy)".into()],
            recorder::trace_id(),
            spans,
        );
        let _ = trace::store::write(&engine.paths.traces(), &file);
    }
}

/// Forks: the parent returns false (and ends, so the attached CLI sees its shim finish); the
/// child, on /dev/null, records itself as the shim to stop while the container is restarting.
/// The parent waits for that record, so no one sees a `restarting` container whose recorded
/// shim is gone (which [`Engine::reconcile`] would take for a dead shim).
fn detach(engine: &Engine, id: &str) -> bool {
    use std::io::{Read, Write};
    let Ok((r, w)) = nix::unistd::pipe() else {
        return false;
    };
    // SAFETY: the shim is single-threaded.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(r);
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                use std::os::fd::AsRawFd;
                for fd in 0..=2 {
                    // SAFETY: plain syscall on fds this process owns.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
            // SAFETY: the report fd's reader is gone; nothing else uses it.
            unsafe { libc::close(super::REPORT_FD) };
            let _ = nix::unistd::setsid();
            if let Ok(_lock) = engine.store.lock(id) {
                if let Ok(mut st) = engine.store.load_state(id) {
                    if st.status == Status::Restarting {
                        st.shim_pid = std::process::id() as i32;
                        let _ = engine.store.save_state(id, &st);
                    }
                }
            }
            let _ = std::fs::File::from(w).write_all(b"1");
            true
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(w);
            let _ = std::fs::File::from(r).read(&mut [0u8; 1]);
            false
        }
        Err(_) => false,
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
