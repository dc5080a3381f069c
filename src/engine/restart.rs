//! `restart`: stop (if running), then start — docker's `ContainerRestart` / `containerRestart`
//! (daemon/restart.go), seed 003. One trace: the `stop` and `start` operations nest under the
//! `restart` span with all their phases, so a learner sees that a restart is nothing more.
//!
//! Not here: restarts by a restart policy (`--restart`), which the shim decides when the container
//! exits (see `crate::shim::restart`, deciding with [`crate::state::restart`]).

use std::time::Duration;

use crate::state::events;
use crate::{phase_span, trace};

use super::operation::{find, operation};
use super::phase;
use super::start::{ShimIo, Started};
use super::{Engine, EngineError};

/// Restarts the container `query` names: its stop with `timeout` of grace, then a start.
pub fn restart(engine: &Engine, query: &str, timeout: Duration) -> Result<(), EngineError> {
    restart_with(engine, query, timeout, ShimIo::Detached).map(|_| ())
}

/// [`restart`], choosing where the new shim sends the container's output (a daemon pipes it to
/// its attached clients, as its `start` does).
pub fn restart_with(
    engine: &Engine,
    query: &str,
    timeout: Duration,
    io: ShimIo,
) -> Result<Started, EngineError> {
    let span = phase_span!(
        "restart",
        query = query,
        timeout_s = timeout.as_secs(),
        container.id = tracing::field::Empty
    );
    operation(&span, || restart_phases(engine, query, timeout, io, &span))
}

fn restart_phases(
    engine: &Engine,
    query: &str,
    timeout: Duration,
    io: ShimIo,
    root: &tracing::Span,
) -> Result<Started, EngineError> {
    let cfg = phase(phase_span!("restart.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        let st = engine.store.load_state(&cfg.id)?;
        trace::note(
            span,
            format!("{} ({}), {}", &cfg.id[..12], cfg.name, st.status),
        );
        Ok(cfg)
    })?;
    // A stop of a container that is not running changes nothing, so it can always go first.
    super::stop::stop(engine, &cfg.id, timeout)?;
    let started = super::start::start_with(engine, &cfg.id, io)?;
    phase(phase_span!("restart.event"), |span| {
        let _ = events::container(
            &engine.paths.events(),
            "restart",
            &cfg.id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
        trace::note(span, "restart event appended to events.jsonl");
        Ok(())
    })?;
    Ok(started)
}
