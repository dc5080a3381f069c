//! `GET /containers/{id}/logs`: the json-file log as docker's stream frames, the lines of a time
//! window (`since`, `until`), the last few (`tail`), followed when asked.
//!
//! Not here: the log file's writer (the shim); `ctrace logs` (the CLI).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::Value;

use crate::state::Status;
use crate::sys::time::{parse_rfc3339, parse_timestamp, unix_nanos};

use crate::daemon::api::{self, ApiError};
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// What a logs request asks for besides the container.
#[derive(Clone, Copy)]
struct Want {
    out: bool,
    err: bool,
    timestamps: bool,
    /// Unix nanoseconds: lines written before `since` or after `until` are left out.
    since: Option<u64>,
    until: Option<u64>,
}

impl Want {
    fn parse(ctx: &Ctx) -> Result<Want, ApiError> {
        let now = SystemTime::now();
        // As moby: `0` (what the docker CLI sends without the flag) is no bound.
        let bound = |k: &str| -> Result<Option<u64>, ApiError> {
            match ctx.param(k).filter(|v| !v.is_empty() && *v != "0") {
                None => Ok(None),
                Some(v) => parse_timestamp(k, v, now)
                    .map(|t| Some(unix_nanos(t)))
                    .map_err(ApiError::bad_request),
            }
        };
        Ok(Want {
            out: ctx.flag("stdout"),
            err: ctx.flag("stderr"),
            timestamps: ctx.flag("timestamps"),
            since: bound("since")?,
            until: bound("until")?,
        })
    }

    fn in_window(&self, time: &str) -> bool {
        let Some(t) = parse_rfc3339(time).map(unix_nanos) else {
            return true;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// The json-file log lines of `text` as stream frames (the streams and the time window asked
/// for, with their timestamps when asked).
fn log_frames(lines: &[&str], want: Want) -> Vec<u8> {
    let (out, err, ts) = (want.out, want.err, want.timestamps);
    let mut body = Vec::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if !want.in_window(v["time"].as_str().unwrap_or("")) {
            continue;
        }
        let stream = if v["stream"] == "stderr" { 2 } else { 1 };
        if (stream == 1 && !out) || (stream == 2 && !err) {
            continue;
        }
        let mut payload = String::new();
        if ts {
            payload.push_str(v["time"].as_str().unwrap_or(""));
            payload.push(' ');
        }
        payload.push_str(v["log"].as_str().unwrap_or(""));
        body.extend(api::frame(stream, payload.as_bytes()));
    }
    body
}

/// What a container wrote so far (its json-file log: whole lines), for an attach's `logs=1`:
/// each line's stream (1 stdout, 2 stderr) and bytes, in order.
pub(super) fn written(path: &std::path::Path) -> Vec<(u8, Vec<u8>)> {
    let text = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            let stream = if v["stream"] == "stderr" { 2 } else { 1 };
            Some((stream, v["log"].as_str()?.as_bytes().to_vec()))
        })
        .collect()
}

/// How often a followed log is read again.
const LOG_POLL: Duration = Duration::from_millis(100);

/// `GET /containers/{id}/logs`: the json-file log as stream frames; with `follow`, what the
/// container writes next too, until it exits or the client hangs up.
pub(super) async fn logs(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let want = Want::parse(ctx)?;
    if !want.out && !want.err {
        return Err(ApiError::bad_request(
            "you must choose at least one stream: stdout=1 or stderr=1",
        ));
    }
    let follow = ctx.flag("follow");
    let tail: Option<usize> = ctx.param("tail").and_then(|t| t.parse().ok());
    let (id, path, text) = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let path = e.paths.log(&id);
        let text = std::fs::read(&path).unwrap_or_default();
        Ok((id, path, text))
    })
    .await?;
    // Only whole lines: a line the shim is still writing waits for the next read.
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let head = String::from_utf8_lossy(&text[..whole]);
    let lines: Vec<&str> = head.lines().collect();
    let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let first = log_frames(&lines[skip..], want);
    let content_type = "application/vnd.docker.raw-stream";
    if !follow {
        return Ok(http::full(StatusCode::OK, content_type, first));
    }
    let (tx, resp) = http::streaming(StatusCode::OK, content_type);
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut offset = whole as u64;
        let mut partial: Vec<u8> = Vec::new();
        loop {
            // The state first: once it says exited, one last read has everything it wrote.
            let running = d.engine.store.load_state(&id).is_ok_and(|s| {
                matches!(
                    s.status,
                    Status::Running | Status::Paused | Status::Restarting
                )
            });
            let fresh = read_from(&path, &mut offset);
            partial.extend(fresh);
            if let Some(i) = partial.iter().rposition(|&b| b == b'\n') {
                let chunk: Vec<u8> = partial.drain(..=i).collect();
                let text = String::from_utf8_lossy(&chunk);
                let lines: Vec<&str> = text.lines().collect();
                let frames = log_frames(&lines, want);
                if !frames.is_empty() && tx.send(Bytes::from(frames)).await.is_err() {
                    return;
                }
            }
            // Followed up to `until` at most, as moby does.
            let past_until = want
                .until
                .is_some_and(|u| unix_nanos(SystemTime::now()) > u);
            if !running || past_until {
                return;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(LOG_POLL) => {}
            }
        }
    });
    Ok(resp)
}

/// The bytes of `path` after `offset` (a small local read, done in place); moves `offset`.
fn read_from(path: &std::path::Path, offset: &mut u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    if len < *offset {
        *offset = 0; // the log was truncated or rotated: from its start again
    }
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(*offset)).is_ok() {
        let _ = f.take(len - *offset).read_to_end(&mut buf);
    }
    *offset += buf.len() as u64;
    buf
}
