//! A trace file as the OpenTelemetry SDK's span data: the one conversion every OTLP output
//! starts from (the wire export and `--format otlp-json` alike).
//!
//! Each process that recorded spans (`ctrace`, `shim`, `init`) becomes its own resource with its
//! own `service.name`, so Jaeger shows the process boundaries; every span carries the lesson's
//! `docker.fn` and `seed`; span events stay span events. A trace joined to a caller's context
//! (`TRACEPARENT`) keeps the caller's parent on its root span, marked remote.
//!
//! Not here: where the spans go (`send`) or how they are written as JSON (`json`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value as OtelValue};
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use serde_json::Value;

use crate::trace::export::{attributes, processes, service_name};
use crate::trace::format::{SpanRecord, TraceFile};

/// The spans one process recorded, with the resource they are exported under.
pub struct Batch {
    pub resource: Resource,
    pub spans: Vec<SpanData>,
}

fn value(v: &Value) -> OtelValue {
    match v {
        Value::Bool(b) => OtelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OtelValue::I64(i),
            None => OtelValue::F64(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => OtelValue::String(s.clone().into()),
        other => OtelValue::String(other.to_string().into()),
    }
}

fn kv(key: &str, v: &Value) -> KeyValue {
    KeyValue::new(key.to_string(), value(v))
}

fn time(unix_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_ns)
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("ctrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn span(ids: &HashSet<&str>, trace_id: TraceId, s: &SpanRecord) -> SpanData {
    let failed = s.status == "error";
    let span_id = SpanId::from_hex(&s.span_id).unwrap_or(SpanId::INVALID);
    // A parent that is not in the file is the caller's (`TRACEPARENT`, a client's
    // `traceparent` header): remote.
    let remote_parent = s.parent_id.as_deref().is_some_and(|p| !ids.contains(p));
    let mut events = SpanEvents::default();
    events.events = s
        .events
        .iter()
        .map(|e| {
            opentelemetry::trace::Event::new(
                e.name.clone(),
                time(e.time_unix_ns),
                e.attrs.iter().map(|(k, v)| kv(k, v)).collect(),
                0,
            )
        })
        .collect();
    SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: s
            .parent_id
            .as_deref()
            .and_then(|p| SpanId::from_hex(p).ok())
            .unwrap_or(SpanId::INVALID),
        parent_span_is_remote: remote_parent,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(s.name.clone()),
        start_time: time(s.start_unix_ns),
        end_time: time(s.start_unix_ns + s.duration_ns),
        attributes: attributes(s).iter().map(|(k, v)| kv(k, v)).collect(),
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: if failed {
            Status::error(s.attr_str("error").unwrap_or("error").to_string())
        } else {
            Status::Ok
        },
        instrumentation_scope: scope(),
    }
}

/// The resource of `process`'s spans: `OTEL_RESOURCE_ATTRIBUTES` first, then what ctrace knows
/// (which wins: `service.name` is per process, from `OTEL_SERVICE_NAME` for the CLI's).
fn resource(trace: &TraceFile, process: &str) -> Resource {
    let s = |v: &str| Value::String(v.to_string());
    let mut attrs = vec![
        kv("service.name", &s(&service_name(process))),
        kv("service.namespace", &s("ctrace")),
        kv("service.version", &s(env!("CARGO_PKG_VERSION"))),
        kv("host.name", &s(&trace.host.hostname)),
        kv("os.type", &s("linux")),
        kv("os.version", &s(&trace.host.kernel)),
        kv("ctrace.process", &s(process)),
        kv("ctrace.runtime", &s(&trace.host.runtime)),
        kv("ctrace.cgroup", &s(&trace.host.cgroup)),
        kv("ctrace.mode", &s(&trace.mode)),
        kv("ctrace.operation", &s(&trace.operation)),
    ];
    if let Some(model) = &trace.latency_model {
        // A simulated run: its durations are modelled, and on what.
        attrs.push(kv("ctrace.latency_model", &s(model)));
    }
    if let Some(c) = &trace.container {
        attrs.push(kv("container.id", &s(&c.id)));
        attrs.push(kv("container.name", &s(&c.name)));
        attrs.push(kv("container.image.name", &s(&c.image)));
    }
    let from_env = EnvResourceDetector::new().detect();
    Resource::builder_empty()
        .with_attributes(
            from_env
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes(attrs)
        .build()
}

/// The trace as SDK span data, one batch per recording process (the CLI's first).
pub fn batches(trace: &TraceFile) -> Vec<Batch> {
    let trace_id = TraceId::from_hex(&trace.trace_id).unwrap_or(TraceId::INVALID);
    let ids: HashSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    processes(&trace.spans)
        .into_iter()
        .map(|p| {
            let spans = trace
                .spans
                .iter()
                .filter(|s| s.process == p || (s.process.is_empty() && p == "ctrace"))
                .map(|s| span(&ids, trace_id, s))
                .collect();
            Batch {
                resource: resource(trace, &p),
                spans,
            }
        })
        .collect()
}
