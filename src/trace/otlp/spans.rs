//! A trace file as the OpenTelemetry SDK's span data: the one conversion every OTLP output
//! starts from (the wire export and `--format otlp-json` alike).
//!
//! Each process that recorded spans (`ctrace`, `shim`, `init`) becomes its own resource with its
//! own `service.name`, so Jaeger shows the process boundaries; every span carries the lesson's
//! `docker.fn` and `seed`; span events stay span events. A trace joined to a caller's context
//! (`TRACEPARENT`) keeps the caller's parent on its root span, marked remote.
//!
//! Names follow the OpenTelemetry semantic conventions where one exists (`service.*`, `host.*`,
//! `os.*`, `process.*`, `container.*`, `network.*`, `exception.*`, `error.type`), ctrace's own
//! sit under `ctrace.`; everything is derived from what the file holds, and what an older file
//! lacks is left out. The API hop has its kinds: the CLI's `client.request` is a client span,
//! the daemon's `api.request` a server span; every other span is internal. A failed span has
//! status error and an `exception` event. The book's exporter chapter has the whole mapping.
//!
//! Not here: where the spans go (`send`) or how they are written as JSON (`json`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value as OtelValue};
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

/// The span's kind: the two ends of the API hop, internal otherwise.
fn kind(name: &str) -> SpanKind {
    match name {
        "client.request" => SpanKind::Client,
        "api.request" => SpanKind::Server,
        _ => SpanKind::Internal,
    }
}

/// Semantic-convention attributes derived from ctrace's own, beside them.
fn conventions(s: &SpanRecord) -> Vec<KeyValue> {
    let s_ = |k: &str, v: &str| KeyValue::new(k.to_string(), v.to_string());
    let mut out = Vec::new();
    match s.name.as_str() {
        // The container's end of its network: its interface and address.
        "start.network.attach" => {
            if let Some(veth) = s.attr_str("veth") {
                out.push(s_("network.interface.name", veth));
            }
            if let Some(ip) = s.attr_str("ip") {
                let ip = ip.split('/').next().unwrap_or(ip);
                out.push(s_("network.local.address", ip));
                let v6 = ip.contains(':');
                out.push(s_("network.type", if v6 { "ipv6" } else { "ipv4" }));
            }
        }
        // The API hop: HTTP over the daemon's unix socket.
        "client.request" | "api.request" => {
            let request = match (s.attr_str("method"), s.attr_str("path")) {
                (Some(m), Some(p)) => Some((m, p)),
                _ => s.attr_str("route").and_then(|r| r.split_once(' ')),
            };
            if let Some((method, path)) = request {
                out.push(s_("http.request.method", method));
                out.push(s_("url.path", path.split('?').next().unwrap_or(path)));
            }
            if let Some(code) = s.attrs.get("status").and_then(Value::as_i64) {
                out.push(KeyValue::new("http.response.status_code", code));
            }
            out.push(s_("network.transport", "unix"));
            out.push(s_("network.protocol.name", "http"));
        }
        _ => {}
    }
    if s.status == "error" {
        out.push(s_("error.type", &exception_type(s)));
    }
    out
}

/// What failed, as `exception.type` and `error.type` name it: the phase.
fn exception_type(s: &SpanRecord) -> String {
    format!("ctrace.{}", s.name)
}

fn span(
    ids: &HashSet<&str>,
    trace_id: TraceId,
    trace_state: &TraceState,
    s: &SpanRecord,
) -> SpanData {
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
    let message = s.attr_str("error").unwrap_or("error").to_string();
    if failed {
        events.events.push(opentelemetry::trace::Event::new(
            "exception",
            time(s.start_unix_ns + s.duration_ns),
            vec![
                KeyValue::new("exception.type", exception_type(s)),
                KeyValue::new("exception.message", message.clone()),
            ],
            0,
        ));
    }
    let mut attributes: Vec<KeyValue> = attributes(s).iter().map(|(k, v)| kv(k, v)).collect();
    attributes.extend(conventions(s));
    SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            trace_state.clone(),
        ),
        parent_span_id: s
            .parent_id
            .as_deref()
            .and_then(|p| SpanId::from_hex(p).ok())
            .unwrap_or(SpanId::INVALID),
        parent_span_is_remote: remote_parent,
        span_kind: kind(&s.name),
        name: Cow::Owned(s.name.clone()),
        start_time: time(s.start_unix_ns),
        end_time: time(s.start_unix_ns + s.duration_ns),
        attributes,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: if failed {
            Status::error(message)
        } else {
            Status::Ok
        },
        instrumentation_scope: scope(),
    }
}

