//! `POST /containers/{id}/exec`, `POST /exec/{id}/start`: exec instances and their output (a
//! `-t` exec's input watched for the detach keys, as an attach's).
//!
//! Not here: the instances themselves ([`crate::daemon::exec`]); the raw stream
//! ([`super::attach`]).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::daemon::api::ApiError;
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

use crate::daemon::detach::{self, Watch};

use super::attach::{raw_stream, Input};

/// `POST /containers/{id}/exec`: an exec instance (see [`crate::daemon::exec`]).
pub(super) async fn exec_create(d: Arc<Daemon>, q: String, body: Bytes) -> Reply {
    let d2 = d.clone();
    let id = blocking(&d, move |e| d2.execs.create(e, &q, &body)).await?;
    Ok(http::json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// `POST /exec/{id}/start`: detached, or the output on the hijacked connection (as attach's).
pub(super) async fn exec_start(
    d: Arc<Daemon>,
    ctx: &Ctx,
    id: String,
    mut req: Request<Incoming>,
) -> Reply {
    let upgrade = ctx.upgrade;
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = http::body(req).await?;
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid exec start config: {e}")))?
    };
    let detach = v["Detach"].as_bool().unwrap_or(false);
    // The start's `DetachKeys` (moby's exec start reads them too), else the create's, else the
    // daemon's default; checked before the instance is marked started.
    let spec = v["DetachKeys"].as_str().filter(|k| !k.is_empty());
    let start_keys = detach::for_exec(spec).map_err(ApiError::bad_request)?;
    let inst = d.execs.begin(&id)?;
    let keys = match spec {
        Some(_) => start_keys,
        None => detach::for_exec(Some(&inst.detach_keys)).map_err(ApiError::bad_request)?,
    };
    let (ftx, frx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    // `exec -i`: what the client sends on the hijacked connection is the command's stdin.
    let (stdin, input) = if inst.stdin && !detach {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let detach = inst.tty.then(|| Watch::new(keys));
        (Some(Input { tx, detach }), Some(rx))
    } else {
        (None, None)
    };
    let d2 = d.clone();
    let job = tokio::task::spawn_blocking(move || {
        crate::daemon::exec::run(&d2.execs, &d2.engine, &inst, detach, ftx, input)
    });
    if detach {
        let _ = job.await;
        return Ok(http::empty(StatusCode::OK));
    }
    // The channel closes once the exit code is recorded (see `exec::run`).
    Ok(raw_stream(on_upgrade, Vec::new(), frx, stdin))
}
