//! `GET /events`: the events log (`<root>/events.jsonl`, appended by the engine and the shims)
//! as docker's stream of JSON messages, filtered by `since`, `until` and `filters`, and followed
//! live until the client goes away when no `until` is given.
//!
//! The daemon publishes nothing of its own: containers started by an embedded ctrace or by a
//! shim's restart policy write the same log, so reading it is the one way to see them all.
//!
//! Not here: writing events ([`crate::state::events`]); the filters and docker's JSON message
//! ([`crate::api::events`]); the text form (`ctrace events`).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::api::events::{json_line, Filters};
use crate::api::version::{self, Answer, Version};
use crate::state::events::Event;
use crate::sys::time::{parse_timestamp, unix_nanos};

use super::api::ApiError;
use super::http::Ctx;

/// How often a followed log is read again.
const POLL: Duration = Duration::from_millis(100);

/// What a client asked for.
pub struct Query {
    since: u64,
    until: Option<u64>,
    filters: Filters,
    /// The API version asked for: the messages take its shape.
    version: Version,
}

fn now_ns() -> u64 {
    unix_nanos(SystemTime::now())
}

/// docker's `filters` parameter: `{"event":["start"]}` or, as the docker CLI sends it,
/// `{"event":{"start":true}}`; turned into `key=value` pairs.
pub fn filter_pairs(raw: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid filters {raw:?}: expected a JSON object like {{\"event\":[\"start\"]}}"
        ))
    };
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let obj = v.as_object().ok_or_else(bad)?;
    let mut pairs = Vec::new();
    for (k, vals) in obj {
        let vals: Vec<String> = match vals {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            Value::Object(m) => m
                .iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(x, _)| x.clone())
                .collect(),
            _ => return Err(bad()),
        };
        pairs.extend(vals.into_iter().map(|x| format!("{k}={x}")));
    }
    Ok(pairs)
}

impl Query {
    pub fn parse(ctx: &Ctx) -> Result<Query, ApiError> {
        let now = SystemTime::now();
        let time = |k: &str| {
            ctx.param(k)
                .filter(|s| !s.is_empty())
                .map(|s| parse_timestamp(k, s, now).map(unix_nanos))
                .transpose()
                .map_err(ApiError::bad_request)
        };
        let (since, mut until) = (time("since")?, time("until")?);
        // The docker CLI sends `--until 0s` as whole unix seconds: the whole of that second is
        // meant, or the events of the last few milliseconds would be missing.
        if let (Some(u), Some(raw)) = (until.as_mut(), ctx.param("until")) {
            if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
                *u += 999_999_999;
            }
        }
        if let (Some(s), Some(u)) = (since, until) {
            if s > u {
                return Err(ApiError::bad_request("since must not be later than until"));
            }
        }
        let filters = Filters::parse(&filter_pairs(ctx.param("filters").unwrap_or(""))?)
            .map_err(ApiError::bad_request)?;
        // Without `since` and following live, docker sends only what happens from now on.
        let since = since.unwrap_or(if until.is_none() { now_ns() } else { 0 });
        Ok(Query {
            since,
            until,
            filters,
            version: ctx.version,
        })
    }
}

/// Where the reading of the log stands.
struct Reader {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl Reader {
    /// The whole lines appended since the last read. Small reads of a local file: done in place
    /// rather than on the blocking pool.
    fn next_events(&mut self) -> Vec<Event> {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let len = f.metadata().map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0; // the log was replaced: read it again from the start
        }
        let _ = f.seek(SeekFrom::Start(self.offset));
        let mut buf = String::new();
        let n = (&mut f)
            .take(len - self.offset)
            .read_to_string(&mut buf)
            .unwrap_or(0);
        self.offset += n as u64;
        self.partial.push_str(&buf);
        let mut out = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            if let Ok(ev) = serde_json::from_str::<Event>(line.trim_end()) {
                out.push(ev);
            }
        }
        out
    }
}

/// Streams the matching events into `tx` until `until` has passed or the client is gone.
pub async fn stream(log: &Path, q: Query, tx: mpsc::Sender<Bytes>) {
    let mut r = Reader {
        path: log.to_path_buf(),
        offset: 0,
        partial: String::new(),
    };
    loop {
        for ev in r.next_events() {
            if ev.time_nano < q.since || !q.filters.matches(&ev) {
                continue;
            }
            if q.until.is_some_and(|u| ev.time_nano > u) {
                return;
            }
            let mut msg: Value = serde_json::from_str(&json_line(&ev)).unwrap_or_default();
            version::shape(Answer::Event, q.version, &mut msg);
            if tx.send(Bytes::from(msg.to_string() + "\n")).await.is_err() {
                return;
            }
        }
        if q.until.is_some_and(|u| now_ns() > u) {
            return;
        }
        tokio::select! {
            // The client hung up: hyper dropped the body, and with it the receiver.
            _ = tx.closed() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_come_as_lists_or_as_the_docker_cli_sends_them() {
        let mut a = filter_pairs(r#"{"container":["web"],"event":["start"]}"#).unwrap();
        a.sort();
        assert_eq!(a, ["container=web", "event=start"]);
        let b = filter_pairs(r#"{"event":{"start":true,"die":false}}"#).unwrap();
        assert_eq!(b, ["event=start"]);
        assert!(filter_pairs("[1]").is_err());
        assert!(filter_pairs(r#"{"event":[1]}"#).is_err());
        assert!(filter_pairs("").unwrap().is_empty());
    }
}
