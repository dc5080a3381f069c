//! `GET /_ping`, `GET /info`, `GET /events`: the daemon itself.
//!
//! Not here: `GET /version` (the daemon's `api::version`); reading the events log
//! ([`crate::daemon::events`]).

use std::sync::Arc;

use hyper::{Method, Response, StatusCode};

use crate::api::version::{self, Answer};
use crate::daemon::api;
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
