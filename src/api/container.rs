//! `POST /containers/create`'s body as moby's `api/types/container` shapes it: [`Config`] with
//! [`HostConfig`] (port bindings, restart policy, mounts) and `NetworkingConfig`, and the one
//! conversion each way between it and the engine's [`CreateOptions`]: the ctrace client builds
//! the body from its options ([`CreateBody::from_options`]), the daemon turns a body back into
//! options ([`CreateBody::into_options`]).
//!
//! Reading is as lenient as dockerd's Go decoder: `null` anywhere reads as the field's zero value
//! (as if the key were absent), a lone string for a list, and a key the API does not define is
//! ignored. A setting ctrace cannot honour is refused, not dropped: a log driver other than
//! `json-file`, `GroupAdd`.
//!
//! Not here: what the daemon refuses to do yet (`-i`/`-t`, `--privileged`: the daemon's `api`
//! module); HTTP; the checks that need the host or the state (a bind's source, `VolumesFrom`'s
//! containers, volumes, ports in use: the engine's create). The values' syntax is checked here,
//! with the same words as the CLI's flags.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::engine::options::{self, CreateOptions, Pull};
use crate::network::{self, Mode};
use crate::runtime::Kind;
use crate::state::health::HealthConfig;
use crate::state::RestartPolicy;
use crate::storage::mounts;

/// The whole create body: the container's `Config`, with `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    #[serde(default, deserialize_with = "or_default")]
    pub host_config: HostConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<Value>,
}

/// moby's `container.Config`: what the container is, independent of the host.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    #[serde(default, deserialize_with = "or_default")]
    pub image: String,
    #[serde(default, deserialize_with = "string_list")]
    pub cmd: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub entrypoint: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub env: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub working_dir: String,
    #[serde(default, deserialize_with = "or_default")]
    pub user: String,
    #[serde(default, deserialize_with = "or_default")]
    pub hostname: String,
    #[serde(default, deserialize_with = "or_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "or_default")]
    pub attach_stdin: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub attach_stdout: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub attach_stderr: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub tty: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub open_stdin: bool,
    #[serde(default)]
    pub healthcheck: Option<HealthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Anonymous volumes (`docker run -v /path` sends them here, not in `Binds`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "or_default"
    )]
    pub volumes: BTreeMap<String, Value>,
}

/// moby's `container.HostConfig`, as far as ctrace honours it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default, deserialize_with = "string_list")]
    pub binds: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub network_mode: String,
    /// `"80/tcp"` → where it is published.
    #[serde(default, deserialize_with = "or_default")]
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    #[serde(default, deserialize_with = "or_default")]
    pub publish_all_ports: bool,
    #[serde(default)]
    pub restart_policy: Option<RestartPolicyBody>,
    #[serde(default, deserialize_with = "or_default")]
    pub auto_remove: bool,
    #[serde(default, deserialize_with = "string_list")]
    pub volumes_from: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub mounts: Vec<Mount>,
    /// Target → tmpfs options (`size=64m`), empty for none.
    #[serde(default, deserialize_with = "or_default")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "string_list")]
    pub dns: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub extra_hosts: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub runtime: String,
    #[serde(default, deserialize_with = "or_default")]
    pub readonly_rootfs: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub privileged: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub memory: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub memory_swap: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub nano_cpus: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub pids_limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "string_list"
    )]
    pub group_add: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub security_opt: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub cap_add: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub cap_drop: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub ulimits: Vec<options::Ulimit>,
    #[serde(default, deserialize_with = "or_default")]
    pub cpu_shares: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub cpu_quota: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub cpu_period: i64,
}

/// moby's `container.LogConfig`: the driver and its options.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(default, deserialize_with = "or_default")]
    pub r#type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub config: BTreeMap<String, String>,
}

/// The log drivers ctrace has: its log files are docker's `json-file` lines.
pub const LOG_DRIVERS: &[&str] = &["json-file"];

/// moby's `container.RestartPolicy` as sent (the engine's [`RestartPolicy`] validates it).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicyBody {
    #[serde(default, deserialize_with = "or_default")]
    pub name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub maximum_retry_count: i64,
}

/// moby's `nat.PortBinding`: an empty `HostPort` lets the engine choose.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    #[serde(default, deserialize_with = "or_default")]
    pub host_ip: String,
    #[serde(default, deserialize_with = "or_default")]
    pub host_port: String,
}

