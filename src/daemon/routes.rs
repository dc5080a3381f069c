//! The router: docker's `postContainersStart` and friends (moby's `api/server/router/…`), each
//! endpoint mapped onto the engine function that does the work. Engine calls block (files,
//! flocks, netlink, fork), so they run on tokio's blocking pool, each request in a trace of its
//! own: the caller's `traceparent` continued, or a new trace.
//!
//! Endpoints whose engine operation does not exist yet (image import) answer 501.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::engine::start::ShimIo;
use crate::engine::{self, Engine, EngineError};
use crate::phase_span;
use crate::state::{ContainerConfig, Status};
use crate::trace::format::SpanRecord;
use crate::trace::{self, recorder};

use super::api::{self, check_ref, ApiError};
use super::attach::{self, ExitTrace};
use super::http::{self, Body, Ctx};
use super::Daemon;

type Reply = Result<Response<Body>, ApiError>;

pub async fn route(d: Arc<Daemon>, ctx: Ctx, req: Request<Incoming>) -> Reply {
    let path = ctx.path.clone();
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(http::percent_decode)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let m = &ctx.method;
    match (m.clone(), segs.as_slice()) {
        (Method::GET | Method::HEAD, ["_ping"]) => Ok(ping(m)),
        (Method::GET, ["version"]) => Ok(http::json(StatusCode::OK, &api::version())),
        (Method::GET, ["info"]) => info(d).await,
        (Method::GET, ["images", "json"]) => images(d).await,
        (Method::POST, ["images", "create"]) => pull(d, &ctx).await,
        (Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            image_inspect(d, name.join("/")).await
        }
        (Method::GET, ["containers", "json"]) => list(d, &ctx).await,
        (Method::POST, ["containers", "create"]) => {
            let body = http::body(req).await?;
            create(d, &ctx, body).await
        }
        (Method::GET, ["containers", id, "json"]) => inspect(d, check_ref(id)?.into()).await,
        (Method::GET, ["containers", id, "logs"]) => logs(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "start"]) => start(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "stop"]) => stop(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "kill"]) => kill(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "wait"]) => wait(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "attach"]) => {
            let id = check_ref(id)?.to_string();
            attach(d, &ctx, id, req).await
        }
        (Method::DELETE, ["containers", id]) => remove(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, op @ ("pause" | "unpause")]) => {
            pause(d, &ctx, check_ref(id)?.into(), *op == "pause").await
        }
        (Method::POST, ["containers", id, "restart"]) => {
            restart(d, &ctx, check_ref(id)?.into()).await
        }
        (Method::POST, ["containers", id, "exec"]) => {
            let id = check_ref(id)?.to_string();
            let body = http::body(req).await?;
            exec_create(d, id, body).await
        }
        (Method::POST, ["exec", id, "start"]) => {
            let id = check_ref(id)?.to_string();
            exec_start(d, &ctx, id, req).await
        }
        (Method::GET, ["exec", id, "json"]) => {
            let v = d.execs.inspect(check_ref(id)?)?;
            Ok(http::json(StatusCode::OK, &v))
        }
        (Method::GET, ["events"]) => events(d, &ctx),
        _ => Err(ApiError::not_found(format!(
            "page not found: {} {}",
            ctx.method, ctx.path
        ))),
    }
}

fn ping(m: &Method) -> Response<Body> {
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

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    d: &Arc<Daemon>,
    f: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let d = d.clone();
    tokio::task::spawn_blocking(move || f(&d.engine))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?
}

/// What a traced request gives back besides its result.
struct Traced {
    /// The daemon's spans, for a client that asked for them.
    spans: Option<Vec<SpanRecord>>,
}

impl Traced {
    /// Puts the spans in the `x-ctrace-spans` header, as JSON with only ASCII in it.
    fn into_response(self, mut r: Response<Body>) -> Response<Body> {
        if let Some(spans) = self.spans {
            let text = ascii_json(&serde_json::to_string(&spans).unwrap_or_default());
            if let Ok(v) = text.parse() {
                r.headers_mut().insert("x-ctrace-spans", v);
            }
        }
        r
    }
}

