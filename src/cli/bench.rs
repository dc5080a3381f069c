//! `ctrace bench`: run N containers (C at a time) and show where start latency goes.
//!
//! Every run is `run --rm` done in-process, its spans children of one `bench` span, so the whole
//! bench is one trace file; the summary (per-phase p50/p90/p99/max and share of a run) and the
//! aggregate flamegraph are computed from that file, exactly as `trace` commands would later.
//! A progress bar goes to stderr when it is a terminal.
//!
//! Not here: comparing against other engines (that is `bench/start.sh` with hyperfine).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::json;

use crate::engine::options::CreateOptions;
use crate::engine::{self, Engine, EngineError};
use crate::phase_span;
use crate::trace::folded::Tree;
use crate::trace::format::{TraceFile, FORMAT};
use crate::trace::{self, folded, recorder, store};

use super::args::BenchArgs;
use super::{Context, Failure};

/// Per-phase figures over the runs.
#[derive(Debug, serde::Serialize)]
pub struct PhaseStats {
    pub phase: String,
    /// Runs in which the phase occurred.
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The phase's time over all runs' time, in percent.
    pub share_pct: f64,
}

/// Nearest-rank percentile of sorted `v`.
fn percentile(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The summary of a bench trace: every `run` span's subtree, phase by phase (time spent in a
/// phase within one run is added up when it occurs more than once).
pub fn summarize(trace: &TraceFile) -> Vec<PhaseStats> {
    let tree = Tree::new(&trace.spans);
    let runs: Vec<usize> = (0..trace.spans.len())
        .filter(|&i| trace.spans[i].name == "run")
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut per_phase: HashMap<String, Vec<u64>> = HashMap::new();
    for &r in &runs {
        let mut sums: Vec<(String, u64)> = Vec::new();
        let mut stack = vec![r];
        let mut seen = Vec::new();
        while let Some(i) = stack.pop() {
            seen.push(i);
            stack.extend(tree.children[i].iter().copied());
        }
        seen.sort_by_key(|&i| trace.spans[i].start_unix_ns);
        for i in seen {
            let s = &trace.spans[i];
            match sums.iter_mut().find(|(n, _)| *n == s.name) {
                Some((_, v)) => *v += s.duration_ns,
                None => sums.push((s.name.clone(), s.duration_ns)),
            }
        }
        for (name, ns) in sums {
            if !order.contains(&name) {
                order.push(name.clone());
            }
            per_phase.entry(name).or_default().push(ns);
        }
    }
    let run_total = per_phase.get("run").map_or(0, |v| v.iter().sum::<u64>()) as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    order
        .into_iter()
        .map(|name| {
            let mut v = per_phase.remove(&name).unwrap_or_default();
            v.sort_unstable();
            let sum = v.iter().sum::<u64>() as f64;
            PhaseStats {
                count: v.len(),
                p50_ms: ms(percentile(&v, 50.0)),
                p90_ms: ms(percentile(&v, 90.0)),
                p99_ms: ms(percentile(&v, 99.0)),
                max_ms: ms(v.last().copied().unwrap_or(0)),
                share_pct: if run_total > 0.0 {
                    sum * 100.0 / run_total
                } else {
                    0.0
                },
                phase: name,
            }
        })
        .collect()
}

fn table(stats: &[PhaseStats]) -> String {
    let mut s = format!(
        "{:<26} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
        "PHASE", "RUNS", "P50 ms", "P90 ms", "P99 ms", "MAX ms", "SHARE"
    );
    for p in stats {
        s += &format!(
            "{:<26} {:>5} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>6.1}%\n",
            p.phase, p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.share_pct
        );
    }
    s
}

/// A one-line progress bar on stderr.
struct Progress {
    total: usize,
    done: AtomicUsize,
    out: Option<Mutex<std::io::Stderr>>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let err = std::io::stderr();
        Progress {
            total,
            done: AtomicUsize::new(0),
            out: err.is_terminal().then(|| Mutex::new(err)),
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(out) = &self.out {
            let width = 30;
            let filled = done * width / self.total.max(1);
            let mut o = out.lock().unwrap();
            let _ = write!(
                o,
                "\r[{}{}] {done}/{} runs",
                "#".repeat(filled),
                ".".repeat(width - filled),
                self.total
            );
            let _ = o.flush();
        }
    }

    fn finish(&self) {
        if let Some(out) = &self.out {
            let _ = write!(out.lock().unwrap(), "\r{:60}\r", "");
        }
    }
}

fn one_run(
    engine: &Engine,
    opts: &CreateOptions,
    bench: &tracing::Span,
    i: usize,
) -> Result<i32, EngineError> {
    let _b = bench.enter();
    let span = phase_span!("run", image = %opts.image, index = i);
    let _e = span.enter();
    let r = (|| {
        let cfg = engine::create::create(engine, opts)?;
        let started = match engine::start::start(engine, &cfg.id, true) {
            Ok(s) => s,
            Err(e) => {
                let _ = engine::rm::rm(engine, &cfg.id, true, true);
                return Err(e);
            }
        };
        engine::wait::wait(started, &engine.paths.bundle(&cfg.id))
    })();
    match &r {
        Ok(code) => trace::note(&span, format!("run {i}: exit code {code}")),
        Err(e) => trace::fail(&span, e),
    }
    r
}

pub fn bench(ctx: &Context, a: BenchArgs) -> Result<i32, Failure> {
    if a.n == 0 || a.concurrency == 0 {
        return Err(Failure::new(1, "-n and --concurrency must be at least 1"));
    }
    if a.format != "table" && a.format != "json" {
        return Err(Failure::new(
            1,
            format!("unknown format {:?}: use table or json", a.format),
        ));
    }
    Engine::require_root().map_err(super::fail1)?;
    trace::install("ctrace", None, None);
    let opts = CreateOptions {
        image: a.image.clone(),
        cmd: if a.command.is_empty() {
            vec!["true".into()]
        } else {
            a.command.clone()
        },
        network: super::options::network_mode(&a.network).map_err(|m| Failure::new(1, m))?,
        runtime: super::options::runtime_kind(&a.runtime).map_err(|m| Failure::new(1, m))?,
        auto_remove: true,
        ..CreateOptions::default()
    };
    let progress = Progress::new(a.n);
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let engine = &ctx.engine;
    let bench = phase_span!("bench", runs = a.n, concurrency = a.concurrency, image = %a.image);
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= a.n {
            break;
        }
        if let Err(e) = one_run(engine, &opts, &bench, i) {
            failures.lock().unwrap().push(e.to_string());
        }
        progress.tick();
    };
    if a.concurrency == 1 {
        // On this thread: a single-threaded process forks each shim without exec, as `run` does.
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..a.concurrency.min(a.n) {
                s.spawn(worker);
            }
        });
    }
    progress.finish();
    let failures = failures.into_inner().unwrap();
    trace::note(
        &bench,
        format!(
            "{} runs of {}, {} at a time, {} failed",
            a.n,
            a.image,
            a.concurrency,
            failures.len()
        ),
    );
    drop(bench);
    let spans = recorder::take();
    let root = spans
        .iter()
        .find(|s| s.name == "bench" && s.parent_id.is_none());
    let file = TraceFile {
        format: FORMAT.into(),
        trace_id: recorder::trace_id(),
        operation: "bench".into(),
        container: None,
        mode: crate::trace::clock::current().mode().into(),
        latency_model: crate::trace::clock::current().model_source(),
        host: engine::host_facts(&a.runtime),
        started_unix_ns: root.map_or(0, |r| r.start_unix_ns),
        duration_ns: root.map_or(0, |r| r.duration_ns),
        argv: ctx.argv.clone(),
        pids: u32::try_from(crate::host::current().pid())
            .map(|p| [("ctrace".to_string(), p)].into())
            .unwrap_or_default(),
        trace_state: None,
        spans,
    };
    store::write(&engine.paths.traces(), &file).map_err(|e| Failure::new(1, e))?;
    let stats = summarize(&file);
    if let Some(o) = &a.output {
        let mut svg = Vec::new();
        folded::flamegraph(std::slice::from_ref(&file), false, &mut svg)
            .and_then(|_| std::fs::write(o, svg))
            .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", o.display())))?;
    }
    let total_ms = file.duration_ns as f64 / 1e6;
    if a.format == "json" {
        let doc = json!({
            "trace_id": file.trace_id,
            "runs": a.n,
            "concurrency": a.concurrency,
            "failed": failures.len(),
            "image": a.image,
            "wall_ms": total_ms,
            "phases": stats,
        });
        println!("{doc}");
    } else {
        print!("{}", table(&stats));
        println!(
            "{} runs, {} at a time, in {:.1} ms ({:.1} runs/s) · trace {} · ctrace trace flamegraph {} -o bench.svg",
            a.n,
            a.concurrency,
            total_ms,
            a.n as f64 * 1000.0 / total_ms.max(0.001),
            file.trace_id,
            &file.trace_id[..8],
        );
    }
    if let Some(first) = failures.first() {
        return Err(Failure::new(
            1,
            format!("{} of {} runs failed: {first}", failures.len(), a.n),
        ));
    }
    Ok(0)
}
