//! What `create`/`run` receive: the user's flags as typed, validated values ([`CreateOptions`]),
//! made by the CLI (`cli/options.rs`) or the daemon's API layer (`api::container`) — the engine
//! never parses a user string it could have been given as a type.
//!
//! Not here: creating the container ([`super::create`]).

use std::net::IpAddr;

use crate::network::{self, Mode, PortBinding};
use crate::runtime::Kind;
use crate::storage::mounts::{MountRequest, VolumesFrom};

/// What the user asked for (the flags of `create`/`run`), already parsed into numbers.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// `--pull`.
    pub pull: Pull,
    /// `--platform` for a pull.
    pub platform: Option<String>,
    pub name: Option<String>,
    /// The command after the image name; empty = the image's CMD.
    pub cmd: Vec<String>,
    pub entrypoint: Option<String>,
    /// `-e NAME=value` or `-e NAME`, checked ([`env`]).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub memory: i64,
    pub memory_swap: i64,
    pub pids_limit: i64,
    pub nano_cpus: i64,
    /// `--network`, parsed (empty: docker's default, bridge).
    pub network: Mode,
    /// `-p` values, parsed.
    pub publish: Vec<PortBinding>,
    pub publish_all: bool,
    /// `--dns`, parsed.
    pub dns: Vec<IpAddr>,
    /// `--add-host` entries, checked ([`extra_hosts`]).
    pub extra_hosts: Vec<String>,
    /// `--runtime`, parsed.
    pub runtime: Kind,
    pub auto_remove: bool,
    pub read_only: bool,
    /// `--restart`, validated.
    pub restart_policy: crate::state::RestartPolicy,
    /// `-l key=value`, parsed (a later key wins).
    pub labels: std::collections::BTreeMap<String, String>,
    /// `-v`, `--mount` and `--tmpfs`, parsed in that order
    /// ([`crate::storage::mounts::parse_requests`]); whether a bind source exists is checked by
    /// `create.mounts`.
    pub mounts: Vec<MountRequest>,
    /// `--volumes-from`, parsed; the containers are found by `create.mounts`.
    pub volumes_from: Vec<VolumesFrom>,
    /// `-t`: the container's stdio is a pseudo-terminal.
    pub tty: bool,
    /// `-i`: keep the container's stdin open.
    pub open_stdin: bool,
    /// `--health-*`: what overrides the image's `HEALTHCHECK` (empty test: the image's command;
    /// 0 durations: the image's).
    pub healthcheck: Option<crate::state::health::HealthConfig>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// `--security-opt`, checked ([`crate::runtime::seccomp::parse_security_opt`]); a seccomp
    /// profile is inline JSON, as the API carries it.
    pub security_opt: Vec<String>,
}

/// `--pull`, as docker's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pull {
    #[default]
    Missing,
    Always,
    Never,
}

impl Pull {
    /// `--pull`'s value (empty: `missing`). Called where flags are read, never by the engine.
    pub fn parse(s: &str) -> Result<Pull, String> {
        match s {
            "" | "missing" => Ok(Pull::Missing),
            "always" => Ok(Pull::Always),
            "never" => Ok(Pull::Never),
            other => Err(format!(
                "invalid pull option {other:?}: must be one of \"always\", \"missing\" or \"never\""
            )),
        }
    }
}

/// `--dns` values (the API's `Dns`) as addresses. Called where flags are read, never by the engine.
pub fn dns(values: &[String]) -> Result<Vec<IpAddr>, String> {
    values
        .iter()
        .map(|d| {
            d.parse()
                .map_err(|_| network::NetworkError::InvalidDns(d.clone()).to_string())
        })
        .collect()
}

/// `--add-host` entries (the API's `ExtraHosts`), checked: `host:ip`, `host=ip` or
/// `host:host-gateway`.
pub fn extra_hosts(values: &[String]) -> Result<Vec<String>, String> {
    for h in values {
        network::parse_extra_host(h).map_err(|e| e.to_string())?;
    }
    Ok(values.to_vec())
}

/// `-e` entries (the API's `Env`), checked: `NAME=value` or `NAME`.
pub fn env(values: &[String]) -> Result<Vec<String>, String> {
    for e in values {
        if e.starts_with('=') || e.is_empty() {
            return Err(format!(
                "invalid environment variable {e:?}: expected NAME=value or NAME"
            ));
        }
    }
    Ok(values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_hosts_and_env_are_checked_with_the_flags_words() {
        assert_eq!(
            dns(&["1.1.1.1".into()]).unwrap(),
            ["1.1.1.1".parse::<IpAddr>().unwrap()]
        );
        assert!(dns(&["one".into()]).unwrap_err().contains("one"));
        assert!(extra_hosts(&["db:10.0.0.2".into(), "gw:host-gateway".into()]).is_ok());
        assert!(extra_hosts(&["nope".into()])
            .unwrap_err()
            .contains("--add-host"));
        assert!(env(&["A=1".into(), "B".into()]).is_ok());
        assert!(env(&["=x".into()])
            .unwrap_err()
            .contains("invalid environment variable"));
    }
}
