//! `GET /_ping`, `GET /info`, `GET /events`: the daemon itself.
//!
//! Not here: `GET /version` (the daemon's `api::version`); reading the events log
//! ([`crate::daemon::events`]).

use std::sync::Arc;

use hyper::{Method, Response, StatusCode};

use crate::daemon::api;
use crate::daemon::http::{self, Body, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

pub(super) fn ping(m: &Method) -> Response<Body> {
    let mut r = http::full(StatusCode::OK, "text/plain; charset=utf-8", "OK");
    if m == Method::HEAD {
        r = http::empty(StatusCode::OK);
    }
    let h = r.headers_mut();
    h.insert("docker-experimental", "false".parse().expect("header"));
    h.insert(
        "cache-control",
        "no-cache, no-store, must-revalidate"
            .parse()
            .expect("header"),
    );
    r
}

pub(super) async fn info(d: Arc<Daemon>) -> Reply {
    let id = d.id.clone();
    let v = blocking(&d, move |e| {
        let entries = e.list()?;
        let images = e.images().and_then(|s| Ok(s.list()?.len())).unwrap_or(0);
        Ok(api::info(
            &entries,
            images,
            &e.paths.root,
            &e.bridge.name,
            &id,
        ))
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
