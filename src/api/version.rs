//! The Engine API versions the daemon speaks, from [`MIN`] (1.24, the oldest dockerd 25 and later
//! accept by default) to [`LATEST`] (1.56), and the one table of what changed between them in the
//! answers ctrace gives ([`CHANGES`], from the Engine API's version history): a request is
//! answered in the shape of the version it asked for, as dockerd does.
//!
//! Not here: reading the version out of a request's path (the daemon's `http`); building the
//! answers themselves (the daemon's `api`).

use std::fmt;

use serde_json::Value;

/// An Engine API version, `1.44`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// `"1.44"` → 1.44; anything that is not two dot-separated numbers is `None`.
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.split_once('.')?;
        let num = |p: &str| -> Option<u16> {
            (!p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        Some(Version::new(num(a)?, num(b)?))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The oldest version accepted (dockerd's default minimum since Docker 25).
pub const MIN: Version = Version::new(1, 24);
/// The newest version published (Docker's `api/docs/v1.56.yaml`), and the one an unversioned
/// request gets.
pub const LATEST: Version = Version::new(1, 56);

/// Why a requested version is refused: docker's words, a 400.
pub fn check(v: Version) -> Result<Version, String> {
    if v < MIN {
        Err(format!(
            "client version {v} is too old. Minimum supported API version is {MIN}, please upgrade your client to a newer version"
        ))
    } else if v > LATEST {
        Err(format!(
            "client version {v} is too new. Maximum supported API version is {LATEST}"
        ))
    } else {
        Ok(v)
    }
}

/// The answers whose shape depends on the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `GET /containers/{id}/json`
    ContainerInspect,
    /// one row of `GET /containers/json`
    ContainerSummary,
    /// `GET /images/{name}/json`
    ImageInspect,
    /// one row of `GET /images/json`
    ImageSummary,
    /// `GET /info`
    Info,
    /// one message of `GET /events`
    Event,
}

/// What a version did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The key exists from `since` on.
    Added,
    /// The key is gone from `since` on.
    Removed,
    /// From `since` on, the key is left out when its value is empty (`""`, `0`, `[]`, `{}`,
    /// `null`); before, it is always there.
    OmittedWhenEmpty,
    /// Before `since`, the key held this number whatever the daemon knew (`Containers: -1`).
    WasConstant(i64),
}

/// One line of the version history: at `since`, `key` of `answer` changed by `kind`. `key` is a
/// JSON pointer from the answer's root; a `*` segment stands for every member of an object.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub since: Version,
    pub answer: Answer,
    pub key: &'static str,
    pub kind: Kind,
}

const fn change(since: (u16, u16), answer: Answer, key: &'static str, kind: Kind) -> Change {
    Change {
        since: Version::new(since.0, since.1),
        answer,
        key,
        kind,
    }
}

use Answer::*;
use Kind::*;

/// The Engine API's version history, as far as the answers ctrace gives are concerned (docs'
/// "Engine API version history": v1.41 → v1.56).
pub const CHANGES: &[Change] = &[
    // v1.41: `GET /info` returns the cgroup version.
    change((1, 41), Info, "/CgroupVersion", Added),
    // v1.42: `KernelMemory` and `KernelMemoryTCP` omitted from inspect when not set.
    change(
        (1, 42),
        ContainerInspect,
        "/HostConfig/KernelMemory",
        OmittedWhenEmpty,
    ),
    change(
        (1, 42),
        ContainerInspect,
        "/HostConfig/KernelMemoryTCP",
        OmittedWhenEmpty,
    ),
    // v1.44: `VirtualSize` gone from the image answers; `DNSNames` per network; image inspect
    // omits a missing `Created`.
    change((1, 44), ImageInspect, "/VirtualSize", Removed),
    change((1, 44), ImageSummary, "/VirtualSize", Removed),
    change((1, 44), ImageInspect, "/Created", OmittedWhenEmpty),
    change(
        (1, 44),
        ContainerInspect,
        "/NetworkSettings/Networks/*/DNSNames",
        Added,
    ),
    change(
        (1, 44),
        ContainerSummary,
        "/NetworkSettings/Networks/*/DNSNames",
        Added,
    ),
    // v1.48: `GwPriority` per network endpoint.
    change(
        (1, 48),
        ContainerInspect,
        "/NetworkSettings/Networks/*/GwPriority",
        Added,
    ),
    change(
        (1, 48),
        ContainerSummary,
        "/NetworkSettings/Networks/*/GwPriority",
        Added,
    ),
    // v1.50: the br_netfilter fields of `GET /info` omitted.
    change((1, 50), Info, "/BridgeNfIptables", Removed),
    change((1, 50), Info, "/BridgeNfIp6tables", Removed),
    // v1.50: image inspect's `Config` loses the container-only fields.
    change((1, 50), ImageInspect, "/Config/Hostname", Removed),
    change((1, 50), ImageInspect, "/Config/Domainname", Removed),
    change((1, 50), ImageInspect, "/Config/AttachStdin", Removed),
    change((1, 50), ImageInspect, "/Config/AttachStdout", Removed),
    change((1, 50), ImageInspect, "/Config/AttachStderr", Removed),
    change((1, 50), ImageInspect, "/Config/Tty", Removed),
    change((1, 50), ImageInspect, "/Config/OpenStdin", Removed),
    change((1, 50), ImageInspect, "/Config/StdinOnce", Removed),
    change((1, 50), ImageInspect, "/Config/Image", Removed),
    // v1.51: an image's `Containers` counts its containers; before, it was always -1.
    change((1, 51), ImageSummary, "/Containers", WasConstant(-1)),
    // v1.52: the deprecated top-level `NetworkSettings` fields, `KernelMemoryTCP` and the
    // events' `status`/`id`/`from` are gone; empty image config fields are omitted.
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/Bridge",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/HairpinMode",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/LinkLocalIPv6Address",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/LinkLocalIPv6PrefixLen",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/SecondaryIPAddresses",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/SecondaryIPv6Addresses",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/EndpointID",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/Gateway",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/GlobalIPv6Address",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/GlobalIPv6PrefixLen",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/IPAddress",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/IPPrefixLen",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/IPv6Gateway",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/NetworkSettings/MacAddress",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/HostConfig/KernelMemoryTCP",
        Removed,
    ),
    change(
        (1, 52),
        ContainerInspect,
        "/Config/OnBuild",
        OmittedWhenEmpty,
    ),
    change((1, 52), ImageInspect, "/Config/Cmd", OmittedWhenEmpty),
    change(
        (1, 52),
        ImageInspect,
        "/Config/Entrypoint",
        OmittedWhenEmpty,
    ),
    change((1, 52), ImageInspect, "/Config/Env", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Config/Labels", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Config/OnBuild", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Config/User", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Config/Volumes", OmittedWhenEmpty),
    change(
        (1, 52),
        ImageInspect,
        "/Config/WorkingDir",
        OmittedWhenEmpty,
    ),
    change((1, 52), ImageInspect, "/Parent", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Comment", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/DockerVersion", OmittedWhenEmpty),
    change((1, 52), ImageInspect, "/Author", OmittedWhenEmpty),
    change((1, 52), ContainerSummary, "/Health", Added),
    change((1, 52), Event, "/status", Removed),
    change((1, 52), Event, "/id", Removed),
    change((1, 52), Event, "/from", Removed),
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) => false,
    }
}

