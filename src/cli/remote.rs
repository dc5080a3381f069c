//! The [`Daemon`] backend that `run`, `create`, `start`, `stop`, `kill` and `rm` are written over
//! ([`super::backend`]): its API requests, and `run`'s attach and wait.
//! Each request is a `client.request` span; its W3C `traceparent` makes the
//! daemon's spans (and the shim's, and the init's) children of it, and the daemon hands them
//! back (`x-ctrace-spans`) so this CLI writes one trace file and `--explain` shows the whole
//! hop: client.command, client.connect, client.request, then the daemon's phases.
//!
//! `ps`, `inspect`, `logs` and the rest read the shared state root directly: the on-disk state
//! under the root is the same whether a daemon or an embedded CLI wrote it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api::container::CreateBody;
use crate::api::query_escape;
use crate::daemon::client;
use crate::engine::options::{CreateOptions, Pull};
use crate::engine::EngineError;
use crate::state::ContainerConfig;
use crate::sys::exit;
use crate::trace::format::SpanRecord;
use crate::trace::recorder;
use crate::{phase_span, trace};

use std::time::Duration;

use nix::sys::signal::Signal;

use super::backend::{Backend, Created, RunOutcome, StartOutcome};
use super::container::client_phases;
use super::{Context, Failure};

/// The daemon to use: the one `-H`/`CTRACE_HOST` names (which must answer), else the default
/// socket under the exec root when a daemon answers there, else none (embedded).
pub fn find_daemon(host: Option<&str>, exec_root: &Path) -> Result<Option<PathBuf>, String> {
    let default = exec_root.join("ctrace.sock");
    let socket = crate::daemon::socket::client_path(host, &default)?;
    if client::answers(&socket) {
        return Ok(Some(socket));
    }
    match host {
        Some(h) if !h.is_empty() => Err(format!(
            "cannot connect to the ctrace daemon at unix://{}: is `ctrace daemon` running?",
            socket.display()
        )),
        _ => Ok(None),
    }
}

fn socket(ctx: &Context) -> &Path {
    ctx.daemon.as_deref().expect("daemon mode")
}

/// The trace headers of a request made inside the current span.
fn trace_headers() -> Vec<(&'static str, String)> {
    let mut h = vec![("X-Ctrace-Spans", "1".to_string())];
    if let Some(tp) = recorder::traceparent() {
        h.push(("traceparent", tp));
    }
    h
}

/// One API request as a `client.request` span; the daemon's spans come back into this trace.
fn call(
    ctx: &Context,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<client::Response, EngineError> {
    let span = phase_span!(
        "client.request",
        method = method,
        path = path,
        status = tracing::field::Empty
    );
    let _e = span.enter();
    let bytes = body.map(|b| b.to_string().into_bytes());
    let r = client::request(
        socket(ctx),
        method,
        path,
        &trace_headers(),
        bytes.as_deref(),
    )
    .map_err(|e| {
        let err = EngineError::Invalid(format!(
            "lost the ctrace daemon at unix://{}: {e}",
            socket(ctx).display()
        ));
        trace::fail(&span, &err);
        err
    })?;
    if let Some(h) = r.header("x-ctrace-spans") {
        if let Ok(spans) = serde_json::from_str::<Vec<SpanRecord>>(h) {
            recorder::import(spans);
        }
    }
    span.record("status", r.status);
    trace::note(&span, format!("{method} {path} → {}", r.status));
    Ok(r)
}

/// The engine error a docker-style error response stands for (the exit code from its words,
/// as the docker CLI decides it).
fn api_error(r: &client::Response) -> EngineError {
    let message = r.message();
    let code = if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        exit::NOT_FOUND
    } else if message.contains("permission denied") || message.contains("is a directory") {
        exit::CANNOT_EXEC
    } else {
        exit::ENGINE
    };
    EngineError::Runtime { code, message }
}

/// `CreateOptions` as the Docker API's container config.
/// The create body for `opts`, as JSON.
fn create_body(opts: &CreateOptions) -> Value {
    serde_json::to_value(CreateBody::from_options(opts)).unwrap_or_default()
}

