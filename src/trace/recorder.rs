//! The recorder: a `tracing-subscriber` layer that keeps every finished span of this process in
//! memory, in the `ctrace-trace/1` shape, until the operation ends and the file is written.
//!
//! Three processes record into one trace: the CLI/engine, the shim, and the container's init
//! (before it execs). The shim and the init take their trace id and parent span from the W3C
//! `traceparent` they are handed, record locally, and ship their finished spans back over the
//! shim's report pipe; the engine [`import`]s them. The recorder is also what `--explain` watches
//! ([`LiveView`]), so the timeline and the file can never disagree.
//!
//! Not here: the file I/O ([`super::store`]) and any rendering ([`super::explain`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::{EventRecord, SpanRecord};

/// Something that wants to see spans as they open and close (the `--explain` timeline).
pub trait LiveView: Send + Sync {
    fn opened(&self, span: &SpanRecord);
    fn closed(&self, span: &SpanRecord);
}

struct Shared {
    trace_id: Mutex<String>,
    process: Mutex<&'static str>,
    /// Parent for spans that have no parent in this process (from the `traceparent` handed in).
    remote_parent: Mutex<Option<String>>,
    done: Mutex<Vec<SpanRecord>>,
    /// Finished spans of traces opened with [`scope`], by trace id: a daemon serves many
    /// requests at once, each its own trace.
    scoped: Mutex<HashMap<String, Vec<SpanRecord>>>,
    live: Mutex<Option<Arc<dyn LiveView>>>,
    next_id: AtomicU64,
}

/// A trace opened on this thread by [`scope`]: its id and the remote parent of its root spans.
#[derive(Clone)]
struct Scope {
    trace_id: String,
    remote_parent: Option<String>,
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

fn current_scope() -> Option<Scope> {
    SCOPE.with(|s| s.borrow().clone())
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

/// The layer installed into the subscriber.
pub struct Recorder {
    shared: Arc<Shared>,
}

/// An open span's record and its start instant, kept in the span's extensions.
struct Open {
    rec: SpanRecord,
    started: Instant,
    /// The [`scope`]d trace this span belongs to (`None`: the process's own trace).
    trace: Option<String>,
}

fn random_u64() -> u64 {
    crate::sys::random::u64()
}

/// A new random W3C trace id (32 hex digits).
pub fn new_trace_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// Nanoseconds since the epoch, now.
pub fn now_unix_ns() -> u64 {
    super::clock::current().now_unix_ns()
}

impl Recorder {
    /// Creates the process-wide recorder. `traceparent` (W3C `00-<trace>-<span>-01`) makes this
    /// process's spans children of a span recorded elsewhere.
    pub fn new(process: &'static str, traceparent: Option<&str>) -> Recorder {
        let (trace_id, parent) = match traceparent.and_then(parse_traceparent) {
            Some((t, p)) => (t, Some(p)),
            None => (new_trace_id(), None),
        };
        let shared = SHARED.get_or_init(|| {
            Arc::new(Shared {
                trace_id: Mutex::new(String::new()),
                process: Mutex::new(process),
                remote_parent: Mutex::new(None),
                done: Mutex::new(Vec::new()),
                scoped: Mutex::new(HashMap::new()),
                live: Mutex::new(None),
                next_id: AtomicU64::new(random_u64()),
            })
        });
        *shared.trace_id.lock().unwrap() = trace_id;
        *shared.remote_parent.lock().unwrap() = parent;
        *shared.process.lock().unwrap() = process;
        Recorder {
            shared: shared.clone(),
        }
    }
}

/// Parses a W3C `traceparent`, `<version>-<trace id>-<parent id>-<flags>` (`00-<32 hex>-<16
/// hex>-<2 hex>`; a later version may add fields after the flags): the ids lower-case hex and not
/// all zeros, as the W3C spec says. The trace id names the trace file, and a caller chooses it
/// (the daemon's `traceparent` header, the client's environment): nothing but hex gets through.
pub fn parse_traceparent(s: &str) -> Option<(String, String)> {
    let hex = |x: &str, len: usize| {
        x.len() == len && x.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let mut parts = s.split('-');
    let (v, t, p, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = hex(v, 2)
        && v != "ff"
        && (v != "00" || parts.next().is_none())
        && hex(t, 32)
        && hex(p, 16)
        && hex(flags, 2)
        && t.bytes().any(|b| b != b'0')
        && p.bytes().any(|b| b != b'0');
    ok.then(|| (t.to_string(), p.to_string()))
}

fn shared() -> Option<&'static Arc<Shared>> {
    SHARED.get()
}

/// Whether a recorder is installed in this process.
pub fn active() -> bool {
    shared().is_some()
}

/// Which process records here (`ctrace`, `daemon`, `shim`, `init`), when recording.
pub fn process() -> Option<&'static str> {
    shared().map(|s| *s.process.lock().unwrap())
}

/// This process's trace id (empty when not recording).
pub fn trace_id() -> String {
    if let (Some(_), Some(scope)) = (shared(), current_scope()) {
        return scope.trace_id;
    }
    shared()
        .map(|s| s.trace_id.lock().unwrap().clone())
        .unwrap_or_default()
}

/// Ends a trace opened by [`scope`] when dropped: the thread goes back to the process's trace
/// and the trace's spans not yet taken are dropped.
pub struct ScopeGuard {
    trace_id: String,
    previous: Option<Scope>,
}

impl ScopeGuard {
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| *s.borrow_mut() = self.previous.take());
        if let Some(sh) = shared() {
            sh.scoped.lock().unwrap().remove(&self.trace_id);
        }
    }
}

