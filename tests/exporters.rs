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
fn assert_span_tree(got: &[Received], file: &Value) {
    let trace_id = file["trace_id"].as_str().unwrap();
    // (service, span)
    let mut spans: Vec<(String, &Span)> = Vec::new();
    for rs in got.iter().flat_map(|g| &g.request.resource_spans) {
        let res = rs.resource.as_ref().expect("resource");
        let service = attr_str(&res.attributes, "service.name").expect("service.name");
        assert_eq!(attr_str(&res.attributes, "os.type"), Some("linux"));
        // The semantic conventions' resource attributes, from what the trace file holds.
        assert!(attr_str(&res.attributes, "host.arch").is_some_and(|a| !a.is_empty()));
        assert_eq!(
            attr_str(&res.attributes, "container.runtime"),
            Some("ctrace")
        );
        assert!(attr_str(&res.attributes, "container.image.id")
            .is_some_and(|i| i.starts_with("sha256:")));
        assert!(attr_str(&res.attributes, "service.instance.id").is_some());
        if service == "ctrace" || service == "classroom" {
            assert!(matches!(
                attr(&res.attributes, "process.pid"),
                Some(any_value::Value::IntValue(p)) if *p > 0
            ));
            assert!(attr(&res.attributes, "process.command_args").is_some());
        }
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
    assert!(attr_str(&mount.attributes, "seed").is_some_and(|d| d.contains("000#2.3.2")));
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
    assert_eq!(
        got.len(),
        3,
        "one request per recording process (each its own resource)"
    );
    for g in &got {
        assert_eq!(g.protocol, "http/protobuf");
        assert!(g
            .headers
            .contains(&("x-class".to_string(), "room 42".to_string())));
    }
    let traces = env.traces();
    assert_eq!(traces.len(), 1);
    assert_span_tree(&got, &traces[0]);
}

#[test]
fn run_otlp_over_grpc_delivers_the_span_tree_and_export_resends_it() {
    let env = Env::new("otlp_grpc");
    let rx = Receiver::start();
    let r = run_with_otlp(&env, "grpc", &format!("http://{}", rx.grpc));
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    let got = rx.received();
    assert_eq!(got.len(), 3, "one request per recording process");
    for g in &got {
        assert_eq!(g.protocol, "grpc");
        assert!(g
            .headers
            .contains(&("x-class".to_string(), "room 42".to_string())));
    }
    let traces = env.traces();
    assert_span_tree(&got, &traces[0]);

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
    assert_eq!(got.len(), 6);
    assert!(got[3..].iter().all(|g| g.protocol == "http/protobuf"));
    let services: HashSet<String> = got[3..]
        .iter()
        .flat_map(|g| &g.request.resource_spans)
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

/// Parses an SVG as XML (inferno's carry a DOCTYPE).
fn parse_svg(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).expect("the SVG is XML")
}

/// Runs one container and returns its trace file.
fn one_trace(env: &Env) -> Value {
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    env.traces().pop().expect("a trace file")
}

fn export(env: &Env, format: &str) -> Value {
    let r = env.run(&["trace", "export", "last", "--format", format]);
    r.ok();
    serde_json::from_str(&r.stdout).expect("valid JSON")
}

#[test]
fn jaeger_json_is_what_the_jaeger_ui_uploads() {
    let env = Env::new("jaeger");
    let file = one_trace(&env);
    let doc = export(&env, "jaeger");
    let data = doc["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let t = &data[0];
    let trace_id = file["trace_id"].as_str().unwrap();
    assert_eq!(t["traceID"], trace_id);
    let procs = t["processes"].as_object().unwrap();
    let services: HashSet<&str> = procs
        .values()
        .map(|p| p["serviceName"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        HashSet::from(["ctrace", "ctrace-shim", "ctrace-init"])
    );
    let spans = t["spans"].as_array().unwrap();
    let file_spans = file["spans"].as_array().unwrap();
    assert_eq!(spans.len(), file_spans.len());
    let ids: HashSet<&str> = spans
        .iter()
        .map(|s| s["spanID"].as_str().unwrap())
        .collect();
    for (s, f) in spans.iter().zip(file_spans) {
        assert_eq!(s["traceID"], trace_id);
        assert_eq!(s["spanID"], f["span_id"]);
        assert_eq!(s["operationName"], f["name"]);
        assert_eq!(
            s["startTime"].as_u64().unwrap(),
            f["start_unix_ns"].as_u64().unwrap() / 1000,
            "startTime in µs"
        );
        assert_eq!(
            s["duration"].as_u64().unwrap(),
            f["duration_ns"].as_u64().unwrap() / 1000,
            "duration in µs"
        );
        assert!(procs.contains_key(s["processID"].as_str().unwrap()));
        let refs = s["references"].as_array().unwrap();
        match f["parent_id"].as_str() {
            Some(p) => {
                assert_eq!(refs.len(), 1);
                assert_eq!(refs[0]["refType"], "CHILD_OF");
                assert_eq!(refs[0]["traceID"], trace_id);
                assert_eq!(refs[0]["spanID"], p);
                assert!(ids.contains(p));
            }
            None => assert!(refs.is_empty()),
        }
        for tag in s["tags"].as_array().unwrap() {
            let ty = tag["type"].as_str().unwrap();
            assert!(
                ["string", "bool", "int64", "float64"].contains(&ty),
                "{tag}"
            );
            assert!(tag["key"].is_string());
        }
        let logs = s["logs"].as_array().unwrap();
        assert_eq!(logs.len(), f["events"].as_array().unwrap().len());
        for l in logs {
            assert!(l["timestamp"].is_u64());
            assert_eq!(l["fields"][0]["key"], "event");
        }
    }
    let mount = spans
        .iter()
        .find(|s| s["operationName"] == "start.mount")
        .unwrap();
    let tag = |k: &str| {
        mount["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == k)
            .map(|t| t["value"].as_str().unwrap().to_string())
    };
    assert!(tag("docker.fn")
        .unwrap()
        .contains("conditionalMountOnStart"));
    assert!(tag("seed").unwrap().contains("000#2.3.2"));
    assert!(tag("note").is_some());
}

#[test]
fn chrome_json_loads_in_perfetto() {
    let env = Env::new("chrome");
    let file = one_trace(&env);
    let doc = export(&env, "chrome");
    let events = doc["traceEvents"].as_array().unwrap();
    let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let file_spans = file["spans"].as_array().unwrap();
    assert_eq!(complete.len(), file_spans.len(), "one X event per span");
    let origin = file_spans
        .iter()
        .map(|s| s["start_unix_ns"].as_u64().unwrap())
        .min()
        .unwrap();
    let mut names: HashMap<u64, String> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "M") {
        if e["name"] == "process_name" {
            names.insert(
                e["pid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().into(),
            );
        }
    }
    assert_eq!(
        names.values().cloned().collect::<HashSet<_>>(),
        HashSet::from(["ctrace".into(), "ctrace-shim".into(), "ctrace-init".into()])
    );
    for (e, f) in complete.iter().zip(file_spans) {
        assert_eq!(e["name"], f["name"]);
        let ts = e["ts"].as_f64().unwrap();
        let dur = e["dur"].as_f64().unwrap();
        let want_ts = (f["start_unix_ns"].as_u64().unwrap() - origin) as f64 / 1000.0;
        assert!((ts - want_ts).abs() < 0.002, "ts in µs since the start");
        assert!((dur - f["duration_ns"].as_u64().unwrap() as f64 / 1000.0).abs() < 0.002);
        let pid = e["pid"].as_u64().unwrap();
        let service = &names[&pid];
        let process = f["process"].as_str().unwrap();
        assert_eq!(
            service,
            &if process == "ctrace" {
                "ctrace".to_string()
            } else {
                format!("ctrace-{process}")
            }
        );
        assert!(e["tid"].as_u64().unwrap() >= 1);
        assert_eq!(e["args"]["span_id"], f["span_id"]);
    }
    assert_tracks_nest(&doc);
}

/// On one Chrome track (pid, tid) events nest or are disjoint: Perfetto draws no partial overlaps.
fn assert_tracks_nest(doc: &Value) {
    let mut tracks: HashMap<(u64, u64), Vec<(f64, f64)>> = HashMap::new();
    for e in doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
    {
        let ts = e["ts"].as_f64().unwrap();
        tracks
            .entry((e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
            .or_default()
            .push((ts, ts + e["dur"].as_f64().unwrap()));
    }
    for (track, mut v) in tracks {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        // A stack of open intervals: each next one must fit inside the innermost still open.
        let mut open: Vec<(f64, f64)> = Vec::new();
        for iv in v {
            while open.last().is_some_and(|o| o.1 <= iv.0) {
                open.pop();
            }
            if let Some(o) = open.last() {
                assert!(iv.1 <= o.1, "{track:?}: {iv:?} overlaps {o:?}");
            }
            open.push(iv);
        }
    }
}

#[test]
fn flamegraph_svg_has_one_frame_per_phase_sized_by_its_time() {
    let env = Env::new("flamegraph");
    let file = one_trace(&env);
    let svg_path = env.dir.join("run.svg");
    env.run(&[
        "trace",
        "flamegraph",
        "last",
        "-o",
        svg_path.to_str().unwrap(),
    ])
    .ok();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = parse_svg(&svg);
    let total: f64 = doc
        .descendants()
        .find(|n| n.attribute("total_samples").is_some())
        .and_then(|n| n.attribute("total_samples")?.parse().ok())
        .unwrap();
    let root = &file["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "run")
        .unwrap();
    // total = run's wall time (each folded line is rounded to a nanosecond)
    assert!((total - root["duration_ns"].as_f64().unwrap()).abs() < 100.0);
    let title = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("title"))
        .and_then(|n| n.text())
        .unwrap()
        .to_string();
    assert!(
        title.contains("ctrace run") && title.contains("busybox"),
        "{title}"
    );
    // frame name → (width in samples)
    let mut frames: HashMap<String, Vec<f64>> = HashMap::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("g")) {
        let Some(t) = g.children().find(|c| c.has_tag_name("title")) else {
            continue;
        };
        let Some(rect) = g.children().find(|c| c.has_tag_name("rect")) else {
            continue;
        };
        let name = t.text().unwrap().split(" (").next().unwrap().to_string();
        let w: f64 = rect
            .attributes()
            .find(|a| a.name() == "w")
            .unwrap()
            .value()
            .parse()
            .unwrap();
        frames.entry(name).or_default().push(w);
    }
    for phase in [
        "run",
        "create",
        "start",
        "start.mount",
        "start.spec",
        "runtime.shim",
        "runtime.clone",
        "init.pivot_root",
    ] {
        let spans: Vec<&Value> = file["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == phase)
            .collect();
        assert_eq!(spans.len(), 1);
        let w = frames
            .get(phase)
            .unwrap_or_else(|| panic!("no frame {phase}"));
        assert_eq!(w.len(), 1, "one frame for {phase}");
        // A frame's width is the span's wall time (a child's share is never counted twice).
        let want = spans[0]["duration_ns"].as_f64().unwrap();
        assert!(
            (w[0] - want).abs() <= want * 0.01 + 2.0,
            "{phase}: frame {} ns, span {want} ns",
            w[0]
        );
    }
}

#[test]
fn trace_diff_compares_two_recorded_traces() {
    let env = Env::new("diff");
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    env.run(&["run", "--rm", "-m", "64m", "busybox", "true"])
        .ok();
    let t = env.traces();
    let (a, b) = (
        t[0]["trace_id"].as_str().unwrap(),
        t[1]["trace_id"].as_str().unwrap(),
    );
    let svg = env.dir.join("diff.svg");
    let r = env.run(&["trace", "diff", a, &b[..12], "-o", svg.to_str().unwrap()]);
    r.ok();
    parse_svg(&std::fs::read_to_string(&svg).unwrap());
    let dur = |t: &Value, name: &str| -> f64 {
        t["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == name)
            .map(|s| s["duration_ns"].as_f64().unwrap())
            .sum::<f64>()
            / 1e6
    };
    for phase in [
        "run",
        "create",
        "start.mount",
        "runtime.cgroup",
        "start.runtime.create",
    ] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(phase))
            .unwrap_or_else(|| panic!("no row for {phase}:\n{}", r.stdout));
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (va, vb): (f64, f64) = (cols[1].parse().unwrap(), cols[2].parse().unwrap());
        assert!((va - dur(&t[0], phase)).abs() < 0.001, "{line}");
        assert!((vb - dur(&t[1], phase)).abs() < 0.001, "{line}");
        let delta: f64 = cols[3].parse().unwrap();
        assert!((delta - (vb - va)).abs() < 0.002, "{line}");
        assert!(cols[4].ends_with('%'), "{line}");
    }
}

#[test]
fn bad_trace_input_is_one_clear_error_line() {
    let env = Env::new("bad_traces");
    let dir = env.root.join("traces");
    std::fs::create_dir_all(&dir).unwrap();
    let good = |id: &str| {
        serde_json::json!({
            "format": "ctrace-trace/1", "trace_id": id, "operation": "run", "mode": "real",
            "host": {"hostname": "h", "kernel": "k", "cgroup": "v2", "runtime": "embedded", "cpus": 2},
            "started_unix_ns": 1, "duration_ns": 10,
            "spans": [{"span_id": "00000000000000a1", "name": "run", "start_unix_ns": 1,
                       "duration_ns": 10, "process": "ctrace", "status": "ok"}]
        })
        .to_string()
    };
    std::fs::write(
        dir.join("abcd0000000000000000000000000001.json"),
        good("abcd0000000000000000000000000001"),
    )
    .unwrap();
    std::fs::write(
        dir.join("abcd0000000000000000000000000002.json"),
        good("abcd0000000000000000000000000002"),
    )
    .unwrap();
    let truncated = env.dir.join("truncated.json");
    std::fs::write(&truncated, &good("ff")[..40]).unwrap();
    let foreign = env.dir.join("foreign.json");
    std::fs::write(&foreign, r#"{"traceEvents": []}"#).unwrap();
    let other_format = env.dir.join("other.json");
    std::fs::write(
        &other_format,
        good("ee").replace("ctrace-trace/1", "ctrace-trace/9"),
    )
    .unwrap();
    let out = env.dir.join("out.svg");
    let out = out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["trace", "show", truncated.to_str().unwrap()],
            "is not a ctrace trace file",
        ),
        (
            vec![
                "trace",
                "export",
                foreign.to_str().unwrap(),
                "--format",
                "jaeger",
            ],
            "is not a ctrace trace file",
        ),
        (
            vec![
                "trace",
                "flamegraph",
                other_format.to_str().unwrap(),
                "-o",
                out,
            ],
            "ctrace-trace/9",
        ),
        (
            vec!["trace", "show", "0123456789abcdef"],
            "no trace matches",
        ),
        (
            vec!["trace", "export", "abcd", "--format", "chrome"],
            "is ambiguous",
        ),
        (
            vec!["trace", "diff", "abcd0000000000000000000000000001", "nope"],
            "no trace matches",
        ),
        (
            vec![
                "trace",
                "export",
                "abcd0000000000000000000000000001",
                "--format",
                "svg",
            ],
            "unknown export format",
        ),
        (
            vec![
                "trace",
                "export",
                "abcd0000000000000000000000000001",
                "--otlp",
                "--protocol",
                "thrift",
            ],
            "unknown OTLP protocol",
        ),
    ] {
        let r = env.run(&args);
        assert_ne!(r.code, 0, "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("ctrace: "), "{}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    assert!(
        !std::path::Path::new(out).exists(),
        "a failed export writes nothing"
    );
    // A good one works, by unique prefix.
    env.run(&[
        "trace",
        "export",
        "abcd0000000000000000000000000001",
        "--format",
        "chrome",
    ])
    .ok();
}

#[test]
fn bench_summary_is_consistent_with_its_trace_file() {
    let env = Env::new("bench");
    // The image first, so no run pays for the busybox bootstrap.
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    let svg = env.dir.join("bench.svg");
    let r = env.run(&[
        "bench",
        "-n",
        "20",
        "--concurrency",
        "2",
        "--format",
        "json",
        "-o",
        svg.to_str().unwrap(),
        "busybox",
    ]);
    r.ok();
    let summary: Value = serde_json::from_str(&r.stdout).expect("JSON summary");
    assert_eq!(summary["runs"], 20);
    assert_eq!(summary["failed"], 0);
    assert!(env.ids().is_empty(), "every bench container is removed");
    let trace = env
        .traces()
        .into_iter()
        .find(|t| t["operation"] == "bench")
        .expect("one trace file for the bench");
    assert_eq!(summary["trace_id"], trace["trace_id"]);
    let spans = trace["spans"].as_array().unwrap();
    let bench = spans.iter().find(|s| s["name"] == "bench").unwrap();
    let runs: Vec<&Value> = spans.iter().filter(|s| s["name"] == "run").collect();
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r["parent_id"] == bench["span_id"]));
    let phases = summary["phases"].as_array().unwrap();
    let row = |name: &str| phases.iter().find(|p| p["phase"] == name).unwrap();
    let durations = |name: &str| {
        let mut v: Vec<f64> = spans
            .iter()
            .filter(|s| s["name"] == name)
            .map(|s| s["duration_ns"].as_f64().unwrap() / 1e6)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    for name in [
        "run",
        "start",
        "start.mount",
        "runtime.clone",
        "create.register",
    ] {
        let v = durations(name);
        assert_eq!(v.len(), 20, "{name} once per run");
        let p = row(name);
        assert_eq!(p["count"], 20);
        let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-6;
        assert!(close(&p["max_ms"], v[19]), "{name} max");
        assert!(close(&p["p50_ms"], v[9]), "{name} p50 (nearest rank)");
        assert!(close(&p["p90_ms"], v[17]), "{name} p90");
        assert!(close(&p["p99_ms"], v[19]), "{name} p99");
        let share = v.iter().sum::<f64>() * 100.0 / durations("run").iter().sum::<f64>();
        assert!(close(&p["share_pct"], share), "{name} share");
    }
    assert!((row("run")["share_pct"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    // The aggregate flamegraph covers the whole bench.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = parse_svg(&text);
    let total: f64 = doc
        .descendants()
        .find_map(|n| n.attribute("total_samples")?.parse().ok())
        .unwrap();
    // Concurrent runs get tracks of their own in Perfetto.
    let chrome = export(&env, "chrome");
    assert_tracks_nest(&chrome);
    let tids: HashSet<u64> = chrome["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"] == "run")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert!(
        tids.len() >= 2,
        "two runs at a time need two tracks: {tids:?}"
    );
    // Each folded line is rounded to a nanosecond.
    assert!((total - bench["duration_ns"].as_f64().unwrap()).abs() < 1000.0);
}

#[test]
fn bench_refuses_bad_counts() {
    let env = Env::new("bench_bad");
    for args in [
        ["bench", "-n", "0", "busybox"],
        ["bench", "--concurrency", "0", "busybox"],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 1);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(env.traces().is_empty());
    }
}

/// The cost of `run --otlp` against `CTRACE_TRACE=off`, runs interleaved, medians printed (a
/// measurement, not a check: `cargo test --release --test exporters -- --ignored --nocapture`).
#[test]
#[ignore]
fn measure_otlp_overhead() {
    let env = Env::new("otlp_overhead");
    let rx = Receiver::start();
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    let base = ["run", "--rm", "--network", "none", "busybox", "true"];
    let otlp = [
        "run",
        "--rm",
        "--otlp",
        "--network",
        "none",
        "busybox",
        "true",
    ];
    let http = format!("http://{}", rx.http);
    let grpc = format!("http://{}", rx.grpc);
    type Variant<'a> = (&'a str, &'a [&'a str], Vec<(&'a str, &'a str)>);
    let variants: [Variant; 4] = [
        ("off", &base, vec![("CTRACE_TRACE", "off")]),
        ("traced", &base, vec![]),
        (
            "otlp-http",
            &otlp,
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ],
        ),
        (
            "otlp-grpc",
            &otlp,
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &grpc),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ],
        ),
    ];
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..runs {
        for (i, (_, args, vars)) in variants.iter().enumerate() {
            let mut c = env.cmd(args);
            for (k, v) in vars {
                c.env(k, v);
            }
            let t0 = Instant::now();
            let r: common::Run = c.output().unwrap().into();
            times[i].push(t0.elapsed().as_secs_f64() * 1e3);
            r.ok();
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let off = median(&mut times[0]);
    for (i, (name, _, _)) in variants.iter().enumerate() {
        let m = median(&mut times[i]);
        println!(
            "{name:<10} median {m:7.2} ms  ({:+.1}% against off)",
            (m - off) * 100.0 / off
        );
    }
    assert_eq!(rx.received().len(), 2 * runs);
}

#[test]
fn otlp_json_follows_the_protobuf_json_mapping() {
    let env = Env::new("otlp_json");
    let file = one_trace(&env);
    let doc = export(&env, "otlp-json");
    let trace_id = file["trace_id"].as_str().unwrap();
    let mut count = 0;
    let mut services = HashSet::new();
    for rs in doc["resourceSpans"].as_array().unwrap() {
        let attrs = rs["resource"]["attributes"].as_array().unwrap();
        let service = attrs.iter().find(|a| a["key"] == "service.name").unwrap();
        services.insert(
            service["value"]["stringValue"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        for ss in rs["scopeSpans"].as_array().unwrap() {
            assert_eq!(ss["scope"]["name"], "ctrace");
            for s in ss["spans"].as_array().unwrap() {
                count += 1;
                assert_eq!(s["traceId"], trace_id, "ids are hex in OTLP/JSON");
                assert_eq!(s["spanId"].as_str().unwrap().len(), 16);
                assert_eq!(s["kind"], 1, "enums are numbers");
                let start: u64 = s["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
                let end: u64 = s["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
                assert!(start <= end, "64-bit integers are strings");
                let f = file["spans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["span_id"] == s["spanId"])
                    .unwrap();
                assert_eq!(start, f["start_unix_ns"].as_u64().unwrap());
                assert_eq!(s["parentSpanId"].as_str(), f["parent_id"].as_str());
                assert_eq!(s["status"]["code"], 1);
                for a in s["attributes"].as_array().unwrap() {
                    let v = a["value"].as_object().unwrap();
                    assert_eq!(v.len(), 1, "{a}");
                    if let Some(i) = v.get("intValue") {
                        assert!(i.is_string(), "{a}");
                    }
                }
                for e in s["events"].as_array().unwrap() {
                    assert!(e["timeUnixNano"].is_string());
                    assert!(e["name"].is_string());
                }
            }
        }
    }
    assert_eq!(count, file["spans"].as_array().unwrap().len());
    assert_eq!(
        services,
        HashSet::from(["ctrace".into(), "ctrace-shim".into(), "ctrace-init".into()])
    );
}

#[test]
fn run_otlp_sends_even_when_trace_files_are_off() {
    let env = Env::new("otlp_no_files");
    let rx = Receiver::start();
    let r: common::Run = env
        .cmd(&["run", "--rm", "--otlp", "busybox", "true"])
        .env("CTRACE_TRACE", "off")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{}", rx.http))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .output()
        .unwrap()
        .into();
    r.ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(env.traces().is_empty(), "CTRACE_TRACE=off writes no file");
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let names: HashSet<&str> = got
        .iter()
        .flat_map(|g| &g.request.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.as_str())
        .collect();
    for n in [
        "run",
        "create",
        "start",
        "runtime.clone",
        "init.pivot_root",
        "exit",
    ] {
        assert!(names.contains(n), "no {n}: {names:?}");
    }
}

/// A run whose only OTLP settings are `vars` (no `--otlp` unless `flag`).
fn run_with_env(env: &Env, flag: bool, vars: &[(&str, &str)]) -> common::Run {
    let mut args = vec!["run", "--rm"];
    if flag {
        args.push("--otlp");
    }
    args.extend(["busybox", "true"]);
    let mut cmd = env.cmd(&args);
    for v in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SERVICE_NAME",
        "TRACEPARENT",
        "TRACESTATE",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap().into()
}

/// stderr without the one-time note about bootstrapping busybox.
fn complaints(r: &common::Run) -> Vec<String> {
    r.stderr
        .lines()
        .filter(|l| !l.contains("built it from the host's static busybox"))
        .map(str::to_string)
        .collect()
}

#[test]
fn https_collectors_are_trusted_through_the_environments_ca_with_a_client_certificate() {
    let env = Env::new("otlp_tls");
    let rx = Receiver::start();
    let endpoint = format!("https://127.0.0.1:{}", rx.https.port());
    let ca = rx.pki.ca.to_str().unwrap().to_string();
    let cert = rx.pki.client_cert.to_str().unwrap().to_string();
    let key = rx.pki.client_key.to_str().unwrap().to_string();
    let base = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
    ];

    // The test's CA is nobody's root: refused, one warning, nothing delivered.
    let r = run_with_env(&env, true, &base);
    r.ok();
    let lines = complaints(&r);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].starts_with("ctrace: warning: OTLP export to https://"),
        "{}",
        lines[0]
    );
    assert!(rx.received().is_empty());

    // Trusted through OTEL_EXPORTER_OTLP_CERTIFICATE: delivered, gzip-compressed when asked.
    let mut vars = base.to_vec();
    vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca));
    vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"));
    let r = run_with_env(&env, true, &vars);
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 3, "one request per recording process");
    for g in &got {
        assert_eq!(g.tls_client_cert, Some(false));
        assert!(g
            .headers
            .contains(&("content-encoding".to_string(), "gzip".to_string())));
    }

    // With a client certificate and key (mutual TLS): presented.
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert));
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key));
    let r = run_with_env(&env, true, &vars);
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 6);
    assert!(got[3..].iter().all(|g| g.tls_client_cert == Some(true)));

    // A certificate without its key is a one-line error, and the container still runs.
    let r = run_with_env(
        &env,
        true,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert),
        ],
    );
    r.ok();
    let lines = complaints(&r);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].contains("OTEL_EXPORTER_OTLP_CLIENT_KEY"),
        "{}",
        lines[0]
    );
    assert_eq!(rx.received().len(), 6);
}

