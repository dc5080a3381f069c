//! `stop`: ask a running container to exit, then insist — docker's `ContainerStop`
//! (daemon/stop.go), seed 003. The image's StopSignal (SIGTERM by default) goes to the init, the
//! shim is given `timeout` to see the exit and run the exit phases, and SIGKILL follows if it is
//! not done by then. This module does not clean up: the shim's exit phases do, as for any exit.
//! `kill` lives here too: the same signal, without the grace period and the wait.

use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::state::{events, ContainerConfig, ContainerState, Status};
use crate::{kernel_event, phase_span, trace};

use super::operation::{find, operation};
use super::phase;
use super::{Engine, EngineError};

/// The grace `stop` gives `query`'s container: what was asked, else its `--stop-timeout`, else
/// docker's 10 s (also when the container cannot be found: `stop` reports that).
pub fn grace(engine: &Engine, query: &str, asked: Option<Duration>) -> Duration {
    asked.unwrap_or_else(|| {
        let own = engine
            .store
            .lookup(query)
            .and_then(|id| engine.store.load_config(&id))
            .ok()
            .and_then(|c| c.config.stop_timeout);
        Duration::from_secs(own.map_or(10, |s| s.max(0) as u64))
    })
}

/// Stops the container `query` names: its StopSignal, up to `timeout` of grace, then SIGKILL.
/// A container that is not running is left as it is, as `docker stop` does.
pub fn stop(engine: &Engine, query: &str, timeout: Duration) -> Result<(), EngineError> {
    let span = phase_span!(
        "stop",
        query = query,
        timeout_s = timeout.as_secs(),
        container.id = tracing::field::Empty
    );
    operation(&span, || stop_phases(engine, query, timeout, &span))
}

fn stop_phases(
    engine: &Engine,
    query: &str,
    timeout: Duration,
    root: &tracing::Span,
) -> Result<(), EngineError> {
    let cfg = phase(phase_span!("stop.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        let reconciled = engine.reconcile(&cfg.id)?;
        trace::note(
            span,
            format!(
                "{} ({}){}",
                &cfg.id[..12],
                cfg.name,
                if reconciled {
                    ": its shim was gone, exit recorded"
                } else {
                    ""
                }
            ),
        );
        Ok(cfg)
    })?;
    let Some(st) = signal(engine, &cfg)? else {
        return Ok(());
    };

    let exited = phase(
        phase_span!("stop.wait", timeout_s = timeout.as_secs()),
        |span| {
            let t0 = Instant::now();
            let exited = wait_for_exit(st.shim_pid, st.pid, timeout);
            trace::note(
                span,
                if exited {
                    format!("exited after {} ms", t0.elapsed().as_millis())
                } else {
                    format!("still running after {} s", timeout.as_secs())
                },
            );
            Ok(exited)
        },
    )?;

    kill_unless_exited(engine, &cfg, &st, exited)
}

/// `stop.signal`: the container's stop signal to its init; `None` when there is nothing to stop.
fn signal(engine: &Engine, cfg: &ContainerConfig) -> Result<Option<ContainerState>, EngineError> {
    phase(phase_span!("stop.signal"), |span| {
        if let Some(note) = mark_manually_stopped(engine, &cfg.id)? {
            let _ = events::container(
                &engine.paths.events(),
                "stop",
                &cfg.id,
                &[("name", &cfg.name), ("image", &cfg.config.image)],
            );
            trace::note(span, note);
            return Ok(None);
        }
        let st = engine.store.load_state(&cfg.id)?;
        let running = matches!(
            st.status,
            Status::Running | Status::Paused | Status::Restarting
        ) && crate::host::current().alive(st.pid);
        if !running {
            trace::note(span, format!("{}: not running, nothing to stop", st.status));
            return Ok(None);
        }
        let name = if cfg.config.stop_signal.is_empty() {
            "SIGTERM"
        } else {
            cfg.config.stop_signal.as_str()
        };
        let sig = parse_signal(name).unwrap_or(Signal::SIGTERM);
        let _ = crate::host::current().kill(st.pid, sig);
        kernel_event!(pid = st.pid, signal = %sig, "kill");
        // A frozen process cannot act on the signal: thaw it, as docker does after signalling.
        if st.status == Status::Paused {
            if let Ok(h) = Hierarchy::detect() {
                let _ = Cgroup::open(&h, &st.cgroup).thaw();
                kernel_event!(cgroup = %st.cgroup, "thaw");
            }
        }
        let _ = events::container(
            &engine.paths.events(),
            "kill",
            &cfg.id,
            &[
                ("name", &cfg.name),
                ("image", &cfg.config.image),
                ("signal", &(sig as i32).to_string()),
            ],
        );
        trace::note(span, format!("{sig} to pid {}", st.pid));
        Ok(Some(st))
    })
}

