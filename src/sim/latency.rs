//! The latency model: per phase, a distribution of its *own* time (its duration less the time
//! covered by its children), fitted on recorded traces — the repository's `traces/` (embedded in
//! the binary) or the user's (`--model DIR`, e.g. recorded on the teacher's Linux machine).
//!
//! Each phase's own times are fitted with a log-normal distribution (the usual shape of latencies:
//! positive, skewed right): `mu` and `sigma` are the mean and standard deviation of the logarithms
//! of the samples, so the model's median is their geometric mean. A phase seen once gets a default
//! spread; a phase never recorded (added to the engine after the traces were made) gets a small
//! default, so a new phase appears in a simulated run without extra code.
//!
//! Not here: drawing times while a run is recorded ([`super::clock`]).

use std::collections::BTreeMap;
use std::path::Path;

use rand_distr::{Distribution, LogNormal};

use crate::trace::format::{SpanRecord, TraceFile};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/traces.rs"));
}

/// The spread used when a phase has a single sample.
const DEFAULT_SIGMA: f64 = 0.25;
/// The own time of a phase no trace recorded: 20 µs.
const UNSEEN_NS: f64 = 20_000.0;

/// One phase's fitted distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub mu: f64,
    pub sigma: f64,
    pub samples: usize,
}

impl Fit {
    /// The distribution's median, in nanoseconds.
    pub fn median_ns(&self) -> f64 {
        self.mu.exp()
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

    /// Fits every phase's own time over `traces` (simulated traces are left out: a model is
    /// fitted on real measurements only).
    pub fn fit(traces: &[TraceFile]) -> Model {
        let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for t in traces.iter().filter(|t| t.mode != "sim") {
            for s in &t.spans {
                let own = own_time(s, &t.spans);
                samples
                    .entry(s.name.clone())
                    .or_default()
                    .push(own.max(1_000) as f64);
            }
        }
        let phases = samples
            .into_iter()
            .map(|(name, xs)| (name, fit(&xs)))
            .collect();
        Model {
            phases,
            source: String::new(),
        }
    }

    /// Draws the own time of `phase` in nanoseconds with `rng`.
    pub fn sample(&self, phase: &str, rng: &mut impl rand::Rng) -> u64 {
        match self.phases.get(phase) {
            Some(f) => LogNormal::new(f.mu, f.sigma)
                .map(|d| d.sample(rng))
                .unwrap_or(f.median_ns()) as u64,
            None => UNSEEN_NS as u64,
        }
    }
}

fn fit(xs: &[f64]) -> Fit {
    let logs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let n = logs.len() as f64;
    let mu = logs.iter().sum::<f64>() / n;
    let sigma = if logs.len() < 2 {
        DEFAULT_SIGMA
    } else {
        (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (n - 1.0))
            .sqrt()
            .clamp(0.05, 1.5)
    };
    Fit {
        mu,
        sigma,
        samples: xs.len(),
    }
}

/// `span`'s duration less the union of its children's intervals (clipped to it).
pub fn own_time(span: &SpanRecord, all: &[SpanRecord]) -> u64 {
    let (s0, s1) = (span.start_unix_ns, span.start_unix_ns + span.duration_ns);
    let mut kids: Vec<(u64, u64)> = all
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(span.span_id.as_str()))
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
    use rand::SeedableRng;

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
        let f = fit(&[1e6, 4e6]);
        assert!((f.median_ns() - 2e6).abs() < 1.0);
        assert!(!m.phases.contains_key("no.such.phase"));
    }

    #[test]
    fn draws_are_reproducible_with_a_seed_and_spread_around_the_median() {
        let m = Model::embedded();
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let xa: Vec<u64> = (0..5).map(|_| m.sample("start.mount", &mut a)).collect();
        let xb: Vec<u64> = (0..5).map(|_| m.sample("start.mount", &mut b)).collect();
        assert_eq!(xa, xb);
        let mut xs: Vec<u64> = (0..2001).map(|_| m.sample("start.mount", &mut a)).collect();
        xs.sort();
        let med = xs[1000] as f64;
        let want = m.phases["start.mount"].median_ns();
        assert!((med / want - 1.0).abs() < 0.1, "median {med} vs {want}");
    }
}
