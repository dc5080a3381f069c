//! Chrome Trace Event JSON: what Perfetto (ui.perfetto.dev) and chrome://tracing load.
//!
//! Every span is one complete (`"ph": "X"`) event in microseconds since the trace began; span
//! events are instant (`"ph": "i"`) events on the same track. Each process that recorded spans
//! (`ctrace`, `shim`, `init`) is a `pid` with a `process_name`; within a process, spans that
//! overlap without nesting (concurrent branches: a bench's runs) go on tracks (`tid`) of their
//! own, since Perfetto does not draw overlapping `X` events on one track.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::export::{attributes, processes, service_name};
use super::folded::Tree;
use super::format::TraceFile;

/// Places spans on tracks so that on every track spans nest properly.
/// Returns the track index of each span (per process).
fn tracks(trace: &TraceFile) -> Vec<usize> {
    let spans = &trace.spans;
    let tree = Tree::new(spans);
    let mut parent = vec![None; spans.len()];
    for (p, kids) in tree.children.iter().enumerate() {
        for &c in kids {
            parent[c] = Some(p);
        }
    }
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| {
        (
            spans[i].start_unix_ns,
            std::cmp::Reverse(spans[i].duration_ns),
        )
    });
    // Per process: each track is a stack of open span ends.
    let mut lanes: std::collections::HashMap<&str, Vec<Vec<u64>>> = Default::default();
    let mut track = vec![0usize; spans.len()];
    for i in order {
        let (s, e) = (
            spans[i].start_unix_ns,
            spans[i].start_unix_ns + spans[i].duration_ns,
        );
        let stacks = lanes.entry(spans[i].process.as_str()).or_default();
        let fits = |stack: &mut Vec<u64>| {
            while stack.last().is_some_and(|&end| end <= s) {
                stack.pop();
            }
            stack.last().is_none_or(|&end| end >= e)
        };
        // The parent's track first, so a span sits under its parent when it can.
        let preferred = parent[i]
            .filter(|&p| spans[p].process == spans[i].process)
            .map(|p| track[p]);
        let chosen = match preferred {
            Some(t) if fits(&mut stacks[t]) => t,
            _ => match (0..stacks.len()).find(|&t| fits(&mut stacks[t])) {
                Some(t) => t,
                None => {
                    stacks.push(Vec::new());
                    stacks.len() - 1
                }
            },
        };
        stacks[chosen].push(e);
        track[i] = chosen;
    }
    track
}

fn us(ns: u64, origin: u64) -> f64 {
    (ns.saturating_sub(origin)) as f64 / 1000.0
}

/// One trace event: metadata (`M`), complete (`X`) or instant (`i`).
#[derive(Serialize)]
struct Event<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'a str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    pid: usize,
    tid: usize,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Meta(Value),
    Span(BTreeMap<Cow<'a, str>, Cow<'a, Value>>),
    Attrs(&'a Map<String, Value>),
}

fn meta(name: &'static str, pid: usize, tid: usize, args: Value) -> Event<'static> {
    Event {
        name,
        cat: None,
        ph: "M",
        ts: None,
        dur: None,
        s: None,
        pid,
        tid,
        args: Args::Meta(args),
    }
}

/// The Chrome Trace Event document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    trace_events: Vec<Event<'a>>,
    display_time_unit: &'static str,
    other_data: Value,
}

/// The trace as a Chrome Trace Event document.
pub fn export(trace: &TraceFile) -> Document<'_> {
    let origin = trace
        .spans
        .iter()
        .map(|s| s.start_unix_ns)
        .min()
        .unwrap_or(trace.started_unix_ns);
    let procs = processes(&trace.spans);
    let pid_of = |p: &str| {
        let p = if p.is_empty() { "ctrace" } else { p };
        procs.iter().position(|x| x == p).unwrap_or(0) + 1
    };
    let track = tracks(trace);
    let mut events = Vec::new();
    let mut named = std::collections::BTreeSet::new();
    for (i, p) in procs.iter().enumerate() {
        events.push(meta(
            "process_name",
            i + 1,
            0,
            json!({"name": service_name(p)}),
        ));
        events.push(meta(
            "process_sort_index",
            i + 1,
            0,
            json!({"sort_index": i}),
        ));
    }
    for (i, s) in trace.spans.iter().enumerate() {
        let pid = pid_of(&s.process);
        let tid = track[i] + 1;
        if named.insert((pid, tid)) {
            let name = if tid == 1 {
                "main".to_string()
            } else {
                format!("branch {tid}")
            };
            events.push(meta("thread_name", pid, tid, json!({ "name": name })));
        }
        let mut args: BTreeMap<Cow<str>, Cow<Value>> = attributes(s)
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
            .collect();
        args.insert("span_id".into(), Cow::Owned(s.span_id.as_str().into()));
        if let Some(p) = &s.parent_id {
            args.insert("parent_id".into(), Cow::Owned(p.as_str().into()));
        }
        args.insert("status".into(), Cow::Owned(s.status.as_str().into()));
        events.push(Event {
            name: &s.name,
            cat: Some(s.name.split('.').next().unwrap_or("ctrace")),
            ph: "X",
            ts: Some(us(s.start_unix_ns, origin)),
            dur: Some(s.duration_ns as f64 / 1000.0),
            s: None,
            pid,
            tid,
            args: Args::Span(args),
        });
        for e in &s.events {
            events.push(Event {
                name: &e.name,
                cat: Some("event"),
                ph: "i",
                ts: Some(us(e.time_unix_ns, origin)),
                dur: None,
                s: Some("t"),
                pid,
                tid,
                args: Args::Attrs(&e.attrs),
            });
        }
    }
    Document {
        trace_events: events,
        display_time_unit: "ms",
        other_data: json!({
            "trace_id": trace.trace_id,
            "operation": trace.operation,
            "container": trace.container.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            "image": trace.container.as_ref().map(|c| c.image.clone()).unwrap_or_default(),
            "started_unix_ns": origin,
            "kernel": trace.host.kernel,
            "cgroup": trace.host.cgroup,
            "runtime": trace.host.runtime,
        }),
    }
}
