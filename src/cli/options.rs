//! `run`/`create` flags turned, once, into the engine's typed [`CreateOptions`]: sizes, CPUs,
//! the network mode, `-p` ports, the runtime, the pull policy, the restart policy, the health
//! check, `-v`/`--mount`/`--tmpfs`/`--volumes-from`, `--dns`, `--add-host` and `-e` are parsed and
//! checked here, so the engine receives values, never strings to read again. A bad value is one
//! line and exit 125, as docker's.
//!
//! Not here: the flags themselves ([`super::args`]); checks that need the host, the image or the
//! state (names, a bind's source, volumes, `--volumes-from`'s container, ports: the engine's
//! create).

use std::collections::BTreeMap;

use crate::engine::options::{self, CreateOptions, Pull};
use crate::network::{self, Mode};
use crate::runtime::Kind;
use crate::storage::mounts;
use crate::sys::exit;
use crate::sys::size::{parse_cpus, parse_size};

use super::args::CreateFlags;
use super::Failure;

/// `--network` (empty: docker's default, bridge).
pub fn network_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(if s.is_empty() {
        network::DEFAULT_MODE
    } else {
        s
    })
    .map_err(|e| e.to_string())
}

/// `-l key=value` (a key alone: an empty value; a later key wins).
pub fn labels(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `--runtime`.
pub fn runtime_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| format!("unknown runtime {s:?}: expected embedded or runc"))
}

pub fn options(f: &CreateFlags, auto_remove: bool) -> Result<CreateOptions, Failure> {
    let bad = |m: String| Failure::new(exit::ENGINE, m);
    if (f.interactive || f.tty) && f.runtime == "runc" {
        return Err(bad(
            "-i/-t are not supported with --runtime runc yet: use the embedded runtime".into(),
        ));
    }
    let memory = f
        .memory
        .as_deref()
        .map(|m| parse_size("--memory", m))
        .transpose()
        .map_err(bad)?;
    let memory_swap = match f.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        Some(m) => Some(parse_size("--memory-swap", m).map_err(bad)?),
        None => None,
    };
    let nano_cpus = f.cpus.as_deref().map(parse_cpus).transpose().map_err(bad)?;
    if let Some(p) = f.pids_limit {
        if p == 0 || p < -1 {
            return Err(bad(format!(
                "invalid value {p} for --pids-limit: expected a positive number, or -1 for unlimited"
            )));
        }
    }
    refuse_unsupported(f).map_err(bad)?;
    let (cpu_shares, cpu_quota, cpu_period) = (
        f.cpu_shares.unwrap_or(0),
        f.cpu_quota.unwrap_or(0),
        f.cpu_period.unwrap_or(0),
    );
    options::cpu(cpu_shares, cpu_quota, cpu_period, nano_cpus.unwrap_or(0)).map_err(bad)?;
    let restart_policy =
        crate::state::RestartPolicy::parse(f.restart.as_deref().unwrap_or("")).map_err(bad)?;
    if auto_remove && restart_policy.restarts() {
        return Err(bad("Conflicting options: --restart and --rm".into()));
    }
    Ok(CreateOptions {
        restart_policy,
        image: f.image.clone(),
        pull: Pull::parse(&f.pull).map_err(bad)?,
        platform: f.platform.clone(),
        name: f.name.clone(),
        cmd: f.command.clone(),
        entrypoint: f.entrypoint.clone(),
        env: crate::engine::options::env(&resolve_env(&f.env)).map_err(bad)?,
        workdir: f.workdir.clone(),
        user: f.user.clone(),
        hostname: f.hostname.clone(),
        memory: memory.unwrap_or(0),
        memory_swap: memory_swap.unwrap_or(0),
        pids_limit: f.pids_limit.filter(|p| *p > 0).unwrap_or(0),
        nano_cpus: nano_cpus.unwrap_or(0),
        network: network_mode(&f.network).map_err(bad)?,
        publish: f
            .publish
            .iter()
            .map(|p| crate::network::parse_port(p))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?,
        publish_all: f.publish_all,
        dns: crate::engine::options::dns(&f.dns).map_err(bad)?,
        extra_hosts: crate::engine::options::extra_hosts(&f.add_host).map_err(bad)?,
        runtime: runtime_kind(&f.runtime).map_err(bad)?,
        auto_remove,
        read_only: f.read_only,
        labels: labels(&f.labels),
        mounts: mounts::parse_requests(&f.volumes, &f.mounts, &f.tmpfs)
            .map_err(|e| bad(e.to_string()))?,
        volumes_from: f
            .volumes_from
            .iter()
            .map(|v| mounts::parse_volumes_from(v))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?,
        tty: f.tty,
        open_stdin: f.interactive,
        trace_propagate: f.trace_propagate,
        healthcheck: health_flags(f).map_err(bad)?,
        no_healthcheck: f.no_healthcheck,
        security_opt: security_opt(&f.security_opt).map_err(bad)?,
        cap_add: options::capabilities(&f.cap_add).map_err(bad)?,
        cap_drop: options::capabilities(&f.cap_drop).map_err(bad)?,
        ulimits: f
            .ulimit
            .iter()
            .map(|u| options::ulimit(u))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
        cpu_shares,
        cpu_quota,
        cpu_period,
        stop_timeout: options::stop_timeout(f.stop_timeout).map_err(bad)?,
    })
}

