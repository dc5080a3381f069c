//! The router: docker's `postContainersStart` and friends (moby's `api/server/router/…`), each
//! endpoint mapped onto the engine function that does the work. Engine calls block (files,
//! flocks, netlink, fork), so they run on tokio's blocking pool, each request in a trace of its
//! own: the caller's `traceparent` continued, or a new trace.
//!
//! Endpoints whose engine operation does not exist yet (image import) answer 501.

//!
//! Here is only the router; the endpoints live by resource: [`containers`], [`logs`], [`wait`],
//! [`attach`] (and its websocket, [`ws`]), [`exec`], [`top`], [`images`], [`volumes`],
//! [`system`], and what they share in [`traced`].

mod attach;
mod containers;
mod exec;
mod images;
mod logs;
mod system;
mod top;
mod traced;
mod volumes;
mod wait;
mod ws;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use super::api::{self, check_ref, ApiError};
use super::http::{self, Ctx};
use super::Daemon;

use attach::attach;
use containers::{create, inspect, kill, list, pause, remove, resize, restart, start, stop};
use exec::{exec_create, exec_start};
use images::{image_inspect, images, pull};
use logs::logs;
use system::{events, info, no_plugins, no_swarm, ping};
use traced::Reply;
use wait::wait;
use ws::attach_ws;

pub async fn route(d: Arc<Daemon>, ctx: Ctx, req: Request<Incoming>) -> Reply {
    let path = ctx.path.clone();
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(http::percent_decode)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let m = &ctx.method;
    match (m.clone(), segs.as_slice()) {
        (Method::GET | Method::HEAD, ["_ping"]) => Ok(ping(m)),
        (Method::GET, ["version"]) => Ok(http::json(StatusCode::OK, &api::version())),
        (Method::GET, ["info"]) => info(d, &ctx).await,
        (Method::GET, ["images", "json"]) => images(d, &ctx).await,
        (Method::POST, ["images", "create"]) => pull(d, &ctx).await,
        (Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            image_inspect(d, &ctx, name.join("/")).await
        }
        (Method::GET, ["volumes"]) => volumes::list(d, &ctx).await,
        (Method::POST, ["volumes", "create"]) => {
            let body = http::body(req).await?;
            volumes::create(d, body).await
        }
        (Method::POST, ["volumes", "prune"]) => volumes::prune(d, &ctx).await,
        (Method::GET, ["volumes", name]) => volumes::inspect(d, name.to_string()).await,
        (Method::DELETE, ["volumes", name]) => volumes::remove(d, &ctx, name.to_string()).await,
        (Method::GET, ["containers", "json"]) => list(d, &ctx).await,
        (Method::POST, ["containers", "create"]) => {
            let body = http::body(req).await?;
            create(d, &ctx, body).await
        }
        (Method::GET, ["containers", id, "json"]) => inspect(d, &ctx, check_ref(id)?.into()).await,
        (Method::GET, ["containers", id, "top"]) => top::top(d, &ctx, check_ref(id)?.into()).await,
        (Method::GET, ["containers", id, "logs"]) => logs(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "start"]) => start(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "stop"]) => stop(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "kill"]) => kill(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "wait"]) => wait(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, "attach"]) => {
            let id = check_ref(id)?.to_string();
            attach(d, &ctx, id, req).await
        }
        (Method::GET, ["containers", id, "attach", "ws"]) => {
            let id = check_ref(id)?.to_string();
            attach_ws(d, &ctx, id, req).await
        }
        (Method::DELETE, ["containers", id]) => remove(d, &ctx, check_ref(id)?.into()).await,
        (Method::POST, ["containers", id, op @ ("pause" | "unpause")]) => {
            pause(d, &ctx, check_ref(id)?.into(), *op == "pause").await
        }
        (Method::POST, ["containers", id, "resize"]) => {
            resize(d, &ctx, check_ref(id)?.into()).await
        }
        (Method::POST, ["exec", id, "resize"]) => {
            let dim = |k: &str| ctx.param(k).and_then(|v| v.parse::<u16>().ok());
            let (Some(h), Some(w)) = (dim("h"), dim("w")) else {
                return Err(ApiError::bad_request(
                    "invalid size: give h and w as numbers of rows and columns",
                ));
            };
            d.execs.resize(check_ref(id)?, h, w)?;
            Ok(http::empty(StatusCode::OK))
        }
        (Method::POST, ["containers", id, "restart"]) => {
            restart(d, &ctx, check_ref(id)?.into()).await
        }
        (Method::POST, ["containers", id, "exec"]) => {
            let id = check_ref(id)?.to_string();
            let body = http::body(req).await?;
            exec_create(d, id, body).await
        }
        (Method::POST, ["exec", id, "start"]) => {
            let id = check_ref(id)?.to_string();
            exec_start(d, &ctx, id, req).await
        }
        (Method::GET, ["exec", id, "json"]) => {
            let v = d.execs.inspect(check_ref(id)?)?;
            Ok(http::json(StatusCode::OK, &v))
        }
        (Method::GET, ["events"]) => events(d, &ctx),
        (_, ["swarm", ..] | ["nodes" | "services" | "tasks" | "secrets" | "configs", ..]) => {
            no_swarm(m, &segs)
        }
        (_, ["plugins", ..]) => no_plugins(m, &segs),
        _ => Err(ApiError::not_found(format!(
            "page not found: {} {}",
            ctx.method, ctx.path
        ))),
    }
}