/// As the docker CLI: `--pull always` pulls first; the daemon's create never pulls, so an image
/// it does not have (a 404) is pulled through `POST /images/create` and the create sent again.
fn create_remote(ctx: &Context, opts: &CreateOptions) -> Result<String, EngineError> {
    let path = match &opts.name {
        Some(n) => format!("/v1.41/containers/create?name={}", query_escape(n)),
        None => "/v1.41/containers/create".into(),
    };
    if opts.pull == Pull::Always {
        pull_remote(ctx, opts)?;
    }
    let body = create_body(opts);
    let mut r = call(ctx, "POST", &path, Some(&body))?;
    if r.status == 404 && r.message().starts_with("No such image") {
        if opts.pull == Pull::Never {
            return Err(EngineError::Invalid(format!(
                "unable to find image '{}' locally and --pull is never: pull it with `ctrace pull`",
                opts.image
            )));
        }
        eprintln!("Unable to find image '{}' locally", opts.image);
        pull_remote(ctx, opts)?;
        r = call(ctx, "POST", &path, Some(&body))?;
    }
    if r.status != 201 {
        return Err(EngineError::Invalid(r.message()));
    }
    r.json()["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| EngineError::Invalid("the daemon's create answer has no Id".into()))
}

/// `POST /images/create` for `opts.image`: the progress lines on stderr, an error message in the
/// stream as the error.
fn pull_remote(ctx: &Context, opts: &CreateOptions) -> Result<(), EngineError> {
    let mut path = format!(
        "/v1.41/images/create?fromImage={}",
        query_escape(&opts.image)
    );
    if let Some(p) = &opts.platform {
        path += &format!("&platform={}", query_escape(p));
    }
    let r = call(ctx, "POST", &path, None)?;
    if r.status != 200 {
        return Err(EngineError::Invalid(r.message()));
    }
    for line in String::from_utf8_lossy(&r.body).lines() {
        let m: Value = serde_json::from_str(line).unwrap_or_default();
        if let Some(e) = m["errorDetail"]["message"].as_str().or(m["error"].as_str()) {
            return Err(EngineError::Invalid(e.to_string()));
        }
        match (m["id"].as_str(), m["status"].as_str()) {
            (Some(id), Some(status)) => eprintln!("{id}: {status}"),
            (None, Some(status)) => eprintln!("{status}"),
            _ => {}
        }
    }
    Ok(())
}

fn start_remote(ctx: &Context, id: &str) -> Result<(), EngineError> {
    let r = call(
        ctx,
        "POST",
        &format!("/v1.41/containers/{}/start", query_escape(id)),
        None,
    )?;
    match r.status {
        204 | 304 => Ok(()),
        404 | 409 => Err(EngineError::Conflict(r.message())),
        _ => Err(api_error(&r)),
    }
}

/// The config the daemon has for `id` (read from the shared root, for the trace file).
fn config(ctx: &Context, id: &str) -> Option<ContainerConfig> {
    ctx.engine.store.load_config(id).ok()
}

/// Opens the attach stream and the wait before `start`, as the docker CLI does, so no output
/// and no exit is missed; returns the threads that finish them.
#[allow(clippy::type_complexity)]
fn attach_and_wait(
    ctx: &Context,
    id: &str,
    removed: bool,
) -> Result<
    (
        std::thread::JoinHandle<()>,
        std::thread::JoinHandle<Result<Value, String>>,
    ),
    EngineError,
> {
    let sock = socket(ctx).to_path_buf();
    let lost = |e: std::io::Error| {
        EngineError::Invalid(format!(
            "lost the ctrace daemon at unix://{}: {e}",
            sock.display()
        ))
    };
    let (status, _, mut stream) = client::send(
        &sock,
        "POST",
        &format!("/v1.41/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
        &[("Connection", "Upgrade".into()), ("Upgrade", "tcp".into())],
        None,
    )
    .map_err(lost)?;
    if status != 101 && status != 200 {
        return Err(EngineError::Invalid(format!(
            "the daemon refused to attach ({status})"
        )));
    }
    let attach = std::thread::spawn(move || {
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let _ = client::demux(&mut stream, &mut out, &mut err);
        let _ = out.flush();
    });
    let condition = if removed { "removed" } else { "next-exit" };
    let mut headers = trace_headers();
    headers.push(("Connection", "close".into()));
    let (status, wheaders, mut wstream) = client::send(
        &sock,
        "POST",
        &format!("/v1.41/containers/{id}/wait?condition={condition}"),
        &headers,
        None,
    )
    .map_err(lost)?;
    let wait = std::thread::spawn(move || {
        let body = client::read_body(&wheaders, &mut wstream).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(v["message"].as_str().unwrap_or("wait failed").to_string());
        }
        Ok(v)
    });
    Ok((attach, wait))
}

/// `run`'s work through the daemon: create, then (unless detached) attach and wait before the
/// start, as the docker CLI does, so no output and no exit is missed; the daemon's `exit` spans
/// come back under `run.wait`.
fn run_remote(
    ctx: &Context,
    opts: &CreateOptions,
    detach: bool,
    id: &mut Option<String>,
) -> Result<i32, EngineError> {
    let cid = create_remote(ctx, opts)?;
    *id = Some(cid.clone());
    if detach {
        start_remote(ctx, &cid)?;
        println!("{cid}");
        return Ok(0);
    }
    let (attach, wait) = attach_and_wait(ctx, &cid, opts.auto_remove)?;
    if let Err(e) = start_remote(ctx, &cid) {
        if opts.auto_remove {
            let _ = client::request(
                socket(ctx),
                "DELETE",
                &format!("/v1.41/containers/{cid}?force=1"),
                &[],
                None,
            );
        }
        return Err(e);
    }
    let wspan = phase_span!("run.wait", container.id = %cid);
    let _w = wspan.enter();
    let here = recorder::current_span_id();
    let outcome = wait.join().unwrap_or_else(|_| Err("wait failed".into()));
    let _ = attach.join();
    let v = outcome.map_err(|m| EngineError::Runtime {
        code: exit::ENGINE,
        message: m,
    })?;
    if let Ok(mut spans) = serde_json::from_value::<Vec<SpanRecord>>(v["CtraceSpans"].clone()) {
        for s in spans.iter_mut().filter(|s| s.name == "exit") {
            s.parent_id = here.clone();
        }
        recorder::import(spans);
    }
    let code = v["StatusCode"].as_i64().unwrap_or(i64::from(exit::ENGINE)) as i32;
    trace::note(&wspan, format!("exited {code}"));
    Ok(code)
}

/// The daemon behind the socket the context names.
pub struct Daemon<'a> {
    pub ctx: &'a Context,
}