/// The operating system's pid of `process` in this trace: the writer's own, as the file says;
/// the shim's, as the engine recorded it when it spawned the shim (`shim_pid`); the container's
/// init, as the shim recorded it at the clone (or at the reap, in an exit trace).
fn pid_of(trace: &TraceFile, process: &str) -> Option<u32> {
    if let Some(pid) = trace.pids.get(process) {
        return Some(*pid);
    }
    let attr = |name: Option<&str>, key: &str| {
        trace
            .spans
            .iter()
            .filter(|s| name.is_none_or(|n| s.name == n))
            .find_map(|s| s.attrs.get(key)?.as_u64())
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
    };
    match process {
        "shim" => attr(None, "shim_pid"),
        "init" => attr(Some("runtime.clone"), "pid").or_else(|| attr(Some("exit.reap"), "pid")),
        _ => None,
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
        kv("container.runtime", &s("ctrace")),
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
    if !trace.host.arch.is_empty() {
        attrs.push(kv("host.arch", &s(host_arch(&trace.host.arch))));
    }
    let pid = pid_of(trace, process);
    if let Some(pid) = pid {
        attrs.push(KeyValue::new("process.pid", i64::from(pid)));
        // The writer's command line: the CLI's, or the daemon's at its start-up (a request's
        // trace holds its route there, not a command line).
        if !trace.argv.is_empty() && (process == "ctrace" || trace.operation == "daemon") {
            let args: Vec<StringValue> = trace.argv.iter().map(|a| a.clone().into()).collect();
            attrs.push(KeyValue::new(
                "process.command_args",
                OtelValue::Array(Array::String(args)),
            ));
        }
    }
    // One instance per process: the writer by its pid, a container's shim and init by the
    // container (one of each per container).
    let instance = match (pid, &trace.container) {
        (Some(pid), _) => Some(format!("{}/{process}/{pid}", trace.host.hostname)),
        (None, Some(c)) if process == "shim" || process == "init" => {
            Some(format!("{}/{process}", c.id))
        }
        _ => None,
    };
    if let Some(id) = instance {
        attrs.push(kv("service.instance.id", &s(&id)));
    }
    if let Some(c) = &trace.container {
        attrs.push(kv("container.id", &s(&c.id)));
        attrs.push(kv("container.name", &s(&c.name)));
        attrs.push(kv("container.image.name", &s(&c.image)));
        if !c.image_id.is_empty() {
            attrs.push(kv("container.image.id", &s(&c.image_id)));
        }
    }
    // The manifest the image was pulled by, where the create recorded it.
    if let Some(d) = trace
        .spans
        .iter()
        .find_map(|s| s.attrs.get("manifest_digest")?.as_str())
    {
        attrs.push(kv("oci.manifest.digest", &s(d)));
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

/// `host.arch` as the conventions spell it, from Rust's name for the architecture.
fn host_arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// The trace as SDK span data, one batch per recording process (the CLI's first).
pub fn batches(trace: &TraceFile) -> Vec<Batch> {
    let trace_id = TraceId::from_hex(&trace.trace_id).unwrap_or(TraceId::INVALID);
    // The caller's tracestate; one that is not valid W3C is dropped, as the specification says.
    let trace_state = trace
        .trace_state
        .as_deref()
        .and_then(|t| t.parse::<TraceState>().ok())
        .unwrap_or_default();
    let ids: HashSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    processes(&trace.spans)
        .into_iter()
        .map(|p| {
            let spans = trace
                .spans
                .iter()
                .filter(|s| s.process == p || (s.process.is_empty() && p == "ctrace"))
                .map(|s| span(&ids, trace_id, &trace_state, s))
                .collect();
            Batch {
                resource: resource(trace, &p),
                spans,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::format::{ContainerRef, HostFacts};

    fn record(id: &str, parent: Option<&str>, name: &str, process: &str) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            name: name.into(),
            start_unix_ns: 1_000,
            duration_ns: 500,
            process: process.into(),
            status: "ok".into(),
            ..Default::default()
        }
    }

    fn trace() -> TraceFile {
        let mut client = record("0000000000000001", None, "client.request", "ctrace");
        client.attrs.insert("method".into(), "POST".into());
        client
            .attrs
            .insert("path".into(), "/v1.56/containers/c1/start".into());
        client.attrs.insert("status".into(), 500.into());
        let mut api = record(
            "0000000000000002",
            Some("0000000000000001"),
            "api.request",
            "daemon",
        );
        api.attrs
            .insert("route".into(), "POST /v1.56/containers/c1/start".into());
        let mut failed = record(
            "0000000000000003",
            Some("0000000000000002"),
            "start.runtime.create",
            "daemon",
        );
        failed.status = "error".into();
        failed
            .attrs
            .insert("error".into(), "cannot clone: out of memory".into());
        let mut net = record(
            "0000000000000004",
            Some("0000000000000002"),
            "start.network.attach",
            "daemon",
        );
        net.attrs.insert("veth".into(), "veth1a2b".into());
        net.attrs.insert("ip".into(), "172.18.0.5/16".into());
        TraceFile {
            format: crate::trace::format::FORMAT.into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            operation: "start".into(),
            container: Some(ContainerRef {
                id: "c1".into(),
                name: "web".into(),
                image: "busybox".into(),
                image_id: "sha256:abc".into(),
            }),
            mode: "real".into(),
            host: HostFacts {
                hostname: "lab".into(),
                arch: "x86_64".into(),
                ..Default::default()
            },
            argv: vec!["ctrace".into(), "start".into(), "web".into()],
            pids: [("ctrace".to_string(), 42)].into(),
            spans: vec![client, api, failed, net],
            ..Default::default()
        }
    }

    fn res<'a>(b: &'a Batch, key: &str) -> Option<&'a OtelValue> {
        b.resource
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    fn attr<'a>(s: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
        s.attributes
            .iter()
            .find(|k| k.key.as_str() == key)
            .map(|k| &k.value)
    }

    #[test]
    fn resources_follow_the_semantic_conventions_from_what_the_file_holds() {
        let batches = batches(&trace());
        let cli = &batches[0];
        assert_eq!(res(cli, "host.arch").unwrap().as_str(), "amd64");
        assert_eq!(res(cli, "process.pid"), Some(&OtelValue::I64(42)));
        assert_eq!(
            res(cli, "service.instance.id").unwrap().as_str(),
            "lab/ctrace/42"
        );
        assert_eq!(
            res(cli, "container.image.id").unwrap().as_str(),
            "sha256:abc"
        );
        assert_eq!(res(cli, "container.runtime").unwrap().as_str(), "ctrace");
        assert!(matches!(
            res(cli, "process.command_args"),
            Some(OtelValue::Array(Array::String(a))) if a.len() == 3
        ));
        // The daemon's pid is not in this file: no pid, no instance, no command line.
        let daemon = &batches[1];
        assert_eq!(res(daemon, "process.pid"), None);
        assert_eq!(res(daemon, "process.command_args"), None);
        assert_eq!(res(daemon, "service.instance.id"), None);
    }

    #[test]
    fn the_shim_and_the_init_get_the_pids_their_spans_recorded_and_a_pull_its_manifest() {
        let mut t = trace();
        let mut spawn = record("0000000000000011", None, "runtime.shim", "ctrace");
        spawn.attrs.insert("shim_pid".into(), 4121.into());
        let mut clone = record("0000000000000012", None, "runtime.clone", "shim");
        clone.attrs.insert("pid".into(), 4123.into());
        let reap = record("0000000000000013", None, "exit.reap", "init");
        let mut config = record("0000000000000014", None, "create.config", "ctrace");
        config
            .attrs
            .insert("manifest_digest".into(), "sha256:feed".into());
        t.spans.extend([spawn, clone, reap, config]);
        let b = batches(&t);
        let of = |p: &str| {
            b.iter()
                .find(|b| res(b, "ctrace.process").unwrap().as_str() == p)
                .unwrap()
        };
        assert_eq!(res(of("shim"), "process.pid"), Some(&OtelValue::I64(4121)));
        assert_eq!(res(of("init"), "process.pid"), Some(&OtelValue::I64(4123)));
        assert_eq!(
            res(of("shim"), "service.instance.id").unwrap().as_str(),
            "lab/shim/4121"
        );
        assert_eq!(
            res(of("ctrace"), "oci.manifest.digest").unwrap().as_str(),
            "sha256:feed"
        );
        // Without those spans, nothing is made up.
        assert_eq!(res(&batches(&trace())[0], "oci.manifest.digest"), None);
    }

    #[test]
    fn the_api_hop_has_client_and_server_kinds_and_failures_an_exception() {
        let batches = batches(&trace());
        let spans: Vec<&SpanData> = batches.iter().flat_map(|b| &b.spans).collect();
        let by = |n: &str| *spans.iter().find(|s| s.name == n).unwrap();
        let client = by("client.request");
        assert_eq!(client.span_kind, SpanKind::Client);
        assert_eq!(
            attr(client, "http.request.method").unwrap().as_str(),
            "POST"
        );
        assert_eq!(
            attr(client, "url.path").unwrap().as_str(),
            "/v1.56/containers/c1/start"
        );
        assert_eq!(
            attr(client, "http.response.status_code"),
            Some(&OtelValue::I64(500))
        );
        assert_eq!(by("api.request").span_kind, SpanKind::Server);
        assert_eq!(by("start.network.attach").span_kind, SpanKind::Internal);
        let net = by("start.network.attach");
        assert_eq!(
            attr(net, "network.local.address").unwrap().as_str(),
            "172.18.0.5"
        );
        assert_eq!(
            attr(net, "network.interface.name").unwrap().as_str(),
            "veth1a2b"
        );
        let failed = by("start.runtime.create");
        assert_eq!(
            failed.status,
            Status::error("cannot clone: out of memory".to_string())
        );
        let ex = failed
            .events
            .iter()
            .find(|e| e.name == "exception")
            .unwrap();
        let get = |k: &str| {
            ex.attributes
                .iter()
                .find(|a| a.key.as_str() == k)
                .map(|a| a.value.as_str().into_owned())
        };
        assert_eq!(
            get("exception.type").as_deref(),
            Some("ctrace.start.runtime.create")
        );
        assert_eq!(
            get("exception.message").as_deref(),
            Some("cannot clone: out of memory")
        );
        assert!(by("api.request").events.is_empty());
    }
}
