//! The latency model: per phase, a distribution of its *own* time (its duration less the time
//! covered by its children), fitted on recorded traces — the repository's `traces/` (embedded in
//! the binary) or the user's (`--model DIR`, e.g. recorded on the teacher's Linux machine).
//!
//! Each phase's own times, and its whole durations, are fitted with a log-normal distribution (the
//! usual shape of latencies: positive, skewed right): `mu` and `sigma` are the median and the
//! (scaled) median absolute deviation of the logarithms of the samples, so a fitted median is the
//! recorded one. The
//! duration's is *the model's median for the phase* ([`Model::median_ns`]), what `bench --sim`
//! reproduces; the own time's is what a phase without children takes (the two are one then). A
//! phase seen once gets a default spread; a phase never recorded (added to the engine after the
//! traces were made) gets a small default, so a new phase appears in a simulated run without
//! extra code.
//!
//! Not here: drawing times while a run is recorded ([`super::clock`]).

use std::collections::BTreeMap;
use std::path::Path;

use crate::trace::format::{SpanRecord, TraceFile};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/traces.rs"));
}

/// The spread used when a phase has a single sample.
const DEFAULT_SIGMA: f64 = 0.25;
/// The own time of a phase no trace recorded: 20 µs.
const UNSEEN_NS: f64 = 20_000.0;

/// One phase's fitted distributions: its own time (`mu`, `sigma`) and its whole duration
/// (`total_mu`, `total_sigma`), both log-normal.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub mu: f64,
    pub sigma: f64,
    pub total_mu: f64,
    pub total_sigma: f64,
    pub samples: usize,
}

impl Fit {
    /// The own time's median, in nanoseconds.
    pub fn median_ns(&self) -> f64 {
        self.mu.exp()
    }

    /// The whole duration's median, in nanoseconds.
    pub fn total_median_ns(&self) -> f64 {
        self.total_mu.exp()
    }
}

/// Per phase name, its fitted own time.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub phases: BTreeMap<String, Fit>,
    /// Where it was fitted from (`embedded traces (17 files)`, or a directory).
    pub source: String,
}

impl Model {
    /// The model fitted on the traces embedded in the binary.
    pub fn embedded() -> Model {
        let traces: Vec<TraceFile> = embedded::TRACES
            .iter()
            .filter_map(|(_, text)| serde_json::from_str(text).ok())
            .collect();
        let mut m = Model::fit(&traces);
        m.source = format!("embedded reference traces ({} files)", traces.len());
        m
    }

    /// The model fitted on every `*.json` trace file in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Model, String> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read the model directory {}: {e}", dir.display()))?;
        let mut traces = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                if let Ok(t) = crate::trace::store::read(&p) {
                    traces.push(t);
                }
            }
        }
        if traces.is_empty() {
            return Err(format!(
                "no trace files in {}: record some with `ctrace run` as root and copy <root>/traces/*.json there",
                dir.display()
            ));
        }
        let mut m = Model::fit(&traces);
        m.source = format!("{} ({} traces)", dir.display(), traces.len());
        Ok(m)
    }

    /// The model as one line per phase (`name mu sigma samples`, the source first), for a
    /// child process to take over instead of fitting it again.
    pub fn encode(&self) -> String {
        let mut out = format!("{}\n", self.source.replace('\n', " "));
        for (name, f) in &self.phases {
            out += &format!(
                "{name} {:e} {:e} {:e} {:e} {}\n",
                f.mu, f.sigma, f.total_mu, f.total_sigma, f.samples
            );
        }
        out
    }

    /// The model [`Model::encode`] wrote.
    pub fn decode(text: &str) -> Result<Model, String> {
        let bad = |l: &str| {
            format!("invalid latency model line {l:?}: expected `phase mu sigma total_mu total_sigma samples`")
        };
        let mut lines = text.lines();
        let source = lines.next().unwrap_or_default().to_string();
        let mut phases = BTreeMap::new();
        for l in lines.filter(|l| !l.is_empty()) {
            let f: Vec<&str> = l.split(' ').collect();
            let [name, mu, sigma, total_mu, total_sigma, n] = f[..] else {
                return Err(bad(l));
            };
            let num = |x: &str| x.parse::<f64>().map_err(|_| bad(l));
            let fit = Fit {
                mu: num(mu)?,
                sigma: num(sigma)?,
                total_mu: num(total_mu)?,
                total_sigma: num(total_sigma)?,
                samples: n.parse().map_err(|_| bad(l))?,
            };
            phases.insert(name.to_string(), fit);
        }
        Ok(Model { phases, source })
    }

    /// Fits every phase's own time over `traces` (simulated traces are left out: a model is
    /// fitted on real measurements only).
    pub fn fit(traces: &[TraceFile]) -> Model {
        let mut samples: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for t in traces.iter().filter(|t| t.mode != "sim") {
            let mut kids: std::collections::HashMap<&str, Vec<&SpanRecord>> =
                std::collections::HashMap::new();
            for s in &t.spans {
                if let Some(p) = &s.parent_id {
                    kids.entry(p.as_str()).or_default().push(s);
                }
            }
            for s in &t.spans {
                let children = kids.get(s.span_id.as_str()).map_or(&[][..], |v| &v[..]);
                let own = own_time_among(s, children.iter().copied());
                let (owns, totals) = samples.entry(s.name.clone()).or_default();
                owns.push(own.max(1_000) as f64);
                totals.push(s.duration_ns.max(1_000) as f64);
            }
        }
        let phases = samples
            .into_iter()
            .map(|(name, (owns, totals))| {
                let (own, total) = (fit(&owns), fit(&totals));
                let f = Fit {
                    mu: own.0,
                    sigma: own.1,
                    total_mu: total.0,
                    total_sigma: total.1,
                    samples: owns.len(),
                };
                (name, f)
            })
            .collect();
        Model {
            phases,
            source: String::new(),
        }
    }

    /// The duration of `phase` at `z` standard deviations from its median (a standard normal
    /// draw gives the fitted distribution), in nanoseconds.
    pub fn total_at(&self, phase: &str, z: f64) -> u64 {
        match self.phases.get(phase) {
            Some(f) => (f.total_mu + f.total_sigma * z).exp() as u64,
            None => UNSEEN_NS as u64,
        }
    }
}