/// `stop.kill`: SIGKILL when the grace period ran out; the exit phases when no shim ran them.
fn kill_unless_exited(
    engine: &Engine,
    cfg: &ContainerConfig,
    st: &ContainerState,
    exited: bool,
) -> Result<(), EngineError> {
    phase(phase_span!("stop.kill"), |span| {
        if exited {
            trace::note(span, "not needed: the container exited in time");
        } else {
            let _ = crate::host::current().kill(st.pid, Signal::SIGKILL);
            kernel_event!(pid = st.pid, "kill(SIGKILL)");
            if !wait_for_exit(st.shim_pid, st.pid, Duration::from_secs(10)) {
                return Err(EngineError::Conflict(format!(
                    "cannot stop container {}: it did not exit after SIGKILL: see its shim (pid {})",
                    cfg.name, st.shim_pid
                )));
            }
            trace::note(span, format!("SIGKILL pid {}; shim finished", st.pid));
        }
        // Without its shim (killed), nobody ran the exit phases: run them now.
        engine.reconcile(&cfg.id)?;
        let _ = events::container(
            &engine.paths.events(),
            "stop",
            &cfg.id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
        Ok(())
    })
}

/// Records that a user stopped the container, so its restart policy leaves it alone (docker's
/// `HasBeenManuallyStopped`). A container waiting in `restarting` has no process to signal: its
/// waiting shim is ended and it becomes `exited` now; the note saying so is returned.
pub(crate) fn mark_manually_stopped(
    engine: &Engine,
    id: &str,
) -> Result<Option<String>, EngineError> {
    let _lock = engine.store.lock(id)?;
    let mut st = engine.store.load_state(id)?;
    st.manually_stopped = true;
    let mut note = None;
    if st.status == Status::Restarting && !crate::host::current().alive(st.pid) {
        if crate::host::current().alive(st.shim_pid) {
            // The shim only sleeps before its next start and holds nothing.
            let _ = crate::host::current().kill(st.shim_pid, Signal::SIGKILL);
            kernel_event!(pid = st.shim_pid, "kill(SIGKILL) the waiting shim");
        }
        st.status = Status::Exited;
        st.shim_pid = 0;
        note = Some(format!(
            "restarting → exited ({}): the pending restart is cancelled",
            st.exit_code
        ));
    }
    engine.store.save_state(id, &st)?;
    Ok(note)
}

/// `SIGTERM`, `TERM` or `15`.
pub fn parse_signal(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&full).ok()
}

/// Waits until the shim has run the exit phases and exited (a zombie counts), at most `timeout`;
/// true when it did. Without a shim, waits for the init itself.
fn wait_for_exit(shim: i32, init: i32, timeout: Duration) -> bool {
    // A shim that is gone already (killed) cannot tell us anything: watch the init instead.
    if crate::host::current().alive(shim) {
        crate::host::current().wait_gone(shim, timeout)
    } else {
        crate::host::current().wait_gone(init, timeout)
    }
}

/// `kill [-s SIG]`: sends `signal` to the container's init — docker's `ContainerKill`
/// (daemon/kill.go). Refused, with nothing sent, when the container is not running.
pub fn kill(engine: &Engine, query: &str, signal: Signal) -> Result<(), EngineError> {
    let span = phase_span!(
        "kill",
        query = query,
        signal = %signal,
        container.id = tracing::field::Empty
    );
    operation(&span, || kill_phases(engine, query, signal, &span))
}

fn kill_phases(
    engine: &Engine,
    query: &str,
    signal: Signal,
    root: &tracing::Span,
) -> Result<(), EngineError> {
    let cfg = phase(phase_span!("kill.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        trace::note(span, format!("{} ({})", &cfg.id[..12], cfg.name));
        Ok(cfg)
    })?;
    phase(phase_span!("kill.signal"), |span| {
        let st = engine.store.load_state(&cfg.id)?;
        if st.status == Status::Restarting && !crate::host::current().alive(st.pid) {
            mark_manually_stopped(engine, &cfg.id)?;
            trace::note(span, "restarting: the pending restart is cancelled");
            return Ok(());
        }
        let running = matches!(
            st.status,
            Status::Running | Status::Paused | Status::Restarting
        ) && crate::host::current().alive(st.pid);
        if !running {
            return Err(EngineError::Conflict(format!(
                "cannot kill container: {}: container {} is not running",
                cfg.name,
                &cfg.id[..12]
            )));
        }
        mark_manually_stopped(engine, &cfg.id)?;
        let _ = crate::host::current().kill(st.pid, signal);
        kernel_event!(pid = st.pid, signal = %signal, "kill");
        // A frozen process cannot die: for SIGKILL or its stop signal docker resumes a paused
        // container after signalling it (other signals wait for the unpause).
        let stop_signal = parse_signal(if cfg.config.stop_signal.is_empty() {
            "SIGTERM"
        } else {
            &cfg.config.stop_signal
        });
        if st.status == Status::Paused && (signal == Signal::SIGKILL || Some(signal) == stop_signal)
        {
            if let Ok(h) = Hierarchy::detect() {
                let _ = Cgroup::open(&h, &st.cgroup).thaw();
                kernel_event!(cgroup = %st.cgroup, "thaw");
            }
        }
        let _ = events::container(
            &engine.paths.events(),
            "kill",
            &cfg.id,
            &[
                ("name", &cfg.name),
                ("image", &cfg.config.image),
                ("signal", &(signal as i32).to_string()),
            ],
        );
        trace::note(span, format!("{signal} to pid {}", st.pid));
        Ok(())
    })
}

/// `wait`: blocks until the container `query` names is no longer running and returns its exit
/// code — docker's `ContainerWait` (daemon/wait.go). A query that changes nothing: not traced.
pub fn wait(engine: &Engine, query: &str) -> Result<i64, EngineError> {
    let id = engine.store.lookup(query)?;
    // A restart policy hands the container from shim to shim: wait until one ends it for good
    // (docker's `not-running` condition counts restarting as running).
    loop {
        engine.reconcile(&id)?;
        let st = engine.store.load_state(&id)?;
        if !matches!(
            st.status,
            Status::Running | Status::Paused | Status::Restarting
        ) {
            return Ok(i64::from(st.exit_code));
        }
        if st.shim_pid <= 0 && st.pid <= 0 {
            // Between two shims (the state is being written): look again shortly.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        while !wait_for_exit(st.shim_pid, st.pid, Duration::from_secs(3600)) {}
    }
}
