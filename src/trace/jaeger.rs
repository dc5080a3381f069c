//! Jaeger UI JSON: the document the Jaeger UI's "upload JSON" (offline trace view) loads.
//!
//! `{"data":[{traceID, spans:[…], processes:{p1:{serviceName, tags}}}]}`: every span with its
//! `CHILD_OF` reference, start time and duration in microseconds, tags (its attributes, the
//! lesson's `docker.fn` and `seed`, `error` when it failed) and logs (its events). Each process
//! that recorded spans is a Jaeger process, so the UI colours the CLI, the shim and the init apart.
//! Serialized from borrowed, typed records (no intermediate JSON tree): a bench trace of
//! thousands of spans exports in a blink.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::export::{attributes, micros, processes, service_name};
use super::format::TraceFile;

#[derive(Serialize)]
struct Tag<'a> {
    key: Cow<'a, str>,
    #[serde(rename = "type")]
    ty: &'static str,
    value: Cow<'a, Value>,
}

/// A Jaeger tag `{key, type, value}` from a JSON value.
fn tag<'a>(key: impl Into<Cow<'a, str>>, value: Cow<'a, Value>) -> Tag<'a> {
    let ty = match value.as_ref() {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        _ => "string",
    };
    let value = match value {
        Cow::Borrowed(Value::Array(_) | Value::Object(_) | Value::Null)
        | Cow::Owned(Value::Array(_) | Value::Object(_) | Value::Null) => {
            Cow::Owned(Value::String(value.to_string()))
        }
        v => v,
    };
    Tag {
        key: key.into(),
        ty,
        value,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reference<'a> {
    ref_type: &'static str,
    #[serde(rename = "traceID")]
    trace_id: &'a str,
    #[serde(rename = "spanID")]
    span_id: &'a str,
}

#[derive(Serialize)]
struct Log<'a> {
    timestamp: u64,
    fields: Vec<Tag<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Span<'a> {
    #[serde(rename = "traceID")]
    trace_id: &'a str,
    #[serde(rename = "spanID")]
    span_id: &'a str,
    operation_name: &'a str,
    references: Vec<Reference<'a>>,
    flags: u32,
    start_time: u64,
    duration: u64,
    tags: Vec<Tag<'a>>,
    logs: Vec<Log<'a>>,
    #[serde(rename = "processID")]
    process_id: String,
    warnings: Option<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Process<'a> {
    service_name: String,
    tags: Vec<Tag<'a>>,
}

#[derive(Serialize)]
struct Trace<'a> {
    #[serde(rename = "traceID")]
    trace_id: &'a str,
    spans: Vec<Span<'a>>,
    processes: BTreeMap<String, Process<'a>>,
    warnings: Option<()>,
}

/// The Jaeger UI document: `{"data": [trace]}`.
#[derive(Serialize)]
pub struct Document<'a> {
    data: [Trace<'a>; 1],
}

/// The trace as a Jaeger UI document.
pub fn export(trace: &TraceFile) -> Document<'_> {
    let procs = processes(&trace.spans);
    let pid_of = |p: &str| {
        let p = if p.is_empty() { "ctrace" } else { p };
        format!("p{}", procs.iter().position(|x| x == p).unwrap_or(0) + 1)
    };
    let ids: HashSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let tid = trace.trace_id.as_str();
    let spans = trace
        .spans
        .iter()
        .map(|s| {
            let mut tags: Vec<Tag> = attributes(s)
                .into_iter()
                .map(|(k, v)| tag(k, Cow::Owned(v)))
                .collect();
            if s.status == "error" {
                tags.push(tag("error", Cow::Owned(Value::Bool(true))));
            }
            let code = if s.status == "error" { "ERROR" } else { "OK" };
            tags.push(tag("otel.status_code", Cow::Owned(Value::from(code))));
            Span {
                trace_id: tid,
                span_id: &s.span_id,
                operation_name: &s.name,
                references: s
                    .parent_id
                    .iter()
                    .filter(|p| ids.contains(p.as_str()))
                    .map(|p| Reference {
                        ref_type: "CHILD_OF",
                        trace_id: tid,
                        span_id: p,
                    })
                    .collect(),
                flags: 1,
                start_time: micros(s.start_unix_ns),
                duration: micros(s.duration_ns),
                tags,
                logs: s
                    .events
                    .iter()
                    .map(|e| {
                        let mut fields =
                            vec![tag("event", Cow::Owned(Value::from(e.name.as_str())))];
                        fields.extend(
                            e.attrs
                                .iter()
                                .map(|(k, v)| tag(k.as_str(), Cow::Borrowed(v))),
                        );
                        Log {
                            timestamp: micros(e.time_unix_ns),
                            fields,
                        }
                    })
                    .collect(),
                process_id: pid_of(&s.process),
                warnings: None,
            }
        })
        .collect();
    let processes = procs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = |v: &str| Cow::Owned(Value::from(v));
            (
                format!("p{}", i + 1),
                Process {
                    service_name: service_name(p),
                    tags: vec![
                        tag("host.name", s(&trace.host.hostname)),
                        tag("os.version", s(&trace.host.kernel)),
                        tag("ctrace.process", s(p)),
                        tag("ctrace.runtime", s(&trace.host.runtime)),
                        tag("ctrace.cgroup", s(&trace.host.cgroup)),
                    ],
                },
            )
        })
        .collect();
    Document {
        data: [Trace {
            trace_id: tid,
            spans,
            processes,
            warnings: None,
        }],
    }
}