/// JSON with every non-ASCII character escaped (`\uXXXX`), so it fits in an HTTP header.
pub fn ascii_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// Runs an engine operation on the blocking pool inside its own trace, under an `api.request`
/// span; writes the trace file (or hands the spans back to a ctrace client).
async fn traced<T: Send + 'static>(
    d: &Arc<Daemon>,
    ctx: &Ctx,
    operation: &'static str,
    f: impl FnOnce(&Arc<Daemon>) -> Result<(T, Option<ContainerConfig>), EngineError> + Send + 'static,
) -> Result<(T, Traced), ApiError> {
    let d2 = d.clone();
    let traceparent = ctx.traceparent.clone();
    let want_spans = ctx.want_spans;
    let route = format!("{} {}", ctx.method, ctx.path);
    tokio::task::spawn_blocking(move || {
        let guard = recorder::scope(traceparent.as_deref());
        let result = {
            let span = phase_span!("api.request", route = %route, operation = operation);
            let _e = span.enter();
            let r = f(&d2);
            match &r {
                Ok(_) => trace::note(&span, format!("{route} → {operation}")),
                Err(e) => trace::fail(&span, e),
            }
            r
        };
        let spans = recorder::take();
        let trace_id = guard.trace_id().to_string();
        drop(guard);
        let cfg = result.as_ref().ok().and_then(|(_, c)| c.clone());
        let traced = if want_spans {
            Traced { spans: Some(spans) }
        } else {
            if d2.record {
                write_trace(&d2, operation, cfg.as_ref(), &route, trace_id, spans);
            }
            Traced { spans: None }
        };
        result.map(|(t, _)| (t, traced)).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?
}

fn write_trace(
    d: &Daemon,
    operation: &str,
    cfg: Option<&ContainerConfig>,
    route: &str,
    trace_id: String,
    spans: Vec<SpanRecord>,
) {
    if spans.is_empty() {
        return;
    }
    let request = spans
        .iter()
        .find(|s| s.name == "api.request")
        .map(|s| (s.start_unix_ns, s.duration_ns));
    let mut file = engine::trace_file(operation, cfg, vec![route.to_string()], trace_id, spans);
    if let Some((start, duration)) = request {
        file.started_unix_ns = start;
        file.duration_ns = duration;
    }
    if let Err(e) = trace::store::write(&d.engine.paths.traces(), &file) {
        eprintln!("ctrace daemon: warning: {e}");
    }
}

async fn info(d: Arc<Daemon>) -> Reply {
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

async fn images(d: Arc<Daemon>) -> Reply {
    let v = blocking(&d, |e| {
        let list = e.images()?.list().map_err(EngineError::from)?;
        Ok(Value::Array(list.iter().map(api::image_summary).collect()))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

async fn image_inspect(d: Arc<Daemon>, name: String) -> Reply {
    let v = blocking(&d, move |e| {
        let img = e.images()?.resolve(&name).map_err(EngineError::from)?;
        Ok(api::image_inspect(&img))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// `POST /images/create` (docker pull): the engine's pull in a `pull` trace, its progress
/// streamed as docker's JSON messages (see [`super::pull`]).
async fn pull(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    use super::pull::{self as p, Message};
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

async fn list(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let all = ctx.flag("all");
    let limit: Option<usize> = ctx
        .param("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l: &usize| *l > 0);
    let v = blocking(&d, move |e| {
        let rows: Vec<Value> = e
            .list()?
            .iter()
            .filter(|c| all || limit.is_some() || c.state.status == Status::Running)
            .take(limit.unwrap_or(usize::MAX))
            .map(api::container_summary)
            .collect();
        Ok(Value::Array(rows))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

async fn create(d: Arc<Daemon>, ctx: &Ctx, body: Bytes) -> Reply {
    let opts = api::create_options(&body, ctx.param("name").map(str::to_string))?;
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

async fn inspect(d: Arc<Daemon>, q: String) -> Reply {
    let v = blocking(&d, move |e| {
        let entry = e.entry(&q)?;
        Ok(api::container_inspect(engine::query::inspect_json(
            &entry, &e.paths,
        )))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// The json-file log lines of `text` as stream frames (the streams asked for, with their
/// timestamps when asked).
fn log_frames(lines: &[&str], out: bool, err: bool, ts: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let stream = if v["stream"] == "stderr" { 2 } else { 1 };
        if (stream == 1 && !out) || (stream == 2 && !err) {
            continue;
        }
        let mut payload = String::new();
        if ts {
            payload.push_str(v["time"].as_str().unwrap_or(""));
            payload.push(' ');
        }
        payload.push_str(v["log"].as_str().unwrap_or(""));
        body.extend(api::frame(stream, payload.as_bytes()));
    }
    body
}

/// How often a followed log is read again.
const LOG_POLL: Duration = Duration::from_millis(100);

/// `GET /containers/{id}/logs`: the json-file log as stream frames; with `follow`, what the
/// container writes next too, until it exits or the client hangs up.
async fn logs(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let (out, err, ts) = (
        ctx.flag("stdout"),
        ctx.flag("stderr"),
        ctx.flag("timestamps"),
    );
    if !out && !err {
        return Err(ApiError::bad_request(
            "you must choose at least one stream: stdout=1 or stderr=1",
        ));
    }
    let follow = ctx.flag("follow");
    let tail: Option<usize> = ctx.param("tail").and_then(|t| t.parse().ok());
    let (id, path, text) = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let path = e.paths.log(&id);
        let text = std::fs::read(&path).unwrap_or_default();
        Ok((id, path, text))
    })
    .await?;
    // Only whole lines: a line the shim is still writing waits for the next read.
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let head = String::from_utf8_lossy(&text[..whole]);
    let lines: Vec<&str> = head.lines().collect();
    let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let first = log_frames(&lines[skip..], out, err, ts);
    let content_type = "application/vnd.docker.raw-stream";
    if !follow {
        return Ok(http::full(StatusCode::OK, content_type, first));
    }
    let (tx, resp) = http::streaming(StatusCode::OK, content_type);
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut offset = whole as u64;
        let mut partial: Vec<u8> = Vec::new();
        loop {
            // The state first: once it says exited, one last read has everything it wrote.
            let running = d.engine.store.load_state(&id).is_ok_and(|s| {
                matches!(
                    s.status,
                    Status::Running | Status::Paused | Status::Restarting
                )
            });
            let fresh = read_from(&path, &mut offset);
            partial.extend(fresh);
            if let Some(i) = partial.iter().rposition(|&b| b == b'\n') {
                let chunk: Vec<u8> = partial.drain(..=i).collect();
                let text = String::from_utf8_lossy(&chunk);
                let lines: Vec<&str> = text.lines().collect();
                let frames = log_frames(&lines, out, err, ts);
                if !frames.is_empty() && tx.send(Bytes::from(frames)).await.is_err() {
                    return;
                }
            }
            if !running {
                return;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(LOG_POLL) => {}
            }
        }
    });
    Ok(resp)
}

/// The bytes of `path` after `offset` (a small local read, done in place); moves `offset`.
fn read_from(path: &std::path::Path, offset: &mut u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    if len < *offset {
        *offset = 0; // the log was truncated or rotated: from its start again
    }
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(*offset)).is_ok() {
        let _ = f.take(len - *offset).read_to_end(&mut buf);
    }
    *offset += buf.len() as u64;
    buf
}

async fn start(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let pre = q.clone();
    let running = blocking(&d, move |e| {
        let id = e.store.lookup(&pre)?;
        Ok(e.store.load_state(&id)?.status == Status::Running)
    })
    .await?;
    if running {
        // docker: starting a running container is not an error, it is "not modified".
        return Ok(http::empty(StatusCode::NOT_MODIFIED));
    }
    let to_client = ctx.want_spans;
    let ((), traced) = traced(&d, ctx, "start", move |d| {
        let started = match engine::start::start_with(&d.engine, &q, ShimIo::Piped) {
            Ok(s) => s,
            Err(e) => {
                // As moby's containerStart: a --rm container that cannot start is removed, so
                // a client waiting for its removal is not left waiting.
                if let Some(cfg) = config_of(d, &q).filter(|c| c.host_config.auto_remove) {
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
        attach::supervise(
            d.hub.clone(),
            started,
            ExitTrace {
                trace_id: recorder::trace_id(),
                to_client,
                traces_dir: d.engine.paths.traces(),
                record: d.record,
            },
        );
        Ok(((), Some(cfg)))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

fn config_of(d: &Daemon, q: &str) -> Option<ContainerConfig> {
    let id = d.engine.store.lookup(q).ok()?;
    d.engine.store.load_config(&id).ok()
}

/// The `t` parameter of stop and restart: seconds of grace before SIGKILL (10 when absent).
fn stop_timeout(ctx: &Ctx) -> Result<u64, ApiError> {
    match ctx.param("t") {
        None => Ok(10),
        Some(t) => Ok(t
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid stop timeout {t:?}")))?
            .max(0) as u64),
    }
}

async fn stop(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let t = stop_timeout(ctx)?;
    let ((), traced) = traced(&d, ctx, "stop", move |d| {
        let cfg = config_of(d, &q);
        engine::stop::stop(&d.engine, &q, Duration::from_secs(t))?;
        Ok(((), cfg))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// `POST /containers/{id}/pause` and `/unpause`: the freezer, with docker's 409 for a container
/// in the wrong state.
async fn pause(d: Arc<Daemon>, ctx: &Ctx, q: String, freeze: bool) -> Reply {
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
async fn restart(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let t = stop_timeout(ctx)?;
    let ((), traced) = traced(&d, ctx, "restart", move |d| {
        let started =
            engine::restart::restart_with(&d.engine, &q, Duration::from_secs(t), ShimIo::Piped)?;
        let cfg = started.config.clone();
        d.hub.started(&cfg.id);
        attach::supervise(
            d.hub.clone(),
            started,
            ExitTrace {
                trace_id: recorder::trace_id(),
                to_client: false,
                traces_dir: d.engine.paths.traces(),
                record: d.record,
            },
        );
        Ok(((), Some(cfg)))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

/// `GET /events`: docker's JSON messages, streamed (see [`super::events`]).
fn events(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let q = super::events::Query::parse(ctx)?;
    let (tx, resp) = http::streaming(StatusCode::OK, "application/json");
    let log = d.engine.paths.events();
    tokio::spawn(async move { super::events::stream(&log, q, tx).await });
    Ok(resp)
}

async fn kill(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let name = ctx.param("signal").unwrap_or("KILL").to_string();
    let signal = engine::stop::parse_signal(&name)
        .ok_or_else(|| ApiError::bad_request(format!("invalid signal: {name}")))?;
    let ((), traced) = traced(&d, ctx, "kill", move |d| {
        let cfg = config_of(d, &q);
        engine::stop::kill(&d.engine, &q, signal)?;
        Ok(((), cfg))
    })
    .await?;
    Ok(traced.into_response(http::empty(StatusCode::NO_CONTENT)))
}

async fn remove(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
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

#[derive(Clone, Copy, PartialEq)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

/// `POST /containers/{id}/wait`: the status line goes out at once (the docker CLI sends this
/// before `start` and must know the wait is in place), the exit code when it happens.
async fn wait(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let cond = match ctx.param("condition").unwrap_or("") {
        "" | "not-running" => Condition::NotRunning,
        "next-exit" => Condition::NextExit,
        "removed" => Condition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    let id = blocking(&d, move |e| Ok(e.store.lookup(&q)?)).await?;
    let rx = d.hub.watch(&id);
    let want_spans = ctx.want_spans;
    let (tx, resp) = http::streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let code = wait_for(&d, &id, cond, rx).await;
        let mut v = json!({ "StatusCode": code, "Error": null });
        if want_spans {
            if let Some(spans) = d.hub.take_exit_spans(&id) {
                v["CtraceSpans"] = serde_json::to_value(spans).unwrap_or(Value::Null);
            }
        }
        let _ = tx.send(Bytes::from(v.to_string() + "\n")).await;
    });
    Ok(resp)
}

async fn wait_for(
    d: &Arc<Daemon>,
    id: &str,
    cond: Condition,
    mut rx: tokio::sync::watch::Receiver<attach::Lifecycle>,
) -> i64 {
    let initial = rx.borrow().clone();
    let mut saw_running = false;
    loop {
        let now = rx.borrow_and_update().clone();
        let state = d.engine.store.load_state(id).ok();
        let running = state.as_ref().is_some_and(|s| {
            matches!(
                s.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        });
        let exited = now.exits > initial.exits || (saw_running && !running);
        let code = if now.exits > initial.exits {
            i64::from(now.code)
        } else {
            state
                .as_ref()
                .map_or(i64::from(now.code), |s| i64::from(s.exit_code))
        };
        match cond {
            Condition::NotRunning if !running => return code,
            Condition::NextExit if exited => return code,
            Condition::Removed if state.is_none() => return code,
            _ => {}
        }
        saw_running |= running;
        let shim = state.as_ref().map_or(0, |s| s.shim_pid);
        if running && !now.supervised {
            // Started by another process (an embedded ctrace, a previous daemon): watch its shim.
            let _ = tokio::task::spawn_blocking(move || attach::exited_within(shim, 1000)).await;
            continue;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() {
                // Forgotten: removed.
                return code;
            },
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// `POST /containers/{id}/exec`: an exec instance (see [`super::exec`]).
async fn exec_create(d: Arc<Daemon>, q: String, body: Bytes) -> Reply {
    let d2 = d.clone();
    let id = blocking(&d, move |e| d2.execs.create(e, &q, &body)).await?;
    Ok(http::json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// `POST /exec/{id}/start`: detached, or the output on the hijacked connection (as attach's).
async fn exec_start(d: Arc<Daemon>, ctx: &Ctx, id: String, mut req: Request<Incoming>) -> Reply {
    let upgrade = ctx.upgrade;
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = http::body(req).await?;
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid exec start config: {e}")))?
    };
    if v["Tty"].as_bool().unwrap_or(false) {
        return Err(ApiError::bad_request(
            "exec with a terminal (-t) is not supported by the ctrace daemon yet: run it without -t",
        ));
    }
    let detach = v["Detach"].as_bool().unwrap_or(false);
    let inst = d.execs.begin(&id)?;
    let (ftx, frx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let d2 = d.clone();
    let job = tokio::task::spawn_blocking(move || {
        super::exec::run(&d2.execs, &d2.engine, &inst, detach, ftx)
    });
    if detach {
        let _ = job.await;
        return Ok(http::empty(StatusCode::OK));
    }
    // The channel closes once the exit code is recorded (see `exec::run`).
    Ok(raw_stream(on_upgrade, frx))
}

/// `POST /containers/{id}/attach`: the connection is hijacked (101, then docker's multiplexed
/// stream frames) and carries the container's output until it ends.
async fn attach(d: Arc<Daemon>, ctx: &Ctx, q: String, mut req: Request<Incoming>) -> Reply {
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
fn raw_stream(
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

#[cfg(test)]
mod tests {
    #[test]
    fn header_json_is_ascii() {
        let s = super::ascii_json(r#"{"note":"a → b 容器"}"#);
        assert!(s.is_ascii());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["note"], "a → b 容器");
    }
}