/// Opens a trace of its own on this thread — one request of the daemon — continuing the W3C
/// `traceparent` when given, a new trace otherwise. Root spans opened on this thread until the
/// guard drops belong to it (their children follow their parents, whatever the thread);
/// [`take`], [`import`], [`trace_id`] and [`traceparent`] work on it. Re-entering a trace id
/// already open (another thread of the same request) shares its spans.
pub fn scope(traceparent: Option<&str>) -> ScopeGuard {
    let (trace_id, remote_parent) = match traceparent.and_then(parse_traceparent) {
        Some((t, p)) => (t, Some(p)),
        None => (new_trace_id(), None),
    };
    if let Some(sh) = shared() {
        sh.scoped
            .lock()
            .unwrap()
            .entry(trace_id.clone())
            .or_default();
    }
    let previous = SCOPE.with(|s| {
        s.borrow_mut().replace(Scope {
            trace_id: trace_id.clone(),
            remote_parent,
        })
    });
    ScopeGuard { trace_id, previous }
}

/// Sets who watches spans as they happen.
pub fn set_live_view(view: Arc<dyn LiveView>) {
    if let Some(s) = shared() {
        *s.live.lock().unwrap() = Some(view);
    }
}

/// The `traceparent` for a child process: this trace, with the current span as parent.
pub fn traceparent() -> Option<String> {
    shared()?;
    let span_id = current_span_id()?;
    Some(format!("00-{}-{}-01", trace_id(), span_id))
}

/// The recorded id of the innermost entered span.
pub fn current_span_id() -> Option<String> {
    tracing::Span::current().with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        for s in span.scope() {
            if let Some(open) = s.extensions().get::<Open>() {
                return Some(open.rec.span_id.clone());
            }
        }
        None
    })?
}

/// Moves the start of the innermost entered span back to `unix_ns` (the `run` span starts when
/// the process did, before arguments were parsed and the recorder existed).
pub fn backdate_current(unix_ns: u64) {
    tracing::Span::current().with_subscriber(|(id, dispatch)| {
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return;
        };
        let Some(span) = registry.span(id) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(open) = ext.get_mut::<Open>() {
            let delta = open.rec.start_unix_ns.saturating_sub(unix_ns);
            open.rec.start_unix_ns = unix_ns;
            open.started -= std::time::Duration::from_nanos(delta);
        }
    });
}

/// Takes every finished span recorded so far (leaving none behind).
pub fn take() -> Vec<SpanRecord> {
    let Some(s) = shared() else {
        return Vec::new();
    };
    if let Some(scope) = current_scope() {
        return s
            .scoped
            .lock()
            .unwrap()
            .get_mut(&scope.trace_id)
            .map(std::mem::take)
            .unwrap_or_default();
    }
    std::mem::take(&mut *s.done.lock().unwrap())
}

/// A copy of the finished spans recorded so far (they stay for [`take`]).
pub fn finished() -> Vec<SpanRecord> {
    shared()
        .map(|s| s.done.lock().unwrap().clone())
        .unwrap_or_default()
}

/// Adds spans recorded by another process (the shim, the init) to this trace.
pub fn import(spans: Vec<SpanRecord>) {
    if let Some(end) = spans.iter().map(|s| s.start_unix_ns + s.duration_ns).max() {
        super::clock::current().observed(end);
    }
    let Some(s) = shared() else { return };
    let live = s.live.lock().unwrap().clone();
    if let Some(live) = live {
        // In start order, so an imported operation's heading comes before its phases.
        let mut ordered: Vec<&SpanRecord> = spans.iter().collect();
        ordered.sort_by_key(|s| s.start_unix_ns);
        for span in ordered {
            live.opened(span);
            live.closed(span);
        }
    }
    push(s, current_scope().map(|c| c.trace_id).as_deref(), spans);
}

/// Files finished spans under their trace: a scoped one while it is open, else the process's.
fn push(s: &Shared, trace: Option<&str>, spans: Vec<SpanRecord>) {
    if let Some(t) = trace {
        if let Some(v) = s.scoped.lock().unwrap().get_mut(t) {
            v.extend(spans);
            return;
        }
    }
    s.done.lock().unwrap().extend(spans);
}

