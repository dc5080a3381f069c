//! The trace of one CLI command: its spans made a trace file, written to the store (unless
//! recording is off), summarised after `--explain`, and sent over OTLP with `--otlp`.
//!
//! Not here: recording spans ([`crate::trace::recorder`]); the `ctrace trace` commands
//! ([`super::traces`]).

use crate::engine;
use crate::state::ContainerConfig;
use crate::trace::explain::{summary_line, Explain, Style};
use crate::trace::format::TraceFile;
use crate::trace::{self, recorder};

use super::Context;

/// `run --otlp`: sends the run's trace after the container has run, so the export is never on
/// the start's critical path, and a collector that is down costs one warning, not the container.
pub fn send_otlp(file: Option<&TraceFile>) {
    match file.map(|f| super::traces::send_otlp(f, None, None)) {
        Some(Ok(_)) => {}
        Some(Err(e)) => eprintln!("ctrace: warning: {e}"),
        None => eprintln!("ctrace: warning: no spans were recorded to send over OTLP"),
    }
}

/// Writes this process's trace; prints the summary line under `--explain`. Returns the trace.
pub fn finish_trace(
    ctx: &Context,
    operation: &str,
    container: Option<&ContainerConfig>,
    view: Option<&Explain>,
) -> Option<TraceFile> {
    let spans = recorder::take();
    if spans.is_empty() {
        return None;
    }
    let file = engine::trace_file(
        operation,
        container,
        ctx.argv.clone(),
        recorder::trace_id(),
        spans,
    );
    if super::recording_enabled() {
        if let Err(e) = trace::store::write(&ctx.engine.paths.traces(), &file) {
            eprintln!("ctrace: warning: {e}");
        }
    }
    if view.is_some() {
        eprint!("{}", summary_line(&Style::for_stderr("en"), &file));
    }
    Some(file)
}