#[test]
fn a_callers_traceparent_makes_the_run_a_child_of_the_callers_span() {
    let env = Env::new("otlp_parent");
    let rx = Receiver::start();
    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let tp = format!("00-{trace_id}-{parent}-01");
    let http = format!("http://{}", rx.http);
    let r = run_with_env(
        &env,
        true,
        &[
            ("TRACEPARENT", &tp),
            ("TRACESTATE", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
        ],
    );
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let traces = env.traces();
    assert_eq!(traces.len(), 1);
    assert_eq!(
        traces[0]["trace_id"], trace_id,
        "the caller's trace continues"
    );
    let root = traces[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "run")
        .unwrap();
    assert_eq!(root["parent_id"], parent);
    let run = rx
        .received()
        .iter()
        .flat_map(|g| g.request.resource_spans.clone())
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .find(|s| s.name == "run")
        .expect("run span sent");
    assert_eq!(hex(&run.trace_id), trace_id);
    assert_eq!(hex(&run.parent_span_id), parent);
    assert_eq!(run.flags & 0x300, 0x300, "the parent is marked remote");
    assert_eq!(
        run.trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        "the caller's tracestate goes along"
    );
    assert_eq!(
        traces[0]["trace_state"],
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );

    // Not a traceparent: one warning, a trace of its own.
    let r = run_with_env(&env, false, &[("TRACEPARENT", "00-nope-01")]);
    r.ok();
    let lines = complaints(&r);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].contains("TRACEPARENT"), "{}", lines[0]);
    let traces = env.traces();
    assert_eq!(traces.len(), 2);
    assert!(traces.iter().any(|t| t["trace_id"] != trace_id));
}

