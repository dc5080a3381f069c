//! Trace files on disk: `<root>/traces/<trace_id>.json`.
//!
//! Writes are atomic (a temp file renamed into place) so a reader never sees half a trace. They
//! are not fsynced: a trace lost to a power cut is a lost measurement, not a corrupt container, and
//! an fsync would sit on the hot path of every `run`.
//!
//! Retention: [`prune`] removes the oldest files by count, age or total size (`ctrace trace
//! prune`), and a process that installed a [`Retention`] with [`retain`] applies it after each
//! trace it writes (the settings file's limits, the daemon's `--max-traces`). Never the trace of
//! a container the caller says is still running. Not here: where the limits come from
//! (`crate::state::settings`, the CLI's flags).

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

/// Writes `trace` into `dir` and returns its path; tells whoever asked with [`on_write`], and
/// applies the retention installed with [`retain`].
pub fn write(dir: &Path, trace: &TraceFile) -> Result<PathBuf, TraceError> {
    let path = persist(dir, trace)?;
    if let Some(publish) = PUBLISH.get() {
        publish(&path, trace);
    }
    if let Some((retention, running)) = RETAIN.get() {
        prune(dir, retention, running);
    }
    Ok(path)
}

/// Which traces [`prune`] removes: each limit set removes what is past it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Every trace.
    pub all: bool,
    /// Keep the newest N.
    pub keep: Option<usize>,
    /// Remove those written longer ago than this.
    pub older_than: Option<std::time::Duration>,
    /// Keep the newest whose sizes add up to at most this many bytes.
    pub max_bytes: Option<u64>,
}

impl Retention {
    pub fn is_empty(&self) -> bool {
        *self == Retention::default()
    }
}

/// What [`prune`] removed: trace ids, oldest first, and their bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub ids: Vec<String>,
    pub bytes: u64,
}

/// Whether a container (by id) is still running: its trace stays.
pub type Running = Box<dyn Fn(&str) -> bool + Send + Sync>;

static RETAIN: std::sync::OnceLock<(Retention, Running)> = std::sync::OnceLock::new();

/// Makes every [`write`] of this process apply `retention` afterwards (once per process).
pub fn retain(retention: Retention, running: Running) {
    if !retention.is_empty() {
        let _ = RETAIN.set((retention, running));
    }
}

/// Removes the trace files in `dir` that `r` does not keep, the least recently written first
/// by its limits; a trace whose container `running` says is running is kept (and counted).
pub fn prune(dir: &Path, r: &Retention, running: &dyn Fn(&str) -> bool) -> Pruned {
    let mut files: Vec<(PathBuf, std::time::SystemTime, u64)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            if name.starts_with('.') || !name.ends_with(".json") {
                return None;
            }
            let md = e.metadata().ok()?;
            Some((e.path(), md.modified().ok()?, md.len()))
        })
        .collect();
    // Newest first; a tie goes by name so every process decides alike.
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let now = std::time::SystemTime::now();
    let (mut kept, mut kept_bytes) = (0usize, 0u64);
    let mut out = Pruned::default();
    for (path, modified, len) in files {
        let past = r.all
            || r.keep.is_some_and(|k| kept >= k)
            || r.older_than
                .is_some_and(|d| now.duration_since(modified).unwrap_or_default() > d)
            || r.max_bytes.is_some_and(|m| kept_bytes + len > m);
        if !past || running(&container_of(&path)) {
            kept += 1;
            kept_bytes += len;
            continue;
        }
        if fs::remove_file(&path).is_ok() {
            let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            out.ids.push(id.to_string());
            out.bytes += len;
        }
    }
    out.ids.reverse();
    out
}

/// The id of the container a trace file is about; empty when none (or unreadable).
fn container_of(path: &Path) -> String {
    #[derive(serde::Deserialize)]
    struct Head {
        container: Option<Container>,
    }
    #[derive(serde::Deserialize)]
    struct Container {
        id: String,
    }
    fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Head>(&b).ok())
        .and_then(|h| h.container)
        .map(|c| c.id)
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// Trace files `t0` (oldest) … `t{n-1}` (newest), an hour apart, each about `container-i`.
    fn traces(n: usize) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ctrace-prune-{}-{:x}",
            std::process::id(),
            crate::sys::random::u64()
        ));
        fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        for i in 0..n {
            let p = dir.join(format!("t{i}.json"));
            fs::write(&p, format!(r#"{{"container":{{"id":"container-{i}"}}}}"#)).unwrap();
            let age = Duration::from_secs(3600 * (n - i) as u64);
            let f = fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(now - age).unwrap();
        }
        dir
    }

    /// `{"container":{"id":"container-0"}}`.
    const LEN: u64 = 34;

    fn left(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().replace(".json", ""))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn keep_n_removes_the_oldest_and_says_which_oldest_first() {
        let dir = traces(5);
        let r = Retention {
            keep: Some(2),
            ..Retention::default()
        };
        let pruned = prune(&dir, &r, &|_| false);
        assert_eq!(pruned.ids, ["t0", "t1", "t2"]);
        assert_eq!(pruned.bytes, 3 * LEN);
        assert_eq!(left(&dir), ["t3", "t4"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn age_size_and_all_each_remove_what_is_past_them_but_never_a_running_containers_trace() {
        let dir = traces(5);
        let older = Retention {
            older_than: Some(Duration::from_secs(3 * 3600 + 60)),
            ..Retention::default()
        };
        assert_eq!(prune(&dir, &older, &|_| false).ids, ["t0", "t1"]);
        let size = Retention {
            max_bytes: Some(2 * LEN),
            ..Retention::default()
        };
        assert_eq!(prune(&dir, &size, &|_| false).ids, ["t2"]);
        let all = Retention {
            all: true,
            ..Retention::default()
        };
        let pruned = prune(&dir, &all, &|c| c == "container-3");
        assert_eq!(pruned.ids, ["t4"]);
        assert_eq!(left(&dir), ["t3"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
