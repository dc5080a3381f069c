//! What every endpoint shares: the blocking pool for engine calls, and the trace each request
//! runs in (the caller's `traceparent` continued, or a new one), written to a file or handed back
//! to a ctrace client in the `x-ctrace-spans` header.
//!
//! Not here: the endpoints (the sibling modules); the router ([`super`]).

use std::sync::Arc;

use hyper::{Response, StatusCode};

use crate::engine::{self, Engine, EngineError};
use crate::phase_span;
use crate::state::ContainerConfig;
use crate::trace::format::SpanRecord;
use crate::trace::{self, recorder};

use crate::daemon::api::ApiError;
use crate::daemon::http::{Body, Ctx};
use crate::daemon::Daemon;

pub(super) type Reply = Result<Response<Body>, ApiError>;

/// Runs `f` on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    d: &Arc<Daemon>,
    f: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let d = d.clone();
    tokio::task::spawn_blocking(move || f(&d.engine))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?
}

/// What a traced request gives back besides its result.
pub(super) struct Traced {
    /// The daemon's spans, for a client that asked for them.
    pub(super) spans: Option<Vec<SpanRecord>>,
}

impl Traced {
    /// Puts the spans in the `x-ctrace-spans` header, as JSON with only ASCII in it.
    pub(super) fn into_response(self, mut r: Response<Body>) -> Response<Body> {
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
fn ascii_json(s: &str) -> String {
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
pub(super) async fn traced<T: Send + 'static>(
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
