//! What every exporter shares: the service that recorded a span, the lesson attributes
//! (`docker.fn`, `seed`) every exported span carries, and the export errors.
//!
//! Not here: any one output format (see [`super::chrome`], [`super::jaeger`], [`super::otlp`],
//! [`super::speedscope`], [`super::zipkin`]).

use serde_json::Value;

use super::format::SpanRecord;
use crate::lessons;

/// Errors of `ctrace trace export`, `flamegraph`, `diff` and the OTLP sender.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Trace(#[from] super::store::TraceError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "unknown export format {0:?}: use chrome, jaeger, speedscope, zipkin, otlp-json or folded"
    )]
    UnknownFormat(String),
    #[error("unknown OTLP protocol {0:?}: use grpc or http/protobuf")]
    UnknownProtocol(String),
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("OTLP export to {endpoint} failed: {reason}")]
    Send { endpoint: String, reason: String },
}

/// The service a span's process appears as: the CLI (`OTEL_SERVICE_NAME`, default `ctrace`),
/// `ctrace-shim`, `ctrace-init`.
pub fn service_name(process: &str) -> String {
    let cli = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ctrace".into());
    match process {
        "" | "ctrace" => cli,
        other => format!("ctrace-{other}"),
    }
}

/// The processes of a trace's spans, in first-seen order (`ctrace` first when present).
pub fn processes(spans: &[SpanRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in spans {
        let p = if s.process.is_empty() {
            "ctrace"
        } else {
            &s.process
        };
        if !out.iter().any(|x| x == p) {
            out.push(p.to_string());
        }
    }
    out.sort_by_key(|p| p != "ctrace");
    out
}

/// A span's attributes for export: its own, then `docker.fn` and `seed` from the lesson, then
/// `ctrace.process` and, when it failed, `error`.
pub fn attributes(span: &SpanRecord) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = span
        .attrs
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(l) = lessons::get("en", &span.name) {
        if !span.attrs.contains_key("docker.fn") {
            out.push(("docker.fn".into(), l.docker.clone().into()));
        }
        if !span.attrs.contains_key("seed") {
            out.push(("seed".into(), l.seed.clone().into()));
        }
    }
    out.push(("ctrace.process".into(), span.process.clone().into()));
    out
}

/// Microseconds, as the Chrome and Jaeger formats count.
pub fn micros(ns: u64) -> u64 {
    ns / 1000
}