#[test]
fn the_opentelemetry_variables_turn_the_export_on_and_off() {
    let env = Env::new("otlp_vars");
    let rx = Receiver::start();
    let http = format!("http://{}", rx.http);

    // The endpoint alone exports (the docker CLI's habit), with OTEL_RESOURCE_ATTRIBUTES.
    let r = run_with_env(
        &env,
        false,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=classroom,service.name=ignored",
            ),
        ],
    );
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    for rs in got.iter().flat_map(|g| &g.request.resource_spans) {
        let attrs = &rs.resource.as_ref().unwrap().attributes;
        assert_eq!(attr_str(attrs, "deployment.environment"), Some("classroom"));
        assert_ne!(attr_str(attrs, "service.name"), Some("ignored"), "ours win");
    }

    // OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none switch it off, even with --otlp.
    for (k, v) in [
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ] {
        let r = run_with_env(
            &env,
            true,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", &http), (k, v)],
        );
        r.ok();
        let lines = complaints(&r);
        assert_eq!(lines, vec![format!("ctrace: OTLP export off ({k}={v})")]);
        assert_eq!(rx.received().len(), 3, "{k}={v}: nothing sent");
    }

    // An exporter ctrace does not have: one warning naming the variable.
    let r = run_with_env(
        &env,
        true,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
        ],
    );
    r.ok();
    let lines = complaints(&r);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].contains("OTEL_TRACES_EXPORTER=zipkin"),
        "{}",
        lines[0]
    );
    assert_eq!(rx.received().len(), 3);
}