/// moby's `mount.Mount` (`--mount`): `bind`, `volume` or `tmpfs`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub r#type: String,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub source: String,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub target: String,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub bind_options: Option<BindOptions>,
}

/// moby's `mount.BindOptions`: propagation and how far the bind reaches below its source.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub propagation: String,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "is_false"
    )]
    pub non_recursive: bool,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "is_false"
    )]
    pub read_only_non_recursive: bool,
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "is_false"
    )]
    pub read_only_force_recursive: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// `null` reads as the type's default, as Go's decoder leaves a zero value.
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list of strings, `null`, or one string (docker's `strslice.StrSlice`).
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d) {
        Ok(None) => Vec::new(),
        Ok(Some(OneOrMany::One(s))) => vec![s],
        Ok(Some(OneOrMany::Many(v))) => v,
        Err(_) => return Err(serde::de::Error::custom("expected a list of strings")),
    })
}

/// `null` members removed, all the way down: Go's decoder leaves a field it reads `null` for at
/// its zero value, exactly as if the key were absent.
fn without_nulls(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.retain(|_, m| !m.is_null());
            obj.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// `obj` as a `T`; a failure names the key whose value is wrong (`Env: expected a list of
/// strings`).
fn typed<T: DeserializeOwned>(obj: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(obj.clone())).map_err(|e| {
        let culprit = obj.iter().find(|(k, v)| {
            let one = Map::from_iter([((*k).clone(), (*v).clone())]);
            serde_json::from_value::<T>(Value::Object(one)).is_err()
        });
        match culprit {
            Some((k, _)) => format!("{k}: {e}"),
            None => e.to_string(),
        }
    })
}

/// Reads a create body. Errors are the words of a 400 answer.
pub fn parse(body: &[u8]) -> Result<CreateBody, String> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("malformed container config: {e}"))?;
    without_nulls(&mut v);
    let Value::Object(cfg) = &v else {
        return Err("malformed container config: expected a JSON object".into());
    };
    super::unsupported::refuse(cfg, super::unsupported::CONFIG)?;
    match cfg.get("HostConfig") {
        None => {}
        Some(Value::Object(h)) => {
            super::unsupported::refuse(h, super::unsupported::HOST_CONFIG)?;
            typed::<HostConfig>(h).map_err(|e| format!("HostConfig: {e}"))?;
        }
        Some(_) => return Err("HostConfig: expected an object".into()),
    }
    typed(cfg)
}

