//! `POST /containers/{id}/attach`: the container's output on a hijacked connection (and, for a
//! container created with `OpenStdin`, the client's input to its stdin), and the raw stream
//! responder attach and exec start share.
//!
//! Not here: the hub that fans a container's output out ([`crate::daemon::attach`]).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    let (out, err) = (ctx.flag("stdout"), ctx.flag("stderr"));
    let (id, status, config) = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let config = e.store.load_config(&id)?.config;
        Ok((id.clone(), e.store.load_state(&id)?.status, config))
    })
    .await?;
    let open_stdin = config.open_stdin;
    d.hub.set_tty(&id, config.tty);
    // As dockerd: stdin is attached only to a container created with `OpenStdin` (`-i`);
    // otherwise the client's input is not read.
    let stdin = (ctx.flag("stdin") && open_stdin).then(|| d.hub.stdin(&id));
    if status == Status::Exited || status == Status::Dead {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot attach to a stopped container, start it first",
        ));
    }
    let rx = d.hub.attach(&id, out, err);
    let on_upgrade = ctx.upgrade.then(|| hyper::upgrade::on(&mut req));
    Ok(raw_stream(on_upgrade, rx, stdin))
}

/// docker's raw stream (attach, exec start) from `rx` until it closes: on the hijacked
/// connection (101 Switching Protocols) when the client asked to upgrade, else as a plain
/// streaming response. With `stdin`, what the client sends on the hijacked connection goes
/// there, and its end (the client's half-close) as an empty chunk.
pub(super) fn raw_stream(
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    stdin: Option<tokio::sync::mpsc::UnboundedSender<Bytes>>,
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
        let (mut reader, mut io) = tokio::io::split(TokioIo::new(upgraded));
        if let Some(stdin) = stdin {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            let _ = stdin.send(Bytes::new());
                            return;
                        }
                        Ok(n) => {
                            if stdin.send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
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
