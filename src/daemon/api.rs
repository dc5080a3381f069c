//! The Docker Engine API's shapes: error bodies and status codes, the create request turned
//! into [`CreateOptions`], and the JSON `ps`, `images`, `version` and `info` answer with.
//!
//! Not here: routing or I/O ([`super::routes`], [`super::server`]); what a container *is*
//! ([`crate::engine`]).

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::api::{container, shapes};
use crate::engine::options::CreateOptions;
use crate::engine::query::Entry;
use crate::engine::EngineError;
use crate::image::pull::PullError;
use crate::image::{Image, ImageError};
use crate::state::{StateError, Status};
use crate::storage::volumes::VolumeError;
use crate::sys::exit;

use crate::api::version;

/// A request that failed: docker's `{"message": …}` with its status code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            message: message.to_string(),
        }
    }
    pub fn bad_request(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    /// An endpoint of the API that ctrace's engine does not offer yet.
    pub fn not_implemented(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} is not implemented by the ctrace daemon yet"),
        )
    }
    pub fn body(&self) -> String {
        json!({ "message": self.message }).to_string()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let status = match &e {
            EngineError::State(StateError::NoSuchContainer(_)) => StatusCode::NOT_FOUND,
            EngineError::State(StateError::NameInUse { .. }) => StatusCode::CONFLICT,
            EngineError::State(StateError::InvalidName(_) | StateError::Ambiguous { .. }) => {
                StatusCode::BAD_REQUEST
            }
            EngineError::Image(ImageError::NotFound { .. }) => StatusCode::NOT_FOUND,
            EngineError::Image(ImageError::Pull(
                PullError::ManifestUnknown { .. } | PullError::Denied { .. },
            )) => StatusCode::NOT_FOUND,
            EngineError::Image(ImageError::Pull(
                PullError::NeedsLogin { .. } | PullError::BadCredentials { .. },
            )) => StatusCode::UNAUTHORIZED,
            EngineError::Image(ImageError::Pull(PullError::InvalidPlatform(_))) => {
                StatusCode::BAD_REQUEST
            }
            EngineError::Image(ImageError::InvalidReference { .. }) => StatusCode::BAD_REQUEST,
            EngineError::Image(ImageError::Conflict { .. }) => StatusCode::CONFLICT,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Volume(VolumeError::NotFound(_)) => StatusCode::NOT_FOUND,
            EngineError::Volume(VolumeError::InUse { .. }) => StatusCode::CONFLICT,
            EngineError::Volume(VolumeError::Io { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
            EngineError::Invalid(_) | EngineError::Volume(_) => StatusCode::BAD_REQUEST,
            // The docker CLI turns these into its exit codes 126 and 127 by their wording.
            EngineError::Runtime { code, .. }
                if *code == exit::CANNOT_EXEC || *code == exit::NOT_FOUND =>
            {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The engine words some conflicts for a terminal already (pause's, as the docker CLI
        // prints them); the docker CLI adds that prefix itself.
        let text = e.to_string();
        let text = text
            .strip_prefix("Error response from daemon: ")
            .unwrap_or(&text);
        ApiError::new(status, text)
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> ApiError {
        EngineError::from(e).into()
    }
}

/// `POST /containers/create`'s body (and `?name=`) as the engine's options. Settings the engine
/// cannot honour are refused, not ignored.
pub fn create_options(body: &[u8], name: Option<String>) -> Result<CreateOptions, ApiError> {
    let b = container::parse(body).map_err(ApiError::bad_request)?;
    if b.host_config.privileged {
        return Err(ApiError::bad_request(
            "privileged containers are not supported: run without --privileged",
        ));
    }
    b.into_options(name).map_err(ApiError::bad_request)
}

fn unix_seconds(rfc3339: &str) -> i64 {
    crate::sys::time::parse_rfc3339(rfc3339)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// One row of `GET /containers/json`.
pub fn container_summary(e: &Entry) -> Value {
    let c = &e.config;
    let command = std::iter::once(c.path.as_str())
        .chain(c.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let ports: Vec<Value> = c
        .host_config
        .port_bindings
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    let mut row = json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        // As the user typed it (`alpine`), not as it was resolved.
        "Image": if c.config.image.is_empty() { &c.image_ref } else { &c.config.image },
        "ImageID": c.image,
        "Command": command,
        "Created": unix_seconds(&c.created),
        "Ports": ports_summary(&ports),
        "Labels": c.config.labels,
        "State": e.state.status.as_str(),
        "Status": crate::api::status::status_text(e),
        "HostConfig": { "NetworkMode": c.host_config.network_mode },
        "NetworkSettings": { "Networks": { c.host_config.network_mode.clone(): {} } },
        "Mounts": [],
    });
    shapes::container_summary(&mut row);
    row
}

/// Published ports as docker lists them (`PrivatePort`, `PublicPort`, `Type`, `IP`).
fn ports_summary(bindings: &[Value]) -> Vec<Value> {
    bindings
        .iter()
        .map(|b| {
            let num = |k: &str| b.get(k).and_then(Value::as_u64).unwrap_or(0);
            json!({
                "IP": b.get("HostIp").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("0.0.0.0"),
                "PrivatePort": num("ContainerPort"),
                "PublicPort": num("HostPort"),
                "Type": b.get("Proto").and_then(Value::as_str).unwrap_or("tcp"),
            })
        })
        .collect()
}

/// One row of `GET /images/json`.
pub fn image_summary(i: &Image) -> Value {
    let mut row = json!({
        "Id": i.id,
        "ParentId": "",
        "RepoTags": i.repo_tags,
        "RepoDigests": [],
        "Created": i.created.as_deref().map_or(0, unix_seconds),
        "Size": i.size,
        "VirtualSize": i.size,
        "SharedSize": -1,
        "Labels": i.config.labels,
        "Containers": -1,
    });
    shapes::image_summary(&mut row);
    row
}

/// `GET /images/{name}/json`.
pub fn image_inspect(i: &Image) -> Value {
    let c = &i.config;
    let mut v = json!({
        "Id": i.id,
        "RepoTags": i.repo_tags,
        "RepoDigests": [],
        "Parent": "",
        "Created": i.created.clone().unwrap_or_default(),
        "Size": i.size,
        "VirtualSize": i.size,
        "Architecture": i.architecture,
        "Os": i.os,
        "Config": {
            "Cmd": c.cmd,
            "Entrypoint": c.entrypoint,
            "Env": c.env,
            "WorkingDir": c.working_dir,
            "User": c.user,
            "Labels": c.labels,
            "StopSignal": c.stop_signal,
        },
        "RootFS": { "Type": "layers", "Layers": i.diff_ids },
        "GraphDriver": { "Name": "overlay2", "Data": {} },
    });
    shapes::image_inspect(&mut v);
    v
}

/// `ctrace inspect`'s document in the shape the docker CLI decodes: `HostConfig.PortBindings`
/// is docker's map (`"80/tcp": [{"HostIp", "HostPort"}]`), not ctrace's flat list, and every key
/// dockerd sends is there ([`shapes::container_inspect`]).
pub fn container_inspect(mut v: Value) -> Value {
    if let Some(Value::Array(list)) = v.pointer("/HostConfig/PortBindings").cloned() {
        let mut map = Map::new();
        for b in &list {
            let key = format!(
                "{}/{}",
                b["ContainerPort"].as_u64().unwrap_or(0),
                b["Proto"].as_str().unwrap_or("tcp")
            );
            let port = b["HostPort"].as_u64().unwrap_or(0);
            map.entry(key)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("array")
                .push(json!({
                    "HostIp": b["HostIp"].as_str().unwrap_or(""),
                    "HostPort": if port == 0 { String::new() } else { port.to_string() },
                }));
        }
        v["HostConfig"]["PortBindings"] = Value::Object(map);
    }
    shapes::container_inspect(&mut v);
    v
}

/// `GET /version`.
pub fn version() -> Value {
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "Platform": { "Name": "ctrace" },
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {
                "ApiVersion": version::LATEST.to_string(),
                "MinAPIVersion": version::MIN.to_string(),
                "Os": "linux",
                "Arch": crate::sys::arch::go_arch(),
                "KernelVersion": kernel,
            }
        }],
        "Version": version,
        "ApiVersion": version::LATEST.to_string(),
        "MinAPIVersion": version::MIN.to_string(),
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": crate::sys::arch::go_arch(),
        "KernelVersion": kernel,
        "BuildTime": "",
    })
}

/// The live OTLP export's counters (`null` when it is off): ctrace's own key in `/info`.
fn otlp_export() -> Value {
    match crate::trace::otlp::live::stats() {
        Some(s) => json!({
            "Endpoint": s.endpoint,
            "SentSpans": s.sent_spans,
            "DroppedSpans": s.dropped_spans,
            "FailedSpans": s.failed_spans,
            "LastError": s.last_error,
        }),
        None => Value::Null,
    }
}

/// `GET /info`.
pub fn info(
    entries: &[Entry],
    images: usize,
    root: &std::path::Path,
    bridge: &str,
    id: &str,
) -> Value {
    let count = |s: Status| entries.iter().filter(|e| e.state.status == s).count();
    let facts = crate::engine::host_facts("embedded");
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let mut runtimes = BTreeMap::new();
    runtimes.insert("embedded", json!({ "path": "ctrace shim" }));
    if crate::runtime::runc::binary().is_some() {
        runtimes.insert("runc", json!({ "path": "runc" }));
    }
    json!({
        "ID": id,
        "Containers": entries.len(),
        "ContainersRunning": count(Status::Running),
        "ContainersPaused": count(Status::Paused),
        "ContainersStopped": count(Status::Exited) + count(Status::Created) + count(Status::Dead),
        "Images": images,
        "Driver": "overlay",
        "DriverStatus": [["Backing Filesystem", "overlayfs"]],
        "Plugins": { "Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file"] },
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": facts.cgroup.trim_start_matches('v'),
        "KernelVersion": facts.kernel,
        "OperatingSystem": "ctrace",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": facts.cpus,
        "MemTotal": mem_total,
        "DockerRootDir": root,
        "Name": facts.hostname,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": runtimes,
        "DefaultRuntime": "embedded",
        "SecurityOptions": [],
        "Labels": [],
        "OtlpExport": otlp_export(),
        "ExperimentalBuild": false,
        "BridgeNfIptables": true,
        "BridgeNfIp6tables": true,
        "Warnings": [],
        "BridgeName": bridge,
        "Swarm": { "LocalNodeState": "inactive" },
    })
}

