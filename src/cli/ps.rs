//! `ps`, `inspect`: reading containers, printed the way docker prints them.

use std::io::Write;

use serde_json::json;

use crate::engine::query::{inspect_json, Entry};
use crate::engine::Engine;
use crate::state::Status;
use crate::sys::time::parse_rfc3339;

use crate::api::filters::Filters;
use crate::api::status::{human_duration, since, status_text};

use super::args::{InspectArgs, PsArgs};
use super::{fail1, Failure};

fn command_text(e: &Entry, trunc: bool) -> String {
    let full = std::iter::once(e.config.path.as_str())
        .chain(e.config.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let shown = if trunc && full.chars().count() > 20 {
        format!("{}…", full.chars().take(19).collect::<String>())
    } else {
        full
    };
    format!("\"{shown}\"")
}

/// docker's `CreatedAt` in `ps --format json`: `2026-11-29 18:00:00 +0000 UTC`.
fn created_at(rfc3339: &str) -> String {
    let Some(t) = parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!(
        "{} +0000 UTC",
        s.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

pub fn ps(engine: &Engine, a: PsArgs) -> Result<i32, Failure> {
    let filters = Filters::parse(&a.filters).map_err(|e| Failure::new(1, e))?;
    let last = if a.latest { Some(1) } else { a.last };
    // -n and -l show containers in any state, as docker does.
    let show_all = a.all || filters.implies_all() || last.is_some();
    let mut entries: Vec<Entry> = engine
        .list()
        .map_err(fail1)?
        .into_iter()
        .filter(|e| {
            show_all
                || e.state.status == Status::Running
                || e.state.status == Status::Paused
                || e.state.status == Status::Restarting
        })
        .filter(|e| filters.matches(e))
        .collect();
    if let Some(n) = last {
        entries.truncate(n);
    }
    let out = &mut std::io::stdout().lock();
    let id = |e: &Entry| {
        if a.no_trunc {
            e.config.id.clone()
        } else {
            e.config.id[..12].to_string()
        }
    };
    if a.quiet {
        for e in &entries {
            let _ = writeln!(out, "{}", id(e));
        }
        return Ok(0);
    }
    if matches!(a.format.as_str(), "json" | "{{json .}}") {
        for e in &entries {
            let labels = e
                .config
                .config
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let mounts = e
                .config
                .mount_points
                .iter()
                .map(|m| {
                    if m.name.is_empty() {
                        m.source.clone()
                    } else {
                        m.name.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
            let local_volumes = e
                .config
                .mount_points
                .iter()
                .filter(|m| !m.name.is_empty())
                .count();
            let row = json!({
                "Command": command_text(e, !a.no_trunc),
                "CreatedAt": created_at(&e.config.created),
                "ID": id(e),
                "Image": e.config.config.image,
                "Labels": labels,
                "LocalVolumes": local_volumes.to_string(),
                "Mounts": mounts,
                "Names": e.config.name,
                "Networks": e.config.host_config.network_mode,
                "Ports": ports_text(engine, e),
                "RunningFor": human_duration(since(&e.config.created)) + " ago",
                "Size": "0B",
                "State": e.state.status.as_str(),
                "Status": status_text(e),
            });
            let _ = writeln!(out, "{row}");
        }
        return Ok(0);
    }
    if a.format != "table" {
        return Err(Failure::new(
            1,
            format!("unknown format {:?}: use table or json", a.format),
        ));
    }
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                id(e),
                e.config.config.image.clone(),
                command_text(e, !a.no_trunc),
                human_duration(since(&e.config.created)) + " ago",
                status_text(e),
                ports_text(engine, e),
                e.config.name.clone(),
            ]
        })
        .collect();
    let header = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s += c;
            } else {
                s += &format!("{c}{}", " ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        s
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    Ok(0)
}

pub fn inspect(engine: &Engine, a: InspectArgs) -> Result<i32, Failure> {
    let mut docs = Vec::new();
    let mut code = 0;
    for q in &a.containers {
        match engine.entry(q) {
            Ok(e) => {
                let mut doc = inspect_json(&e, &engine.paths);
                // A simulated container says so, wherever its description goes.
                if crate::host::current().mode() == "sim" {
                    if let Some(o) = doc.as_object_mut() {
                        o.insert("Simulated".into(), true.into());
                    }
                }
                docs.push(doc)
            }
            Err(e) => {
                eprintln!("ctrace: {e}");
                code = 1;
            }
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&docs).unwrap_or_default()
    );
    Ok(code)
}

/// docker's PORTS column: `0.0.0.0:8080->80/tcp`, for a container whose ports are published now.
fn ports_text(engine: &Engine, e: &Entry) -> String {
    crate::network::Endpoint::load(&engine.paths.container(&e.config.id))
        .map(|ep| {
            ep.ports
                .iter()
                .map(|p| p.describe())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }
}