/// Applies `f` to the object holding the last segment of `pointer`, with that segment's name.
fn at_parent(
    v: &mut Value,
    segs: &[&str],
    f: &mut dyn FnMut(&mut serde_json::Map<String, Value>, &str),
) {
    let Value::Object(obj) = v else { return };
    match segs {
        [] => {}
        [last] => f(obj, last),
        ["*", rest @ ..] => {
            for child in obj.values_mut() {
                at_parent(child, rest, f);
            }
        }
        [first, rest @ ..] => {
            if let Some(child) = obj.get_mut(*first) {
                at_parent(child, rest, f);
            }
        }
    }
}

/// `v`, an answer of the latest shape, in the shape of version `version`.
pub fn shape(answer: Answer, version: Version, v: &mut Value) {
    for c in CHANGES.iter().filter(|c| c.answer == answer) {
        let segs: Vec<&str> = c.key.trim_start_matches('/').split('/').collect();
        let newer = version >= c.since;
        at_parent(v, &segs, &mut |obj, key| match c.kind {
            Added if !newer => {
                obj.remove(key);
            }
            Removed if newer => {
                obj.remove(key);
            }
            OmittedWhenEmpty if newer && obj.get(key).is_some_and(is_empty) => {
                obj.remove(key);
            }
            WasConstant(n) if !newer && obj.contains_key(key) => {
                obj.insert(key.to_string(), n.into());
            }
            _ => {}
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_parse_compare_and_print() {
        let v = Version::parse("1.44").unwrap();
        assert_eq!(v.to_string(), "1.44");
        assert!(Version::parse("1.9").unwrap() < Version::parse("1.10").unwrap());
        for bad in ["", "1", "1.", ".4", "1.4.1", "a.b", "1.-2"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn versions_outside_the_range_are_refused_with_dockers_words() {
        assert!(check(MIN).is_ok() && check(LATEST).is_ok());
        let old = check(Version::new(1, 23)).unwrap_err();
        assert!(old
            .starts_with("client version 1.23 is too old. Minimum supported API version is 1.24"));
        let new = check(Version::new(1, 99)).unwrap_err();
        assert_eq!(
            new,
            format!("client version 1.99 is too new. Maximum supported API version is {LATEST}")
        );
    }

    #[test]
    fn an_answer_takes_the_shape_of_the_version_asked_for() {
        let latest = json!({
            "NetworkSettings": {"IPAddress": "10.0.0.2", "Networks": {"bridge": {"DNSNames": null, "GwPriority": 0}}},
            "HostConfig": {"KernelMemory": 0, "KernelMemoryTCP": 0},
            "Config": {"OnBuild": null},
        });
        let mut v = latest.clone();
        shape(ContainerInspect, LATEST, &mut v);
        assert!(v["NetworkSettings"].get("IPAddress").is_none());
        assert!(v["NetworkSettings"]["Networks"]["bridge"]
            .get("GwPriority")
            .is_some());
        assert!(v["HostConfig"].get("KernelMemory").is_none());
        assert!(v["Config"].get("OnBuild").is_none());
        let mut old = latest;
        shape(ContainerInspect, Version::new(1, 41), &mut old);
        assert_eq!(old["NetworkSettings"]["IPAddress"], "10.0.0.2");
        assert!(old["NetworkSettings"]["Networks"]["bridge"]
            .get("GwPriority")
            .is_none());
        assert!(old["NetworkSettings"]["Networks"]["bridge"]
            .get("DNSNames")
            .is_none());
        assert_eq!(old["HostConfig"]["KernelMemoryTCP"], 0);
        let mut image = json!({"Containers": 2, "VirtualSize": 5});
        shape(ImageSummary, Version::new(1, 43), &mut image);
        assert_eq!(image, json!({"Containers": -1, "VirtualSize": 5}));
    }
}
