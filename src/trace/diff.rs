//! `ctrace trace diff A B`: where two traces differ, per phase and as a differential flamegraph.
//!
//! The table adds up each phase's wall time within a trace (a phase that occurs several times,
//! like the runs of a bench, counts once per occurrence) and shows A, B, B−A and the change in
//! percent, in the order the phases first occur. The flamegraph is inferno's differential one
//! over the folded stacks of [`super::folded`]: frames sized by B, red where B got slower, blue
//! where it got faster.

use std::io::Write;

use super::folded::{folded_text, options};
use super::format::TraceFile;

/// One row of the diff table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub phase: String,
    pub a_ns: u64,
    pub b_ns: u64,
}

impl Row {
    pub fn delta_ns(&self) -> i64 {
        self.b_ns as i64 - self.a_ns as i64
    }

    /// The change relative to A, in percent (`None` when the phase is not in A).
    pub fn delta_pct(&self) -> Option<f64> {
        (self.a_ns > 0).then(|| self.delta_ns() as f64 * 100.0 / self.a_ns as f64)
    }
}

fn totals(t: &TraceFile) -> Vec<(String, u64)> {
    let mut spans: Vec<_> = t.spans.iter().collect();
    spans.sort_by_key(|s| s.start_unix_ns);
    let mut out: Vec<(String, u64)> = Vec::new();
    for s in spans {
        match out.iter_mut().find(|(n, _)| *n == s.name) {
            Some((_, v)) => *v += s.duration_ns,
            None => out.push((s.name.clone(), s.duration_ns)),
        }
    }
    out
}

/// The rows: A's phases in order of first occurrence, then those only in B.
pub fn rows(a: &TraceFile, b: &TraceFile) -> Vec<Row> {
    let (ta, tb) = (totals(a), totals(b));
    let mut rows: Vec<Row> = ta
        .iter()
        .map(|(n, v)| Row {
            phase: n.clone(),
            a_ns: *v,
            b_ns: tb.iter().find(|(m, _)| m == n).map_or(0, |x| x.1),
        })
        .collect();
    for (n, v) in &tb {
        if !ta.iter().any(|(m, _)| m == n) {
            rows.push(Row {
                phase: n.clone(),
                a_ns: 0,
                b_ns: *v,
            });
        }
    }
    rows
}

/// The table as text.
pub fn table(a: &TraceFile, b: &TraceFile) -> String {
    let ms = |ns: u64| format!("{:.3}", ns as f64 / 1e6);
    let mut s = format!(
        "A {} ({} {:.2} ms)\nB {} ({} {:.2} ms)\n\n{:<26} {:>10} {:>10} {:>10} {:>8}\n",
        a.trace_id,
        a.operation,
        a.duration_ns as f64 / 1e6,
        b.trace_id,
        b.operation,
        b.duration_ns as f64 / 1e6,
        "PHASE",
        "A ms",
        "B ms",
        "DELTA ms",
        "DELTA %"
    );
    for r in rows(a, b) {
        let pct = r
            .delta_pct()
            .map_or_else(|| "new".to_string(), |p| format!("{p:+.1}%"));
        s += &format!(
            "{:<26} {:>10} {:>10} {:>+10.3} {:>8}\n",
            r.phase,
            ms(r.a_ns),
            ms(r.b_ns),
            r.delta_ns() as f64 / 1e6,
            pct
        );
    }
    s
}

/// Writes the differential flamegraph (A before, B after) as SVG.
pub fn flamegraph(a: &TraceFile, b: &TraceFile, out: impl Write) -> std::io::Result<()> {
    let (fa, fb) = (
        folded_text(std::slice::from_ref(a), false),
        folded_text(std::slice::from_ref(b), false),
    );
    let mut folded = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options::default(),
        fa.as_bytes(),
        fb.as_bytes(),
        &mut folded,
    )?;
    let mut opts = options(
        format!(
            "ctrace trace diff · {} → {}",
            &a.trace_id[..8.min(a.trace_id.len())],
            &b.trace_id[..8.min(b.trace_id.len())]
        ),
        "frames sized by B · red: slower than A · blue: faster".into(),
        false,
    );
    inferno::flamegraph::from_reader(&mut opts, folded.as_slice(), out)
}
