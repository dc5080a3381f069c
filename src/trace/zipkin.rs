//! Zipkin v2 JSON: the list of spans Zipkin's `POST /api/v2/spans` takes and its UI uploads.
//! One span per span, microseconds, `localEndpoint.serviceName` per recording process, tags from
//! the attributes (as strings, as Zipkin's are), an `error` tag when it failed, events as
//! annotations; the API hop's kinds (`CLIENT`, `SERVER`) as in the OTLP export.
//!
//! Not here: the other formats (`jaeger`, `chrome`, `speedscope`, `otlp`).

use serde_json::{json, Map, Value};

use super::export::{attributes, micros, service_name};
use super::format::TraceFile;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `trace` as a Zipkin v2 span list.
pub fn export(trace: &TraceFile) -> Value {
    let spans = trace
        .spans
        .iter()
        .map(|s| {
            let mut tags: Map<String, Value> = attributes(s)
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect();
            if s.status == "error" {
                let why = s.attr_str("error").unwrap_or("error");
                tags.insert("error".into(), Value::String(why.to_string()));
            }
            let mut span = json!({
                "traceId": trace.trace_id,
                "id": s.span_id,
                "name": s.name,
                "timestamp": micros(s.start_unix_ns),
                "duration": micros(s.duration_ns).max(1),
                "localEndpoint": {"serviceName": service_name(&s.process)},
                "tags": tags,
            });
            if let Some(p) = &s.parent_id {
                span["parentId"] = json!(p);
            }
            match s.name.as_str() {
                "client.request" => span["kind"] = json!("CLIENT"),
                "api.request" => span["kind"] = json!("SERVER"),
                _ => {}
            }
            if !s.events.is_empty() {
                span["annotations"] = s
                    .events
                    .iter()
                    .map(|e| json!({"timestamp": micros(e.time_unix_ns), "value": e.name}))
                    .collect();
            }
            span
        })
        .collect();
    Value::Array(spans)
}
