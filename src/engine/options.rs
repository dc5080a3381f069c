//! What `create`/`run` receive: the user's flags as typed, validated values ([`CreateOptions`]),
//! made by the CLI (`cli/options.rs`) or the daemon's API layer (`api::container`) — the engine
//! never parses a user string it could have been given as a type.
//!
//! Not here: creating the container ([`super::create`]).

use std::net::IpAddr;

use crate::network::{self, Mode, PortBinding};
use crate::runtime::Kind;
pub use crate::state::container::Ulimit;
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
    /// `--trace-propagate`: the container's process gets `TRACEPARENT`, this create's span as
    /// its parent, so a program inside continues the same trace.
    pub trace_propagate: bool,
    /// `--health-*`: what overrides the image's `HEALTHCHECK` (empty test: the image's command;
    /// 0 durations: the image's).
    pub healthcheck: Option<crate::state::health::HealthConfig>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// `--cap-add`, normalized (`CAP_` names, or `ALL`) ([`capabilities`]).
    pub cap_add: Vec<String>,
    /// `--cap-drop`, normalized likewise.
    pub cap_drop: Vec<String>,
    /// `--ulimit`, parsed ([`ulimit`]).
    pub ulimits: Vec<Ulimit>,
    /// `--cpu-shares` (0: the kernel's default weight).
    pub cpu_shares: i64,
    /// `--cpu-quota` in µs per period (0: none).
    pub cpu_quota: i64,
    /// `--cpu-period` in µs (0: the kernel's 100 ms).
    pub cpu_period: i64,
    /// `--stop-timeout` in seconds (`None`: docker's 10).
    pub stop_timeout: Option<i64>,
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

/// Why `--privileged` is refused (the CLI's flag and the API's `Privileged`).
pub const PRIVILEGED_REFUSED: &str = "--privileged is not supported: ctrace does not give a container every capability, the host's devices and a writable /sys; add only the capabilities it needs with --cap-add";
/// Why `--device` is refused.
pub const DEVICES_REFUSED: &str =
    "--device is not supported yet: ctrace gives containers only the standard /dev nodes";
/// Why `--cgroup-parent` is refused.
pub const CGROUP_PARENT_REFUSED: &str =
    "--cgroup-parent is not supported yet: ctrace puts every container under its own /ctrace cgroup";

/// Why a `--pid` mode other than a private namespace is refused.
pub fn pid_mode_refused(mode: &str) -> String {
    format!("--pid {mode} is not supported: ctrace gives every container its own pid namespace")
}

/// `--stop-timeout` (the API's `StopTimeout`): seconds, 0 or more.
pub fn stop_timeout(t: Option<i64>) -> Result<Option<i64>, String> {
    match t {
        Some(s) if s < 0 => Err(format!(
            "invalid --stop-timeout {s}: give a number of seconds, 0 or more (ctrace does not wait forever)"
        )),
        other => Ok(other),
    }
}

/// `--cap-add` / `--cap-drop` values (the API's `CapAdd`/`CapDrop`) as docker normalizes them:
/// upper case, `CAP_` added when missing, `ALL` kept; a capability the kernel interface does not
/// know is refused.
pub fn capabilities(values: &[String]) -> Result<Vec<String>, String> {
    values
        .iter()
        .map(|v| {
            let up = v.trim().to_ascii_uppercase();
            if up == "ALL" {
                return Ok(up);
            }
            let name = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            match crate::sys::capability::number(&name) {
                Some(_) => Ok(name),
                None => Err(format!(
                    "unknown capability: {name:?}: see capabilities(7) for the names"
                )),
            }
        })
        .collect()
}