#[test]
fn trace_propagate_hands_the_create_span_to_the_containers_process() {
    let env = Env::new("otlp_propagate");
    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--trace-propagate",
        "busybox",
        "env",
    ]);
    let out = r.ok().stdout.clone();
    let tp = out
        .lines()
        .find_map(|l| l.strip_prefix("TRACEPARENT="))
        .unwrap_or_else(|| panic!("no TRACEPARENT in the container: {out}"));
    let traces = env.traces();
    assert_eq!(traces.len(), 1);
    let trace_id = traces[0]["trace_id"].as_str().unwrap();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[1], trace_id, "the container continues this trace");
    // Under the create phase that wrote its configuration.
    let parent = traces[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["span_id"] == parts[2])
        .unwrap_or_else(|| panic!("{tp}: its parent span is not in the trace"));
    assert!(
        parent["name"].as_str().unwrap().starts_with("create"),
        "{}",
        parent["name"]
    );
    // Not asked: nothing handed over.
    let r = env.run(&["run", "--rm", "--network", "none", "busybox", "env"]);
    assert!(!r.ok().stdout.contains("TRACEPARENT="), "{}", r.stdout);
}

#[test]
fn grpc_collectors_over_tls_get_the_spans_gzip_compressed_and_with_a_client_certificate() {
    let env = Env::new("otlp_grpcs");
    let rx = Receiver::start();
    let endpoint = format!("https://localhost:{}", rx.grpcs.port());
    let ca = rx.pki.ca.to_str().unwrap().to_string();
    let cert = rx.pki.client_cert.to_str().unwrap().to_string();
    let key = rx.pki.client_key.to_str().unwrap().to_string();
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
    ];

    // The test's CA is nobody's root: one warning, nothing delivered.
    let r = run_with_env(&env, true, &vars);
    r.ok();
    let lines = complaints(&r);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].starts_with("ctrace: warning: OTLP export to https://"),
        "{}",
        lines[0]
    );
    assert!(rx.received().is_empty());

    // Trusted through the CA variable, gzip on: delivered compressed, no client certificate.
    vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca));
    vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"));
    let r = run_with_env(&env, true, &vars);
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 3, "one request per recording process");
    for g in &got {
        assert_eq!(g.protocol, "grpc");
        assert_eq!(g.tls_client_cert, Some(false));
        assert!(
            g.headers
                .contains(&("grpc-encoding".to_string(), "gzip".to_string())),
            "{:?}",
            g.headers
        );
    }
    assert_span_tree(&got, &env.traces()[1]);

    // Mutual TLS, gzip off: the certificate presented, the messages plain.
    vars.retain(|(k, _)| *k != "OTEL_EXPORTER_OTLP_COMPRESSION");
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert));
    vars.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key));
    let r = run_with_env(&env, true, &vars);
    r.ok();
    assert!(complaints(&r).is_empty(), "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 6);
    for g in &got[3..] {
        assert_eq!(g.tls_client_cert, Some(true));
        assert!(!g.headers.iter().any(|(k, _)| k == "grpc-encoding"));
    }
}