impl CreateBody {
    /// The body a ctrace client sends for its options.
    pub fn from_options(o: &CreateOptions) -> CreateBody {
        // `-e NAME` was resolved from the client's environment when the options were read; a
        // bare `NAME` left is sent as is, as the docker CLI does.
        let env = o.env.clone();
        let given = |origin: &'static str| {
            o.mounts
                .iter()
                .filter(move |r| r.is_from(origin))
                .map(|r| r.given.as_str())
        };
        let tmpfs = given("--tmpfs")
            .map(|t| {
                let (d, opts) = t.split_once(':').unwrap_or((t, ""));
                (d.to_string(), opts.to_string())
            })
            .collect();
        let healthcheck = if o.no_healthcheck {
            Some(HealthConfig {
                test: vec!["NONE".into()],
                ..HealthConfig::default()
            })
        } else {
            o.healthcheck.clone()
        };
        CreateBody {
            config: Config {
                image: o.image.clone(),
                cmd: o.cmd.clone(),
                entrypoint: o.entrypoint.iter().cloned().collect(),
                env,
                working_dir: o.workdir.clone().unwrap_or_default(),
                user: o.user.clone().unwrap_or_default(),
                hostname: o.hostname.clone().unwrap_or_default(),
                labels: o.labels.clone(),
                attach_stdout: true,
                attach_stderr: true,
                healthcheck,
                stop_timeout: o.stop_timeout,
                ..Config::default()
            },
            host_config: HostConfig {
                binds: given("-v").map(str::to_string).collect(),
                network_mode: o.network.to_string(),
                port_bindings: port_bindings(&o.publish),
                publish_all_ports: o.publish_all,
                restart_policy: Some(RestartPolicyBody {
                    name: o.restart_policy.name.clone(),
                    maximum_retry_count: o.restart_policy.maximum_retry_count,
                }),
                auto_remove: o.auto_remove,
                volumes_from: o.volumes_from.iter().map(|v| v.given()).collect(),
                mounts: given("--mount").map(mount_of_flag).collect(),
                tmpfs,
                dns: o.dns.iter().map(ToString::to_string).collect(),
                extra_hosts: o.extra_hosts.clone(),
                runtime: o.runtime.as_str().to_string(),
                readonly_rootfs: o.read_only,
                privileged: false,
                memory: o.memory,
                memory_swap: o.memory_swap,
                nano_cpus: o.nano_cpus,
                pids_limit: o.pids_limit,
                log_config: None,
                group_add: Vec::new(),
                security_opt: o.security_opt.clone(),
                cap_add: o.cap_add.clone(),
                cap_drop: o.cap_drop.clone(),
                ulimits: o.ulimits.clone(),
                cpu_shares: o.cpu_shares,
                cpu_quota: o.cpu_quota,
                cpu_period: o.cpu_period,
            },
            networking_config: None,
        }
    }

    /// The engine's options for this body (and `?name=`).
    pub fn into_options(self, name: Option<String>) -> Result<CreateOptions, String> {
        let (c, h) = (self.config, self.host_config);
        options::cpu(h.cpu_shares, h.cpu_quota, h.cpu_period, h.nano_cpus)?;
        // 0 and -1 are unlimited (as the docker CLI sends them); below that is a mistake.
        if h.pids_limit < -1 {
            options::resources(0, 0, h.pids_limit, 0, 1)?;
        }
        if c.image.is_empty() {
            return Err("no image given: set Image in the config".into());
        }
        if let Some(driver) = h.log_config.as_ref().map(|l| l.r#type.as_str()) {
            if !driver.is_empty() && !LOG_DRIVERS.contains(&driver) {
                return Err(format!(
                    "logger: no log driver named '{driver}' is registered: ctrace logs with json-file"
                ));
            }
        }
        if !h.group_add.is_empty() {
            return Err(format!(
                "GroupAdd {:?} is not supported by ctrace yet: run without --group-add",
                h.group_add
            ));
        }
        // The engine takes one entrypoint program (docker's --entrypoint); the rest of a JSON
        // Entrypoint goes before the command, which gives the same argv.
        let (entrypoint, cmd) = match c.entrypoint.split_first() {
            Some((first, rest)) => (Some(first.clone()), [rest, &c.cmd[..]].concat()),
            None => (None, c.cmd),
        };
        let restart_policy = match h.restart_policy {
            None => RestartPolicy::default(),
            Some(p) => {
                let flag = match (p.name.as_str(), p.maximum_retry_count) {
                    ("", _) => String::new(),
                    (n, 0) => n.to_string(),
                    (n, c) => format!("{n}:{c}"),
                };
                RestartPolicy::parse(&flag)?
            }
        };
        let some = |s: String| Some(s).filter(|s| !s.is_empty());
        let mount_flags = h
            .mounts
            .iter()
            .map(mount_flag)
            .collect::<Result<Vec<_>, _>>()?;
        let tmpfs_flags: Vec<String> = h
            .tmpfs
            .into_iter()
            .map(|(k, o)| if o.is_empty() { k } else { format!("{k}:{o}") })
            .collect();
        // `Config.Volumes` targets no bind, mount or tmpfs covers: anonymous volumes, as `-v /path`.
        let mut binds = h.binds.clone();
        let given = mounts::parse_requests(&h.binds, &mount_flags, &tmpfs_flags)
            .map_err(|e| e.to_string())?;
        for target in c.volumes.keys() {
            let clean = target.trim_end_matches('/');
            if !given
                .iter()
                .any(|r| r.point.destination.trim_end_matches('/') == clean)
            {
                binds.push(target.clone());
            }
        }
        let mounts = mounts::parse_requests(&binds, &mount_flags, &tmpfs_flags)
            .map_err(|e| e.to_string())?;
        let volumes_from = h
            .volumes_from
            .iter()
            .map(|v| mounts::parse_volumes_from(v))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let runtime = Kind::parse(&h.runtime)
            .ok_or_else(|| format!("unknown runtime {:?}: expected embedded or runc", h.runtime))?;
        if (c.open_stdin || c.tty) && runtime == Kind::Runc {
            return Err(
                "-i/-t are not supported with --runtime runc yet: use the embedded runtime".into(),
            );
        }
        Ok(CreateOptions {
            open_stdin: c.open_stdin,
            tty: c.tty,
            // Docker's create never pulls: a missing image is a 404, and the client pulls it
            // through `POST /images/create` (the offline busybox is built, not pulled).
            pull: Pull::Never,
            restart_policy,
            healthcheck: c.healthcheck,
            image: c.image,
            name: name.filter(|n| !n.is_empty()),
            cmd,
            entrypoint,
            env: options::env(&c.env)?,
            workdir: some(c.working_dir),
            user: some(c.user),
            hostname: some(c.hostname),
            memory: h.memory,
            memory_swap: h.memory_swap,
            pids_limit: h.pids_limit.max(0),
            nano_cpus: h.nano_cpus,
            network: Mode::parse(&h.network_mode).map_err(|e| e.to_string())?,
            publish: publish(&h.port_bindings)?,
            publish_all: h.publish_all_ports,
            dns: options::dns(&h.dns)?,
            extra_hosts: options::extra_hosts(&h.extra_hosts)?,
            runtime,
            auto_remove: h.auto_remove,
            read_only: h.readonly_rootfs,
            labels: c.labels,
            mounts,
            volumes_from,
            security_opt: {
                crate::runtime::seccomp::parse_security_opt(&h.security_opt)?;
                h.security_opt
            },
            cap_add: options::capabilities(&h.cap_add)?,
            cap_drop: options::capabilities(&h.cap_drop)?,
            ulimits: {
                h.ulimits.iter().try_for_each(options::check_ulimit)?;
                h.ulimits
            },
            cpu_shares: h.cpu_shares,
            cpu_quota: h.cpu_quota,
            cpu_period: h.cpu_period,
            stop_timeout: options::stop_timeout(c.stop_timeout)?,
            ..CreateOptions::default()
        })
    }
}

