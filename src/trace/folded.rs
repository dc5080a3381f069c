//! Folded stacks and flamegraphs from trace files: where the wall time of an operation went.
//!
//! A trace is a tree of spans with wall-clock intervals, not a sample profile, so the folded
//! stacks are computed, not counted: each span contributes its *self time* (its interval minus the
//! union of its children's), so a child is never counted twice. Children that run concurrently
//! (the shim's spans overlapping the engine's wait, the runs of a bench) share the overlapped time
//! equally, and everything under a child is scaled by the share it got, so the frames of a trace
//! add up to exactly its root's wall time. Children are clipped to their parent's interval.
//!
//! Counts are nanoseconds. With several traces the stacks are added up (an aggregate); with
//! `flamechart` the stacks stay in time order instead of being merged and sorted.
//!
//! Not here: reading files ([`super::store`]); the differential flamegraph is in [`super::diff`].

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use super::format::{SpanRecord, TraceFile};

/// One folded line: `a;b;c` and nanoseconds (fractional until printed).
type Line = (String, f64);

/// The parent → children index of one trace. Spans whose parent is not in the file are roots.
pub struct Tree<'a> {
    pub spans: &'a [SpanRecord],
    pub roots: Vec<usize>,
    pub children: Vec<Vec<usize>>,
}

impl<'a> Tree<'a> {
    pub fn new(spans: &'a [SpanRecord]) -> Tree<'a> {
        let index: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut roots = Vec::new();
        let mut children = vec![Vec::new(); spans.len()];
        for (i, s) in spans.iter().enumerate() {
            match s.parent_id.as_deref().and_then(|p| index.get(p)) {
                Some(&p) if p != i => children[p].push(i),
                _ => roots.push(i),
            }
        }
        let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].start_unix_ns, i));
        by_start(&mut roots);
        children.iter_mut().for_each(by_start);
        Tree {
            spans,
            roots,
            children,
        }
    }

    fn end(&self, i: usize) -> u64 {
        self.spans[i].start_unix_ns + self.spans[i].duration_ns
    }

    /// Folds the subtree of `i` into `out`, time-ordered. `weight` scales every count under it.
    fn fold(&self, i: usize, weight: f64, stack: &mut String, out: &mut Vec<Line>) {
        let base = stack.len();
        if !stack.is_empty() {
            stack.push(';');
        }
        // `;` separates frames in the folded format; keep span names from breaking it.
        stack.push_str(&self.spans[i].name.replace([';', ' '], "_"));
        let (s, e) = (self.spans[i].start_unix_ns, self.end(i));
        let kids: Vec<(usize, u64, u64)> = self.children[i]
            .iter()
            .map(|&c| {
                let cs = self.spans[c].start_unix_ns.clamp(s, e);
                (c, cs, self.end(c).clamp(s, e))
            })
            .filter(|&(_, cs, ce)| ce > cs)
            .collect();
        // Elementary segments between every child boundary: self time where no child runs,
        // shared time where some do.
        let mut bounds: Vec<u64> = kids.iter().flat_map(|&(_, a, b)| [a, b]).collect();
        bounds.extend([s, e]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut share = vec![0f64; kids.len()];
        // Time-ordered pieces: either self time or "child k starts here".
        enum Piece {
            Own(f64),
            Child(usize),
        }
        let mut pieces = Vec::new();
        let mut entered = vec![false; kids.len()];
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            let active: Vec<usize> = (0..kids.len())
                .filter(|&k| kids[k].1 <= a && kids[k].2 >= b)
                .collect();
            if active.is_empty() {
                pieces.push(Piece::Own((b - a) as f64));
                continue;
            }
            for &k in &active {
                share[k] += (b - a) as f64 / active.len() as f64;
                if !entered[k] {
                    entered[k] = true;
                    pieces.push(Piece::Child(k));
                }
            }
        }
        for p in pieces {
            match p {
                Piece::Own(ns) => push(out, stack, ns * weight),
                Piece::Child(k) => {
                    let (c, _, _) = kids[k];
                    let full = self.spans[c].duration_ns.max(1) as f64;
                    self.fold(c, weight * share[k] / full, stack, out);
                }
            }
        }
        stack.truncate(base);
    }
}

fn push(out: &mut Vec<Line>, stack: &str, ns: f64) {
    if ns <= 0.0 {
        return;
    }
    match out.last_mut() {
        Some((last, v)) if last == stack => *v += ns,
        _ => out.push((stack.to_string(), ns)),
    }
}

