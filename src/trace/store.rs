//! Trace files on disk: `<root>/traces/<trace_id>.json`.
//!
//! Writes are atomic (a temp file renamed into place) so a reader never sees half a trace. They
//! are not fsynced: a trace lost to a power cut is a lost measurement, not a corrupt container, and
//! an fsync would sit on the hot path of every `run`.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{SpanRecord, TraceFile, FORMAT};

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot write trace file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read trace file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a ctrace trace file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("no trace matches {0:?}: list them with `ctrace trace ls`")]
    NotFound(String),
    #[error("trace prefix {prefix:?} is ambiguous: it matches {matches}")]
    Ambiguous { prefix: String, matches: String },
}

/// Writes `trace` into `dir` and returns its path; tells whoever asked with [`on_write`].
pub fn write(dir: &Path, trace: &TraceFile) -> Result<PathBuf, TraceError> {
    let path = persist(dir, trace)?;
    if let Some(publish) = PUBLISH.get() {
        publish(&path, trace);
    }
    Ok(path)
}

/// Adds `spans` to the trace `trace_id` already in `dir` (a detached container's exit, long
/// after its start's request returned) and returns its path. Whoever listens hears of the added
/// spans only, under the trace's header: a live export sent the rest when it was first written.
pub fn extend(dir: &Path, trace_id: &str, spans: Vec<SpanRecord>) -> Result<PathBuf, TraceError> {
    let mut file = read(&dir.join(format!("{trace_id}.json")))?;
    let mut added = file.clone();
    added.spans = spans.clone();
    file.spans.extend(spans);
    let path = persist(dir, &file)?;
    if let Some(publish) = PUBLISH.get() {
        publish(&path, &added);
    }
    Ok(path)
}

/// Writes `trace` into `dir` atomically, telling nobody.
fn persist(dir: &Path, trace: &TraceFile) -> Result<PathBuf, TraceError> {
    let path = dir.join(format!("{}.json", trace.trace_id));
    let tmp = dir.join(format!(".{}.json.tmp", trace.trace_id));
    let err = |source| TraceError::Write {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    let file = fs::File::create(&tmp).map_err(err)?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer(&mut w, trace).map_err(|e| err(e.into()))?;
    w.write_all(b"\n").map_err(err)?;
    w.flush().map_err(err)?;
    fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}

/// Who hears of every trace this process writes, with its path: the whole trace, or for
/// [`extend`] the spans added.
pub type Listener = Box<dyn Fn(&Path, &TraceFile) + Send + Sync>;

/// Who hears of every trace this process writes (the live OTLP export, when it runs).
static PUBLISH: std::sync::OnceLock<Listener> = std::sync::OnceLock::new();

/// Makes `publish` hear of every trace this process writes from now on (once per process).
pub fn on_write(publish: Listener) {
    let _ = PUBLISH.set(publish);
}

/// Reads one trace file.
pub fn read(path: &Path) -> Result<TraceFile, TraceError> {
    let text = fs::read(path).map_err(|source| TraceError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let trace: TraceFile = serde_json::from_slice(&text).map_err(|e| TraceError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if trace.format != FORMAT {
        return Err(TraceError::Format {
            path: path.to_path_buf(),
            reason: format!("format {:?}, expected {FORMAT:?}", trace.format),
        });
    }
    // The id names the file the trace is written back to (`extend`): nothing but hex.
    let id = &trace.trace_id;
    if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(TraceError::Format {
            path: path.to_path_buf(),
            reason: format!("trace id {id:?} is not 32 lower-case hex digits"),
        });
    }
    Ok(trace)
}

/// One row of `ctrace trace ls`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: String,
    pub operation: String,
    pub container: String,
    pub started: u64,
    pub duration_ns: u64,
    pub path: PathBuf,
}

/// Every readable trace in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<Summary> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        if let Ok(t) = read(&path) {
            out.push(Summary {
                id: t.trace_id,
                operation: t.operation,
                container: t.container.map(|c| c.id).unwrap_or_default(),
                started: t.started_unix_ns,
                duration_ns: t.duration_ns,
                path,
            });
        }
    }
    out.sort_by_key(|s| s.started);
    out
}

/// Finds a trace by id, unique id prefix, `last`, or a path to a file.
pub fn resolve(dir: &Path, what: &str) -> Result<PathBuf, TraceError> {
    let as_path = Path::new(what);
    if what.contains('/') || what.ends_with(".json") {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(TraceError::NotFound(what.to_string()));
    }
    if what == "last" {
        return list(dir)
            .pop()
            .map(|s| s.path)
            .ok_or_else(|| TraceError::NotFound(what.to_string()));
    }
    let exact = dir.join(format!("{what}.json"));
    if exact.is_file() {
        return Ok(exact);
    }
    let matches: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(what) && n.ends_with(".json"))
        })
        .collect();
    match matches.len() {
        0 => Err(TraceError::NotFound(what.to_string())),
        1 => Ok(matches.into_iter().next().unwrap()),
        _ => Err(TraceError::Ambiguous {
            prefix: what.to_string(),
            matches: matches
                .iter()
                .filter_map(|p| p.file_stem()?.to_str().map(str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