/// The spans of every request received, by span id, counting repeats.
fn span_counts(got: &[Received]) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for s in got
        .iter()
        .flat_map(|g| &g.request.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
    {
        *n.entry(hex(&s.span_id)).or_insert(0) += 1;
    }
    n
}

#[test]
fn a_collector_that_says_retry_later_gets_every_span_exactly_once() {
    let env = Env::new("otlp_retry");
    let rx = Receiver::start();
    let http = format!("http://{}", rx.http);
    let grpc = format!("http://{}", rx.grpc);
    for (protocol, endpoint) in [("http/protobuf", &http), ("grpc", &grpc)] {
        let before = rx.received().len();
        let turned_away = rx.turned_away();
        // 503 with Retry-After: 1 (HTTP), UNAVAILABLE with a 1 s RetryInfo (gRPC), once.
        rx.busy_for(1);
        let t0 = Instant::now();
        let r = run_with_env(
            &env,
            true,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ],
        );
        r.ok();
        assert!(complaints(&r).is_empty(), "{protocol}: {}", r.stderr);
        assert_eq!(rx.turned_away(), turned_away + 1, "{protocol}");
        assert!(
            t0.elapsed() >= Duration::from_secs(1),
            "{protocol}: the retry waited as told"
        );
        let got = rx.received()[before..].to_vec();
        assert_eq!(got.len(), 3, "{protocol}: one request per process");
        let counts = span_counts(&got);
        let trace = env.traces().pop().unwrap();
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(counts.len(), spans.len(), "{protocol}: every span arrived");
        assert!(
            counts.values().all(|&n| n == 1),
            "{protocol}: no span twice: {counts:?}"
        );
    }
}