/// The engine's bindings as `PortBindings`.
fn port_bindings(publish: &[network::PortBinding]) -> BTreeMap<String, Vec<PortBinding>> {
    let mut ports: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for b in publish {
        ports
            .entry(format!("{}/{}", b.container_port, b.proto))
            .or_default()
            .push(PortBinding {
                host_ip: b.host_ip.clone(),
                host_port: if b.host_port == 0 {
                    String::new()
                } else {
                    b.host_port.to_string()
                },
            });
    }
    ports
}

/// `PortBindings` as the engine's bindings, each read as the `-p` value it stands for (so a
/// bad one is refused with `-p`'s words).
fn publish(
    ports: &BTreeMap<String, Vec<PortBinding>>,
) -> Result<Vec<network::PortBinding>, String> {
    let mut publish = Vec::new();
    for (port, bindings) in ports {
        let (cport, proto) = port.split_once('/').unwrap_or((port.as_str(), "tcp"));
        for b in bindings {
            let host_part = match (b.host_ip.is_empty(), b.host_port.is_empty()) {
                (true, true) => String::new(),
                (true, false) => format!("{}:", b.host_port),
                (false, _) => format!("{}:{}:", b.host_ip, b.host_port),
            };
            let flag = format!("{host_part}{cport}/{proto}");
            publish.push(network::parse_port(&flag).map_err(|e| e.to_string())?);
        }
    }
    Ok(publish)
}

/// A `--mount` value as a `Mount` (keys the API has no field for are left to the engine's
/// defaults).
fn mount_of_flag(flag: &str) -> Mount {
    let mut m = Mount::default();
    for part in flag.split(',') {
        let (k, val) = part.split_once('=').unwrap_or((part, "true"));
        match k {
            "type" => m.r#type = val.into(),
            "source" | "src" => m.source = val.into(),
            "target" | "destination" | "dst" => m.target = val.into(),
            "readonly" | "ro" => m.read_only = val != "false" && val != "0",
            "bind-propagation" => bind(&mut m).propagation = val.into(),
            "bind-recursive" => {
                let b = bind(&mut m);
                b.non_recursive = val == "disabled";
                b.read_only_non_recursive = val == "writable";
                b.read_only_force_recursive = val == "readonly";
            }
            "bind-nonrecursive" => bind(&mut m).non_recursive = val != "false" && val != "0",
            "readonly-non-recursive" => {
                bind(&mut m).read_only_non_recursive = val != "false" && val != "0"
            }
            "readonly-force-recursive" => {
                bind(&mut m).read_only_force_recursive = val != "false" && val != "0"
            }
            _ => {}
        }
    }
    m
}

