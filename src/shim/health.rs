//! The health monitor: docker's `initHealthMonitor` probe loop, run by the shim because the shim
//! is the one long-lived process that watches the container.
//!
//! Every interval the shim runs the check as an exec into the container (the same
//! [`crate::runtime::exec`] as `ctrace exec`: its namespaces, cgroup, user and limits), reads its
//! output (at most 4 KiB) until it exits or the timeout kills it, and records the result in
//! `state.json` (`State.Health`), with a `health_status: <status>` event when the status
//! changes. Probes are synchronous: the shim's poll loop waits for the probe, which is fine for
//! short checks (the container's output waits in its pipe meanwhile).
//!
//! Not here: the rules of the states ([`crate::state::health`]).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Spec;

use crate::engine::Engine;
use crate::runtime::exec::{self as rexec, Stdio};
use crate::state::health::{Health, HealthConfig, HealthLog, MAX_OUTPUT};
use crate::state::{events, ContainerConfig, Status};
use crate::trace::clock::now_rfc3339;

/// While the engine has not yet marked the container running, look again this soon.
const NOT_YET: Duration = Duration::from_millis(50);

pub struct Monitor {
    cfg: HealthConfig,
    cmd: Vec<String>,
    started: Instant,
    next: Instant,
}

impl Monitor {
    /// A monitor when the container has a health check that is not `NONE`.
    pub fn new(c: &ContainerConfig) -> Option<Monitor> {
        let cfg = c.config.healthcheck.clone()?;
        let cmd = cfg.command()?;
        let now = Instant::now();
        // Like docker, the first probe runs one interval after the start.
        let next = now + cfg.interval();
        Some(Monitor {
            cfg,
            cmd,
            started: now,
            next,
        })
    }

    /// How long until the next probe is due.
    pub fn due_in(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Runs one probe if it is due, and records it.
    pub fn run_if_due(&mut self, engine: &Engine, c: &ContainerConfig, init_pid: i32) {
        if !self.due_in().is_zero() {
            return;
        }
        let Ok(st) = engine.store.load_state(&c.id) else {
            self.next = Instant::now() + self.cfg.interval();
            return;
        };
        if st.status != Status::Running || st.pid != init_pid {
            // The start has not reached set_running yet (or the container is paused).
            self.next = Instant::now() + NOT_YET;
            return;
        }
        let result = self.probe(engine, c, init_pid, &st.cgroup);
        self.next = Instant::now() + self.cfg.interval();
        let in_start_period = self.started.elapsed() < self.cfg.start_period();
        // Read again: the state may have changed while the probe ran.
        let Ok(mut st) = engine.store.load_state(&c.id) else {
            return;
        };
        if st.status != Status::Running {
            return;
        }
        let health = st.health.get_or_insert_with(Health::starting);
        let changed = health.record(&self.cfg, result, in_start_period);
        let _ = engine.store.save_state(&c.id, &st);
        if let Some(status) = changed {
            let _ = events::container(
                &engine.paths.events(),
                &format!("health_status: {status}"),
                &c.id,
                &[("name", &c.name), ("image", &c.config.image)],
            );
        }
    }

    fn probe(
        &self,
        engine: &Engine,
        c: &ContainerConfig,
        init_pid: i32,
        cgroup: &str,
    ) -> HealthLog {
        let start = now_rfc3339();
        let (code, output) = match self.exec(engine, c, init_pid, cgroup) {
            Ok(r) => r,
            Err(e) => (e.code, e.message),
        };
        HealthLog {
            start,
            end: now_rfc3339(),
            exit_code: code,
            output,
        }
    }

    fn exec(
        &self,
        engine: &Engine,
        c: &ContainerConfig,
        init_pid: i32,
        cgroup: &str,
    ) -> Result<(i32, String), crate::runtime::InitError> {
        let spec = Spec::load(engine.paths.bundle(&c.id).join("config.json"))
            .map_err(|e| crate::runtime::InitError::runtime("cannot load config.json", e))?;
        let filter = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(|s| crate::runtime::seccomp::compile_cached(s, &engine.paths.seccomp_cache()))
            .transpose()
            .map_err(|e| {
                crate::runtime::InitError::runtime("cannot prepare the seccomp filter", e)
            })?;
        let mut process = spec.process().clone().unwrap_or_default();
        process.set_args(Some(self.cmd.clone()));
        process.set_terminal(Some(false));
        let (r, w): (OwnedFd, OwnedFd) = crate::sys::pipe::pipe_cloexec()
            .map_err(|e| crate::runtime::InitError::runtime("cannot create a pipe", e))?;
        let stdio = Stdio {
            stdin: -1,
            stdout: w.as_raw_fd(),
            stderr: w.as_raw_fd(),
            tty: false,
        };
        let joined = rexec::join(init_pid, cgroup, &process, filter.as_ref(), &stdio)?;
        let joined_pid = joined.pid;
        let pid = joined.start().inspect_err(|_| rexec::abandon(joined_pid))?;
        drop(w);
        let (output, timed_out) = read_until(File::from(r), self.cfg.timeout());
        if timed_out {
            let _ = crate::host::current().kill(pid, crate::host::process::Signal::SIGKILL);
            crate::engine::exec::reap(pid);
            return Ok((
                -1,
                format!(
                    "Health check exceeded timeout ({})",
                    humantime::format_duration(self.cfg.timeout())
                ),
            ));
        }
        Ok((crate::engine::exec::reap(pid), output))
    }
}

/// Reads the probe's output until end-of-file or `timeout`; keeps the first 4 KiB.
fn read_until(mut f: File, timeout: Duration) -> (String, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&out).into_owned(), true);
        }
        let ms = left.as_millis().min(60_000) as u16;
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms.max(1))) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}
