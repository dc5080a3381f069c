//! The create body's settings that ctrace does not honour: each is accepted only at its zero
//! value (what docker's clients send when the flag is not given) or at a value that means what
//! ctrace does anyway, and refused otherwise, with why — never read and dropped.
//!
//! Not here: the settings ctrace honours (the [`super::container`] types), nor `Privileged`, `Tty`
//! and `OpenStdin` (refused by the daemon's `api` module in their own words).

use serde_json::{Map, Value};

use crate::engine::options;

/// One setting: its key, the non-zero values that mean ctrace's own behaviour, and why any
/// other value is refused.
pub struct Setting {
    pub key: &'static str,
    pub accepted: &'static [&'static str],
    pub reason: &'static str,
}

const fn s(key: &'static str, reason: &'static str) -> Setting {
    Setting {
        key,
        accepted: &[],
        reason,
    }
}

const fn or(key: &'static str, accepted: &'static [&'static str], reason: &'static str) -> Setting {
    Setting {
        key,
        accepted,
        reason,
    }
}

/// `Config` keys.
pub const CONFIG: &[Setting] = &[
    s(
        "Domainname",
        "a domain name (--domainname) is not supported yet",
    ),
    s(
        "NetworkDisabled",
        "NetworkDisabled is not supported: use NetworkMode \"none\"",
    ),
    s(
        "MacAddress",
        "a fixed MAC address (--mac-address) is not supported",
    ),
    s(
        "StopSignal",
        "--stop-signal is not supported yet: ctrace uses the image's STOPSIGNAL, or SIGTERM",
    ),
];

/// `HostConfig` keys.
pub const HOST_CONFIG: &[Setting] = &[
    s("Devices", options::DEVICES_REFUSED),
    s(
        "DeviceCgroupRules",
        "--device-cgroup-rule is not supported yet",
    ),
    s(
        "DeviceRequests",
        "--gpus and device requests are not supported",
    ),
    or(
        "PidMode",
        &["private"],
        "only a private pid namespace is supported (--pid)",
    ),
    s("CgroupParent", options::CGROUP_PARENT_REFUSED),
    // LogConfig and GroupAdd: refused by `api::container` with Docker's own words.
    or(
        "VolumeDriver",
        &["local"],
        "only the local volume driver is supported",
    ),
    s("Annotations", "--annotation is not supported yet"),
    or(
        "CgroupnsMode",
        &["private"],
        "only a private cgroup namespace is supported (--cgroupns)",
    ),
    s("DnsOptions", "--dns-option is not supported yet"),
    s("DnsSearch", "--dns-search is not supported yet"),
    or(
        "IpcMode",
        &["private", "shareable"],
        "only a private ipc namespace is supported (--ipc)",
    ),
    s(
        "Cgroup",
        "joining another container's cgroup is not supported",
    ),
    s(
        "Links",
        "--link is not supported: use a user-defined address with --add-host",
    ),
    s("OomScoreAdj", "--oom-score-adj is not supported yet"),
    s(
        "UTSMode",
        "only a private uts namespace is supported (--uts)",
    ),
    s("UsernsMode", "user namespaces (--userns) are not supported"),
    s("ShmSize", "--shm-size is not supported yet"),
    s("Sysctls", "--sysctl is not supported yet"),
    or(
        "Isolation",
        &["default"],
        "only the default isolation is supported",
    ),
    s("BlkioWeight", "--blkio-weight is not supported yet"),
    s(
        "BlkioWeightDevice",
        "--blkio-weight-device is not supported yet",
    ),
    s(
        "BlkioDeviceReadBps",
        "--device-read-bps is not supported yet",
    ),
    s(
        "BlkioDeviceWriteBps",
        "--device-write-bps is not supported yet",
    ),
    s(
        "BlkioDeviceReadIOps",
        "--device-read-iops is not supported yet",
    ),
    s(
        "BlkioDeviceWriteIOps",
        "--device-write-iops is not supported yet",
    ),
    s("CpuRealtimePeriod", "--cpu-rt-period is not supported"),
    s("CpuRealtimeRuntime", "--cpu-rt-runtime is not supported"),
    s("CpusetCpus", "--cpuset-cpus is not supported yet"),
    s("CpusetMems", "--cpuset-mems is not supported yet"),
    s(
        "KernelMemory",
        "--kernel-memory is not supported (the kernel dropped it)",
    ),
    s(
        "KernelMemoryTCP",
        "kernel TCP memory limits are not supported",
    ),
    s(
        "MemoryReservation",
        "--memory-reservation is not supported yet",
    ),
    or(
        "MemorySwappiness",
        &["-1"],
        "--memory-swappiness is not supported yet",
    ),
    s("OomKillDisable", "--oom-kill-disable is not supported"),
    s("CpuCount", "CpuCount is a Windows setting"),
    s("CpuPercent", "CpuPercent is a Windows setting"),
    s("IOMaximumIOps", "IOMaximumIOps is a Windows setting"),
    s(
        "IOMaximumBandwidth",
        "IOMaximumBandwidth is a Windows setting",
    ),
    s(
        "MaskedPaths",
        "changing the masked paths (--security-opt systempaths=unconfined) is not supported",
    ),
    s(
        "ReadonlyPaths",
        "changing the read-only paths (--security-opt systempaths=unconfined) is not supported",
    ),
    s("Init", "--init is not supported yet"),
    s("StorageOpt", "--storage-opt is not supported"),
];

/// A value docker's clients send for a flag not given: `null`, `false`, `0`, `""`, `[]`, `{}`,
/// or a struct of such values (`LogConfig: {"Type": "", "Config": {}}`; a struct's fields are
/// capitalized, a map's keys like `Volumes`' `"/data"` are data and make it non-zero).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o
            .iter()
            .all(|(k, v)| k.starts_with(|c: char| c.is_ascii_uppercase()) && is_zero(v)),
    }
}

