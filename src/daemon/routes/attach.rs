//! `POST /containers/{id}/attach`: the container's output on a hijacked connection, and the raw
//! stream responder attach and exec start share.
//!
//! Not here: the hub that fans a container's output out ([`crate::daemon::attach`]).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use crate::state::Status;

use crate::daemon::api::ApiError;
use crate::daemon::http::{self, Body, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// `POST /containers/{id}/attach`: the connection is hijacked (101, then docker's multiplexed
/// stream frames) and carries the container's output until it ends.
pub(super) async fn attach(
    d: Arc<Daemon>,
    ctx: &Ctx,
    q: String,
    mut req: Request<Incoming>,
) -> Reply {
    if ctx.flag("stdin") {
        return Err(ApiError::bad_request(
            "attaching stdin is not supported yet: attach stdout and stderr only",
        ));
    }
    let (out, err) = (ctx.flag("stdout"), ctx.flag("stderr"));
    let (id, status) = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        Ok((id.clone(), e.store.load_state(&id)?.status))
    })
    .await?;
    if status == Status::Exited || status == Status::Dead {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot attach to a stopped container, start it first",
        ));
    }
    let rx = d.hub.attach(&id, out, err);
    let on_upgrade = ctx.upgrade.then(|| hyper::upgrade::on(&mut req));
    Ok(raw_stream(on_upgrade, rx))
}

/// docker's raw stream (attach, exec start) from `rx` until it closes: on the hijacked
/// connection (101 Switching Protocols) when the client asked to upgrade, else as a plain
/// streaming response.
pub(super) fn raw_stream(
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
) -> Response<Body> {
    let content_type = "application/vnd.docker.raw-stream";
    let Some(on_upgrade) = on_upgrade else {
        let (tx, resp) = http::streaming(StatusCode::OK, content_type);
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if tx.send(b).await.is_err() {
                    break;
                }
            }
        });
        return resp;
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        while let Some(b) = rx.recv().await {
            if io.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
    let mut r = http::empty(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert("content-type", content_type.parse().expect("header"));
    h.insert("connection", "Upgrade".parse().expect("header"));
    h.insert("upgrade", "tcp".parse().expect("header"));
    r
}