impl Daemon<'_> {
    /// One request of a traced operation: the client phases, then the call; docker's answer
    /// for a failure becomes its message.
    fn request(&self, method: &str, path: &str) -> Result<(), EngineError> {
        client_phases(self.ctx)?;
        let r = call(self.ctx, method, path, None)?;
        if r.status < 300 || r.status == 304 {
            Ok(())
        } else {
            Err(EngineError::Invalid(r.message()))
        }
    }
}

impl Backend for Daemon<'_> {
    fn ready(&self) -> Result<(), Failure> {
        Ok(())
    }
    fn stop(&self, name: &str, timeout: Option<Duration>) -> Result<(), EngineError> {
        let id = query_escape(name);
        let t = timeout.map_or(String::new(), |t| format!("?t={}", t.as_secs()));
        self.request("POST", &format!("/v1.41/containers/{id}/stop{t}"))
    }
    fn kill(&self, name: &str, signal: Signal) -> Result<(), EngineError> {
        let (id, sig) = (query_escape(name), signal as i32);
        self.request("POST", &format!("/v1.41/containers/{id}/kill?signal={sig}"))
    }
    fn rm(&self, name: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        let id = query_escape(name);
        let q = format!("force={}&v={}", force as u8, volumes as u8);
        self.request("DELETE", &format!("/v1.41/containers/{id}?{q}"))
    }
    fn banner_runtime(&self) -> Option<&'static str> {
        Some("daemon")
    }
    fn create(&self, opts: &CreateOptions) -> Result<Created, EngineError> {
        client_phases(self.ctx)?;
        let id = create_remote(self.ctx, opts)?;
        Ok(Created {
            config: config(self.ctx, &id),
            id,
        })
    }
    fn start(&self, name: &str, attach: bool) -> StartOutcome {
        let result = if attach {
            Err(EngineError::Invalid(
                "start -a through the daemon is not supported yet: use `ctrace run`, or start detached"
                    .into(),
            ))
        } else {
            let id = query_escape(name);
            self.request("POST", &format!("/v1.41/containers/{id}/start"))
                .map(|()| None)
        };
        let config = self
            .ctx
            .engine
            .store
            .lookup(name)
            .ok()
            .and_then(|id| config(self.ctx, &id));
        StartOutcome { config, result }
    }
    fn run(&self, opts: &CreateOptions, detach: bool) -> RunOutcome {
        let mut id = None;
        let result = run_remote(self.ctx, opts, detach, &mut id);
        RunOutcome {
            config: id.as_deref().and_then(|i| config(self.ctx, i)),
            result,
        }
    }
}
