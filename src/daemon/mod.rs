//! `ctrace daemon`: the engine behind the Docker Engine API (versions 1.24 to 1.56, a subset of
//! its endpoints) on a unix socket, so the stock docker CLI and the ctrace CLI can both drive it — Docker's client/daemon split
//! (seeds 002, 003, 004) made real: the client sends `POST /containers/{id}/start`, the daemon
//! routes it to the engine's `start`, and each request is a trace that continues the client's
//! W3C `traceparent`.
//!
//! The daemon holds no container state of its own: everything is on disk under the root, with
//! the same per-container locks the embedded CLI uses, and every container lives in its own
//! shim. So killing the daemon loses nothing: the next one reconciles ([`startup::restore`]).
//!
//! Not here: the engine itself ([`crate::engine`]), the CLI's side ([`crate::cli`]).

pub mod api;
pub mod attach;
pub mod client;
pub mod detach;
pub mod events;
pub mod exec;
pub mod http;
#[cfg(test)]
mod props;
pub mod pull;
pub mod routes;
pub mod server;
pub mod socket;
pub mod startup;

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::{Engine, EngineError};
use crate::phase_span;
use crate::trace::{self, recorder};

/// `ctrace daemon`'s settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// The group given access to the socket, when it exists.
    pub group: String,
    /// Whether trace files are written.
    pub record: bool,
    /// `--trace-propagate`: containers get `TRACEPARENT` (their create request's span).
    pub trace_propagate: bool,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Socket(String),
    #[error("cannot start the daemon's runtime: {0}")]
    Runtime(std::io::Error),
}

/// What every request handler shares.
pub struct Daemon {
    pub engine: Engine,
    pub hub: Arc<attach::Hub>,
    /// `docker exec` instances.
    pub execs: exec::Execs,
    pub record: bool,
    /// Containers get `TRACEPARENT` (`--trace-propagate`).
    pub trace_propagate: bool,
    /// This daemon's id (`docker info`'s `ID`).
    pub id: String,
}

/// Starts up (traced), then serves until SIGTERM or SIGINT.
pub fn run(engine: Engine, opts: Options) -> Result<(), DaemonError> {
    Engine::require_root()?;
    trace::install("daemon", None, None);
    // OTEL_EXPORTER_OTLP_ENDPOINT: every trace goes to the collector as it completes.
    match trace::otlp::live::start_from_env(|l| eprintln!("ctrace daemon: {l}")) {
        Ok(Some(endpoint)) => eprintln!("ctrace daemon: exporting traces live to {endpoint}"),
        Ok(None) => {}
        Err(e) => eprintln!("ctrace daemon: warning: {e}"),
    }
    let started = {
        let span = phase_span!("daemon", socket = %opts.socket.display());
        let _e = span.enter();
        let r = startup::start(&engine, &opts);
        match &r {
            Ok(_) => trace::note(&span, format!("pid {} ready", crate::host::current().pid())),
            Err(e) => trace::fail(&span, e),
        }
        r
    };
    let spans = recorder::take();
    if opts.record {
        let file = crate::engine::trace_file(
            "daemon",
            None,
            std::env::args().collect(),
            recorder::trace_id(),
            spans,
        );
        if let Err(e) = trace::store::write(&engine.paths.traces(), &file) {
            eprintln!("ctrace daemon: warning: {e}");
        }
    }
    let ((listener, activated), restored) = started?;
    eprintln!(
        "ctrace daemon: API v{} (from v{}) listening on {} ({} running containers reattached, {} found exited)",
        crate::api::version::LATEST,
        crate::api::version::MIN,
        opts.socket.display(),
        restored.running,
        restored.exited + restored.interrupted
    );
    let daemon = Arc::new(Daemon {
        engine,
        hub: Arc::default(),
        execs: exec::Execs::default(),
        record: opts.record,
        trace_propagate: opts.trace_propagate,
        id: recorder::new_trace_id(),
    });
    // Blocked before any thread exists, so every thread inherits the mask and only the
    // waiter below sees SIGTERM and SIGINT.
    block_stop_signals()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let socket = opts.socket.clone();
    let stop = shutdown_signal()?;
    rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .map_err(DaemonError::Runtime)?;
        let listener =
            tokio::net::UnixListener::from_std(listener).map_err(DaemonError::Runtime)?;
        let shutdown = async {
            let _ = stop.await;
        };
        server::serve(daemon, listener, shutdown).await;
        Ok::<(), DaemonError>(())
    })?;
    if !activated {
        let _ = std::fs::remove_file(&socket);
    }
    // The containers live on in their shims; attached streams end with us.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}

fn stop_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

fn block_stop_signals() -> Result<(), DaemonError> {
    stop_signals()
        .thread_block()
        .map_err(|e| DaemonError::Runtime(e.into()))
}

/// Resolves when SIGTERM or SIGINT arrives (a thread in `sigwait`).
fn shutdown_signal() -> Result<tokio::sync::oneshot::Receiver<()>, DaemonError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let _ = stop_signals().wait();
            let _ = tx.send(());
        })
        .map_err(DaemonError::Runtime)?;
    Ok(rx)
}