/// In a freshly cloned child: forget the parent's finished spans and pick fresh span ids, so the
/// child ships only its own spans and never reuses an id.
pub fn reset_for_child(process: &'static str) {
    crate::sys::random::fork_child(process);
    if let Some(s) = shared() {
        // The parent was single-threaded at clone(), so no lock can be held here. The parent's
        // spans are left, not freed: freeing touches (and so copies) every page they lie on,
        // thousands of spans in a `bench` that forks a shim per run.
        std::mem::forget(std::mem::take(&mut *s.done.lock().unwrap()));
        *s.process.lock().unwrap() = process;
        *s.live.lock().unwrap() = None;
        s.next_id.store(random_u64(), Ordering::Relaxed);
    }
}

/// In a process forked without exec from a recording one (the shim from the CLI): its spans are
/// its own, children of the `traceparent` it is handed, not of the spans the parent had entered
/// (left here, never closed: the child never returns into the parent's frames); then as
/// [`reset_for_child`].
pub fn reset_for_forked_process(process: &'static str) {
    tracing::dispatcher::get_default(|d| {
        // Bounded: each exit pops the innermost entered span.
        for _ in 0..1024 {
            match d.current_span().id() {
                Some(id) => d.exit(id),
                None => break,
            }
        }
    });
    reset_for_child(process);
}

/// Starts a new trace in this process (a long-lived shim records several operations).
pub fn restart(traceparent: Option<&str>) {
    if let Some(s) = shared() {
        let (t, p) = match traceparent.and_then(parse_traceparent) {
            Some((t, p)) => (t, Some(p)),
            None => (new_trace_id(), None),
        };
        *s.trace_id.lock().unwrap() = t;
        *s.remote_parent.lock().unwrap() = p;
        s.done.lock().unwrap().clear();
    }
}

struct FieldVisitor<'a>(&'a mut Map<String, Value>, Option<&'a mut String>);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
}

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            if let Some(msg) = self.1.as_deref_mut() {
                *msg = match value {
                    Value::String(s) => s,
                    v => v.to_string(),
                };
                return;
            }
        }
        self.0.insert(field.name().to_string(), value);
    }
}

fn ours(target: &str) -> bool {
    target.starts_with("ctrace")
}

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !ours(attrs.metadata().target()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let local_parent = span.scope().skip(1).find_map(|p| {
            p.extensions()
                .get::<Open>()
                .map(|o| (o.rec.span_id.clone(), o.trace.clone()))
        });
        let (parent_id, trace) = match local_parent {
            Some((id, trace)) => (Some(id), trace),
            None => match current_scope() {
                Some(scope) => (scope.remote_parent, Some(scope.trace_id)),
                None => (self.shared.remote_parent.lock().unwrap().clone(), None),
            },
        };
        let mut rec = SpanRecord {
            span_id: format!(
                "{:016x}",
                self.shared.next_id.fetch_add(1, Ordering::Relaxed)
            ),
            parent_id,
            name: attrs.metadata().name().to_string(),
            start_unix_ns: now_unix_ns(),
            process: self.shared.process.lock().unwrap().to_string(),
            status: "ok".into(),
            ..SpanRecord::default()
        };
        attrs.record(&mut FieldVisitor(&mut rec.attrs, None));
        let live = self.shared.live.lock().unwrap().clone();
        if let Some(live) = live {
            live.opened(&rec);
        }
        span.extensions_mut().insert(Open {
            rec,
            started: Instant::now(),
            trace,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(open) = span.extensions_mut().get_mut::<Open>() {
                values.record(&mut FieldVisitor(&mut open.rec.attrs, None));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !ours(event.metadata().target()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        for s in span.scope() {
            let mut ext = s.extensions_mut();
            if let Some(open) = ext.get_mut::<Open>() {
                let mut rec = EventRecord {
                    time_unix_ns: now_unix_ns(),
                    ..EventRecord::default()
                };
                let mut name = String::new();
                event.record(&mut FieldVisitor(&mut rec.attrs, Some(&mut name)));
                rec.name = name;
                if *event.metadata().level() <= tracing::Level::WARN {
                    rec.attrs
                        .insert("level".into(), event.metadata().level().as_str().into());
                }
                open.rec.events.push(rec);
                return;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let mut rec = open.rec;
        let measured = open.started.elapsed().as_nanos() as u64;
        rec.duration_ns = super::clock::current().close(&rec.name, rec.start_unix_ns, measured);
        // Events carry wall-clock times, the duration is monotonic: clamp the events into the
        // span so a clock adjustment never puts one outside it.
        let end = rec.start_unix_ns + rec.duration_ns;
        for e in &mut rec.events {
            e.time_unix_ns = e.time_unix_ns.clamp(rec.start_unix_ns, end);
        }
        if rec.attrs.contains_key("error") {
            rec.status = "error".into();
        }
        let live = self.shared.live.lock().unwrap().clone();
        if let Some(live) = live {
            live.closed(&rec);
        }
        push(&self.shared, open.trace.as_deref(), vec![rec]);
    }
}

/// A fresh id for a span recorded by hand (not through `tracing`).
pub fn new_span_id() -> String {
    match shared() {
        Some(s) => format!("{:016x}", s.next_id.fetch_add(1, Ordering::Relaxed)),
        None => format!("{:016x}", random_u64()),
    }
}
