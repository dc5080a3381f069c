//! `POST /containers/{id}/attach`: the container's output on a hijacked connection (and, for a
//! container created with `OpenStdin`, the client's input to its stdin), and the raw stream
//! responder attach and exec start share. With `logs=1` what the container wrote so far comes
//! first (from its log); with `stream=1` the live output follows. A terminal's input is watched
//! for the detach keys (`detachKeys`, docker's `ctrl-p,ctrl-q` by default): once they go by, the
//! attach ends and the container keeps running.
//!
//! Not here: the hub that fans a container's output out ([`crate::daemon::attach`]); the
//! websocket attach ([`super::ws`]); the keys themselves ([`crate::daemon::detach`]).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::state::Status;

use crate::daemon::api::{self, ApiError};
use crate::daemon::detach::{self, Watch};
use crate::daemon::http::{self, Body, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// Where an attached client's input goes.
pub(super) struct Input {
    pub tx: mpsc::UnboundedSender<Bytes>,
    /// With a terminal: the detach keys watched for in the input (moby applies them to a
    /// terminal's input only).
    pub detach: Option<Watch>,
}

/// What became of a chunk of the client's input.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Passed {
    /// Passed on (but for a partial detach sequence, held back).
    On,
    /// The detach keys went by: the attach ends, the container keeps running.
    Detach,
    /// The container's stdin is gone: input is no longer read.
    Gone,
}

impl Input {
    /// One chunk the client sent.
    pub fn pass(&mut self, chunk: &[u8]) -> Passed {
        let (data, then) = match self.detach.as_mut().map(|w| w.feed(chunk)) {
            None => (chunk.to_vec(), Passed::On),
            Some(detach::Input::Data(d)) => (d, Passed::On),
            Some(detach::Input::Detach(d)) => (d, Passed::Detach),
        };
        if !data.is_empty() && self.tx.send(Bytes::from(data)).is_err() {
            return Passed::Gone;
        }
        then
    }

    /// The client's input ended (not a detach): an empty chunk, which closes the stdin of a
    /// container without a terminal (docker's `StdinOnce`).
    pub fn end(&self) {
        let _ = self.tx.send(Bytes::new());
    }
}

/// What an attach needs to know of its container.
pub(super) struct Target {
    pub id: String,
    /// `OpenStdin`: the client's input is read.
    pub open_stdin: bool,
    pub tty: bool,
}

/// The container `q` names, to attach to. A stopped one is docker's 409 when the attach is to
/// stream (`stream=1`); its past output (`logs=1`) can still be read.
pub(super) async fn attachable(
    d: &Arc<Daemon>,
    q: String,
    stream: bool,
) -> Result<Target, ApiError> {
    let (id, status, config) = blocking(d, move |e| {
        let id = e.store.lookup(&q)?;
        let config = e.store.load_config(&id)?.config;
        Ok((id.clone(), e.store.load_state(&id)?.status, config))
    })
    .await?;
    d.hub.set_tty(&id, config.tty);
    if stream && (status == Status::Exited || status == Status::Dead) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot attach to a stopped container, start it first",
        ));
    }
    Ok(Target {
        id,
        open_stdin: config.open_stdin,
        tty: config.tty,
    })
}

/// What an attach sends before the live output: with `logs=1`, what the container wrote so far
/// (of the streams asked for), raw when `raw`, else in stream frames, as moby replays its log.
pub(super) async fn replay(
    d: &Arc<Daemon>,
    ctx: &Ctx,
    id: &str,
    (out, err): (bool, bool),
    raw: bool,
) -> Result<Vec<Bytes>, ApiError> {
    if !ctx.flag("logs") {
        return Ok(Vec::new());
    }
    let id = id.to_string();
    let lines = blocking(d, move |e| Ok(super::logs::written(&e.paths.log(&id)))).await?;
    Ok(lines
        .into_iter()
        .filter(|(stream, _)| if *stream == 1 { out } else { err })
        .map(|(stream, data)| {
            if raw {
                Bytes::from(data)
            } else {
                Bytes::from(api::frame(stream, &data))
            }
        })
        .collect())
}

/// The live output of `id` from now on (`stream=1`), or nothing (the channel closed at once).
pub(super) fn live(
    d: &Daemon,
    ctx: &Ctx,
    id: &str,
    (out, err): (bool, bool),
    raw: bool,
) -> mpsc::UnboundedReceiver<Bytes> {
    if ctx.flag("stream") {
        d.hub.attach(id, out, err, raw)
    } else {
        mpsc::unbounded_channel().1
    }
}

/// `POST /containers/{id}/attach`: the connection is hijacked (101, then docker's multiplexed
/// stream frames) and carries the container's output until it ends.
pub(super) async fn attach(
    d: Arc<Daemon>,
    ctx: &Ctx,
    q: String,
    mut req: Request<Incoming>,
) -> Reply {
    let streams = (ctx.flag("stdout"), ctx.flag("stderr"));
    // As moby: a bad spec is refused before the container is looked at.
    let keys = detach::for_attach(ctx.param("detachKeys")).map_err(ApiError::bad_request)?;
    let stream = ctx.flag("stream");
    let t = attachable(&d, q, stream).await?;
    // As dockerd: stdin is attached only to a container created with `OpenStdin` (`-i`);
    // otherwise the client's input is not read.
    let stdin = (stream && ctx.flag("stdin") && t.open_stdin).then(|| Input {
        tx: d.hub.stdin(&t.id),
        detach: t.tty.then(|| Watch::new(keys)),
    });
    let past = replay(&d, ctx, &t.id, streams, t.tty).await?;
    let rx = live(&d, ctx, &t.id, streams, false);
    let on_upgrade = ctx.upgrade.then(|| hyper::upgrade::on(&mut req));
    Ok(raw_stream(on_upgrade, past, rx, stdin))
}

/// docker's raw stream (attach, exec start) from `rx` until it closes: on the hijacked
/// connection (101 Switching Protocols) when the client asked to upgrade, else as a plain
/// streaming response. With `stdin`, what the client sends on the hijacked connection goes
/// there, and its end (the client's half-close) as an empty chunk; the detach keys in it end
/// the stream at once.
pub(super) fn raw_stream(
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    past: Vec<Bytes>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    stdin: Option<Input>,
) -> Response<Body> {
    let content_type = "application/vnd.docker.raw-stream";
    let Some(on_upgrade) = on_upgrade else {
        let (tx, resp) = http::streaming(StatusCode::OK, content_type);
        tokio::spawn(async move {
            for b in past {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
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
        for b in past {
            if io.write_all(&b).await.is_err() {
                return;
            }
        }
        let detached = Arc::new(Notify::new());
        if let Some(mut stdin) = stdin {
            let detached = detached.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => return stdin.end(),
                        Ok(n) => match stdin.pass(&buf[..n]) {
                            Passed::On => {}
                            Passed::Detach => return detached.notify_one(),
                            Passed::Gone => return,
                        },
                    }
                }
            });
        }
        loop {
            tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => {
                        if io.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                _ = detached.notified() => break,
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