/// The flags ctrace accepts only to refuse them, with why, rather than run without them.
fn refuse_unsupported(f: &CreateFlags) -> Result<(), String> {
    if f.privileged {
        return Err(options::PRIVILEGED_REFUSED.into());
    }
    if !f.device.is_empty() {
        return Err(options::DEVICES_REFUSED.into());
    }
    match f.pid.as_deref() {
        None | Some("" | "private") => {}
        Some(other) => return Err(options::pid_mode_refused(other)),
    }
    if f.cgroup_parent.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(options::CGROUP_PARENT_REFUSED.into());
    }
    Ok(())
}

/// `--security-opt`: a `seccomp=FILE` is replaced by the file's JSON, as docker's CLI does, so
/// the daemon (or the engine) receives the profile itself; then every value is checked.
fn security_opt(values: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for v in values {
        let file = v
            .strip_prefix("seccomp=")
            .or_else(|| v.strip_prefix("seccomp:"))
            .filter(|f| !matches!(*f, "unconfined" | "builtin" | "") && !f.starts_with('{'));
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("opening seccomp profile ({path}) failed: {e}"))?;
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("invalid seccomp profile {path}: {e}"))?;
                out.push(format!("seccomp={json}"));
            }
            None => out.push(v.clone()),
        }
    }
    crate::runtime::seccomp::parse_security_opt(&out)?;
    Ok(out)
}

/// The `--health-*` flags, checked as docker checks them.
fn health_flags(f: &CreateFlags) -> Result<Option<crate::state::health::HealthConfig>, String> {
    let given = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_timeout.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some();
    if !given {
        return Ok(None);
    }
    if f.no_healthcheck {
        return Err("--no-healthcheck conflicts with --health-* options".into());
    }
    let duration = |flag: &str, v: &Option<String>| -> Result<i64, String> {
        let Some(v) = v else { return Ok(0) };
        let d = humantime::parse_duration(v).map_err(|_| {
            format!(
                "invalid value {v:?} for {flag}: expected a duration such as 1s, 500ms or 1m30s"
            )
        })?;
        if d < std::time::Duration::from_millis(1) {
            return Err(format!("{flag} cannot be less than 1ms"));
        }
        // Nanoseconds in an i64, as docker keeps them: ~292 years at most, not a wrapped sign.
        i64::try_from(d.as_nanos())
            .map_err(|_| format!("invalid value {v:?} for {flag}: longer than 292 years"))
    };
    let retries = f.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err("--health-retries cannot be negative".into());
    }
    Ok(Some(crate::state::health::HealthConfig {
        test: f
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()])
            .unwrap_or_default(),
        interval: duration("--health-interval", &f.health_interval)?,
        timeout: duration("--health-timeout", &f.health_timeout)?,
        start_period: duration("--health-start-period", &f.health_start_period)?,
        retries,
    }))
}

/// `-e` values as the docker CLI sends them: `NAME=value` as is; a bare `NAME` takes this
/// process's value, and stays bare when there is none (the engine then unsets it).
pub fn resolve_env(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|e| match std::env::var(e) {
            Ok(v) if !e.contains('=') => format!("{e}={v}"),
            _ => e.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_runtimes_parse_with_docker_defaults() {
        assert_eq!(network_mode("").unwrap(), Mode::Bridge);
        assert_eq!(network_mode("none").unwrap(), Mode::None);
        assert!(network_mode("bogus")
            .unwrap_err()
            .contains("invalid network mode"));
        assert_eq!(runtime_kind("").unwrap(), Kind::Embedded);
        assert_eq!(runtime_kind("runc").unwrap(), Kind::Runc);
        assert!(runtime_kind("kata")
            .unwrap_err()
            .contains("unknown runtime \"kata\""));
    }

    #[test]
    fn labels_are_keys_and_values_and_the_last_one_wins() {
        let l = labels(&["a=1".into(), "b".into(), "a=2=x".into()]);
        assert_eq!(l["a"], "2=x");
        assert_eq!(l["b"], "");
    }

    /// `create --health-interval V busybox`'s flags.
    fn flags(v: &str) -> crate::cli::args::CreateFlags {
        use clap::Parser;
        #[derive(Parser)]
        #[command(disable_help_flag = true)]
        struct Cli {
            #[command(flatten)]
            f: crate::cli::args::CreateFlags,
        }
        Cli::try_parse_from(["t", "--health-interval", v, "busybox"])
            .unwrap()
            .f
    }

    #[test]
    fn a_health_interval_of_three_centuries_is_refused_not_wrapped_negative() {
        let e = health_flags(&flags("300y")).unwrap_err();
        assert!(e.contains("longer than 292 years"), "{e}");
        assert!(health_flags(&flags("200y")).unwrap().unwrap().interval > 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 500,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn an_accepted_health_duration_is_positive_and_a_refusal_one_line(
            v in proptest::prelude::prop_oneof![
                "[0-9]{1,22}(ns|us|ms|s|m|h|d|w|y)",
                "[0-9a-z .]{0,12}",
            ]
        ) {
            match health_flags(&flags(&v)) {
                Ok(h) => proptest::prop_assert!(h.unwrap().interval > 0, "{v:?}"),
                Err(e) => proptest::prop_assert!(!e.contains('\n'), "{e:?}"),
            }
        }
    }

    #[test]
    fn pull_policies_are_docker_words() {
        assert_eq!(Pull::parse("").unwrap(), Pull::Missing);
        assert_eq!(Pull::parse("always").unwrap(), Pull::Always);
        assert!(Pull::parse("sometimes")
            .unwrap_err()
            .contains("must be one of"));
    }
}
