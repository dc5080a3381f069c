//! The events log (`docker events`): one JSON object per line in `<root>/events.jsonl`.
//!
//! Appends are single `write(2)` calls on an `O_APPEND` file, so concurrent writers (the CLI and
//! shims) never interleave within a line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub time: u64,
    #[serde(rename = "timeNano")]
    pub time_nano: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Appends a container event (`create`, `start`, `die`, `destroy`, …).
pub fn container(
    log: &Path,
    action: &str,
    id: &str,
    attrs: &[(&str, &str)],
) -> std::io::Result<()> {
    let now = crate::trace::recorder::now_unix_ns();
    let ev = Event {
        kind: "container".into(),
        action: action.into(),
        actor: Actor {
            id: id.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        time: now / 1_000_000_000,
        time_nano: now,
    };
    let mut line = serde_json::to_vec(&ev).map_err(std::io::Error::other)?;
    line.push(b'\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?
        .write_all(&line)
}