/// Whether `v` is one of `accepted` (a string, a number, or an object whose `Type` is one and
/// whose other values are zero).
fn is_accepted(v: &Value, accepted: &[&str]) -> bool {
    if accepted.is_empty() {
        return false;
    }
    match v {
        Value::String(s) => accepted.contains(&s.as_str()),
        Value::Number(n) => accepted.contains(&n.to_string().as_str()),
        Value::Object(o) => o.iter().all(|(k, v)| {
            if k == "Type" {
                v.as_str()
                    .is_some_and(|t| t.is_empty() || accepted.contains(&t))
            } else {
                is_zero(v)
            }
        }),
        _ => false,
    }
}

/// Refuses the first setting of `settings` that `obj` gives a value ctrace would not honour.
pub fn refuse(obj: &Map<String, Value>, settings: &[Setting]) -> Result<(), String> {
    for s in settings {
        if let Some(v) = obj.get(s.key) {
            if !is_zero(v) && !is_accepted(v, s.accepted) {
                return Err(format!("{}: {}", s.key, s.reason));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<(), String> {
        refuse(v.as_object().unwrap(), HOST_CONFIG)
    }

    #[test]
    fn what_docker_sends_for_flags_not_given_is_accepted() {
        check(
            json!({"Devices": [], "PidMode": "", "LogConfig": {"Type": "", "Config": {}},
            "CgroupParent": "", "ShmSize": 0, "MemorySwappiness": null, "OomKillDisable": false,
            "IpcMode": "private", "CgroupnsMode": "private", "Isolation": "",
            "ConsoleSize": [0, 0], "MaskedPaths": null}),
        )
        .unwrap();
        check(json!({"LogConfig": {"Type": "json-file", "Config": {}}, "MemorySwappiness": -1}))
            .unwrap();
    }

    #[test]
    fn a_setting_ctrace_would_drop_is_refused_with_its_reason() {
        for (body, want) in [
            (
                json!({"Devices": [{"PathOnHost": "/dev/kvm"}]}),
                "Devices: --device",
            ),
            (
                json!({"PidMode": "host"}),
                "PidMode: only a private pid namespace",
            ),
            (json!({"CgroupParent": "/mine"}), "CgroupParent"),
            (json!({"Sysctls": {"net.ipv4.ip_forward": "1"}}), "Sysctls"),
            (json!({"ShmSize": 1024}), "ShmSize"),
        ] {
            let e = check(body.clone()).unwrap_err();
            assert!(e.starts_with(want), "{body}: {e}");
        }
        // Config.Volumes is honoured (anonymous volumes), not refused.
        assert!(refuse(
            json!({"Volumes": {"/data": {}}}).as_object().unwrap(),
            CONFIG,
        )
        .is_ok());
    }
}