/// The folded stacks of `traces`: merged and sorted by stack, or in time order for a flame chart.
pub fn fold(traces: &[TraceFile], flamechart: bool) -> Vec<(String, u64)> {
    let mut lines = Vec::new();
    for t in traces {
        let tree = Tree::new(&t.spans);
        for &r in &tree.roots {
            tree.fold(r, 1.0, &mut String::new(), &mut lines);
        }
    }
    if flamechart {
        return lines
            .into_iter()
            .map(|(s, v)| (s, v.round() as u64))
            .filter(|(_, v)| *v > 0)
            .collect();
    }
    let mut merged: BTreeMap<String, f64> = BTreeMap::new();
    for (s, v) in lines {
        *merged.entry(s).or_default() += v;
    }
    merged
        .into_iter()
        .map(|(s, v)| (s, v.round() as u64))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// The folded text: one `stack count` line each.
pub fn folded_text(traces: &[TraceFile], flamechart: bool) -> String {
    let mut s = String::new();
    for (stack, ns) in fold(traces, flamechart) {
        s += &format!("{stack} {ns}\n");
    }
    s
}

/// A title for one or several traces: operation, image and container.
pub fn title(traces: &[TraceFile]) -> (String, String) {
    let Some(first) = traces.first() else {
        return ("ctrace".into(), String::new());
    };
    // The container's image, or the image attribute of the root span (a bench has no container).
    let image = first
        .container
        .as_ref()
        .map(|c| c.image.as_str())
        .or_else(|| {
            first
                .spans
                .iter()
                .find(|s| s.parent_id.is_none())
                .and_then(|s| s.attr_str("image"))
        });
    let name = first.container.as_ref().map(|c| c.name.as_str());
    let total: u64 = traces.iter().map(|t| t.duration_ns).sum();
    if traces.len() == 1 {
        let mut title = format!("ctrace {}", first.operation);
        for part in [image, name]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
        {
            title += &format!(" · {part}");
        }
        let sub = format!(
            "trace {} · {:.2} ms · {}",
            first.trace_id,
            total as f64 / 1e6,
            first.host.runtime
        );
        (title, sub)
    } else {
        let mut ops: Vec<&str> = traces.iter().map(|t| t.operation.as_str()).collect();
        ops.dedup();
        let mut title = format!("ctrace {} · {} traces", ops.join("+"), traces.len());
        if let Some(i) = image.filter(|i| !i.is_empty()) {
            title += &format!(" · {i}");
        }
        let sub = format!("aggregate of {:.2} ms of wall time", total as f64 / 1e6);
        (title, sub)
    }
}

/// Options shared by the flamegraphs: counts in ns shown as µs, every frame kept.
pub fn options<'a>(
    title: String,
    subtitle: String,
    flamechart: bool,
) -> inferno::flamegraph::Options<'a> {
    let mut o = inferno::flamegraph::Options::default();
    o.title = title;
    o.subtitle = Some(subtitle).filter(|s| !s.is_empty());
    o.count_name = "µs".into();
    o.factor = 0.001;
    o.name_type = "Phase:".into();
    o.flame_chart = flamechart;
    o.min_width = 0.0;
    o.hash = true;
    o.deterministic = true;
    o
}

/// Writes a flamegraph SVG of `traces` to `out`.
pub fn flamegraph(traces: &[TraceFile], flamechart: bool, out: impl Write) -> std::io::Result<()> {
    let lines: Vec<String> = fold(traces, flamechart)
        .into_iter()
        .map(|(s, v)| format!("{s} {v}"))
        .collect();
    let (title, sub) = title(traces);
    let mut opts = options(title, sub, flamechart);
    inferno::flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, name: &str, start: u64, dur: u64) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            name: name.into(),
            start_unix_ns: start,
            duration_ns: dur,
            status: "ok".into(),
            ..SpanRecord::default()
        }
    }

    fn trace(spans: Vec<SpanRecord>) -> TraceFile {
        TraceFile {
            format: super::super::format::FORMAT.into(),
            trace_id: "0".repeat(32),
            operation: "run".into(),
            container: None,
            mode: "real".into(),
            latency_model: None,
            host: Default::default(),
            started_unix_ns: 0,
            duration_ns: 100,
            argv: vec![],
            pids: Default::default(),
            trace_state: None,
            spans,
        }
    }

    #[test]
    fn self_time_counts_children_once() {
        let t = trace(vec![
            span("a", None, "run", 0, 100),
            span("b", Some("a"), "create", 10, 30),
            span("c", Some("b"), "create.id", 20, 5),
        ]);
        let f = fold(&[t], false);
        assert_eq!(
            f,
            vec![
                ("run".into(), 70),
                ("run;create".into(), 25),
                ("run;create;create.id".into(), 5)
            ]
        );
    }

    #[test]
    fn concurrent_children_share_and_total_stays_wall_time() {
        let t = trace(vec![
            span("a", None, "bench", 0, 100),
            span("b", Some("a"), "run", 0, 100),
            span("c", Some("a"), "run", 50, 100), // runs past its parent: clipped
            span("d", Some("c"), "start", 60, 40),
        ]);
        let f = fold(&[t], false);
        let total: u64 = f.iter().map(|(_, v)| v).sum();
        assert_eq!(total, 100);
        assert!(f.iter().all(|(s, _)| s.starts_with("bench")));
    }

    #[test]
    fn flamechart_keeps_time_order() {
        let t = trace(vec![
            span("a", None, "run", 0, 100),
            span("c", Some("a"), "start", 50, 40),
            span("b", Some("a"), "create", 10, 30),
        ]);
        let stacks: Vec<String> = fold(&[t], true).into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            stacks,
            ["run", "run;create", "run", "run;start", "run"].map(String::from)
        );
    }
}