#[test]
fn bad_opentelemetry_settings_are_one_line_and_the_container_still_runs() {
    let env = Env::new("otlp_bad");
    let rx = Receiver::start();
    let http = format!("http://{}", rx.http);
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "invalid OTLP endpoint \"localhost:4318",
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")],
        ),
        (
            "http://local host:4318",
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://local host:4318")],
        ),
        (
            "unknown OTLP protocol \"thrift\"",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ],
        ),
        (
            "/no/such/ca.pem",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:9"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem"),
            ],
        ),
        (
            "TRACEPARENT",
            &[("TRACEPARENT", "01-zz-00f067aa0ba902b7-01")],
        ),
    ];
    for (names, vars) in cases {
        let r = run_with_env(&env, false, vars);
        r.ok();
        let lines = complaints(&r);
        assert_eq!(lines.len(), 1, "{vars:?}: {}", r.stderr);
        assert!(lines[0].starts_with("ctrace: "), "{}", lines[0]);
        assert!(lines[0].contains(names), "{vars:?}: {}", lines[0]);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // A header string the exporter cannot parse: the good pairs go, the bad one is dropped
    // (the specification's "ignore what cannot be parsed").
    let r = run_with_env(
        &env,
        false,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-ok=1,no-equals-sign,=empty"),
        ],
    );
    r.ok();
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(complaints(&r).len() <= 1, "{}", r.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 3, "{}", r.stderr);
    assert!(got
        .iter()
        .all(|g| g.headers.contains(&("x-ok".to_string(), "1".to_string()))));
    assert!(env.ids().is_empty(), "every container ran and was removed");
    assert_eq!(env.traces().len(), cases.len() + 1);
}

