//! A sequence diagram of one trace, in plain text (a fenced block mdBook shows without plugins):
//! one lane per process that recorded spans (`ctrace`, later `daemon`, then `shim`, `init`), one
//! row per span in start order, and an arrow wherever the next span runs in another process. A
//! solid arrow is a phase starting in another process; a dotted one is control coming back to a
//! process that was already active (the shim's report, the exit travelling back to `run.wait`).
//!
//! ASCII only: box-drawing characters are "ambiguous width" and render double in CJK fonts, which
//! would break the lanes in the Chinese book.

use std::collections::HashMap;

use crate::trace::format::{SpanRecord, TraceFile};

/// Lane width in characters.
const LANE: usize = 12;
/// Where the first lane's bar is.
const MARGIN: usize = 4;

/// Known processes in the order a request meets them; others follow alphabetically.
const ORDER: &[&str] = &["ctrace", "daemon", "shim", "init"];

/// Depth of each span in its trace (roots are 0).
pub fn depths(trace: &TraceFile) -> HashMap<&str, usize> {
    let parent: HashMap<&str, Option<&str>> = trace
        .spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_id.as_deref()))
        .collect();
    trace
        .spans
        .iter()
        .map(|s| {
            let mut d = 0;
            let mut p = s.parent_id.as_deref();
            while let Some(id) = p {
                if d > trace.spans.len() {
                    break;
                }
                d += 1;
                p = parent.get(id).copied().flatten();
            }
            (s.span_id.as_str(), d)
        })
        .collect()
}

/// The spans where a process takes over: those whose parent was recorded by another process.
pub fn entries(trace: &TraceFile) -> Vec<&SpanRecord> {
    let process: HashMap<&str, &str> = trace
        .spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.process.as_str()))
        .collect();
    trace
        .spans
        .iter()
        .filter(|s| {
            s.parent_id
                .as_deref()
                .and_then(|p| process.get(p))
                .is_some_and(|p| *p != s.process)
        })
        .collect()
}

fn lane_rank(p: &str) -> (usize, String) {
    (
        ORDER.iter().position(|o| *o == p).unwrap_or(ORDER.len()),
        p.to_string(),
    )
}

/// Renders `rows` (spans of `trace`) as a diagram.
pub fn render(trace: &TraceFile, rows: &[&SpanRecord]) -> String {
    let depth = depths(trace);
    let mut rows: Vec<&SpanRecord> = rows.to_vec();
    rows.sort_by_key(|s| {
        (
            s.start_unix_ns,
            depth.get(s.span_id.as_str()).copied().unwrap_or(0),
            s.name.clone(),
        )
    });
    rows.dedup_by_key(|s| s.span_id.clone());
    let mut lanes: Vec<&str> = rows.iter().map(|s| s.process.as_str()).collect();
    lanes.sort_by_key(|p| lane_rank(p));
    lanes.dedup();
    let col = |p: &str| MARGIN + LANE * lanes.iter().position(|l| *l == p).unwrap_or(0);
    let width = MARGIN + LANE * lanes.len().saturating_sub(1) + 1;
    let bars = || {
        let mut line = vec![b' '; width];
        for l in &lanes {
            line[col(l)] = b'|';
        }
        line
    };
    let t0 = trace.started_unix_ns;
    let min_depth = rows
        .iter()
        .map(|s| depth.get(s.span_id.as_str()).copied().unwrap_or(0))
        .min()
        .unwrap_or(0);

    let mut out = String::new();
    let mut head = vec![b' '; width + LANE];
    for l in &lanes {
        let name = l.as_bytes();
        let start = col(l).saturating_sub(name.len() / 2);
        head[start..start + name.len()].copy_from_slice(name);
    }
    out += String::from_utf8_lossy(&head).trim_end();
    out += "\n";
    out += String::from_utf8_lossy(&bars()).trim_end();
    out += "\n";
    let mut seen: Vec<&str> = Vec::new();
    let mut prev: Option<&str> = None;
    for s in &rows {
        let mut line = bars();
        let here = col(&s.process);
        if let Some(from) = prev.filter(|p| *p != s.process) {
            let from = col(from);
            let back = seen.contains(&s.process.as_str());
            let fill = if back { b'.' } else { b'-' };
            let (lo, hi) = (from.min(here), from.max(here));
            for c in line.iter_mut().take(hi).skip(lo + 1) {
                *c = fill;
            }
            line[from] = b'+';
            if here > from {
                line[here - 1] = b'>';
            } else {
                line[here + 1] = b'<';
            }
        }
        line[here] = b'*';
        if !seen.contains(&s.process.as_str()) {
            seen.push(&s.process);
        }
        prev = Some(&s.process);
        let d = depth.get(s.span_id.as_str()).copied().unwrap_or(0) - min_depth;
        let label = format!("{}{}", "  ".repeat(d), s.name);
        out += &format!(
            "{}   {:<34} {:>9.3} ms  @{:.3}\n",
            String::from_utf8_lossy(&line),
            label,
            s.duration_ns as f64 / 1e6,
            s.start_unix_ns.saturating_sub(t0) as f64 / 1e6
        );
    }
    out += String::from_utf8_lossy(&bars()).trim_end();
    out += "\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, name: &str, process: &str, start: u64) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_id: parent.map(Into::into),
            name: name.into(),
            start_unix_ns: start,
            duration_ns: 1_000_000,
            process: process.into(),
            status: "ok".into(),
            ..SpanRecord::default()
        }
    }

    #[test]
    fn arrows_mark_where_another_process_takes_over() {
        let trace = TraceFile {
            started_unix_ns: 0,
            spans: vec![
                span("1", None, "start", "ctrace", 0),
                span("2", Some("1"), "runtime.shim", "ctrace", 1),
                span("3", Some("2"), "runtime.clone", "shim", 2),
                span("4", Some("2"), "init.mounts", "init", 3),
                span("5", Some("1"), "start.network.attach", "ctrace", 4),
            ],
            ..TraceFile::default()
        };
        let rows: Vec<&SpanRecord> = trace.spans.iter().collect();
        let d = render(&trace, &rows);
        let lines: Vec<&str> = d.lines().collect();
        assert!(lines[0].contains("ctrace") && lines[0].contains("shim"));
        assert!(lines[0].find("shim") < lines[0].find("init"));
        // ctrace → shim, solid; shim → init, solid; init → ctrace, dotted (coming back).
        let row = |name: &str| *lines.iter().find(|l| l.contains(name)).unwrap();
        assert!(row("runtime.clone").contains("+---------->*"), "{d}");
        assert!(row("init.mounts").contains("+---------->*"), "{d}");
        assert!(row("start.network.attach").contains("*<"), "{d}");
        assert!(row("start.network.attach").contains("....+"), "{d}");
        assert_eq!(entries(&trace).len(), 2);
        // Deterministic.
        assert_eq!(d, render(&trace, &rows));
    }
}
