//! The trace of one CLI command: its spans made a trace file, written to the store (unless
//! recording is off), summarised after `--explain`, and sent over OTLP with `--otlp`.
//!
//! Not here: recording spans ([`crate::trace::recorder`]); the `ctrace trace` commands
//! ([`super::traces`]).

use crate::engine;
use crate::state::ContainerConfig;
use crate::trace::explain::{summary_line, Explain, Style};
use crate::trace::format::TraceFile;
use crate::trace::{self, otlp, recorder};

use super::Context;

/// Whether this command's trace goes to an OTLP collector: asked with `--otlp`, or because
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the docker CLI's habit) — unless `OTEL_SDK_DISABLED`
/// or `OTEL_TRACES_EXPORTER=none` say otherwise.
pub fn otlp_wanted(asked: bool) -> bool {
    (asked || otlp::wanted_by_env()) && matches!(otlp::disabled(), Ok(None) | Err(_))
}

/// Sends the command's trace after the container has run, so the export is never on the
/// start's critical path, and a collector that is down costs one warning, not the container.
/// `asked`: `--otlp` was given (a missing trace is then worth a warning).
pub fn export_otlp(file: Option<&TraceFile>, asked: bool) {
    match otlp::disabled() {
        Ok(Some(why)) => {
            if asked {
                eprintln!("ctrace: OTLP export off ({why})");
            }
            return;
        }
        Err(e) => {
            eprintln!("ctrace: warning: {e}");
            return;
        }
        Ok(None) => {}
    }
    if !(asked || otlp::wanted_by_env()) {
        return;
    }
    match file.map(|f| super::traces::send_otlp(f, None, None)) {
        Some(Ok(_)) => {}
        Some(Err(e)) => eprintln!("ctrace: warning: {e}"),
        None if asked => eprintln!("ctrace: warning: no spans were recorded to send over OTLP"),
        None => {}
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
