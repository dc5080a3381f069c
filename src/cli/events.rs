//! `ctrace events`: the events log (`<root>/events.jsonl`, appended by the engine and the shims)
//! printed as `docker events` prints it, filtered, and followed live until interrupted.
//!
//! No daemon publishes events, so following is reading: the log is polled from where the last
//! read ended (a few times a second), and only whole lines are printed. Not here: writing events
//! (see [`crate::state::events`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::engine::Engine;
use crate::state::events::Event;

use super::args::EventsArgs;
use super::Failure;

/// How often a followed log is read again.
const POLL: Duration = Duration::from_millis(100);

/// A point in time given as docker accepts it: a duration before now (`10m`, `1h30m`), an RFC
/// 3339 time, or unix seconds (with an optional fraction). Returns unix nanoseconds.
pub fn parse_time(flag: &str, s: &str, now: SystemTime) -> Result<u64, String> {
    let ns = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let secs: u64 = whole
            .parse()
            .map_err(|_| format!("{flag}: {s:?} is too large"))?;
        let nanos: u64 = format!("{frac:0<9}").parse().unwrap_or(0);
        return Ok(secs.saturating_mul(1_000_000_000).saturating_add(nanos));
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(ns(t));
    }
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(ns(now.checked_sub(d).unwrap_or(UNIX_EPOCH)));
    }
    Err(format!(
        "invalid value {s:?} for {flag}: use a duration (10m), an RFC 3339 time (2026-11-29T18:00:00Z) or unix seconds"
    ))
}

/// `-f key=value` filters: the same key ORs, different keys AND (docker's `filters.Args`).
#[derive(Debug, Default)]
pub struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    pub fn parse(raw: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for r in raw {
            let (k, v) = r
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter {r:?}: expected name=value"))?;
            if !matches!(k, "container" | "event" | "type" | "image") {
                return Err(format!(
                    "invalid filter '{k}': ctrace events filters by container, event, type or image"
                ));
            }
            match f.0.iter_mut().find(|(key, _)| key == k) {
                Some((_, vs)) => vs.push(v.to_string()),
                None => f.0.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let attr = |k: &str| ev.actor.attributes.get(k).map_or("", String::as_str);
        // `exec_start: sh -c …` is matched by its action word, as docker does.
        let action = ev.action.split(':').next().unwrap_or("");
        self.0.iter().all(|(k, vs)| {
            vs.iter().any(|v| match k.as_str() {
                "container" => {
                    ev.kind == "container"
                        && (ev.actor.id.starts_with(v.as_str()) || attr("name") == v)
                }
                "event" => action == v,
                "type" => ev.kind == *v,
                "image" => attr("image") == v,
                _ => false,
            })
        })
    }
}

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

/// docker's JSON message: the event plus its legacy `status`, `id`, `from` fields.
pub fn json_line(ev: &Event) -> String {
    json!({
        "status": ev.action,
        "id": ev.actor.id,
        "from": ev.actor.attributes.get("image").cloned().unwrap_or_default(),
        "Type": ev.kind,
        "Action": ev.action,
        "Actor": { "ID": ev.actor.id, "Attributes": ev.actor.attributes },
        "scope": "local",
        "time": ev.time,
        "timeNano": ev.time_nano,
    })
    .to_string()
}

pub fn events(engine: &Engine, a: EventsArgs) -> Result<i32, Failure> {
    let bad = |m: String| Failure::new(1, m);
    let now = SystemTime::now();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_time("--since", s, now))
        .transpose()
        .map_err(bad)?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_time("--until", s, now))
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
    let since = since.unwrap_or(if until.is_none() {
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    } else {
        0
    });

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
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        if done || until.is_some_and(|u| now_ns > u) {
            return Ok(0);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str, id: &str, name: &str) -> Event {
        serde_json::from_value(json!({
            "Type": "container", "Action": action,
            "Actor": {"ID": id, "Attributes": {"name": name, "image": "busybox"}},
            "time": 1, "timeNano": 1_000_000_000u64
        }))
        .unwrap()
    }

    #[test]
    fn filters_or_within_a_key_and_across_keys() {
        let f = Filters::parse(&[
            "container=web".into(),
            "container=db".into(),
            "event=start".into(),
        ])
        .unwrap();
        assert!(f.matches(&ev("start", "abc", "web")));
        assert!(f.matches(&ev("start", "abc", "db")));
        assert!(!f.matches(&ev("die", "abc", "web")));
        assert!(!f.matches(&ev("start", "abc", "other")));
        assert!(Filters::parse(&["container=ab".into()])
            .unwrap()
            .matches(&ev("x", "abc", "n")));
        assert!(Filters::parse(&["foo=1".into()]).is_err());
    }

    #[test]
    fn lines_read_like_docker() {
        assert_eq!(
            text_line(&ev("start", "abc", "web")),
            "1970-01-01T00:00:01.000000000Z container start abc (image=busybox, name=web)"
        );
    }

    #[test]
    fn times_are_durations_rfc3339_or_unix_seconds() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(
            parse_time("--since", "10m", now).unwrap(),
            9_400 * 1_000_000_000
        );
        assert_eq!(
            parse_time("--since", "1700000000", now).unwrap(),
            1_700_000_000 * 1_000_000_000
        );
        assert_eq!(
            parse_time("--since", "1970-01-01T00:00:05Z", now).unwrap(),
            5_000_000_000
        );
        assert!(parse_time("--since", "yesterday-ish", now).is_err());
    }
}
