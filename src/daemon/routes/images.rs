//! `GET /images/json`, `GET /images/{name}/json`, `POST /images/create` (docker pull).
//!
//! Not here: the pull's progress messages ([`crate::daemon::pull`]); the image store
//! ([`crate::image`]).

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::Value;

use crate::api::version::{self, Answer};
use crate::engine::EngineError;
use crate::phase_span;
use crate::trace::{self};

use crate::daemon::api::{self, ApiError};
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, traced, Reply};

pub(super) async fn images(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let version = ctx.version;
    let v = blocking(&d, move |e| {
        let list = e.images()?.list().map_err(EngineError::from)?;
        let rows = list.iter().map(|i| {
            let mut row = api::image_summary(i);
            version::shape(Answer::ImageSummary, version, &mut row);
            row
        });
        Ok(Value::Array(rows.collect()))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

pub(super) async fn image_inspect(d: Arc<Daemon>, ctx: &Ctx, name: String) -> Reply {
    let version = ctx.version;
    let v = blocking(&d, move |e| {
        let img = e.images()?.resolve(&name).map_err(EngineError::from)?;
        let mut v = api::image_inspect(&img);
        version::shape(Answer::ImageInspect, version, &mut v);
        Ok(v)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// `POST /images/create` (docker pull): the engine's pull in a `pull` trace, its progress
/// streamed as docker's JSON messages (see [`crate::daemon::pull`]).
pub(super) async fn pull(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    use crate::daemon::pull::{self as p, Message};
    if ctx.param("fromSrc").is_some() {
        return Err(ApiError::not_implemented("image import through the API"));
    }
    let from = ctx.param("fromImage").unwrap_or("");
    if from.is_empty() {
        return Err(ApiError::bad_request(
            "fromImage is required: name the image to pull",
        ));
    }
    let reference = p::reference_of(from, ctx.param("tag").unwrap_or(""));
    crate::image::reference::parse_normalized(&reference).map_err(EngineError::from)?;
    let platform = ctx
        .param("platform")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let (mtx, mut mrx) = tokio::sync::mpsc::channel(64);
    let failed = mtx.clone();
    let (d2, ctx2) = (d.clone(), ctx.clone());
    tokio::spawn(async move {
        let r = traced(&d2, &ctx2, "pull", move |d| {
            let span = phase_span!("pull", reference = %reference);
            let _e = span.enter();
            let progress = p::Messages { tx: mtx };
            match p::pull(&d.engine, &reference, platform, &progress) {
                Ok(o) => {
                    trace::note(
                        &span,
                        format!(
                            "{} → {} · {} bytes downloaded",
                            crate::image::reference::familiar(&o.reference),
                            o.digest,
                            o.downloaded_bytes
                        ),
                    );
                    Ok(((), None))
                }
                Err(e) => {
                    trace::fail(&span, &e);
                    Err(e)
                }
            }
        })
        .await;
        if let Err(e) = r {
            let _ = failed.send(Message::Failed(e)).await;
        }
    });
    // An error before any progress is an HTTP error, as moby answers before its stream begins.
    let first = match mrx.recv().await {
        Some(Message::Failed(e)) => return Err(e),
        other => other,
    };
    let (tx, resp) = http::streaming(StatusCode::OK, "application/json");
    tokio::spawn(p::forward(first, mrx, tx));
    Ok(resp)
}
