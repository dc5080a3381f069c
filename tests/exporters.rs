//! Trace exporters, as their users meet them: OTLP into a real receiver (what Jaeger ingests),
//! Jaeger UI and Chrome/Perfetto JSON field by field, flamegraph SVGs parsed as XML, `trace diff`,
//! and bad input.

mod common;
mod otlp_receiver;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::Env;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_receiver::{Received, Receiver};
use serde_json::Value;

fn attr<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    kvs.iter()
        .find(|k| k.key == key)
        .and_then(|k| k.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_str<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(kvs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Asserts that what arrived is the trace file's span tree, as Jaeger would show it.
fn assert_span_tree(got: &Received, file: &Value) {
    let trace_id = file["trace_id"].as_str().unwrap();
    // (service, span)
    let mut spans: Vec<(String, &Span)> = Vec::new();
    for rs in &got.request.resource_spans {
        let res = rs.resource.as_ref().expect("resource");
        let service = attr_str(&res.attributes, "service.name").expect("service.name");
        assert_eq!(attr_str(&res.attributes, "os.type"), Some("linux"));
        for ss in &rs.scope_spans {
            assert_eq!(ss.scope.as_ref().unwrap().name, "ctrace");
            spans.extend(ss.spans.iter().map(|s| (service.to_string(), s)));
        }
    }
    let services: HashSet<&str> = spans.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        services,
        HashSet::from(["ctrace", "ctrace-shim", "ctrace-init"]),
        "the CLI, the shim and the init are separate services"
    );
    assert_eq!(
        spans.len(),
        file["spans"].as_array().unwrap().len(),
        "every span of the trace file arrives"
    );
    let by_id: HashMap<String, &Span> = spans.iter().map(|(_, s)| (hex(&s.span_id), *s)).collect();
    let mut roots = Vec::new();
    for (_, s) in &spans {
        assert_eq!(hex(&s.trace_id), trace_id, "one trace id for all spans");
        assert_eq!(s.span_id.len(), 8);
        assert!(s.start_time_unix_nano <= s.end_time_unix_nano, "{}", s.name);
        assert!(s.start_time_unix_nano > 0);
        if s.parent_span_id.is_empty() {
            roots.push(s.name.clone());
        } else {
            let p = by_id
                .get(&hex(&s.parent_span_id))
                .unwrap_or_else(|| panic!("{}: its parent did not arrive", s.name));
            // Within one process a child never starts before its parent (across processes the
            // shim's `exit` can start before the CLI's `run.wait` that it hangs under).
            if attr_str(&p.attributes, "ctrace.process")
                == attr_str(&s.attributes, "ctrace.process")
            {
                assert!(
                    p.start_time_unix_nano <= s.start_time_unix_nano,
                    "{} starts before its parent {}",
                    s.name,
                    p.name
                );
            }
        }
    }
    assert_eq!(roots, ["run"], "one root span");
    let find = |name: &str| {
        spans
            .iter()
            .find(|(_, s)| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span"))
    };
    let parent_name = |name: &str| {
        let s = find(name).1;
        by_id[&hex(&s.parent_span_id)].name.clone()
    };
    assert_eq!(parent_name("create"), "run");
    assert_eq!(parent_name("start"), "run");
    assert_eq!(parent_name("start.mount"), "start");
    assert_eq!(parent_name("runtime.shim"), "start.runtime.create");
    assert_eq!(parent_name("runtime.clone"), "runtime.shim");
    assert_eq!(parent_name("init.pivot_root"), "runtime.shim");
    assert_eq!(find("runtime.clone").0, "ctrace-shim");
    assert_eq!(find("init.pivot_root").0, "ctrace-init");
    assert_eq!(find("start.mount").0, "ctrace");
    // Attributes: the note, and the lesson's Docker function and seed step.
    let mount = find("start.mount").1;
    assert!(attr_str(&mount.attributes, "note").is_some_and(|n| !n.is_empty()));
    assert!(attr_str(&mount.attributes, "docker.fn")
        .is_some_and(|d| d.contains("conditionalMountOnStart")));
    assert!(attr_str(&mount.attributes, "seed").is_some_and(|d| d.contains("000#3.3.2")));
    assert_eq!(mount.status.as_ref().map(|s| s.code), Some(1), "status OK");
    // Span events: the kernel-level actions.
    let pivot = find("init.pivot_root").1;
    assert!(!pivot.events.is_empty(), "init.pivot_root has events");
    for e in &pivot.events {
        assert!(e.time_unix_nano >= pivot.start_time_unix_nano);
        assert!(e.time_unix_nano <= pivot.end_time_unix_nano);
        assert!(!e.name.is_empty());
    }
}

fn run_with_otlp(env: &Env, protocol: &str, endpoint: &str) -> common::Run {
    env.cmd(&["run", "--rm", "--otlp", "busybox", "echo", "hi"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-class=room%2042")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .output()
        .unwrap()
        .into()
}

#[test]
fn run_otlp_over_http_protobuf_delivers_the_span_tree() {
    let env = Env::new("otlp_http");
    let rx = Receiver::start();
    let r = run_with_otlp(&env, "http/protobuf", &format!("http://{}", rx.http));
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    assert!(
        !r.stderr.contains("warning"),
        "a good export is silent: {}",
        r.stderr
    );
    let got = rx.received();
    assert_eq!(got.len(), 1, "one request per trace");
    assert_eq!(got[0].protocol, "http/protobuf");
    assert!(got[0]
        .headers
        .contains(&("x-class".to_string(), "room 42".to_string())));
    let traces = env.traces();
    assert_eq!(traces.len(), 1);
    assert_span_tree(&got[0], &traces[0]);
}

#[test]
fn run_otlp_over_grpc_delivers_the_span_tree_and_export_resends_it() {
    let env = Env::new("otlp_grpc");
    let rx = Receiver::start();
    let r = run_with_otlp(&env, "grpc", &format!("http://{}", rx.grpc));
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].protocol, "grpc");
    assert!(got[0]
        .headers
        .contains(&("x-class".to_string(), "room 42".to_string())));
    let traces = env.traces();
    assert_span_tree(&got[0], &traces[0]);

    // The same trace later, from the file, over the other protocol.
    let r = env
        .cmd(&[
            "trace",
            "export",
            "last",
            "--otlp",
            "--protocol",
            "http/protobuf",
            "--endpoint",
            &format!("http://{}", rx.http),
        ])
        .env("OTEL_SERVICE_NAME", "classroom")
        .output()
        .unwrap();
    let r: common::Run = r.into();
    r.ok();
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].protocol, "http/protobuf");
    let services: HashSet<String> = got[1]
        .request
        .resource_spans
        .iter()
        .filter_map(|rs| attr_str(&rs.resource.as_ref()?.attributes, "service.name"))
        .map(str::to_string)
        .collect();
    assert!(services.contains("classroom"), "{services:?}");
}

#[test]
fn an_unreachable_collector_costs_one_warning_not_the_container() {
    let env = Env::new("otlp_down");
    // A closed port, and a listener that accepts and never answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    for (protocol, addr) in [
        ("http/protobuf", closed_addr),
        ("grpc", closed_addr),
        ("http/protobuf", silent_addr),
        ("grpc", silent_addr),
    ] {
        let t0 = Instant::now();
        let r: common::Run = env
            .cmd(&["run", "--rm", "--otlp", "busybox", "echo", "hi"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "700")
            .output()
            .unwrap()
            .into();
        r.ok();
        assert_eq!(r.stdout, "hi\n");
        let lines: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| !l.contains("built it from the host's static busybox"))
            .collect();
        assert_eq!(lines.len(), 1, "{protocol} {addr}: {}", r.stderr);
        assert!(
            lines[0].starts_with("ctrace: warning: OTLP export to http://"),
            "{}",
            lines[0]
        );
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{protocol} {addr}: took {:?}",
            t0.elapsed()
        );
    }
    assert!(env.ids().is_empty(), "the containers ran and were removed");
    assert_eq!(env.traces().len(), 4, "the traces are still recorded");
}
