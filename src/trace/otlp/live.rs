//! Live export: every trace this process writes to the store goes to the OTLP collector too, as
//! it completes — the daemon's start-up and each API request, the shim's exit and restart traces.
//! On by `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces form) in the daemon's and the shim's
//! environment, as dockerd and containerd do; off by `OTEL_SDK_DISABLED`/`OTEL_TRACES_EXPORTER`.
//!
//! A background thread sends; the writer only offers the trace to a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE` spans; 16384 by default, where the batch span processor's is 2048:
//! a class of 50 starting at once is some 2300 spans) and never
//! waits, so a slow or dead collector never slows a container start. What does not fit is
//! dropped and counted, never lost silently: [`stats`] (the daemon's `/info`) and one log line
//! at the first drop of a streak. A trace is already a batch (its spans end together); the
//! thread sends whatever has queued up meanwhile in one go. The shim, which must stay
//! single-threaded, hands each trace to an exporter process of its own instead
//! ([`start_in_children_from_env`]).
//!
//! Not here: the one-shot export after a CLI command (`super::send`, from the CLI).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use super::target::Target;
use crate::trace::format::TraceFile;

/// What the live export has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub endpoint: String,
    pub sent_spans: u64,
    pub dropped_spans: u64,
    pub failed_spans: u64,
    pub last_error: Option<String>,
}

struct Queue {
    traces: VecDeque<TraceFile>,
    spans: usize,
}

struct Live {
    target: Target,
    capacity: usize,
    queue: Mutex<Queue>,
    wake: Condvar,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The drop streak is on (so one line is logged per streak, not per trace).
    dropping: Mutex<bool>,
    /// Where this process's log lines go.
    log: fn(&str),
}

static LIVE: OnceLock<Live> = OnceLock::new();

/// The queue's default size in spans. Not the batch span processor's 2048: a container start is
/// some 45 spans, and a class of 50 starting at once (~2300 spans) must not lose any.
const DEFAULT_QUEUE: usize = 16384;

fn capacity() -> usize {
    std::env::var("OTEL_BSP_MAX_QUEUE_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_QUEUE)
}

/// Starts the live export of this process when the environment asks for it; returns where it
/// sends, or why it cannot (a bad variable: one line to show, and no export).
pub fn start_from_env(log: fn(&str)) -> Result<Option<String>, String> {
    if !super::wanted_by_env() {
        return Ok(None);
    }
    match super::disabled() {
        Ok(Some(_)) => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(None) => {}
    }
    let target = Target::resolve(None, None).map_err(|e| e.to_string())?;
    let endpoint = target.endpoint.clone();
    start(target, capacity(), log);
    Ok(Some(endpoint))
}

/// Live export for a process that must stay single-threaded (the shim clones the container's
/// init, and a fork of a multi-threaded process can inherit a held lock): each trace it writes is
/// sent by a `ctrace trace export --otlp PATH` of its own, spawned and not waited for, with the
/// same environment. Returns whether the environment asks for an export.
pub fn start_in_children_from_env() -> bool {
    if !super::wanted_by_env() || !matches!(super::disabled(), Ok(None)) {
        return false;
    }
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    crate::trace::store::on_write(Box::new(move |path, _| {
        let spawned = std::process::Command::new(&exe)
            .args(["trace", "export", "--otlp"])
            .arg(path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn();
        if let Err(e) = spawned {
            eprintln!(
                "ctrace: warning: cannot start the OTLP export of {}: {e}",
                path.display()
            );
        }
    }));
    true
}

/// Starts the live export to `target` (once per process; a second call changes nothing).
pub fn start(target: Target, capacity: usize, log: fn(&str)) {
    let live = Live {
        target,
        capacity,
        queue: Mutex::new(Queue {
            traces: VecDeque::new(),
            spans: 0,
        }),
        wake: Condvar::new(),
        sent: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        last_error: Mutex::new(None),
        dropping: Mutex::new(false),
        log,
    };
    if LIVE.set(live).is_err() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(worker);
    crate::trace::store::on_write(Box::new(|_, t| offer(t)));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn worker() {
    let Some(live) = LIVE.get() else { return };
    let log = live.log;
    loop {
        let batch: Vec<TraceFile> = {
            let mut q = lock(&live.queue);
            while q.traces.is_empty() {
                q = live.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            q.spans = 0;
            q.traces.drain(..).collect()
        };
        let spans: u64 = batch.iter().map(|t| t.spans.len() as u64).sum();
        let batches = batch.iter().flat_map(super::spans::batches).collect();
        match super::send::send(&live.target, batches) {
            Ok(_) => {
                live.sent.fetch_add(spans, Ordering::Relaxed);
            }
            Err(e) => {
                live.failed.fetch_add(spans, Ordering::Relaxed);
                let first = lock(&live.last_error).replace(e.clone()).is_none();
                if first {
                    log(&format!(
                        "OTLP export to {} failed: {e} ({spans} spans; later failures are counted in /info)",
                        live.target.endpoint
                    ));
                }
            }
        }
    }
}

/// Offers a finished trace to the live export, if there is one: never blocks. A trace that does
/// not fit in the queue is dropped and counted.
pub fn offer(trace: &TraceFile) {
    let Some(live) = LIVE.get() else { return };
    let log = live.log;
    let n = trace.spans.len();
    let mut q = lock(&live.queue);
    if q.spans + n > live.capacity {
        drop(q);
        live.dropped.fetch_add(n as u64, Ordering::Relaxed);
        let mut dropping = lock(&live.dropping);
        if !*dropping {
            *dropping = true;
            log(&format!(
                "OTLP export queue full ({} spans): dropping traces until the collector at {} catches up (counted in /info)",
                live.capacity, live.target.endpoint
            ));
        }
        return;
    }
    *lock(&live.dropping) = false;
    q.spans += n;
    q.traces.push_back(trace.clone());
    live.wake.notify_one();
}

/// The live export's counters, when it runs.
pub fn stats() -> Option<Stats> {
    let live = LIVE.get()?;
    Some(Stats {
        endpoint: live.target.endpoint.clone(),
        sent_spans: live.sent.load(Ordering::Relaxed),
        dropped_spans: live.dropped.load(Ordering::Relaxed),
        failed_spans: live.failed.load(Ordering::Relaxed),
        last_error: lock(&live.last_error).clone(),
    })
}
