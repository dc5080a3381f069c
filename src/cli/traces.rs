//! `trace ls`, `show`, `flamegraph`, `folded`, `diff`, `export`, `prune`: the recorded traces;
//! and the retention every command (and the daemon) applies after writing one.
//!
//! Every command here reads trace files (by id, unique prefix, `last`, or path); none touches a
//! container (`prune` only asks which are running, to keep their traces).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::trace::explain::{Explain, Style};
use crate::trace::export::ExportError;
use crate::trace::format::TraceFile;
use crate::trace::{chrome, diff, folded, jaeger, otlp, speedscope, store, zipkin};

use super::args::TraceCommand;
use super::{language, Failure};

fn load(dir: &Path, what: &str) -> Result<TraceFile, Failure> {
    let path = store::resolve(dir, what).map_err(|e| Failure::new(1, e))?;
    store::read(&path).map_err(|e| Failure::new(1, e))
}

/// Writes `produce`'s output to `path`, or to stdout; the file only appears when all went well.
fn write_out(
    path: Option<&PathBuf>,
    produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let err = |p: &Path, source| {
        Failure::new(
            1,
            ExportError::Write {
                path: p.display().to_string(),
                source,
            },
        )
    };
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let mut buf = Vec::new();
            produce(&mut buf).map_err(|e| err(p, e))?;
            std::fs::write(p, buf).map_err(|e| err(p, e))
        }
        _ => {
            let out = &mut std::io::stdout().lock();
            produce(out).map_err(|e| err(Path::new("stdout"), e))
        }
    }
}

/// Sends `trace` over OTLP; returns the line to print.
pub fn send_otlp(
    trace: &TraceFile,
    endpoint: Option<&str>,
    protocol: Option<&str>,
) -> Result<String, ExportError> {
    let target = otlp::Target::resolve(endpoint, protocol)?;
    let n = otlp::send(&target, trace)?;
    Ok(format!(
        "sent {n} spans of trace {} to {} ({})",
        trace.trace_id,
        target.endpoint,
        target.protocol.name()
    ))
}

/// A JSON document of any exporter, written compactly.
mod erased {
    pub trait Doc {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    }

    impl<T: serde::Serialize> Doc for T {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(w, self).map_err(std::io::Error::from)
        }
    }
}

/// Whether a container is running (or paused, or restarting): its traces stay.
fn running(engine: &Engine) -> store::Running {
    let states = crate::state::store::Store::new(engine.paths.clone());
    Box::new(move |id: &str| {
        use crate::state::container::Status;
        !id.is_empty()
            && states.load_state(id).is_ok_and(|s| {
                matches!(
                    s.status,
                    Status::Running | Status::Paused | Status::Restarting
                )
            })
    })
}

/// Makes every trace this process writes apply the settings file's retention (`max_traces`
/// overrides its `max-traces`: the daemon's `--max-traces`). A bad settings file is a warning
/// here: the command itself goes on.
pub fn retain_from_settings(engine: &Engine, max_traces: Option<usize>) {
    let settings = match crate::state::settings::load(&engine.paths.root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctrace: warning: {e}");
            return;
        }
    };
    if !settings.prunes_traces() && max_traces.is_none() {
        return;
    }
    let retention = store::Retention {
        all: false,
        keep: max_traces.or(settings.max_traces),
        older_than: settings.max_trace_age,
        max_bytes: settings.max_traces_size,
    };
    store::retain(retention, running(engine));
}

pub fn command(engine: &Engine, c: TraceCommand) -> Result<i32, Failure> {
    let dir = engine.paths.traces();
    match c {
        TraceCommand::Prune {
            keep,
            older_than,
            all,
        } => {
            if keep.is_none() && older_than.is_none() && !all {
                return Err(Failure::new(
                    1,
                    "say which traces to remove: --keep N, --older-than DURATION or --all",
                ));
            }
            let retention = store::Retention {
                all,
                keep,
                older_than,
                max_bytes: None,
            };
            let pruned = store::prune(&dir, &retention, &running(engine));
            let out = &mut std::io::stdout().lock();
            if !pruned.ids.is_empty() {
                let _ = writeln!(out, "Deleted Traces:");
                for id in &pruned.ids {
                    let _ = writeln!(out, "{id}");
                }
                let _ = writeln!(out);
            }
            let _ = writeln!(
                out,
                "Total reclaimed space: {}",
                crate::sys::size::human_size(pruned.bytes, 4)
            );
            Ok(0)
        }
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
            let file = load(&dir, &trace)?;
            let _ = explain;
            let view = Explain::new(
                Style::for_stderr(&language(lang.as_deref())),
                Box::new(std::io::stdout()),
            );
            view.replay(&file);
            Ok(0)
        }
        TraceCommand::Flamegraph {
            traces,
            output,
            flamechart,
        } => {
            let files = traces
                .iter()
                .map(|t| load(&dir, t))
                .collect::<Result<Vec<_>, _>>()?;
            write_out(Some(&output), |w| folded::flamegraph(&files, flamechart, w))?;
            Ok(0)
        }
        TraceCommand::Folded { traces, flamechart } => {
            let files = traces
                .iter()
                .map(|t| load(&dir, t))
                .collect::<Result<Vec<_>, _>>()?;
            write_out(None, |w| {
                w.write_all(folded::folded_text(&files, flamechart).as_bytes())
            })?;
            Ok(0)
        }
        TraceCommand::Diff { a, b, output } => {
            let (a, b) = (load(&dir, &a)?, load(&dir, &b)?);
            if let Some(o) = &output {
                write_out(Some(o), |w| diff::flamegraph(&a, &b, w))?;
            }
            print!("{}", diff::table(&a, &b));
            Ok(0)
        }
        TraceCommand::Export {
            trace,
            format,
            output,
            otlp,
            endpoint,
            protocol,
        } => {
            let file = load(&dir, &trace)?;
            if otlp {
                let line = send_otlp(&file, endpoint.as_deref(), protocol.as_deref())
                    .map_err(|e| Failure::new(1, e))?;
                eprintln!("{line}");
                return Ok(0);
            }
            let format = format.unwrap_or_default();
            let json = |doc: &dyn erased::Doc| {
                write_out(output.as_ref(), |w| {
                    doc.write(&mut *w)?;
                    w.write_all(b"\n")
                })
            };
            match format.as_str() {
                "chrome" => json(&chrome::export(&file))?,
                "jaeger" => json(&jaeger::export(&file))?,
                "otlp-json" => json(&otlp::to_json(&file))?,
                "speedscope" => json(&speedscope::export(&file))?,
                "zipkin" => json(&zipkin::export(&file))?,
                "folded" => {
                    let text = folded::folded_text(std::slice::from_ref(&file), false);
                    write_out(output.as_ref(), |w| w.write_all(text.as_bytes()))?;
                }
                other => {
                    return Err(Failure::new(
                        1,
                        ExportError::UnknownFormat(other.to_string()),
                    ))
                }
            }
            Ok(0)
        }
    }
}
