//! The containers' lifecycle: list, create, inspect, start, stop, pause/unpause, restart, kill,
//! remove — each mapped onto the engine operation of the same name.
//!
//! Not here: logs ([`super::logs`]), wait ([`super::wait`]), attach ([`super::attach`]), exec
//! ([`super::exec`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::api::filters::Filters;
use crate::api::version::{self, Answer};
use crate::engine::start::ShimIo;
use crate::engine::{self};
use crate::state::{ContainerConfig, Status};
use crate::trace::recorder;

use crate::daemon::api::{self, ApiError};
use crate::daemon::attach::{self, ExitTrace};
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, traced, Reply};
use super::wait::{wait_for, Condition};

pub(super) async fn list(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let all = ctx.flag("all");
    let limit: Option<usize> = ctx
        .param("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l: &usize| *l > 0);
    let version = ctx.version;
    let pairs = crate::daemon::events::filter_pairs(ctx.param("filters").unwrap_or(""))?;
    let filters = Filters::parse(&pairs).map_err(ApiError::bad_request)?;
    // As moby: without `all`, the running ones (paused and restarting count as running), unless
    // the filters ask for a status or an exit code.
    let all = all || limit.is_some() || filters.implies_all();
    let v = blocking(&d, move |e| {
        let rows: Vec<Value> = e
            .list()?
            .iter()
            .filter(|c| {
                all || matches!(
                    c.state.status,
                    Status::Running | Status::Paused | Status::Restarting
                )
            })
            .filter(|c| filters.matches(c))
            .take(limit.unwrap_or(usize::MAX))
            .map(|c| {
                let mut row = api::container_summary(c);
                version::shape(Answer::ContainerSummary, version, &mut row);
                row
            })
            .collect();
        Ok(Value::Array(rows))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

pub(super) async fn create(d: Arc<Daemon>, ctx: &Ctx, body: Bytes) -> Reply {
    let mut opts = api::create_options(&body, ctx.param("name").map(str::to_string))?;
    opts.trace_propagate = d.trace_propagate;
    let image = opts.image.clone();
    blocking(&d, move |e| image_present(e, &image)).await?;
    let (id, traced) = traced(&d, ctx, "create", move |d| {
        let cfg = engine::create::create(&d.engine, &opts)?;
        Ok((cfg.id.clone(), Some(cfg)))
    })
    .await?;
    Ok(traced.into_response(http::json(
        StatusCode::CREATED,
        &json!({ "Id": id, "Warnings": [] }),
    )))
}

/// As dockerd's create: an image that is not in the store is a 404 (`No such image: alpine:latest`)
/// for the client to pull, never pulled here. The busybox ctrace builds from the host's static
/// binary counts as present.
fn image_present(e: &engine::Engine, image: &str) -> Result<(), ApiError> {
    use crate::image::{reference, ImageError};
    match e.images()?.resolve(image) {
        Err(ImageError::NotFound { .. }) => {
            let full = reference::normalize(image).map_err(engine::EngineError::from)?;
            if full == "docker.io/library/busybox:latest" {
                return Ok(());
            }
            Err(ApiError::not_found(format!(
                "No such image: {}",
                reference::familiar(&full)
            )))
        }
        Err(e) => Err(engine::EngineError::from(e).into()),
        Ok(_) => Ok(()),
    }
}

pub(super) async fn inspect(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let version = ctx.version;
    let v = blocking(&d, move |e| {
        let entry = e.entry(&q)?;
        let mut v = api::container_inspect(engine::query::inspect_json(&entry, &e.paths));
        version::shape(Answer::ContainerInspect, version, &mut v);
        Ok(v)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

pub(super) async fn start(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let (id, running) = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let running = e.store.load_state(&id)?.status == Status::Running;
        Ok((id, running))
    })
    .await?;
    if running {
        // docker: starting a running container is not an error, it is "not modified".
        return Ok(http::empty(StatusCode::NOT_MODIFIED));
    }
    let to_client = ctx.want_spans;
    let ((started, exit), traced) = traced(&d, ctx, "start", move |d| {
        // Supervised from before the start: a wait racing it waits for the exit this daemon
        // counts, not for the state file (see `wait_for`).
        d.hub.supervising(&id);
        let started = match engine::start::start_with(&d.engine, &id, ShimIo::Piped) {
            Ok(s) => s,
            Err(e) => {
                d.hub.not_supervising(&id);
                // As moby's containerStart: a --rm container that cannot start is removed, so
                // a client waiting for its removal is not left waiting.
                if let Some(cfg) = config_of(d, &id).filter(|c| c.host_config.auto_remove) {
                    let _ = engine::rm::rm(&d.engine, &cfg.id, true, true);
                    d.hub.forget(&cfg.id);
                }
                return Err(e);
            }
        };
        let cfg = started.config.clone();
        // An attached ctrace client collects the exit from its `wait`; otherwise the exit is
        // appended to the start's trace file (the client's, when it wrote one).
        let to_client = to_client && d.hub.attached(&cfg.id);
        d.hub.started(&cfg.id);
        let exit = exit_trace(d, to_client);
        Ok(((started, exit), Some(cfg)))
    })
    .await?;
    // Only now, with the start's trace file written: the exit's spans are appended to it.
    let bundle = d.engine.paths.bundle(&started.config.id);
    attach::supervise(d.hub.clone(), started, exit, bundle);
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// Where the exit spans of a container started in the current trace go.
fn exit_trace(d: &Daemon, to_client: bool) -> ExitTrace {
    ExitTrace {
        trace_id: recorder::trace_id(),
        to_client,
        traces_dir: d.engine.paths.traces(),
        record: d.record,
    }
}

fn config_of(d: &Daemon, q: &str) -> Option<ContainerConfig> {
    let id = d.engine.store.lookup(q).ok()?;
    d.engine.store.load_config(&id).ok()
}

/// The `t` parameter of stop and restart: seconds of grace before SIGKILL (absent: the
/// container's `StopTimeout`, or 10).
fn stop_timeout(ctx: &Ctx) -> Result<Option<Duration>, ApiError> {
    match ctx.param("t") {
        None => Ok(None),
        Some(t) => Ok(Some(Duration::from_secs(
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid stop timeout {t:?}")))?
                .max(0) as u64,
        ))),
    }
}

pub(super) async fn stop(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let t = stop_timeout(ctx)?;
    // As moby: stopping a container that is not running is "not modified" (a missing one is the
    // engine's 404, below).
    let q2 = q.clone();
    let stopped = blocking(&d, move |e| {
        Ok(e.store
            .lookup(&q2)
            .ok()
            .and_then(|id| e.store.load_state(&id).ok()))
    })
    .await?
    .is_some_and(|s| matches!(s.status, Status::Created | Status::Exited | Status::Dead));
    if stopped {
        return Ok(http::empty(StatusCode::NOT_MODIFIED));
    }
    let ((), traced) = traced(&d, ctx, "stop", move |d| {
        let cfg = config_of(d, &q);
        engine::stop::stop(&d.engine, &q, engine::stop::grace(&d.engine, &q, t))?;
        Ok(((), cfg))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// `POST /containers/{id}/pause` and `/unpause`: the freezer, with docker's 409 for a container
/// in the wrong state.
pub(super) async fn pause(d: Arc<Daemon>, ctx: &Ctx, q: String, freeze: bool) -> Reply {
    let operation = if freeze { "pause" } else { "unpause" };
    let ((), traced) = traced(&d, ctx, operation, move |d| {
        let cfg = config_of(d, &q);
        if freeze {
            engine::pause::pause(&d.engine, &q)?;
        } else {
            engine::pause::unpause(&d.engine, &q)?;
        }
        Ok(((), cfg))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// `POST /containers/{id}/restart?t=`: the engine's stop then start, in one trace; the new
/// shim's output is piped to the daemon, as `start`'s is, so attach and wait keep working.
pub(super) async fn restart(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let t = stop_timeout(ctx)?;
    let ((started, exit), traced) = traced(&d, ctx, "restart", move |d| {
        // As start: supervised from before the new shim exists. A container that is not
        // found is the engine's error to report, in this request's trace.
        let id = d.engine.store.lookup(&q).ok();
        if let Some(id) = &id {
            d.hub.supervising(id);
        }
        let started = engine::restart::restart_with(
            &d.engine,
            &q,
            engine::stop::grace(&d.engine, &q, t),
            ShimIo::Piped,
        )
        .inspect_err(|_| {
            if let Some(id) = &id {
                d.hub.not_supervising(id);
            }
        })?;
        let cfg = started.config.clone();
        d.hub.started(&cfg.id);
        Ok(((started, exit_trace(d, false)), Some(cfg)))
    })
    .await?;
    // Only now, with the restart's trace file written: the exit's spans are appended to it.
    let bundle = d.engine.paths.bundle(&started.config.id);
    attach::supervise(d.hub.clone(), started, exit, bundle);
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

pub(super) async fn kill(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let name = ctx.param("signal").unwrap_or("KILL").to_string();
    let signal = engine::stop::parse_signal(&name)
        .ok_or_else(|| ApiError::bad_request(format!("invalid signal: {name}")))?;
    // As moby's Kill: after SIGKILL the answer waits (up to 10 s) for the exit to be recorded,
    // so an inspect right after shows it exited and a rm right after succeeds. The watch is
    // taken before the signal, so the exit cannot be missed.
    let watch = if signal == nix::sys::signal::Signal::SIGKILL {
        let q = q.clone();
        blocking(&d, move |e| Ok(e.store.lookup(&q).ok()))
            .await?
            .map(|id| {
                let rx = d.hub.watch(&id);
                let initial = rx.borrow().clone();
                (id, rx, initial)
            })
    } else {
        None
    };
    let ((), traced) = traced(&d, ctx, "kill", move |d| {
        let cfg = config_of(d, &q);
        engine::stop::kill(&d.engine, &q, signal)?;
        Ok(((), cfg))
    })
    .await?;
    if let Some((id, rx, initial)) = watch {
        let exit = wait_for(&d, &id, Condition::NextExit, initial, rx);
        let _ = tokio::time::timeout(Duration::from_secs(10), exit).await;
    }
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

pub(super) async fn remove(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let (force, volumes) = (ctx.flag("force"), ctx.flag("v"));
    let (id, traced) = traced(&d, ctx, "rm", move |d| {
        let cfg = config_of(d, &q);
        engine::rm::rm(&d.engine, &q, force, volumes)?;
        Ok((cfg.as_ref().map(|c| c.id.clone()), cfg))
    })
    .await?;
    if let Some(id) = id {
        d.hub.forget(&id);
        d.execs.forget_container(&id);
    }
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// `POST /containers/{id}/resize?h=&w=`: the size of the container's terminal (none: nothing to
/// resize); docker's 409 for a container that is not running.
pub(super) async fn resize(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let dim = |k: &str| -> Result<u16, ApiError> {
        let v = ctx.param(k).unwrap_or("");
        v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {k} {v:?}: expected a number of {}",
                if k == "h" { "rows" } else { "columns" }
            ))
        })
    };
    let size = crate::runtime::console::Size {
        rows: dim("h")?,
        cols: dim("w")?,
    };
    blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let state = e.store.load_state(&id)?;
        if !matches!(state.status, Status::Running | Status::Paused) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("container {id} is not running"),
            ));
        }
        if e.store.load_config(&id)?.config.tty {
            let master = crate::runtime::console::connect(&e.paths.bundle(&id)).map_err(|err| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot reach the terminal of container {id}: {err}"),
                )
            })?;
            crate::runtime::console::resize(std::os::fd::AsRawFd::as_raw_fd(&master), size);
        }
        Ok(())
    })
    .await?;
    Ok(http::empty(StatusCode::OK))
}