fn bind(m: &mut Mount) -> &mut BindOptions {
    m.bind_options.get_or_insert_with(BindOptions::default)
}

/// A `Mount` as the `--mount` value the engine parses.
fn mount_flag(m: &Mount) -> Result<String, String> {
    let mut parts = Vec::new();
    for (v, flag) in [
        (&m.r#type, "type"),
        (&m.source, "source"),
        (&m.target, "target"),
    ] {
        if !v.is_empty() {
            parts.push(format!("{flag}={v}"));
        }
    }
    if m.read_only {
        parts.push("readonly".into());
    }
    if let Some(b) = &m.bind_options {
        if !b.propagation.is_empty() {
            parts.push(format!("bind-propagation={}", b.propagation));
        }
        let recursive = [
            (b.non_recursive, "disabled"),
            (b.read_only_non_recursive, "writable"),
            (b.read_only_force_recursive, "readonly"),
        ];
        let asked: Vec<&str> = recursive.iter().filter(|r| r.0).map(|r| r.1).collect();
        match asked.as_slice() {
            [] => {}
            [one] => parts.push(format!("bind-recursive={one}")),
            _ => return Err("Mounts: BindOptions: give at most one of NonRecursive, ReadOnlyNonRecursive and ReadOnlyForceRecursive".into()),
        }
    }
    if parts.is_empty() {
        return Err("Mounts: a mount needs Type and Target".into());
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_body_becomes_the_engines_options() {
        let body = br#"{"Image":"busybox","Cmd":["echo","hi"],"Entrypoint":["sh","-c"],
            "Env":["A=1"],"Labels":{"k":"v"},"AttachStdout":true,"Healthcheck":null,
            "HostConfig":{"AutoRemove":true,"NetworkMode":"default","Memory":67108864,
            "PidsLimit":null,"Tmpfs":{"/run":"size=1m"},
            "Mounts":[{"Type":"volume","Source":"data","Target":"/data","ReadOnly":true}],
            "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}}}"#;
        let o = parse(body)
            .unwrap()
            .into_options(Some("web".into()))
            .unwrap();
        assert_eq!(o.image, "busybox");
        assert_eq!(o.entrypoint.as_deref(), Some("sh"));
        assert_eq!(o.cmd, ["-c", "echo", "hi"]);
        assert_eq!(o.network, Mode::Bridge);
        assert_eq!(o.publish, [network::parse_port("8080:80/tcp").unwrap()]);
        assert_eq!(o.labels["k"], "v");
        let given: Vec<_> = o.mounts.iter().map(|r| r.given.as_str()).collect();
        assert_eq!(
            given,
            [
                "type=volume,source=data,target=/data,readonly",
                "/run:size=1m"
            ]
        );
        assert!(!o.mounts[0].point.rw);
        assert!(o.auto_remove);
        assert_eq!(o.memory, 64 << 20);
        assert_eq!(o.name.as_deref(), Some("web"));
    }

    #[test]
    fn the_clients_body_reads_back_as_the_same_options() {
        let o = CreateOptions {
            image: "busybox".into(),
            cmd: vec!["true".into()],
            entrypoint: Some("/bin/sh".into()),
            env: vec!["A=1".into()],
            network: Mode::None,
            publish: ["127.0.0.1:8080:80/udp", "9000:90"]
                .map(|p| network::parse_port(p).unwrap())
                .to_vec(),
            labels: [("a".to_string(), "b".to_string())].into(),
            mounts: mounts::parse_requests(
                &["vol:/data:ro".into()],
                &["type=tmpfs,target=/t".into()],
                &["/run".into()],
            )
            .unwrap(),
            volumes_from: vec![mounts::parse_volumes_from("web:ro").unwrap()],
            dns: vec!["1.1.1.1".parse().unwrap()],
            extra_hosts: vec!["db:10.0.0.2".into()],
            runtime: Kind::Runc,
            memory: 1 << 20,
            pids_limit: 10,
            ..CreateOptions::default()
        };
        let json = serde_json::to_vec(&CreateBody::from_options(&o)).unwrap();
        let back = parse(&json).unwrap().into_options(None).unwrap();
        assert_eq!(back.cmd, o.cmd);
        assert_eq!(back.entrypoint, o.entrypoint);
        assert_eq!(back.env, o.env);
        assert_eq!(back.network, Mode::None);
        assert_eq!(back.publish.len(), 2);
        assert!(o.publish.iter().all(|p| back.publish.contains(p)));
        assert_eq!(back.labels, o.labels);
        assert_eq!(back.mounts, o.mounts);
        assert_eq!(back.volumes_from, o.volumes_from);
        assert_eq!((back.dns, back.extra_hosts), (o.dns, o.extra_hosts));
        assert_eq!(back.runtime, Kind::Runc);
        assert_eq!((back.memory, back.pids_limit), (1 << 20, 10));
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        for (body, want) in [
            (&b"{"[..], "malformed"),
            (b"[]", "expected a JSON object"),
            (br#"{"Image":"busybox","HostConfig":[]}"#, "HostConfig"),
            (
                br#"{"Image":"busybox","HostConfig":{"Memory":"x"}}"#,
                "Memory",
            ),
            (br#"{"Image":"busybox","Env":[1]}"#, "Env"),
            (br#"{"Image":"busybox","Labels":3}"#, "Labels"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(want), "{e} !~ {want}");
        }
        let no_image = parse(br#"{"Cmd":["true"]}"#).unwrap();
        assert!(no_image
            .into_options(None)
            .unwrap_err()
            .contains("no image"));
        let one_env = parse(br#"{"Image":"busybox","Env":"A=1"}"#).unwrap();
        assert_eq!(one_env.config.env, ["A=1"]);
    }

    #[test]
    fn nulls_and_unknown_keys_read_as_gos_decoder_reads_them() {
        let body = br#"{"Image":"busybox","Cmd":null,"Env":null,"Bogus":{"x":1},
            "Healthcheck":{"Test":["CMD","true"],"Interval":null,"Retries":null},
            "HostConfig":{"Runtime":"runc","Memory":null,"RestartPolicy":{"Name":null},
            "LogConfig":{"Type":"json-file","Config":null},"Nope":[1],"Mounts":null}}"#;
        let b = parse(body).unwrap();
        assert!(b.config.cmd.is_empty() && b.config.env.is_empty());
        let hc = b.config.healthcheck.clone().unwrap();
        assert_eq!(hc.test, ["CMD", "true"]);
        let o = b.into_options(None).unwrap();
        assert_eq!(o.runtime, Kind::Runc);
        assert_eq!(o.memory, 0);
        let runtime_only = br#"{"Image":"busybox","HostConfig":{"Runtime":null}}"#;
        assert!(parse(runtime_only).unwrap().into_options(None).is_ok());
    }

    #[test]
    fn settings_ctrace_cannot_honour_are_refused_not_dropped() {
        for (host_config, want) in [
            (
                r#"{"LogConfig":{"Type":"syslog"}}"#,
                "no log driver named 'syslog'",
            ),
            (r#"{"LogConfig":{"Type":"bogus"}}"#, "'bogus'"),
            (r#"{"GroupAdd":["audio"]}"#, "GroupAdd"),
        ] {
            let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
            let e = parse(body.as_bytes())
                .unwrap()
                .into_options(None)
                .unwrap_err();
            assert!(e.contains(want), "{e} !~ {want}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_flags_words_before_the_engine_sees_them() {
        for (host_config, want) in [
            (r#"{"Binds":["a:b:c:d"]}"#, "invalid volume specification"),
            (r#"{"Tmpfs":{"/t":"bogus"}}"#, "invalid tmpfs option"),
            (r#"{"VolumesFrom":["web:z"]}"#, "invalid mode: z"),
            (r#"{"Dns":["one"]}"#, "--dns"),
            (r#"{"ExtraHosts":["nope"]}"#, "--add-host"),
        ] {
            let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
            let e = parse(body.as_bytes())
                .unwrap()
                .into_options(None)
                .unwrap_err();
            assert!(e.contains(want), "{e} !~ {want}");
        }
        let env = parse(br#"{"Image":"busybox","Env":["=x"]}"#).unwrap();
        assert!(env
            .into_options(None)
            .unwrap_err()
            .contains("invalid environment variable"));
    }
}