/// Checks `v` against the JSON Schema `schema` (the draft-07 keywords speedscope's schema uses:
/// `$ref`, `type`, `properties`, `required`, `items`, `anyOf`, `const`, `enum`); the errors.
fn schema_errors(root: &Value, schema: &Value, v: &Value, at: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/definitions/");
        errs.extend(schema_errors(root, &root["definitions"][name], v, at));
    }
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            other => panic!("schema type {other} not handled"),
        };
        if !ok {
            errs.push(format!("{at}: not a {t}: {v}"));
            return errs;
        }
    }
    if let Some(c) = schema.get("const") {
        if v != c {
            errs.push(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not one of {e:?}"));
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if v.get(r.as_str().unwrap()).is_none() {
            errs.push(format!("{at}: no {r}"));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, s) in props {
            if let Some(x) = v.get(k) {
                errs.extend(schema_errors(root, s, x, &format!("{at}.{k}")));
            }
        }
    }
    if let (Some(items), Some(xs)) = (schema.get("items"), v.as_array()) {
        for (i, x) in xs.iter().enumerate() {
            errs.extend(schema_errors(root, items, x, &format!("{at}[{i}]")));
        }
    }
    if let Some(any) = schema["anyOf"].as_array() {
        if !any.iter().any(|s| schema_errors(root, s, v, at).is_empty()) {
            errs.push(format!("{at}: matches none of anyOf: {v}"));
        }
    }
    errs
}

#[test]
fn speedscope_export_is_valid_against_speedscopes_schema_one_profile_per_process() {
    let env = Env::new("speedscope");
    let trace = one_trace(&env);
    let doc = export(&env, "speedscope");
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/speedscope/file-format-schema.json")).unwrap();
    let errs = schema_errors(&schema, &schema, &doc, "$");
    assert!(errs.is_empty(), "{errs:#?}");
    // Deliberately broken, it fails: the check checks.
    let mut bad = doc.clone();
    bad["profiles"][0]["events"][0]["type"] = "X".into();
    assert!(!schema_errors(&schema, &schema, &bad, "$").is_empty());

    let spans = trace["spans"].as_array().unwrap();
    let profiles = doc["profiles"].as_array().unwrap();
    let names: Vec<&str> = profiles
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ctrace", "ctrace-shim", "ctrace-init"]);
    let frames = doc["shared"]["frames"].as_array().unwrap();
    let mut opened = 0;
    for p in profiles {
        // Every frame opened is closed, in stack order, and time never runs backwards.
        let mut stack = Vec::new();
        let mut last = 0.0;
        for e in p["events"].as_array().unwrap() {
            let at = e["at"].as_f64().unwrap();
            assert!(at >= last, "{e} before {last}");
            last = at;
            let f = e["frame"].as_u64().unwrap();
            assert!((f as usize) < frames.len());
            if e["type"] == "O" {
                stack.push(f);
                opened += 1;
            } else {
                assert_eq!(stack.pop(), Some(f), "{e} closes another frame");
            }
        }
        assert!(stack.is_empty());
        assert!(last <= p["endValue"].as_f64().unwrap());
    }
    assert_eq!(opened, spans.len(), "one frame opened per span");
}

#[test]
fn zipkin_export_is_one_v2_span_per_span_with_its_service() {
    let env = Env::new("zipkin");
    let trace = one_trace(&env);
    let doc = export(&env, "zipkin");
    let spans = trace["spans"].as_array().unwrap();
    let got = doc.as_array().unwrap();
    assert_eq!(got.len(), spans.len());
    let ids: HashSet<&str> = got.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for (z, s) in got.iter().zip(spans) {
        assert_eq!(z["traceId"], trace["trace_id"]);
        assert_eq!(z["id"], s["span_id"]);
        assert_eq!(z["name"], s["name"]);
        assert_eq!(z["timestamp"], s["start_unix_ns"].as_u64().unwrap() / 1000);
        assert!(z["duration"].as_u64().unwrap() >= 1);
        if let Some(p) = z["parentId"].as_str() {
            assert!(ids.contains(p), "{z}: parent not in the trace");
        }
        let service = z["localEndpoint"]["serviceName"].as_str().unwrap();
        let want = match s["process"].as_str().unwrap() {
            "" | "ctrace" => "ctrace".to_string(),
            p => format!("ctrace-{p}"),
        };
        assert_eq!(service, want);
        assert!(z["tags"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string));
    }
    let mount = got.iter().find(|z| z["name"] == "start.mount").unwrap();
    assert!(mount["tags"]["docker.fn"]
        .as_str()
        .is_some_and(|d| d.contains("conditionalMountOnStart")));
}
