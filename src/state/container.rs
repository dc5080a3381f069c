//! What a container is (`config.json`, fixed at create) and what it is doing (`state.json`).
//!
//! Field names follow Docker's `inspect` output where one exists, so `ctrace inspect` reads like
//! `docker inspect` and the daemon's API can serve these structs almost unchanged.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The seven states of seed 003.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "removing" => Status::Removing,
            "exited" => Status::Exited,
            "dead" => Status::Dead,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container's configuration (docker's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    pub image: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub stop_signal: String,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    /// `--stop-timeout`: seconds of grace `stop` gives when none is asked (`None`: 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--health-*` or the image's `HEALTHCHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
}

/// Host-side settings (docker's `HostConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `bridge`, `none`, `host` or `container:<name|id>`.
    pub network_mode: String,
    /// `-p`: published ports (a host port of 0 is picked at start).
    #[serde(default)]
    pub port_bindings: Vec<super::ports::PortBinding>,
    /// `--dns`: nameservers replacing the host's.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--add-host`: `host:ip` lines for /etc/hosts.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// Bytes; 0 = unlimited.
    pub memory: i64,
    /// Bytes of memory+swap; 0 = unset, -1 = unlimited.
    #[serde(default)]
    pub memory_swap: i64,
    /// 0 = unlimited.
    pub pids_limit: i64,
    /// CPUs × 1e9; 0 = unlimited.
    pub nano_cpus: i64,
    /// `embedded` or `runc` (stored as those words).
    pub runtime: Runtime,
    pub auto_remove: bool,
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// `-v` as given.
    #[serde(default)]
    pub binds: Vec<String>,
    /// `--mount`, as docker's `HostConfig.Mounts` objects (`Type`, `Source`, `Target`, `ReadOnly`…).
    #[serde(default)]
    pub mounts: Vec<serde_json::Value>,
    /// `--tmpfs`: destination → options.
    #[serde(default)]
    pub tmpfs: std::collections::BTreeMap<String, String>,
    /// `--volumes-from` as given.
    #[serde(default)]
    pub volumes_from: Vec<String>,
    /// `--restart`: what the shim does when the container exits.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// `--cap-add` (`CAP_` names or `ALL`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--ulimit`.
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--cpu-shares` (0: unset).
    #[serde(default)]
    pub cpu_shares: i64,
    /// `--cpu-quota` µs (0: unset).
    #[serde(default)]
    pub cpu_quota: i64,
    /// `--cpu-period` µs (0: unset).
    #[serde(default)]
    pub cpu_period: i64,
    /// `--security-opt`, in docker's words (a seccomp profile inline as JSON, as docker keeps it).
    #[serde(default)]
    pub security_opt: Vec<String>,
}

/// One `--ulimit` (docker's `units.Ulimit`); -1 is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Which runtime runs a container: plain data, stored as `embedded` or `runc` (`crate::runtime`
/// names it `Kind`). An empty string or `ctrace`, as older state files may hold, reads as
/// embedded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    #[default]
    #[serde(alias = "", alias = "ctrace")]
    Embedded,
    Runc,
}

impl Runtime {
    /// `--runtime`'s value (empty: embedded). Called where flags are read, never by the engine.
    pub fn parse(s: &str) -> Option<Runtime> {
        match s {
            "" | "embedded" | "ctrace" => Some(Runtime::Embedded),
            "runc" => Some(Runtime::Runc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Embedded => "embedded",
            Runtime::Runc => "runc",
        }
    }
}

/// docker's `HostConfig.RestartPolicy`: `no`, `on-failure[:N]`, `always`, `unless-stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    /// Only with `on-failure`; 0 = no limit.
    pub maximum_retry_count: i64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

