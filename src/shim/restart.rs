//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`): docker's restart
//! manager (restartmanager/restartmanager.go) without a daemon.
//!
//! Who restarts: the shim, the one process sure to be alive when the container exits. The exit
//! phases decide ([`crate::state::restart::decide`], in `exit.state`): the container becomes `restarting`, with its
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
//! Not here: the decision itself (policy, count, backoff → restart or not), a pure function in
//! [`crate::state::restart`].

use std::time::Duration;

use crate::engine::Engine;
use crate::state::{ContainerConfig, Status};
use crate::trace::{self, recorder};

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
    if !spans.is_empty() && trace::recording_enabled() {
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
    match unsafe { crate::host::current().fork() } {
        Ok(0) => {
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
            unsafe { libc::close(crate::phase::fds::REPORT_FD) };
            let _ = crate::host::current().setsid();
            if let Ok(_lock) = engine.store.lock(id) {
                if let Ok(mut st) = engine.store.load_state(id) {
                    if st.status == Status::Restarting {
                        st.shim_pid = crate::host::current().pid();
                        let _ = engine.store.save_state(id, &st);
                    }
                }
            }
            let _ = std::fs::File::from(w).write_all(b"1");
            true
        }
        Ok(_) => {
            drop(w);
            let _ = std::fs::File::from(r).read(&mut [0u8; 1]);
            false
        }
        Err(_) => false,
    }
}
