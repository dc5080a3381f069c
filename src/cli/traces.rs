//! `trace ls`, `trace show`: the recorded traces.

use std::io::Write;

use crate::engine::Engine;
use crate::trace::explain::{Explain, Style};
use crate::trace::store;

use super::args::TraceCommand;
use super::{language, Failure};

pub fn command(engine: &Engine, c: TraceCommand) -> Result<i32, Failure> {
    let dir = engine.paths.traces();
    match c {
        TraceCommand::Ls { format } => {
            let list = store::list(&dir);
            let out = &mut std::io::stdout().lock();
            if format == "json" {
                for s in &list {
                    let _ = writeln!(out, "{}", serde_json::to_string(s).unwrap_or_default());
                }
                return Ok(0);
            }
            let _ = writeln!(
                out,
                "{:<34} {:<14} {:<14} {:>12}  STARTED",
                "TRACE ID", "OPERATION", "CONTAINER", "DURATION"
            );
            for s in &list {
                let started = humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(s.started),
                );
                let _ = writeln!(
                    out,
                    "{:<34} {:<14} {:<14} {:>9.2} ms  {}",
                    s.id,
                    s.operation,
                    &s.container[..12.min(s.container.len())],
                    s.duration_ns as f64 / 1e6,
                    started
                );
            }
            Ok(0)
        }
        TraceCommand::Show {
            trace,
            explain,
            lang,
        } => {
            let path = store::resolve(&dir, &trace).map_err(|e| Failure::new(1, e))?;
            let file = store::read(&path).map_err(|e| Failure::new(1, e))?;
            let _ = explain;
            let view = Explain::new(
                Style::for_stderr(&language(lang.as_deref())),
                Box::new(std::io::stdout()),
            );
            view.replay(&file);
            Ok(0)
        }
    }
}
