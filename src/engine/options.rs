//! What `create`/`run` receive: the user's flags as typed, validated values ([`CreateOptions`]),
//! made by the CLI (`cli/options.rs`) or the daemon's API layer (`api::container`) — the engine
//! never parses a user string it could have been given as a type.
//!
//! Not here: creating the container ([`super::create`]).

use crate::network::{Mode, PortBinding};
use crate::runtime::Kind;

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
    pub dns: Vec<String>,
    pub extra_hosts: Vec<String>,
    /// `--runtime`, parsed.
    pub runtime: Kind,
    pub auto_remove: bool,
    pub read_only: bool,
    /// `--restart`, validated.
    pub restart_policy: crate::state::RestartPolicy,
    /// `-l key=value`, parsed (a later key wins).
    pub labels: std::collections::BTreeMap<String, String>,
    /// `-v`, `--mount`, `--tmpfs`, `--volumes-from`, as given.
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
    /// `-t`: the container's stdio is a pseudo-terminal.
    pub tty: bool,
    /// `-i`: keep the container's stdin open.
    pub open_stdin: bool,
    /// `--health-*`: what overrides the image's `HEALTHCHECK` (empty test: the image's command;
    /// 0 durations: the image's).
    pub healthcheck: Option<crate::state::health::HealthConfig>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
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
