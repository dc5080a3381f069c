//! Read-only questions about containers: the list behind `ps`, the document behind `inspect`
//! (`logs` reads the json log itself, in `cli::logs`). No locks: state files are replaced
//! atomically, so a reader always sees a whole version.

use serde::Serialize;
use serde_json::json;

use crate::state::{ContainerConfig, ContainerState, Status};

use super::{Engine, EngineError};

/// One container as `ps` and `inspect` see it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub config: ContainerConfig,
    pub state: ContainerState,
}

impl Engine {
    /// Every container, newest first; a container whose processes are gone without their shim
    /// having recorded it (the shim was killed, the host rebooted) is reconciled first, so it
    /// shows as it really is.
    pub fn list(&self) -> Result<Vec<Entry>, EngineError> {
        let mut out = Vec::new();
        for id in self.store.ids()? {
            let _ = self.reconcile(&id);
            let (Ok(config), Ok(state)) = (self.store.load_config(&id), self.store.load_state(&id))
            else {
                continue;
            };
            out.push(Entry { config, state });
        }
        out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
        Ok(out)
    }

    /// The container `query` names.
    pub fn entry(&self, query: &str) -> Result<Entry, EngineError> {
        let id = self.store.lookup(query)?;
        let _ = self.reconcile(&id);
        Ok(Entry {
            config: self.store.load_config(&id)?,
            state: self.store.load_state(&id)?,
        })
    }
}

/// docker-inspect-shaped JSON for one container.
pub fn inspect_json(e: &Entry, paths: &crate::state::Paths) -> serde_json::Value {
    let c = &e.config;
    let s = &e.state;
    let mut doc = json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": s.status.as_str(),
            // As in docker, a paused or restarting container still counts as running.
            "Running": matches!(s.status, Status::Running | Status::Paused | Status::Restarting),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": if s.started_at.is_empty() { "0001-01-01T00:00:00Z" } else { &s.started_at },
            "FinishedAt": if s.finished_at.is_empty() { "0001-01-01T00:00:00Z" } else { &s.finished_at },
            // Filled in by health checks when the container has one.
            "Health": serde_json::Value::Null,
        },
        "RestartCount": s.restart_count,
        "Image": c.image,
        "ResolvConfPath": paths.etc_file(&c.id, "resolv.conf"),
        "HostnamePath": paths.etc_file(&c.id, "hostname"),
        "HostsPath": paths.etc_file(&c.id, "hosts"),
        "LogPath": paths.log(&c.id),
        "Name": format!("/{}", c.name),
        "Driver": "overlay",
        "HostConfig": c.host_config,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": c.layers.iter().rev().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":"),
                "UpperDir": paths.upper(&c.id),
                "WorkDir": paths.work(&c.id),
                "MergedDir": paths.rootfs(&c.id),
            }
        },
        "Mounts": super::volume::inspect_mounts(c),
        "Config": c.config,
        "NetworkSettings": network_settings(c, paths),
        "Ctrace": {
            "Bundle": paths.bundle(&c.id),
            "Cgroup": s.cgroup,
            "ShimPid": s.shim_pid,
            "Runtime": s.runtime,
            "StartTrace": s.start_trace,
        },
    });
    // Like docker: `State.Health` only for a container with a health check.
    if let Some(h) = &s.health {
        doc["State"]["Health"] = json!(h);
    }
    doc
}

/// docker's `NetworkSettings`, from what the start recorded (`network.json`; empty when stopped).
fn network_settings(c: &ContainerConfig, paths: &crate::state::Paths) -> serde_json::Value {
    let ep = crate::network::Endpoint::load(&paths.container(&c.id)).unwrap_or_default();
    let mut ports = serde_json::Map::new();
    for p in &ep.ports {
        ports.insert(
            format!("{}/{}", p.container_port, p.proto),
            json!([{ "HostIp": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip }, "HostPort": p.host_port.to_string() }]),
        );
    }
    json!({
        "SandboxKey": ep.netns,
        "IPAddress": ep.ip_address,
        "IPPrefixLen": ep.ip_prefix_len,
        "Gateway": ep.gateway,
        "Ports": ports,
        "Networks": { c.host_config.network_mode.clone(): {
            "IPAddress": ep.ip_address,
            "IPPrefixLen": ep.ip_prefix_len,
            "Gateway": ep.gateway,
        } },
        "Ctrace": { "Bridge": ep.bridge, "Veth": ep.veth },
    })
}