/// docker's multiplexed stream frame: stream (1 stdout, 2 stderr), three zero bytes, the
/// payload's length big-endian, the payload.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A container id or name from a URL: names and id prefixes only, so a path like `../x` never
/// reaches the store.
pub fn check_ref(s: &str) -> Result<&str, ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(s)
    } else {
        Err(ApiError::bad_request(format!(
            "invalid container name or id {s:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_maps_onto_create_options() {
        let body = br#"{"Image":"busybox","Cmd":["echo","hi"],"Entrypoint":["sh","-c"],
            "Env":["A=1"],"Labels":{"k":"v"},"AttachStdout":true,
            "HostConfig":{"AutoRemove":true,"NetworkMode":"default","Memory":67108864,
            "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}}}"#;
        let o = create_options(body, Some("web".into())).unwrap();
        assert_eq!(o.image, "busybox");
        assert_eq!(o.entrypoint.as_deref(), Some("sh"));
        assert_eq!(o.cmd, ["-c", "echo", "hi"]);
        assert_eq!(o.network, crate::network::Mode::Bridge);
        assert_eq!(o.publish.len(), 1);
        assert_eq!(
            (o.publish[0].host_port, o.publish[0].container_port),
            (8080, 80)
        );
        assert_eq!(o.labels["k"], "v");
        assert!(o.auto_remove);
        assert_eq!(o.memory, 64 << 20);
        assert_eq!(o.name.as_deref(), Some("web"));
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        for (body, want) in [
            (&b"{"[..], "malformed"),
            (b"[]", "expected a JSON object"),
            (br#"{"Cmd":["true"]}"#, "no image"),
            (br#"{"Image":"busybox","Env":"A"}"#, ""),
            (br#"{"Image":"busybox","Env":[1]}"#, "Env"),
        ] {
            match create_options(body, None) {
                Err(e) => {
                    assert_eq!(e.status, StatusCode::BAD_REQUEST);
                    assert!(e.message.contains(want), "{} !~ {want}", e.message);
                }
                Ok(_) => assert!(
                    want.is_empty(),
                    "{} accepted",
                    String::from_utf8_lossy(body)
                ),
            }
        }
    }

    #[test]
    fn refs_with_path_characters_are_refused() {
        assert!(check_ref("web-1.x_y").is_ok());
        for bad in ["", "../etc", "a/b", ".hidden", "a b", "%2e%2e"] {
            assert!(check_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inspect_port_bindings_become_docker_map() {
        let v = container_inspect(json!({"HostConfig": {"PortBindings": [
            {"HostIp": "", "HostPort": 8080, "ContainerPort": 80, "Proto": "tcp"}]}}));
        assert_eq!(
            v["HostConfig"]["PortBindings"],
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
        );
    }

    #[test]
    fn frames_carry_stream_and_length() {
        assert_eq!(
            frame(2, b"hi\n"),
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
    }
}
