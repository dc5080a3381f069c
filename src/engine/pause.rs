//! `pause` and `unpause`: freeze every process of a running container and thaw it again —
//! docker's `containerPause` / `containerUnpause` (daemon/pause.go, daemon/unpause.go), seed 003.
//!
//! The freezer does the work: cgroup v1 `freezer.state` (`FROZEN`/`THAWED`), cgroup v2
//! `cgroup.freeze` (`1`/`0`, confirmed by `frozen 1` in `cgroup.events`). A frozen process is not
//! stopped with a signal (SIGSTOP could be seen and undone by the process); it is simply not
//! scheduled. Both runtimes are frozen the same way, through the cgroup the container runs in.
//!
//! Not here: what a paused container means to `stop`, `kill` and `rm` (they thaw it after
//! signalling, in their own modules).

use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::state::{events, ContainerConfig, Status};
use crate::{kernel_event, phase_span, trace};

use super::operation::{find, operation};
use super::phase;
use super::{Engine, EngineError};

/// Which way: `pause` freezes, `unpause` thaws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Pause,
    Unpause,
}

/// Freezes the container `query` names (docker pause). Refused, changing nothing, unless the
/// container is running and not paused.
pub fn pause(engine: &Engine, query: &str) -> Result<(), EngineError> {
    let span = phase_span!("pause", query = query, container.id = tracing::field::Empty);
    operation(&span, || run(engine, query, Op::Pause, &span))
}

/// Thaws the container `query` names (docker unpause). Refused unless it is paused.
pub fn unpause(engine: &Engine, query: &str) -> Result<(), EngineError> {
    let span = phase_span!(
        "unpause",
        query = query,
        container.id = tracing::field::Empty
    );
    operation(&span, || run(engine, query, Op::Unpause, &span))
}

fn lookup(
    engine: &Engine,
    query: &str,
    root: &tracing::Span,
) -> Result<ContainerConfig, EngineError> {
    let cfg = find(engine, query, root)?;
    engine.reconcile(&cfg.id)?;
    Ok(cfg)
}

/// docker's checks in `containerPause`/`containerUnpause`, with its wording.
fn validate(cfg: &ContainerConfig, status: Status, pid: i32, op: Op) -> Result<(), EngineError> {
    let id = &cfg.id;
    let conflict = |m: String| {
        Err(EngineError::Conflict(format!(
            "Error response from daemon: {m}"
        )))
    };
    match (op, status) {
        (Op::Pause, Status::Running) if crate::host::current().alive(pid) => Ok(()),
        (Op::Pause, Status::Paused) => conflict(format!("Container {id} is already paused")),
        (Op::Pause, Status::Restarting) => conflict(format!(
            "Container {id} is restarting, wait until the container is running"
        )),
        (Op::Pause, _) => conflict(format!("Container {id} is not running")),
        (Op::Unpause, Status::Paused) => Ok(()),
        (Op::Unpause, _) => conflict(format!("Container {id} is not paused")),
    }
}

fn run(engine: &Engine, query: &str, op: Op, root: &tracing::Span) -> Result<(), EngineError> {
    let (lookup_span, change_span, checkpoint_span) = match op {
        Op::Pause => (
            phase_span!("pause.lookup", query = query),
            phase_span!("pause.freeze", cgroup = tracing::field::Empty),
            phase_span!("pause.checkpoint"),
        ),
        Op::Unpause => (
            phase_span!("unpause.lookup", query = query),
            phase_span!("unpause.thaw", cgroup = tracing::field::Empty),
            phase_span!("unpause.checkpoint"),
        ),
    };
    let cfg = phase(lookup_span, |span| {
        let cfg = lookup(engine, query, root)?;
        trace::note(span, format!("{} ({})", &cfg.id[..12], cfg.name));
        Ok(cfg)
    })?;
    let id = cfg.id.clone();

    // Held from the check to the checkpoint, so the state cannot change in between (the shim's
    // exit.state takes the same lock).
    let _lock = engine.store.lock(&id)?;
    let mut st = phase(change_span, |span| {
        let st = engine.store.load_state(&id)?;
        validate(&cfg, st.status, st.pid, op)?;
        span.record("cgroup", st.cgroup.as_str());
        let h = Hierarchy::detect()?;
        let cg = Cgroup::open(&h, &st.cgroup);
        match op {
            Op::Pause => {
                cg.freeze()?;
                kernel_event!(cgroup = %st.cgroup, "freeze");
                trace::note(
                    span,
                    format!(
                        "{} frozen ({}): pid {} no longer scheduled",
                        st.cgroup,
                        freezer_file(&h),
                        st.pid
                    ),
                );
            }
            Op::Unpause => {
                cg.thaw()?;
                kernel_event!(cgroup = %st.cgroup, "thaw");
                trace::note(
                    span,
                    format!("{} thawed: pid {} runs again", st.cgroup, st.pid),
                );
            }
        }
        Ok(st)
    })?;

    let result = phase(checkpoint_span, |span| {
        let (from, to, action) = match op {
            Op::Pause => (Status::Running, Status::Paused, "pause"),
            Op::Unpause => (Status::Paused, Status::Running, "unpause"),
        };
        st.status = to;
        engine.store.save_state(&id, &st)?;
        let _ = events::container(
            &engine.paths.events(),
            action,
            &id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
        trace::note(span, format!("{from} → {to}, {action} event"));
        Ok(())
    });
    if result.is_err() && op == Op::Pause {
        // The state still says running: do not leave the processes frozen behind its back.
        if let Ok(h) = Hierarchy::detect() {
            let _ = Cgroup::open(&h, &st.cgroup).thaw();
        }
    }
    result
}

fn freezer_file(h: &Hierarchy) -> &'static str {
    match h.version() {
        crate::runtime::cgroups::Version::V1 => "freezer.state FROZEN",
        crate::runtime::cgroups::Version::V2 => "cgroup.freeze 1",
    }
}
