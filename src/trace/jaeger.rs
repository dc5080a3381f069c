//! Jaeger UI JSON: the document the Jaeger UI's "upload JSON" (offline trace view) loads.
//!
//! `{"data":[{traceID, spans:[…], processes:{p1:{serviceName, tags}}}]}`: every span with its
//! `CHILD_OF` reference, start time and duration in microseconds, tags (its attributes, the
//! lesson's `docker.fn` and `seed`, `error` when it failed) and logs (its events). Each process
//! that recorded spans is a Jaeger process, so the UI colours the CLI, the shim and the init apart.

use serde_json::{json, Value};

use super::export::{attributes, micros, processes, service_name};
use super::format::TraceFile;

/// A Jaeger tag `{key, type, value}` from a JSON value.
fn tag(key: &str, v: &Value) -> Value {
    match v {
        Value::Bool(b) => json!({"key": key, "type": "bool", "value": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            json!({"key": key, "type": "int64", "value": n})
        }
        Value::Number(n) => json!({"key": key, "type": "float64", "value": n}),
        Value::String(s) => json!({"key": key, "type": "string", "value": s}),
        other => json!({"key": key, "type": "string", "value": other.to_string()}),
    }
}

/// The trace as a Jaeger UI document.
pub fn export(trace: &TraceFile) -> Value {
    let procs = processes(&trace.spans);
    let pid_of = |p: &str| {
        let p = if p.is_empty() { "ctrace" } else { p };
        format!("p{}", procs.iter().position(|x| x == p).unwrap_or(0) + 1)
    };
    let ids: std::collections::HashSet<&str> =
        trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let spans: Vec<Value> = trace
        .spans
        .iter()
        .map(|s| {
            let mut tags: Vec<Value> = attributes(s).iter().map(|(k, v)| tag(k, v)).collect();
            if s.status == "error" {
                tags.push(json!({"key": "error", "type": "bool", "value": true}));
            }
            tags.push(json!({"key": "otel.status_code", "type": "string",
                "value": if s.status == "error" { "ERROR" } else { "OK" }}));
            let references: Vec<Value> = s
                .parent_id
                .iter()
                .filter(|p| ids.contains(p.as_str()))
                .map(|p| json!({"refType": "CHILD_OF", "traceID": trace.trace_id, "spanID": p}))
                .collect();
            let logs: Vec<Value> = s
                .events
                .iter()
                .map(|e| {
                    let mut fields =
                        vec![json!({"key": "event", "type": "string", "value": e.name})];
                    fields.extend(e.attrs.iter().map(|(k, v)| tag(k, v)));
                    json!({"timestamp": micros(e.time_unix_ns), "fields": fields})
                })
                .collect();
            json!({
                "traceID": trace.trace_id,
                "spanID": s.span_id,
                "operationName": s.name,
                "references": references,
                "flags": 1,
                "startTime": micros(s.start_unix_ns),
                "duration": micros(s.duration_ns),
                "tags": tags,
                "logs": logs,
                "processID": pid_of(&s.process),
                "warnings": Value::Null,
            })
        })
        .collect();
    let mut processes_json = serde_json::Map::new();
    for (i, p) in procs.iter().enumerate() {
        processes_json.insert(
            format!("p{}", i + 1),
            json!({
                "serviceName": service_name(p),
                "tags": [
                    {"key": "host.name", "type": "string", "value": trace.host.hostname},
                    {"key": "os.version", "type": "string", "value": trace.host.kernel},
                    {"key": "ctrace.process", "type": "string", "value": p},
                    {"key": "ctrace.runtime", "type": "string", "value": trace.host.runtime},
                    {"key": "ctrace.cgroup", "type": "string", "value": trace.host.cgroup},
                ]
            }),
        );
    }
    json!({
        "data": [{
            "traceID": trace.trace_id,
            "spans": spans,
            "processes": processes_json,
            "warnings": Value::Null,
        }]
    })
}
