//! `ctrace events`: the events log (`<root>/events.jsonl`, appended by the engine and the shims)
//! printed as `docker events` prints it, filtered, and followed live until interrupted.
//!
//! No daemon publishes events, so following is reading: the log is polled from where the last
//! read ended (a few times a second), and only whole lines are printed. Not here: writing events
//! (see [`crate::state::events`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::events::{json_line, Filters};
use crate::engine::Engine;
use crate::state::events::Event;
use crate::sys::time::{parse_timestamp, unix_nanos};

use super::args::EventsArgs;
use super::Failure;

/// How often a followed log is read again.
const POLL: Duration = Duration::from_millis(100);

/// docker's line: `2026-11-29T18:00:00.000000000Z container start <id> (image=busybox, name=web)`.
pub fn text_line(ev: &Event) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(ev.time_nano);
    let attrs = ev
        .actor
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut line = format!(
        "{} {} {} {}",
        humantime::format_rfc3339_nanos(t),
        ev.kind,
        ev.action,
        ev.actor.id
    );
    if !attrs.is_empty() {
        line += &format!(" ({attrs})");
    }
    line
}

pub fn events(engine: &Engine, a: EventsArgs) -> Result<i32, Failure> {
    let bad = |m: String| Failure::new(1, m);
    let now = SystemTime::now();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_timestamp("--since", s, now).map(unix_nanos))
        .transpose()
        .map_err(bad)?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_timestamp("--until", s, now).map(unix_nanos))
        .transpose()
        .map_err(bad)?;
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(bad("--since must not be later than --until".into()));
        }
    }
    let json = match a.format.as_deref() {
        None | Some("") => false,
        Some("json" | "{{json .}}") => true,
        Some(f) => {
            return Err(bad(format!(
                "unsupported format {f:?}: use json, or no --format for docker's text lines"
            )))
        }
    };
    let filters = Filters::parse(&a.filters).map_err(bad)?;
    // Without --since and following live, docker shows only what happens from now on.
    let since = since.unwrap_or(if until.is_none() { unix_nanos(now) } else { 0 });

    let path = engine.paths.events();
    let mut offset = 0u64;
    let mut partial = String::new();
    let out = &mut std::io::stdout().lock();
    loop {
        let mut done = false;
        if let Ok(mut f) = std::fs::File::open(&path) {
            let len = f.metadata().map_or(0, |m| m.len());
            if len < offset {
                offset = 0; // the log was replaced: read it again from the start
            }
            let _ = f.seek(SeekFrom::Start(offset));
            let mut buf = String::new();
            let n = std::io::BufReader::new(&mut f)
                .take(len - offset)
                .read_to_string(&mut buf)
                .unwrap_or(0);
            offset += n as u64;
            partial.push_str(&buf);
            while let Some(i) = partial.find('\n') {
                let line: String = partial.drain(..=i).collect();
                let Ok(ev) = serde_json::from_str::<Event>(line.trim_end()) else {
                    continue;
                };
                if ev.time_nano < since || !filters.matches(&ev) {
                    continue;
                }
                if until.is_some_and(|u| ev.time_nano > u) {
                    done = true;
                    break;
                }
                let text = if json { json_line(&ev) } else { text_line(&ev) };
                if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                    return Ok(0); // the reader went away (a closed pipe)
                }
            }
        }
        let now_ns = unix_nanos(SystemTime::now());
        if done || until.is_some_and(|u| now_ns > u) {
            return Ok(0);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_docker() {
        let ev: Event = serde_json::from_value(serde_json::json!({
            "Type": "container", "Action": "start",
            "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}},
            "time": 1, "timeNano": 1_000_000_000u64
        }))
        .unwrap();
        assert_eq!(
            text_line(&ev),
            "1970-01-01T00:00:01.000000000Z container start abc (image=busybox, name=web)"
        );
    }
}
