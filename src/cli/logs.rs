//! `ctrace logs`: print a container's json-file log the way `docker logs` does — each line on the
//! stream it was written to, optionally with its timestamp, only the last N lines (`--tail`), only
//! a time window (`--since`, `--until`), and with `-f` keep printing until the container has
//! exited and its log is drained (or the user presses ^C).
//!
//! Not here: writing the log (the shim does, in `shim::io`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime};

use crate::engine::Engine;
use crate::state::Status;
use crate::sys::time::parse_rfc3339;
use crate::sys::time::parse_timestamp;

use super::args::LogsArgs;
use super::{fail1, Failure};

/// How often a follower looks for new lines. The shim appends whole lines, so a short sleep is
/// all a follower needs; it is not on any container's critical path.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// One log entry as the shim wrote it.
struct Entry {
    stderr: bool,
    time: String,
    log: String,
}

fn parse_line(line: &str) -> Option<Entry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(Entry {
        stderr: v["stream"] == "stderr",
        time: v["time"].as_str().unwrap_or("").to_string(),
        log: v["log"].as_str().unwrap_or("").to_string(),
    })
}

/// `--tail`: `all` or a number; docker treats a negative number as `all`.
fn parse_tail(value: &str) -> Result<Option<usize>, Failure> {
    if value == "all" {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(n) if n < 0 => Ok(None),
        Ok(n) => Ok(Some(n as usize)),
        Err(_) => Err(Failure::new(
            1,
            format!("invalid value for --tail {value:?}: use a number of lines or all"),
        )),
    }
}

struct Printer {
    timestamps: bool,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
}

impl Printer {
    fn wanted(&self, e: &Entry) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = parse_rfc3339(&e.time) else {
            return true;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }

    /// Whether the line is past `--until` (a follower stops there).
    fn past_until(&self, e: &Entry) -> bool {
        match (self.until, parse_rfc3339(&e.time)) {
            (Some(u), Some(t)) => t > u,
            _ => false,
        }
    }

    /// Prints one entry; false when stdout is gone (a closed pipe ends `logs -f`).
    fn print(&self, e: &Entry) -> bool {
        let line = if self.timestamps {
            format!("{} {}", e.time, e.log)
        } else {
            e.log.clone()
        };
        let r = if e.stderr {
            let mut err = std::io::stderr().lock();
            err.write_all(line.as_bytes()).and_then(|_| err.flush())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(line.as_bytes()).and_then(|_| out.flush())
        };
        r.is_ok()
    }
}

pub fn logs(engine: &Engine, a: LogsArgs) -> Result<i32, Failure> {
    let now = SystemTime::now();
    let time_flag = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>, Failure> {
        v.as_deref()
            .map(|s| {
                parse_timestamp(flag, s, now).map_err(|_| {
                    Failure::new(
                        1,
                        format!(
                            "invalid value for {flag} {s:?}: use a duration (10m, 1h30m), an RFC 3339 time or unix seconds"
                        ),
                    )
                })
            })
            .transpose()
    };
    let printer = Printer {
        timestamps: a.timestamps,
        since: time_flag("--since", &a.since)?,
        until: time_flag("--until", &a.until)?,
    };
    let tail = parse_tail(&a.tail)?;
    let id = engine
        .store
        .lookup(&a.container)
        .map_err(|e| fail1(e.into()))?;
    let path = engine.paths.log(&id);
    let mut file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::new(
                1,
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };

    // What is there now: every whole line, then only the last `tail` of those wanted.
    let mut pending = Vec::new();
    let mut entries = Vec::new();
    if let Some(f) = file.as_mut() {
        let mut reader = BufReader::new(&mut *f);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.last() != Some(&b'\n') => {
                    // A line the shim is still writing: the follower finishes it later.
                    pending = line;
                    break;
                }
                Ok(_) => {
                    if let Some(e) = parse_line(&String::from_utf8_lossy(&line)) {
                        if printer.wanted(&e) {
                            entries.push(e);
                        }
                    }
                }
            }
        }
        let pos = f.stream_position().unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(pos));
    }
    let skip = tail.map_or(0, |n| entries.len().saturating_sub(n));
    for e in &entries[skip..] {
        if !printer.print(e) {
            return Ok(0);
        }
    }
    if !a.follow {
        return Ok(0);
    }

    // Follow: read what gets appended until the container is no longer running; then drain once
    // more, because the shim writes its last lines before the state says exited.
    loop {
        let running = still_running(engine, &id);
        if file.is_none() {
            file = File::open(&path).ok();
        }
        if let Some(f) = file.as_mut() {
            let mut chunk = Vec::new();
            let _ = f.read_to_end(&mut chunk);
            pending.extend_from_slice(&chunk);
            while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=nl).collect();
                let Some(e) = parse_line(&String::from_utf8_lossy(&line)) else {
                    continue;
                };
                if printer.past_until(&e) {
                    return Ok(0);
                }
                if printer.wanted(&e) && !printer.print(&e) {
                    return Ok(0);
                }
            }
        }
        if !running {
            return Ok(0);
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// Whether the container may still write to its log: running (or paused) with a live shim.
fn still_running(engine: &Engine, id: &str) -> bool {
    let Ok(st) = engine.store.load_state(id) else {
        return false;
    };
    matches!(
        st.status,
        Status::Running | Status::Paused | Status::Restarting
    ) && st.shim_pid > 0
        && crate::host::current().alive(st.shim_pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_takes_numbers_and_all() {
        assert_eq!(parse_tail("all").ok().flatten(), None);
        assert_eq!(parse_tail("3").ok().flatten(), Some(3));
        assert_eq!(parse_tail("-1").ok().flatten(), None);
        assert!(parse_tail("x").is_err());
    }
}
