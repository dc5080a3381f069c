//! speedscope's file format: one evented profile per recording process (`ctrace`, `daemon`,
//! `shim`, `init`), each span a frame opened at its start and closed at its end, in
//! nanoseconds since the trace began — what `speedscope FILE` (npm) or the web app loads offline.
//!
//! An evented profile is one stack: a child that outlasts its parent is cut at the parent's end,
//! and a span that starts before its previous sibling (or an earlier root) ended is moved to
//! start at that end, so every frame closes in order. A span whose parent another process
//! recorded is a root of its own process's profile.
//!
//! Not here: the other formats (`jaeger`, `chrome`, `otlp`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use super::export::processes;
use super::format::{SpanRecord, TraceFile};

/// The schema the document names (speedscope's published file format).
const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

fn process_of(s: &SpanRecord) -> &str {
    if s.process.is_empty() {
        "ctrace"
    } else {
        &s.process
    }
}

/// One process's spans being laid out as open/close events.
struct Walk<'a> {
    spans: Vec<&'a SpanRecord>,
    children: HashMap<&'a str, Vec<usize>>,
    origin: u64,
    events: Vec<Value>,
}

impl Walk<'_> {
    /// Emits the span `i` and its descendants within `[from, until]`; returns where it ended.
    fn emit(
        &mut self,
        frames: &mut BTreeMap<String, usize>,
        i: usize,
        from: u64,
        until: u64,
    ) -> u64 {
        let s = self.spans[i];
        let start = s.start_unix_ns.max(from).min(until);
        let end = (s.start_unix_ns + s.duration_ns).clamp(start, until);
        let next = frames.len();
        let frame = *frames.entry(s.name.clone()).or_insert(next);
        let origin = self.origin;
        self.events
            .push(json!({"type": "O", "frame": frame, "at": start - origin}));
        let mut cursor = start;
        let children = self
            .children
            .get(s.span_id.as_str())
            .cloned()
            .unwrap_or_default();
        for c in children {
            cursor = self.emit(frames, c, cursor, end);
        }
        self.events
            .push(json!({"type": "C", "frame": frame, "at": end - origin}));
        end
    }
}

/// `trace` as a speedscope document.
pub fn export(trace: &TraceFile) -> Value {
    let origin = trace
        .spans
        .iter()
        .map(|s| s.start_unix_ns)
        .min()
        .unwrap_or(0);
    let mut frames: BTreeMap<String, usize> = BTreeMap::new();
    let mut profiles = Vec::new();
    for p in processes(&trace.spans) {
        let mut spans: Vec<&SpanRecord> =
            trace.spans.iter().filter(|s| process_of(s) == p).collect();
        spans.sort_by_key(|s| (s.start_unix_ns, std::cmp::Reverse(s.duration_ns)));
        let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            match s.parent_id.as_deref().filter(|p| ids.contains(p)) {
                Some(parent) => children.entry(parent).or_default().push(i),
                None => roots.push(i),
            }
        }
        let end_of_spans = spans
            .iter()
            .map(|s| s.start_unix_ns + s.duration_ns)
            .max()
            .unwrap_or(origin);
        let mut walk = Walk {
            spans,
            children,
            origin,
            events: Vec::new(),
        };
        let mut cursor = origin;
        for r in roots {
            cursor = walk.emit(&mut frames, r, cursor, u64::MAX);
        }
        let end = end_of_spans.max(cursor);
        let events = walk.events;
        profiles.push(json!({
            "type": "evented",
            "name": super::export::service_name(&p),
            "unit": "nanoseconds",
            "startValue": 0,
            "endValue": end - origin,
            "events": events,
        }));
    }
    let mut named: Vec<(usize, String)> = frames.into_iter().map(|(n, i)| (i, n)).collect();
    named.sort();
    json!({
        "$schema": SCHEMA,
        "name": format!("ctrace {} {}", trace.operation, trace.trace_id),
        "exporter": format!("ctrace {}", env!("CARGO_PKG_VERSION")),
        "activeProfileIndex": 0,
        "shared": {"frames": named.into_iter().map(|(_, n)| json!({"name": n})).collect::<Vec<_>>()},
        "profiles": profiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(
        id: &str,
        parent: Option<&str>,
        name: &str,
        process: &str,
        start: u64,
        dur: u64,
    ) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            name: name.into(),
            start_unix_ns: start,
            duration_ns: dur,
            process: process.into(),
            status: "ok".into(),
            ..Default::default()
        }
    }

    #[test]
    fn overlapping_siblings_and_overlong_children_still_close_in_order() {
        let trace = TraceFile {
            spans: vec![
                span("1", None, "run", "ctrace", 100, 100),
                span("2", Some("1"), "a", "ctrace", 110, 50),
                span("3", Some("1"), "b", "ctrace", 140, 90),
                span("4", Some("3"), "clone", "shim", 150, 10),
            ],
            ..Default::default()
        };
        let doc = export(&trace);
        let profiles = doc["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 2, "one profile per process");
        let events = profiles[0]["events"].as_array().unwrap();
        let at: Vec<(String, u64)> = events
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["at"].as_u64().unwrap(),
                )
            })
            .collect();
        // run opens at 0; a 10–60; b moved to 60 and cut at run's end, 100.
        assert_eq!(
            at,
            [
                ("O", 0),
                ("O", 10),
                ("C", 60),
                ("O", 60),
                ("C", 100),
                ("C", 100)
            ]
            .map(|(t, a)| (t.to_string(), a))
        );
        assert_eq!(
            profiles[1]["events"][0]["at"], 50,
            "the shim's own timeline"
        );
    }
}