impl RestartPolicy {
    /// Parses and validates `--restart` the way docker's CLI and daemon do together.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        if s.is_empty() {
            return Ok(RestartPolicy::default());
        }
        let (name, count) = match s.split_once(':') {
            Some(("", _)) => {
                return Err("invalid restart policy format: no policy provided before colon".into())
            }
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let maximum_retry_count = match count {
            None | Some("") => 0,
            Some(c) => c.parse::<i64>().map_err(|_| {
                "invalid restart policy format: maximum retry count must be an integer".to_string()
            })?,
        };
        match name {
            "no" | "always" | "unless-stopped" if maximum_retry_count != 0 => Err(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ),
            "on-failure" if maximum_retry_count < 0 => {
                Err("invalid restart policy: maximum retry count cannot be negative".into())
            }
            "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count,
            }),
            _ => Err(format!(
                "invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )),
        }
    }

    /// True for any policy but `no`.
    pub fn restarts(&self) -> bool {
        !matches!(self.name.as_str(), "" | "no")
    }
}

/// Everything fixed at create time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub id: String,
    /// Without docker's leading slash.
    pub name: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// The program and its arguments (docker's `Path` and `Args`).
    pub path: String,
    pub args: Vec<String>,
    /// The image id (`sha256:…`).
    pub image: String,
    /// The normalized reference it was created from.
    pub image_ref: String,
    /// Extracted layer directories, bottom first (the overlay lowerdirs).
    pub layers: Vec<PathBuf>,
    pub config: Config,
    pub host_config: HostConfig,
    /// Every user mount, resolved at create (docker's `MountPoints`): what `start` mounts,
    /// what `inspect` shows as `Mounts`, and which volumes this container holds.
    #[serde(default)]
    pub mount_points: Vec<super::mounts::MountPoint>,
}

/// What the container is doing now (docker's `State`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: Status,
    /// The container's init, as seen from the host; 0 when not running.
    pub pid: i32,
    /// The shim that parents it.
    #[serde(default)]
    pub shim_pid: i32,
    pub exit_code: i32,
    #[serde(default, rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Why it failed to start or died, docker's `State.Error`.
    #[serde(default)]
    pub error: String,
    /// RFC 3339; empty when never started.
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    /// Whether the overlay rootfs is mounted now (so cleanup knows what to undo).
    #[serde(default)]
    pub rootfs_mounted: bool,
    /// The cgroup path given to the runtime (`/ctrace/<id>`), when one exists.
    #[serde(default)]
    pub cgroup: String,
    /// The runtime that runs it now.
    #[serde(default)]
    pub runtime: String,
    /// Trace id of the operation that last started it.
    #[serde(default)]
    pub start_trace: String,
    /// How many times the restart policy has restarted it since a user last started it.
    #[serde(default)]
    pub restart_count: u32,
    /// The restart policy's current backoff, in ms (docker's restart manager timeout).
    #[serde(default)]
    pub restart_delay_ms: u64,
    /// A user stopped or killed it: the restart policy leaves it alone (docker's
    /// `HasBeenManuallyStopped`).
    #[serde(default)]
    pub manually_stopped: bool,
    /// The health checks' results, when the container has them (docker's `State.Health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

#[cfg(test)]
mod tests {
    use super::{RestartPolicy, Runtime};

    #[test]
    fn restart_policies_parse_and_fail_like_docker() {
        let p = RestartPolicy::parse("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert_eq!(RestartPolicy::parse("always").unwrap().name, "always");
        assert!(!RestartPolicy::parse("no").unwrap().restarts());
        for (bad, msg) in [
            ("foo", "unknown policy 'foo'"),
            ("always:3", "can only be used with 'on-failure'"),
            ("on-failure:x", "must be an integer"),
            ("on-failure:-1", "cannot be negative"),
            (":3", "no policy provided before colon"),
        ] {
            let e = RestartPolicy::parse(bad).unwrap_err();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn the_runtime_is_stored_as_its_word_and_older_words_still_read() {
        assert_eq!(serde_json::to_string(&Runtime::Runc).unwrap(), "\"runc\"");
        for (word, kind) in [
            ("\"embedded\"", Runtime::Embedded),
            ("\"runc\"", Runtime::Runc),
            ("\"\"", Runtime::Embedded),
            ("\"ctrace\"", Runtime::Embedded),
        ] {
            assert_eq!(
                serde_json::from_str::<Runtime>(word).unwrap(),
                kind,
                "{word}"
            );
        }
        assert!(serde_json::from_str::<Runtime>("\"kata\"").is_err());
    }
}
