//! `<root>/settings.json`: the limits an operator sets once for every command and the daemon
//! over one root — how far a layer may expand, how many traces are kept. Missing file, missing
//! key: the default. Every key is checked when the file is read; a bad one is an error naming
//! the file and the key, never ignored.
//!
//! ```json
//! { "max-layer-size": "4g", "max-image-size": "40g",
//!   "max-traces": 1000, "max-trace-age": "7d", "max-traces-size": "500m" }
//! ```
//!
//! Not here: applying them (`crate::image` caps extraction, the CLI and the daemon prune
//! traces), flags and environment variables (`crate::cli`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The file under a root.
pub fn path(root: &Path) -> PathBuf {
    root.join("settings.json")
}

/// A layer expands to at most this many times its compressed size…
pub const LAYER_RATIO: u64 = 100;
/// …or this many bytes, whichever is more (a small layer of zeros is no bomb).
pub const LAYER_FLOOR: u64 = 2 << 30;
/// Everything one import or pull extracts, all its layers together.
pub const IMAGE_DEFAULT: u64 = 100 << 30;

/// The settings, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Bytes one layer may expand to; `None`: [`LAYER_RATIO`] × compressed, ≥ [`LAYER_FLOOR`].
    pub max_layer_size: Option<u64>,
    /// Bytes one import or pull may expand to; `None`: [`IMAGE_DEFAULT`].
    pub max_image_size: Option<u64>,
    /// Traces kept after each recorded command (the newest); `None`: all.
    pub max_traces: Option<usize>,
    /// Traces older than this are removed after each recorded command.
    pub max_trace_age: Option<Duration>,
    /// Bytes the trace files may take together (the oldest go first).
    pub max_traces_size: Option<u64>,
}

impl Settings {
    /// The limit on what a layer of `compressed` bytes may expand to.
    pub fn layer_limit(&self, compressed: u64) -> u64 {
        self.max_layer_size
            .unwrap_or_else(|| compressed.saturating_mul(LAYER_RATIO).max(LAYER_FLOOR))
    }

    pub fn image_limit(&self) -> u64 {
        self.max_image_size.unwrap_or(IMAGE_DEFAULT)
    }

    /// Whether any trace retention is set.
    pub fn prunes_traces(&self) -> bool {
        self.max_traces.is_some() || self.max_trace_age.is_some() || self.max_traces_size.is_some()
    }
}

/// A size as docker writes them (`512m`, `4g`) or a number of bytes.
#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    max_layer_size: Option<Size>,
    max_image_size: Option<Size>,
    max_traces: Option<usize>,
    max_trace_age: Option<String>,
    max_traces_size: Option<Size>,
}

/// Reads `<root>/settings.json`; no file means the defaults.
pub fn load(root: &Path) -> Result<Settings, String> {
    let p = path(root);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => {
            return Err(format!(
                "cannot read the settings file {}: {e}",
                p.display()
            ))
        }
    };
    parse(&text).map_err(|e| format!("settings file {}: {e}", p.display()))
}

/// The file's text, checked.
pub fn parse(text: &str) -> Result<Settings, String> {
    let f: File = serde_json::from_str(text).map_err(|e| {
        format!("{e}: keys are max-layer-size, max-image-size, max-traces, max-trace-age, max-traces-size")
    })?;
    let size = |key: &str, s: Option<Size>| -> Result<Option<u64>, String> {
        match s {
            None => Ok(None),
            Some(Size::Bytes(n)) => Ok(Some(n)),
            Some(Size::Text(t)) => crate::sys::size::parse_size(key, &t).map(|n| Some(n as u64)),
        }
    };
    let age = match f.max_trace_age {
        None => None,
        Some(a) => Some(humantime::parse_duration(&a).map_err(|_| {
            format!("invalid value {a:?} for max-trace-age: use a duration like 7d or 12h")
        })?),
    };
    Ok(Settings {
        max_layer_size: size("max-layer-size", f.max_layer_size)?,
        max_image_size: size("max-image-size", f.max_image_size)?,
        max_traces: f.max_traces,
        max_trace_age: age,
        max_traces_size: size("max-traces-size", f.max_traces_size)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_as_docker_writes_sizes_and_durations() {
        let s = parse(
            r#"{"max-layer-size":"4g","max-image-size":1048576,"max-traces":3,
                "max-trace-age":"7d","max-traces-size":"500m"}"#,
        )
        .unwrap();
        assert_eq!(s.max_layer_size, Some(4 << 30));
        assert_eq!(s.max_image_size, Some(1 << 20));
        assert_eq!(s.max_traces, Some(3));
        assert_eq!(s.max_trace_age, Some(Duration::from_secs(7 * 86400)));
        assert_eq!(s.max_traces_size, Some(500 << 20));
        assert!(s.prunes_traces());
        assert_eq!(s.layer_limit(1), 4 << 30);
    }

    #[test]
    fn a_missing_key_is_the_default_and_a_bad_one_is_refused() {
        let s = parse("{}").unwrap();
        assert!(!s.prunes_traces());
        assert_eq!(s.layer_limit(1 << 20), LAYER_FLOOR);
        assert_eq!(s.layer_limit(1 << 30), 100 << 30);
        assert_eq!(s.image_limit(), IMAGE_DEFAULT);
        assert!(parse(r#"{"max-trace":3}"#)
            .unwrap_err()
            .contains("max-traces"));
        assert!(parse(r#"{"max-layer-size":"lots"}"#).is_err());
        assert!(parse(r#"{"max-trace-age":"soon"}"#).is_err());
        assert_eq!(
            load(Path::new("/nonexistent-root-dir")).unwrap(),
            Settings::default()
        );
    }
}
