//! `GET /containers/{id}/attach/ws`: the attach over a websocket, as moby's
//! `wsContainersAttach` serves it. The handshake is answered here (hyper's upgrade, the accept
//! key from tungstenite); the frames are tungstenite's. Each chunk of the container's output is
//! one binary message (a text message below API 1.28, as moby), the streams never multiplexed;
//! what the client sends is the container's stdin, watched for the detach keys when the container
//! has a terminal.
//!
//! Query: `stdin`, `stdout`, `stderr` (from API 1.42; below it every stream is attached, as
//! moby), `detachKeys`, `logs` (what the container wrote so far first, from its log), `stream`
//! (the live output and the input; without it only the past is sent).
//!
//! Not here: the hijacked attach and what both share ([`super::attach`]).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::api::version::Version;
use crate::daemon::api::ApiError;
use crate::daemon::detach::{self, Watch};
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::attach::{attachable, live, replay, Input, Passed};
use super::traced::Reply;

/// From this version the output goes in binary messages (moby #28176).
const BINARY_FROM: Version = Version::new(1, 28);
/// From this version `stdin`, `stdout` and `stderr` choose the streams (before it, all are).
const STREAMS_FROM: Version = Version::new(1, 42);

/// The `Sec-WebSocket-Accept` of a websocket handshake, or why the request is not one.
fn accept_key(req: &Request<Incoming>) -> Result<HeaderValue, ApiError> {
    let header = |k: &str| req.headers().get(k).and_then(|v| v.to_str().ok());
    let upgrade = header("upgrade").unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::bad_request(
            "not a websocket handshake: send Upgrade: websocket (this endpoint speaks websocket only)",
        ));
    }
    if header("sec-websocket-version") != Some("13") {
        return Err(ApiError::bad_request(
            "unsupported websocket version: send Sec-WebSocket-Version: 13",
        ));
    }
    let key = header("sec-websocket-key").ok_or_else(|| {
        ApiError::bad_request("not a websocket handshake: the Sec-WebSocket-Key header is missing")
    })?;
    // Base64: always a valid header value.
    Ok(
        HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .expect("base64 is a header value"),
    )
}

/// One chunk of output as a message: binary, or text below API 1.28 (moby sends the bytes as
/// they are, UTF-8 or not).
fn message(b: Bytes, binary: bool) -> Message {
    if binary {
        Message::Binary(b)
    } else {
        Message::Frame(Frame::message(b, OpCode::Data(Data::Text), true))
    }
}

/// `GET /containers/{id}/attach/ws`.
pub(super) async fn attach_ws(
    d: Arc<Daemon>,
    ctx: &Ctx,
    q: String,
    mut req: Request<Incoming>,
) -> Reply {
    let keys = detach::for_attach(ctx.param("detachKeys")).map_err(ApiError::bad_request)?;
    let accept = accept_key(&req)?;
    let stream = ctx.flag("stream");
    let t = attachable(&d, q, stream).await?;
    let all = ctx.version < STREAMS_FROM;
    let (stdin, out, err) = (
        all || ctx.flag("stdin"),
        all || ctx.flag("stdout"),
        all || ctx.flag("stderr"),
    );
    let input = (stream && stdin && t.open_stdin).then(|| Input {
        tx: d.hub.stdin(&t.id),
        detach: t.tty.then(|| Watch::new(keys)),
    });
    let past = replay(&d, ctx, &t.id, (out, err), true).await?;
    let mut rx = live(&d, ctx, &t.id, (out, err), true);
    let binary = ctx.version >= BINARY_FROM;
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let (mut sink, mut stream) = ws.split();
        for b in past {
            if sink.send(message(b, binary)).await.is_err() {
                return;
            }
        }
        let over = Arc::new(Notify::new());
        {
            let over = over.clone();
            let mut input = input;
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let data = match msg {
                        Message::Binary(b) => b,
                        Message::Text(t) => Bytes::from(t),
                        Message::Close(_) => break,
                        // Pings are answered by tungstenite; nothing else is input.
                        _ => continue,
                    };
                    match input.as_mut().map(|i| i.pass(&data)) {
                        None | Some(Passed::On) => {}
                        Some(Passed::Detach) => return over.notify_one(),
                        Some(Passed::Gone) => input = None,
                    }
                }
                // The client closed: its input ends, and so does the attach.
                if let Some(i) = input {
                    i.end();
                }
                over.notify_one();
            });
        }
        loop {
            tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => {
                        if sink.send(message(b, binary)).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                _ = over.notified() => break,
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.close().await;
    });
    let mut r = http::empty(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert("connection", "Upgrade".parse().expect("header"));
    h.insert("upgrade", "websocket".parse().expect("header"));
    h.insert("sec-websocket-accept", accept);
    Ok(r)
}
