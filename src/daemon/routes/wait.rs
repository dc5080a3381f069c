//! `POST /containers/{id}/wait`: the status line at once, the exit code when it happens.
//!
//! Not here: the supervision of the daemon's shims ([`crate::daemon::attach`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::state::Status;

use crate::daemon::api::ApiError;
use crate::daemon::attach::{self};
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// What a wait waits for (`condition=`).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

/// `POST /containers/{id}/wait`: the status line goes out at once (the docker CLI sends this
/// before `start` and must know the wait is in place), the exit code when it happens.
pub(super) async fn wait(d: Arc<Daemon>, ctx: &Ctx, q: String) -> Reply {
    let cond = match ctx.param("condition").unwrap_or("") {
        "" | "not-running" => Condition::NotRunning,
        "next-exit" => Condition::NextExit,
        "removed" => Condition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    let id = blocking(&d, move |e| Ok(e.store.lookup(&q)?)).await?;
    let rx = d.hub.watch(&id);
    // Taken now, not in the task: an exit counted before the task runs is still new to it.
    let initial = rx.borrow().clone();
    let want_spans = ctx.want_spans;
    let (tx, resp) = http::streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let code = wait_for(&d, &id, cond, initial, rx).await;
        let mut v = json!({ "StatusCode": code, "Error": null });
        if want_spans {
            if let Some(spans) = d.hub.take_exit_spans(&id) {
                v["CtraceSpans"] = serde_json::to_value(spans).unwrap_or(Value::Null);
            }
        }
        let _ = tx.send(Bytes::from(v.to_string() + "\n")).await;
    });
    Ok(resp)
}

/// Blocks until `cond` holds for `id`; its exit code. `initial`: the hub's counts when the wait
/// was asked for, so only a later exit is new. As moby's, every exit ends a `not-running` or
/// `next-exit` wait, also one a restart policy follows at once (the shim's restarts are counted
/// in the state's `RestartCount`, each one an exit).
pub(super) async fn wait_for(
    d: &Arc<Daemon>,
    id: &str,
    cond: Condition,
    initial: attach::Lifecycle,
    mut rx: tokio::sync::watch::Receiver<attach::Lifecycle>,
) -> i64 {
    let mut saw_running = false;
    let mut restarts_before: Option<u64> = None;
    loop {
        let now = rx.borrow_and_update().clone();
        if now.supervised() && now.exits == initial.exits {
            // This daemon supervises the shim: the state file says `exited` (or, with `--rm`, is
            // gone) a moment before the supervisor has the exit's code and spans. Only the exit
            // it counts ends the wait, whatever the condition.
            if rx.changed().await.is_err() {
                // Forgotten: removed.
                return i64::from(now.code);
            }
            continue;
        }
        let state = d.engine.store.load_state(id).ok();
        let running = state.as_ref().is_some_and(|s| {
            matches!(
                s.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        });
        let restarts = state.as_ref().map(|s| u64::from(s.restart_count));
        let restarted = matches!((restarts_before, restarts), (Some(b), Some(n)) if n > b);
        restarts_before = restarts_before.or(restarts);
        let exited = now.exits > initial.exits || (saw_running && !running) || restarted;
        let code = if now.exits > initial.exits {
            i64::from(now.code)
        } else if restarted {
            // Restarted already: the state's exit code is the new run's; the exit's is in its
            // `die` event.
            let events = d.engine.paths.events();
            let id = id.to_string();
            tokio::task::spawn_blocking(move || last_exit_code(&events, &id))
                .await
                .ok()
                .flatten()
                .unwrap_or(0)
        } else {
            state
                .as_ref()
                .map_or(i64::from(now.code), |s| i64::from(s.exit_code))
        };
        match cond {
            Condition::NotRunning if !running || exited => return code,
            Condition::NextExit if exited => return code,
            Condition::Removed if state.is_none() => return code,
            _ => {}
        }
        saw_running |= running;
        let shim = state.as_ref().map_or(0, |s| s.shim_pid);
        if running && !now.supervised() {
            // Started by another process (an embedded ctrace, a previous daemon): watch its shim.
            let _ = tokio::task::spawn_blocking(move || {
                crate::host::current().wait_gone(shim, std::time::Duration::from_secs(1))
            })
            .await;
            continue;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() {
                // Forgotten: removed.
                return code;
            },
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// The exit code of `id`'s last `die` event in the events log.
fn last_exit_code(events: &std::path::Path, id: &str) -> Option<i64> {
    let text = std::fs::read_to_string(events).ok()?;
    text.lines().rev().find_map(|l| {
        let ev: crate::state::events::Event = serde_json::from_str(l).ok()?;
        (ev.action == "die" && ev.actor.id == id)
            .then(|| ev.actor.attributes.get("exitCode")?.parse().ok())
            .flatten()
    })
}
