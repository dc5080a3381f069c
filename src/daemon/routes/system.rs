//! `GET /_ping`, `GET /info`, `GET /events`: the daemon itself; and the swarm and plugin
//! endpoints, answered as a dockerd that is in no swarm and has no plugins answers them.
//!
//! Not here: `GET /version` (the daemon's `api::version`); reading the events log
//! ([`crate::daemon::events`]).

use std::sync::Arc;

use hyper::{Method, Response, StatusCode};

use crate::api::version::{self, Answer};
use crate::daemon::api::{self, ApiError};
use crate::daemon::http::{self, Body, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// `GET`/`HEAD /_ping` with moby's headers: not to be cached, BuildKit as the builder a client
/// should choose, no swarm (the version headers are the server's, on every answer).
pub(super) fn ping(m: &Method) -> Response<Body> {
    let body = if m == Method::HEAD { "" } else { "OK" };
    let mut r = http::full(StatusCode::OK, "text/plain; charset=utf-8", body);
    let h = r.headers_mut();
    for (k, v) in [
        ("cache-control", "no-cache, no-store, must-revalidate"),
        ("pragma", "no-cache"),
        ("builder-version", "2"),
        ("swarm", "inactive"),
    ] {
        h.insert(k, v.parse().expect("header"));
    }
    r
}

pub(super) async fn info(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let id = d.id.clone();
    let version = ctx.version;
    let v = blocking(&d, move |e| {
        let entries = e.list()?;
        let images = e.images().and_then(|s| Ok(s.list()?.len())).unwrap_or(0);
        let mut v = api::info(&entries, images, &e.paths.root, &e.bridge.name, &id);
        version::shape(Answer::Info, version, &mut v);
        Ok(v)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// `GET /events`: docker's JSON messages, streamed (see [`crate::daemon::events`]).
pub(super) fn events(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let q = crate::daemon::events::Query::parse(ctx)?;
    let (tx, resp) = http::streaming(StatusCode::OK, "application/json");
    let log = d.engine.paths.events();
    tokio::spawn(async move { crate::daemon::events::stream(&log, q, tx).await });
    Ok(resp)
}

/// dockerd's answer to a manager-only endpoint when it is in no swarm (a 503, which clients tell
/// from a broken daemon).
const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// `/swarm…`, `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs`: there is no swarm here.
pub(super) fn no_swarm(m: &Method, segs: &[&str]) -> Reply {
    let unavailable = |msg: &str| Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg));
    match (m, segs) {
        (&Method::POST, ["swarm", "leave"]) => unavailable("This node is not part of a swarm"),
        (&Method::POST, ["swarm", "init" | "join"]) => Err(ApiError::not_implemented("swarm mode")),
        _ => unavailable(NOT_A_MANAGER),
    }
}

/// `/plugins…`: none installed, none to install.
pub(super) fn no_plugins(m: &Method, segs: &[&str]) -> Reply {
    match (m, segs) {
        (&Method::GET, ["plugins"]) => Ok(http::json(StatusCode::OK, &serde_json::json!([]))),
        (&Method::GET, ["plugins", name @ .., "json"]) if !name.is_empty() => Err(
            ApiError::not_found(format!("plugin {:?} not found", name.join("/"))),
        ),
        _ => Err(ApiError::not_implemented("plugins")),
    }
}