/// The rlimit names `--ulimit` takes (docker's `go-units`).
const ULIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit NAME=SOFT[:HARD]` (a missing hard limit is the soft one), checked as docker does.
pub fn ulimit(value: &str) -> Result<Ulimit, String> {
    let bad = || {
        format!(
            "invalid ulimit argument: {value}: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048"
        )
    };
    let (name, limits) = value.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (s, h),
        None => (limits, limits),
    };
    let (soft, hard): (i64, i64) = (
        soft.trim().parse().map_err(|_| bad())?,
        hard.trim().parse().map_err(|_| bad())?,
    );
    let u = Ulimit {
        name: name.to_string(),
        soft,
        hard,
    };
    check_ulimit(&u)?;
    Ok(u)
}

/// The API's `Ulimits` entries, checked as [`ulimit`] checks a flag.
pub fn check_ulimit(u: &Ulimit) -> Result<(), String> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(format!(
            "invalid ulimit type: {}: expected one of {}",
            u.name,
            ULIMITS.join(", ")
        ));
    }
    if u.soft < -1 || u.hard < -1 {
        return Err(format!(
            "invalid ulimit {}: limits are numbers, or -1 for unlimited",
            u.name
        ));
    }
    // -1 is unlimited, above any number.
    let (soft, hard) = (u.soft as u64, u.hard as u64);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        ));
    }
    Ok(())
}

/// `-h`/`Hostname`: letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most the
/// kernel's 64 bytes — never a newline that would add lines to the container's `/etc/hosts`.
pub fn hostname(h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.as_bytes()[0].is_ascii_alphanumeric()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid hostname format: {h:?}: use letters, digits, '-', '_' and '.' (at most 64 characters)"
        ))
    }
}

/// The most `pids.max` takes (the kernel's `PID_MAX_LIMIT` on 64-bit).
pub const MAX_PIDS: i64 = 4 << 20;
/// The largest CFS quota the kernel takes, in µs (`max_cfs_runtime`: 2^44 - 1).
pub const MAX_CPU_QUOTA: i64 = (1 << 44) - 1;

/// `-m`, `--memory-swap`, `--pids-limit` and `--cpus` (`Memory`, `MemorySwap`, `PidsLimit`,
/// `NanoCpus`) checked at create as docker's `verifyPlatformContainerResources` checks them, in
/// its words where it has them: a bad value is refused before anything is made, never run
/// unlimited or left to fail at start. `host_cpus`: the CPUs a container may be given.
pub fn resources(
    memory: i64,
    memory_swap: i64,
    pids_limit: i64,
    nano_cpus: i64,
    host_cpus: usize,
) -> Result<(), String> {
    if memory != 0 && memory < 6 << 20 {
        return Err(format!(
            "invalid memory limit {memory}: minimum memory limit allowed is 6MB"
        ));
    }
    if memory_swap != 0 && memory_swap != -1 {
        if memory_swap < -1 {
            return Err(format!(
                "invalid memory swap limit {memory_swap}: give a size, or -1 for unlimited swap"
            ));
        }
        if memory == 0 {
            return Err(
                "you should always set the memory limit when using memoryswap limit, see usage"
                    .into(),
            );
        }
        if memory_swap < memory {
            return Err(
                "minimum memoryswap limit should be larger than memory limit, see usage".into(),
            );
        }
    }
    if !(-1..=MAX_PIDS).contains(&pids_limit) {
        return Err(format!(
            "invalid pids limit {pids_limit}: give a number from 1 to {MAX_PIDS}, or -1 for unlimited"
        ));
    }
    if nano_cpus < 0 || nano_cpus > host_cpus as i64 * 1_000_000_000 {
        return Err(format!(
            "range of CPUs is from 0.01 to {host_cpus}.00, as there are only {host_cpus} CPUs available"
        ));
    }
    Ok(())
}

/// `--cpu-shares`, `--cpu-quota`, `--cpu-period` checked as docker's
/// `verifyPlatformContainerResources` checks them (`--cpus` excludes the other two).
pub fn cpu(shares: i64, quota: i64, period: i64, nano_cpus: i64) -> Result<(), String> {
    if shares < 0 {
        return Err(format!(
            "invalid --cpu-shares {shares}: must not be negative"
        ));
    }
    if nano_cpus != 0 && (quota != 0 || period != 0) {
        return Err("Conflicting options: Nano CPUs and CPU Period (or Quota) cannot both be set: use --cpus or --cpu-quota/--cpu-period".into());
    }
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if quota != 0 && quota != -1 && quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if quota > MAX_CPU_QUOTA {
        return Err(format!(
            "CPU cfs quota can not be larger than {MAX_CPU_QUOTA} (the kernel's maximum, in µs)"
        ));
    }
    Ok(())
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

    #[test]
    fn capabilities_are_normalized_as_docker_does_and_unknown_ones_refused() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            capabilities(&v(&["net_admin", "CAP_SYS_PTRACE", "all"])).unwrap(),
            ["CAP_NET_ADMIN", "CAP_SYS_PTRACE", "ALL"]
        );
        assert!(capabilities(&v(&["bogus"]))
            .unwrap_err()
            .contains("unknown capability: \"CAP_BOGUS\""));
    }

    #[test]
    fn negative_or_absurd_limits_are_refused_at_create_in_dockers_words() {
        assert!(resources(0, 0, 0, 0, 2).is_ok());
        assert!(resources(64 << 20, -1, -1, 1_500_000_000, 2).is_ok());
        assert!(resources(64 << 20, 128 << 20, 100, 0, 2).is_ok());
        for (m, s, p, n, want) in [
            (-5, 0, 0, 0, "minimum memory limit allowed is 6MB"),
            (1, 0, 0, 0, "minimum memory limit allowed is 6MB"),
            (0, 64 << 20, 0, 0, "always set the memory limit"),
            (64 << 20, 1 << 20, 0, 0, "larger than memory limit"),
            (64 << 20, -5, 0, 0, "invalid memory swap limit -5"),
            (0, 0, -5, 0, "invalid pids limit -5"),
            (0, 0, MAX_PIDS + 1, 0, "give a number from 1 to 4194304"),
            (0, 0, 0, -5, "range of CPUs is from 0.01 to 2.00"),
            (0, 0, 0, 3_000_000_000, "only 2 CPUs available"),
        ] {
            let e = resources(m, s, p, n, 2).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains('\n'));
        }
        assert!(cpu(0, MAX_CPU_QUOTA + 1, 0, 0)
            .unwrap_err()
            .contains("larger than"));
    }

    #[test]
    fn a_hostname_is_letters_digits_dashes_and_dots() {
        assert!(hostname("web-1.example").is_ok());
        assert!(hostname("my_host").is_ok());
        for bad in ["a\nb", "a b", "-a", "", &"a".repeat(65), "a/b"] {
            assert!(hostname(bad)
                .unwrap_err()
                .starts_with("invalid hostname format: "));
        }
    }

    #[test]
    fn ulimits_and_cpu_settings_are_checked_with_dockers_words() {
        let u = ulimit("nofile=64:128").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 64, 128));
        assert_eq!(ulimit("nproc=10").unwrap().hard, 10);
        assert!(ulimit("core=-1").is_ok());
        assert!(ulimit("nofile=128:64").unwrap_err().contains("soft limit"));
        assert!(ulimit("bogus=1")
            .unwrap_err()
            .contains("invalid ulimit type"));
        assert!(ulimit("nofile")
            .unwrap_err()
            .contains("invalid ulimit argument"));
        assert!(cpu(512, 50_000, 100_000, 0).is_ok());
        assert!(cpu(0, 50_000, 0, 1_000_000_000)
            .unwrap_err()
            .contains("Conflicting options"));
        assert!(cpu(0, 10, 0, 0).unwrap_err().contains("quota"));
        assert!(cpu(0, 0, 10, 0).unwrap_err().contains("period"));
        assert!(cpu(-1, 0, 0, 0).is_err());
    }
}
