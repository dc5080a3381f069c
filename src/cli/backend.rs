//! The one seam between a CLI command and whoever runs it: the engine in this process
//! ([`super::container::Embedded`]) or a daemon behind its socket ([`super::remote::Daemon`]).
//! A command is written once, over [`Backend`]; [`each`] is docker's loop of stop/kill/rm (and pause,
//! unpause, restart) over several containers, each its own trace. `run`, `create` and `start` are
//! written over it too (`super::container`).
//!
//! Not here: how each backend does the work (the engine's operations, the API requests and their
//! trace headers, the daemon's attach and wait for `run`).

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::engine::options::CreateOptions;
use crate::engine::EngineError;
use crate::state::ContainerConfig;
use crate::trace::recorder;

use super::record::finish_trace;
use super::{start_tracing, Context, Failure};

/// What a command asks of the engine, wherever it runs.
pub trait Backend {
    /// Checks made once, before any container is touched (root, for the embedded engine).
    fn ready(&self) -> Result<(), Failure>;
    /// `timeout`: the grace asked for (`None`: the container's `--stop-timeout`, or 10 s).
    fn stop(&self, name: &str, timeout: Option<Duration>) -> Result<(), EngineError>;
    fn kill(&self, name: &str, signal: Signal) -> Result<(), EngineError>;
    fn rm(&self, name: &str, force: bool, volumes: bool) -> Result<(), EngineError>;
    /// The runtime the `--explain` banner names: the backend's own (`daemon`), or `None` for
    /// the container's.
    fn banner_runtime(&self) -> Option<&'static str>;
    fn create(&self, opts: &CreateOptions) -> Result<Created, EngineError>;
    /// Starts one container; with `attach`, waits for it and gives its exit code.
    fn start(&self, name: &str, attach: bool) -> StartOutcome;
    /// `run`'s work inside its span, after the client phases: create, start, and unless
    /// `detach`, wait for the exit code (with `auto_remove`, a failed start removes the
    /// container).
    fn run(&self, opts: &CreateOptions, detach: bool) -> RunOutcome;
}

/// What `run` did: the container's config when one was created (for the trace file), and the
/// exit code (0 when detached).
pub struct RunOutcome {
    pub config: Option<ContainerConfig>,
    pub result: Result<i32, EngineError>,
}

/// What `create` made: the container's id, and its config as the state root has it (for the
/// trace file).
pub struct Created {
    pub id: String,
    pub config: Option<ContainerConfig>,
}

/// What `start` did to one container: its config when it was found (for the trace file), and
/// the exit code when attached.
pub struct StartOutcome {
    pub config: Option<ContainerConfig>,
    pub result: Result<Option<i32>, EngineError>,
}

/// Runs `op` on each named container as its own traced `operation`, printing each name done, as
/// docker's stop/kill/rm do. Returns whether any failed (each failure is said on stderr).
pub fn each(
    ctx: &Context,
    backend: &dyn Backend,
    names: &[String],
    operation: &str,
    op: impl Fn(&dyn Backend, &str) -> Result<(), EngineError>,
) -> Result<bool, Failure> {
    backend.ready()?;
    start_tracing(false, None);
    let mut failed = false;
    for name in names {
        recorder::restart(None);
        let cfg = ctx
            .engine
            .store
            .lookup(name)
            .ok()
            .and_then(|id| ctx.engine.store.load_config(&id).ok());
        let r = op(backend, name);
        let file = finish_trace(ctx, operation, cfg.as_ref(), None);
        super::record::export_otlp(file.as_ref(), false);
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("ctrace: {e}");
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// The exit code of a loop that `failed` (docker's 1).
pub fn exit_code(failed: bool) -> i32 {
    i32::from(failed)
}

/// `stop`.
pub fn stop(
    ctx: &Context,
    b: &dyn Backend,
    names: &[String],
    secs: Option<u64>,
) -> Result<i32, Failure> {
    let timeout = secs.map(Duration::from_secs);
    each(ctx, b, names, "stop", |b, n| b.stop(n, timeout)).map(exit_code)
}

/// `kill -s SIGNAL`: the signal is read once, before any container.
pub fn kill(
    ctx: &Context,
    b: &dyn Backend,
    names: &[String],
    signal: &str,
) -> Result<i32, Failure> {
    let signal = crate::engine::stop::parse_signal(signal)
        .ok_or_else(|| Failure::new(1, format!("invalid signal: {signal}")))?;
    each(ctx, b, names, "kill", |b, n| b.kill(n, signal)).map(exit_code)
}

/// `rm [-f] [-v]`.
pub fn rm(
    ctx: &Context,
    b: &dyn Backend,
    names: &[String],
    force: bool,
    volumes: bool,
) -> Result<i32, Failure> {
    each(ctx, b, names, "rm", |b, n| b.rm(n, force, volumes)).map(exit_code)
}
