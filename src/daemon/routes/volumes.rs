//! `GET /volumes`, `POST /volumes/create`, `GET /volumes/{name}`, `DELETE /volumes/{name}`,
//! `POST /volumes/prune`: the engine's volume commands in moby's shapes (`volume.Volume`,
//! `volume.ListResponse`, `volume.PruneReport`). Like `ctrace volume`, they record no trace.
//!
//! Not here: the volume operations themselves ([`crate::engine::volume`]); the volume
//! directories ([`crate::storage::volumes`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::api::version::Version;
use crate::engine::volume::{self, VolumeFilters};
use crate::engine::EngineError;
use crate::storage::volumes::Volume;

use crate::daemon::api::ApiError;
use crate::daemon::events::filter_pairs;
use crate::daemon::http::{self, Ctx};
use crate::daemon::Daemon;

use super::traced::{blocking, Reply};

/// The first API version whose prune keeps named volumes unless asked for `all`.
const ANONYMOUS_ONLY_FROM: Version = Version::new(1, 42);

/// moby's `volume.Volume`, every key present (`UsageData` null, as moby answers it everywhere
/// but in `GET /system/df`).
fn shape(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": v.scope,
        "UsageData": null,
    })
}

/// The `filters` of a listing or a prune (docker's JSON form), each key one of `allowed`.
fn parse_filters(ctx: &Ctx, allowed: &[&str]) -> Result<VolumeFilters, ApiError> {
    let pairs = filter_pairs(ctx.param("filters").unwrap_or(""))?;
    VolumeFilters::parse(&pairs, allowed).map_err(ApiError::bad_request)
}

pub(super) async fn list(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let filters = parse_filters(ctx, &["dangling", "name", "driver", "label"])?;
    let v = blocking(&d, move |e| {
        let rows: Vec<Value> = e
            .volumes()
            .list()
            .map_err(EngineError::from)?
            .iter()
            .filter(|v| filters.matches(e, v))
            .map(shape)
            .collect();
        Ok(json!({ "Volumes": rows, "Warnings": [] }))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// A string map of the create body (`DriverOpts`, `Labels`); null or missing is empty.
fn string_map(body: &Value, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ApiError::bad_request(format!(
                    "invalid {key}: the value of {k:?} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!(
            "invalid {key}: expected an object of strings"
        ))),
    }
}

/// A string of the create body; null or missing is empty.
fn string_of(body: &Value, key: &str) -> Result<String, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(format!(
            "invalid {key}: expected a string"
        ))),
    }
}

pub(super) async fn create(d: Arc<Daemon>, body: Bytes) -> Reply {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid volume create body: {e}")))?
    };
    let name = string_of(&body, "Name")?;
    let driver = string_of(&body, "Driver")?;
    let opts = string_map(&body, "DriverOpts")?;
    let labels = string_map(&body, "Labels")?;
    let v = blocking(&d, move |e| {
        let name = Some(name.as_str()).filter(|n| !n.is_empty());
        let v = volume::create(e, name, &driver, &opts, &labels)?;
        Ok(shape(&v))
    })
    .await?;
    Ok(http::json(StatusCode::CREATED, &v))
}

pub(super) async fn inspect(d: Arc<Daemon>, name: String) -> Reply {
    let v = blocking(&d, move |e| {
        let v = e.volumes().get(&name).map_err(EngineError::from)?;
        Ok(shape(&v))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

pub(super) async fn remove(d: Arc<Daemon>, ctx: &Ctx, name: String) -> Reply {
    let force = ctx.flag("force");
    blocking(&d, move |e| Ok(volume::remove(e, &name, force)?)).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

/// `POST /volumes/prune`: unused anonymous volumes, or every unused one with `all=true` (or an
/// API version before 1.42), narrowed by `label`/`label!`.
pub(super) async fn prune(d: Arc<Daemon>, ctx: &Ctx) -> Reply {
    let mut filters = parse_filters(ctx, &["all", "label", "label!"])?;
    // Before API 1.42 a prune removed every unused volume, named ones too (moby keeps that
    // for the clients that ask for an older version).
    let all = filters.take_all() || ctx.version < ANONYMOUS_ONLY_FROM;
    let v = blocking(&d, move |e| {
        let (names, bytes) = volume::prune_matching(e, all, |v| filters.matches(e, v))?;
        Ok(json!({ "VolumesDeleted": names, "SpaceReclaimed": bytes }))
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}
