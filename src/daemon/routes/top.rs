//! `GET /containers/{id}/top` (docker top), as moby's `ContainerTop`: the host's `ps` with the
//! caller's `ps_args` (default `-ef`), only the rows whose PID is in the container's cgroup.
//!
//! Not here: the cgroup's processes ([`crate::runtime::cgroups`]); anything run inside the
//! container (that is `exec`, [`super::exec`]).

use std::process::Command;
use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::engine::EngineError;
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::state::Status;

use crate::daemon::api::ApiError;
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

pub(super) async fn top(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let ps_args = ctx
        .param("ps_args")
        .filter(|a| !a.trim().is_empty())
        .unwrap_or("-ef")
        .to_string();
    let v = blocking(&d, move |e| {
        let id = e.store.lookup(&q)?;
        let st = e.store.load_state(&id)?;
        match st.status {
            Status::Running | Status::Paused => {}
            Status::Restarting => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("Container {id} is restarting, wait until the container is running"),
                ))
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("container {id} is not running"),
                ))
            }
        }
        let h = Hierarchy::detect().map_err(EngineError::from)?;
        let pids = Cgroup::open(&h, &st.cgroup)
            .pids()
            .map_err(EngineError::from)?;
        let output = ps(&ps_args)?;
        parse_ps(&output, &pids)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// Runs the host's `ps` with `args` split at whitespace; a failure answers the first line of
/// its stderr, as moby does.
fn ps(args: &str) -> Result<String, ApiError> {
    let out = Command::new("ps")
        .args(args.split_ascii_whitespace())
        .output()
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("ps: cannot run ps: {e} (install procps on the host)"),
            )
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        let why = if first.is_empty() {
            out.status.to_string()
        } else {
            first.to_string()
        };
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ps: {why}"),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// moby's `parsePSOutput`: the header's words are the titles; a row is kept when its PID is one
/// of `pids` (a thread row, PID `-`, when the row above it was kept); the words past the last
/// title are joined into the last column (the command line).
fn parse_ps(output: &str, pids: &[i32]) -> Result<Value, ApiError> {
    let mut lines = output.lines();
    let titles: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let Some(pid_at) = titles.iter().position(|t| *t == "PID") else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Couldn't find PID field in ps output",
        ));
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut last_kept = false;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_at) else {
            continue;
        };
        let keep = if *pid == "-" {
            last_kept
        } else {
            let p: i32 = pid.parse().map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Unexpected pid '{pid}': {e}"),
                )
            })?;
            last_kept = pids.contains(&p);
            last_kept
        };
        if keep {
            let n = titles.len().saturating_sub(1).min(fields.len());
            let mut row: Vec<String> = fields[..n].iter().map(|f| f.to_string()).collect();
            row.push(fields[n..].join(" "));
            rows.push(row);
        }
    }
    Ok(json!({ "Titles": titles, "Processes": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         420     400  0 10:01 ?        00:00:00 sleep 1000 --and more
root         421     420  0 10:01 ?        00:00:00 /bin/sh -c top
";

    #[test]
    fn only_the_containers_pids_are_kept_and_the_command_keeps_its_spaces() {
        let v = parse_ps(PS, &[420]).unwrap();
        assert_eq!(v["Titles"][1], "PID");
        assert_eq!(v["Titles"].as_array().unwrap().len(), 8);
        let rows = v["Processes"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "420");
        assert_eq!(rows[0][7], "sleep 1000 --and more");
    }

    #[test]
    fn a_ps_without_a_pid_column_is_an_error() {
        let e = parse_ps("UID CMD\nroot init\n", &[1]).unwrap_err();
        assert_eq!(e.message, "Couldn't find PID field in ps output");
    }

    #[test]
    fn thread_rows_follow_the_process_row_above_them() {
        let out = "PID TID CMD\n420 - sleep\n- 421 -\n500 - other\n- 501 -\n";
        let v = parse_ps(out, &[420]).unwrap();
        assert_eq!(v["Processes"].as_array().unwrap().len(), 2);
    }
}
