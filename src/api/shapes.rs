//! Docker's complete answers: every key dockerd sends in a container's inspect, a `ps` row, an
//! image's inspect or an `images` row, with dockerd's zero value where ctrace has nothing to say
//! (`"CpuShares": 0`, `"LogConfig": {"Type": "json-file", "Config": {}}`, `"ExecIDs": null`), so
//! a client that reads a key without checking finds it. The keys are those of the Engine API's
//! latest version and the older ones it dropped; [`super::version::shape`] then leaves out what
//! the version asked for does not have.
//!
//! Not here: what ctrace knows about a container or an image (the engine's inspect document,
//! the daemon's `api`); which version has which key ([`super::version`]).

use serde_json::{json, Map, Value};

/// Adds to `v` every key of `defaults` it lacks, all the way down (an object in both is
/// completed in turn; a value `v` has is never replaced).
pub fn fill(v: &mut Value, defaults: &Value) {
    let (Value::Object(obj), Value::Object(def)) = (v, defaults) else {
        return;
    };
    for (k, d) in def {
        match obj.get_mut(k) {
            None => {
                obj.insert(k.clone(), d.clone());
            }
            Some(have) => fill(have, d),
        }
    }
}

/// Fills every member of the object at `pointer` (a map of networks) with `defaults`.
fn fill_each(v: &mut Value, pointer: &str, defaults: &Value) {
    if let Some(Value::Object(members)) = v.pointer_mut(pointer) {
        for m in members.values_mut() {
            fill(m, defaults);
        }
    }
}

/// moby's `network.EndpointSettings` with nothing set.
pub fn endpoint_settings() -> Value {
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": null,
        "MacAddress": "",
        "DriverOpts": null,
        "GwPriority": 0,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null,
    })
}

/// moby's `container.HostConfig` (with its `Resources`) as dockerd fills it for a container
/// created with no options.
pub fn host_config() -> Value {
    let mut v = json!({
        "Binds": null,
        "ContainerIDFile": "",
        "LogConfig": { "Type": "json-file", "Config": {} },
        "NetworkMode": "bridge",
        "PortBindings": {},
        "RestartPolicy": { "Name": "no", "MaximumRetryCount": 0 },
        "AutoRemove": false,
        "VolumeDriver": "",
        "VolumesFrom": null,
        "ConsoleSize": [0, 0],
        "CapAdd": null,
        "CapDrop": null,
        "CgroupnsMode": "private",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": null,
        "GroupAdd": null,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": null,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": false,
        "PublishAllPorts": false,
        "ReadonlyRootfs": false,
        "SecurityOpt": null,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Isolation": "",
        "MaskedPaths": [],
        "ReadonlyPaths": [],
    });
    // moby's `container.Resources`, embedded in the host config.
    let resources = json!({
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": null,
        "DeviceRequests": null,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": null,
        "OomKillDisable": null,
        "PidsLimit": null,
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "Init": null,
    });
    fill(&mut v, &resources);
    v
}

/// moby's `container.Config` with nothing set.
pub fn container_config() -> Value {
    json!({
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": null,
        "Cmd": null,
        "Image": "",
        "Volumes": null,
        "WorkingDir": "",
        "Entrypoint": null,
        "OnBuild": null,
        "Labels": {},
        "StopTimeout": null,
    })
}

/// The whole of `GET /containers/{id}/json` around what ctrace knows (`v`).
pub fn container_inspect(v: &mut Value) {
    fill(
        v,
        &json!({
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "RestartCount": 0,
            "Mounts": [],
            "HostConfig": host_config(),
            "Config": container_config(),
            "NetworkSettings": {
                "Bridge": "",
                "SandboxID": "",
                "SandboxKey": "",
                "HairpinMode": false,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "Ports": {},
                "SecondaryIPAddresses": null,
                "SecondaryIPv6Addresses": null,
                "EndpointID": "",
                "Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "MacAddress": "",
                "Networks": {},
            },
        }),
    );
    fill_each(v, "/NetworkSettings/Networks", &endpoint_settings());
}

/// The whole of one `GET /containers/json` row.
pub fn container_summary(v: &mut Value) {
    fill(
        v,
        &json!({
            "Labels": {},
            "Ports": [],
            "HostConfig": { "NetworkMode": "bridge" },
            "NetworkSettings": { "Networks": {} },
            "Mounts": [],
            "Health": { "Status": "none", "FailingStreak": 0 },
        }),
    );
    fill_each(v, "/NetworkSettings/Networks", &endpoint_settings());
}

/// The whole of `GET /images/{name}/json`.
pub fn image_inspect(v: &mut Value) {
    let mut config = Map::new();
    for (k, d) in [
        ("Hostname", json!("")),
        ("Domainname", json!("")),
        ("User", json!("")),
        ("AttachStdin", json!(false)),
        ("AttachStdout", json!(false)),
        ("AttachStderr", json!(false)),
        ("Tty", json!(false)),
        ("OpenStdin", json!(false)),
        ("StdinOnce", json!(false)),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("Image", json!("")),
        ("Volumes", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("OnBuild", Value::Null),
        ("Labels", Value::Null),
    ] {
        config.insert(k.into(), d);
    }
    fill(
        v,
        &json!({
            "RepoTags": [],
            "RepoDigests": [],
            "Parent": "",
            "Comment": "",
            "Created": "",
            "DockerVersion": "",
            "Author": "",
            "Config": config,
            "Architecture": "",
            "Os": "linux",
            "Size": 0,
            "VirtualSize": 0,
            "GraphDriver": { "Name": "overlay2", "Data": {} },
            "RootFS": { "Type": "layers", "Layers": [] },
            "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        }),
    );
}

/// The whole of one `GET /images/json` row.
pub fn image_summary(v: &mut Value) {
    fill(
        v,
        &json!({
            "ParentId": "",
            "RepoTags": [],
            "RepoDigests": [],
            "Created": 0,
            "Size": 0,
            "SharedSize": -1,
            "VirtualSize": 0,
            "Labels": {},
            "Containers": -1,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filling_adds_what_is_missing_and_keeps_what_is_there() {
        let mut v = json!({"HostConfig": {"Memory": 5, "NetworkMode": "host"},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "10.0.0.2"}}}});
        container_inspect(&mut v);
        assert_eq!(v["HostConfig"]["Memory"], 5);
        assert_eq!(v["HostConfig"]["NetworkMode"], "host");
        assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file");
        assert_eq!(v["HostConfig"]["CpuShares"], 0);
        assert!(v["HostConfig"]["MemorySwappiness"].is_null());
        let bridge = &v["NetworkSettings"]["Networks"]["bridge"];
        assert_eq!(bridge["IPAddress"], "10.0.0.2");
        assert!(bridge["DriverOpts"].is_null() && bridge.get("IPAMConfig").is_some());
        assert_eq!(v["Config"]["Domainname"], "");
    }

    #[test]
    fn a_value_of_another_kind_is_not_replaced() {
        let mut v = json!({"Labels": null});
        fill(&mut v, &json!({"Labels": {"a": "b"}}));
        assert!(v["Labels"].is_null());
    }
}