/// The log-normal `(mu, sigma)` of samples `xs`, fitted robustly: `mu` is the median of the
/// logarithms (so the fitted median is the recorded one) and `sigma` their median absolute
/// deviation scaled to a standard deviation. A rare outlier (one 9 ms `exit.runtime` among
/// microseconds) then widens neither the spread nor the draws.
fn fit(xs: &[f64]) -> (f64, f64) {
    let logs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let mu = median(logs.clone());
    let sigma = if logs.len() < 2 {
        DEFAULT_SIGMA
    } else {
        let dev: Vec<f64> = logs.iter().map(|l| (l - mu).abs()).collect();
        (median(dev) * MAD_TO_SIGMA).clamp(0.05, 1.5)
    };
    (mu, sigma)
}

/// A normal distribution's standard deviation over its median absolute deviation.
const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `v` (the mean of the middle two when their number is even).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `span`'s duration less the union of its children's intervals (clipped to it).
#[cfg(test)]
pub fn own_time(span: &SpanRecord, all: &[SpanRecord]) -> u64 {
    own_time_among(
        span,
        all.iter()
            .filter(|c| c.parent_id.as_deref() == Some(span.span_id.as_str())),
    )
}

/// [`own_time`] given the span's children.
fn own_time_among<'a>(span: &SpanRecord, children: impl Iterator<Item = &'a SpanRecord>) -> u64 {
    let (s0, s1) = (span.start_unix_ns, span.start_unix_ns + span.duration_ns);
    let mut kids: Vec<(u64, u64)> = children
        .map(|c| {
            (
                c.start_unix_ns.clamp(s0, s1),
                (c.start_unix_ns + c.duration_ns).clamp(s0, s1),
            )
        })
        .collect();
    kids.sort();
    let mut covered = 0;
    let mut cur: Option<(u64, u64)> = None;
    for (a, b) in kids {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                covered += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((a, b)) = cur {
        covered += b - a;
    }
    span.duration_ns.saturating_sub(covered)
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
            ..SpanRecord::default()
        }
    }

    #[test]
    fn own_time_subtracts_the_union_of_children() {
        let all = vec![
            span("a", None, "start", 0, 100),
            span("b", Some("a"), "start.mount", 10, 30),
            span("c", Some("a"), "start.spec", 20, 30),
            span("d", Some("a"), "start.event", 90, 50),
        ];
        // Children cover 10..50 and 90..100: 50 of 100.
        assert_eq!(own_time(&all[0], &all), 50);
    }

    #[test]
    fn the_embedded_model_knows_the_start_phases_and_its_medians_are_the_geometric_means() {
        let m = Model::embedded();
        for p in [
            "start.mount",
            "start.runtime.create",
            "runtime.clone",
            "init.pivot_root",
        ] {
            assert!(m.phases.contains_key(p), "{p} missing from the model");
        }
        let (mu, _) = fit(&[1e6, 4e6]);
        assert!((mu.exp() - 2e6).abs() < 1.0);
        let (mu, sigma) = fit(&[2e3, 2e3, 3e3, 2e3, 9e6]);
        assert_eq!(mu.exp().round(), 2e3, "the recorded median");
        assert!(sigma < 0.5, "an outlier does not widen the spread: {sigma}");
        assert!(!m.phases.contains_key("no.such.phase"));
    }

    #[test]
    fn a_model_survives_its_encoding_for_a_child_process() {
        let m = Model::embedded();
        let back = Model::decode(&m.encode()).unwrap();
        assert_eq!(back.phases, m.phases);
        assert_eq!(back.source, m.source);
        assert!(Model::decode("src\nstart.mount 1 x 3\n").is_err());
    }

    #[test]
    fn a_draw_at_the_median_score_is_the_median_and_a_leaf_lasts_its_own_time() {
        let m = Model::embedded();
        let f = &m.phases["start.mount"];
        assert_eq!(m.total_at("start.mount", 0.0), f.total_median_ns() as u64);
        assert!(m.total_at("start.mount", 1.0) > m.total_at("start.mount", 0.0));
        // start.mount has no children: its duration is its own time.
        assert!((f.total_mu - f.mu).abs() < 1e-9);
        assert_eq!(m.total_at("no.such.phase", 3.0), UNSEEN_NS as u64);
    }
}
