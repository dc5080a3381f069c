//! The engine: one file per operation, each a sequence of phases read top to bottom like moby's
//! `containerStart` — [`create`], [`start`], [`wait`] (the attached half of `run`), [`exit`]
//! (run by the shim), [`rm`]; plus the read-only queries in [`query`] and the volumes and
//! mounts in [`volume`].
//!
//! Every phase is a span from the catalog; every phase that changes the host registers its undo
//! on a [`rollback::Rollback`] so a failed operation leaves nothing behind.
//!
//! The engine is used in-process by the CLI and the daemon, and by the shim for the exit phases.
//! [`operation`] is the skeleton every operation shares (root span, failure, lookup); [`task`]
//! spawns the shim and releases the init for [`start`].
//!
//! Not here: what makes work a phase — `--fail-at`, `--step`, [`phase()`]'s span handling
//! ([`crate::phase`]); the terminal relay ([`crate::runtime::console`]); the restart decision
//! ([`crate::state::restart`]); every kernel effect (through [`crate::host::current`]).

pub mod create;
pub mod exec;
pub mod exit;
mod operation;
pub mod options;
pub mod pause;
pub mod query;
pub mod reconcile;
pub mod restart;
pub mod rm;
pub mod rollback;
pub mod start;
pub mod stop;
mod task;
pub use task::{set_shim_main, ShimArgs};
pub mod volume;
pub mod wait;

use std::path::PathBuf;

use crate::image::{ImageError, ImageStore};
use crate::network::NetworkError;
use crate::runtime::cgroups::CgroupError;
use crate::runtime::runc::RuncError;
use crate::runtime::spec::SpecError;
use crate::state::{Paths, StateError, Store};
use crate::storage::mounts::MountError;
use crate::storage::overlay::OverlayError;
use crate::storage::volumes::VolumeError;
use crate::trace::store::TraceError;

/// Every way an engine operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "ctrace must run as root: it creates namespaces, mounts and cgroups (try `sudo ctrace …`)"
    )]
    NotRoot,
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    #[error(transparent)]
    Runc(#[from] RuncError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The runtime failed to create or start the process; `code` is docker's (125/126/127).
    #[error("{message}")]
    Runtime { code: i32, message: String },
    /// An operation the container's state does not allow (docker's 409 Conflict).
    #[error("{0}")]
    Conflict(String),
    /// A flag or argument that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// `--fail-at` made this phase fail.
    #[error("{0}")]
    Injected(String),
    /// The user quit at a `--step` pause after this phase.
    #[error("aborted after {0} (--step): everything this command did was rolled back")]
    Aborted(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// [`crate::phase::phase()`] for the engine's operations: a phase whose work fails with an
/// [`EngineError`] (spelled out once here, so the callers' `?` needs no annotation).
pub fn phase<T>(
    span: tracing::Span,
    f: impl FnOnce(&tracing::Span) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    crate::phase::phase(span, f)
}

impl From<crate::phase::Interrupted> for EngineError {
    fn from(i: crate::phase::Interrupted) -> EngineError {
        match i {
            crate::phase::Interrupted::Injected(m) => EngineError::Injected(m),
            crate::phase::Interrupted::Aborted(p) => EngineError::Aborted(p),
        }
    }
}

impl EngineError {
    /// The exit code `ctrace run` uses for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Runtime { code, .. } => *code,
            EngineError::Runc(e) => e.exit_code(),
            EngineError::Aborted(_) => crate::sys::exit::ABORTED,
            _ => crate::sys::exit::ENGINE,
        }
    }

    pub fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { what, path, source }
    }
}

/// The engine over one state root.
pub struct Engine {
    pub paths: Paths,
    pub store: Store,
    /// The bridge bridge-mode containers join (global `--bridge`, `--bridge-subnet`).
    pub bridge: crate::network::BridgeConfig,
    /// Registry settings for pulls (global `--registry-mirror`, `--insecure-registry`).
    pub pull: crate::image::pull::PullOptions,
}

impl Engine {
    pub fn new(paths: Paths) -> Engine {
        Engine {
            store: Store::new(paths.clone()),
            paths,
            bridge: Default::default(),
            pull: Default::default(),
        }
    }

    /// The image store (opened on demand: most operations after create never need it).
    pub fn images(&self) -> Result<ImageStore, EngineError> {
        Ok(ImageStore::open(&self.paths.root)?)
    }

    /// Refuses to go on unless running as root.
    pub fn require_root() -> Result<(), EngineError> {
        // A simulated host needs no privilege: its kernel is a model.
        if crate::host::current().mode() == "sim" || nix::unistd::geteuid().is_root() {
            Ok(())
        } else {
            Err(EngineError::NotRoot)
        }
    }
}

/// Facts about this host for trace files.
pub fn host_facts(runtime: &str) -> crate::trace::format::HostFacts {
    let uname = nix::sys::utsname::uname().ok();
    crate::trace::format::HostFacts {
        hostname: uname
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().into_owned())
            .unwrap_or_default(),
        kernel: uname
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroup: crate::runtime::cgroups::Hierarchy::detect()
            .map(|h| match h.version() {
                crate::runtime::cgroups::Version::V1 => "v1".to_string(),
                crate::runtime::cgroups::Version::V2 => "v2".to_string(),
            })
            .unwrap_or_else(|_| "none".into()),
        runtime: runtime.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        arch: std::env::consts::ARCH.to_string(),
    }
}

/// The caller's `TRACESTATE`, kept with a trace that continues the caller's `TRACEPARENT` (the
/// shim inherits both from the CLI, so its traces carry it too).
fn caller_trace_state(trace_id: &str) -> Option<String> {
    let tp = std::env::var("TRACEPARENT").ok()?;
    let (continued, _) = crate::trace::recorder::parse_traceparent(tp.trim())?;
    if continued != trace_id {
        return None;
    }
    std::env::var("TRACESTATE")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Wraps finished spans into a trace file for `operation`. Its start and duration are the
/// operation's root span's (the earliest span when there is no such root).
pub fn trace_file(
    operation: &str,
    container: Option<&crate::state::ContainerConfig>,
    argv: Vec<String>,
    trace_id: String,
    spans: Vec<crate::trace::format::SpanRecord>,
) -> crate::trace::format::TraceFile {
    use crate::trace::format::{ContainerRef, TraceFile, FORMAT};
    let root = spans
        .iter()
        .find(|s| s.parent_id.is_none() && s.name == operation);
    let started = root.map_or_else(
        || spans.iter().map(|s| s.start_unix_ns).min().unwrap_or(0),
        |r| r.start_unix_ns,
    );
    let duration = root.map_or(0, |r| r.duration_ns);
    let trace_state = caller_trace_state(&trace_id);
    TraceFile {
        format: FORMAT.into(),
        trace_id,
        operation: operation.into(),
        container: container.map(|c| ContainerRef {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.config.image.clone(),
            image_id: c.image.clone(),
        }),
        mode: crate::trace::clock::current().mode().into(),
        latency_model: crate::trace::clock::current().model_source(),
        host: host_facts(container.map_or("embedded", |c| c.host_config.runtime.as_str())),
        started_unix_ns: started,
        duration_ns: duration,
        argv,
        trace_state,
        // The writer's pid as the host numbers it: the simulator's own pid space in a simulated
        // run (so a seeded session stays reproducible byte for byte).
        pids: crate::trace::recorder::process()
            .and_then(|p| {
                Some((
                    p.to_string(),
                    u32::try_from(crate::host::current().pid()).ok()?,
                ))
            })
            .map(|kv| [kv].into())
            .unwrap_or_default(),
        spans,
    }
}
