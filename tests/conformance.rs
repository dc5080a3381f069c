//! Conformance of `ctrace daemon` with the Docker Engine API: a table of requests replayed
//! against a daemon at API versions 1.41, 1.44 and the latest (1.56), each answer compared with
//! what Docker documents — its status code, its `Content-Type`, dockerd's headers, and its keys,
//! derived from the Engine API's Swagger definition (`tests/fixtures/engine-api/v1.56.yaml`, an
//! excerpt of Docker's own) and, for the older versions, from the API's version history.
//!
//! Not here: what the answers' values mean (the daemon's and the API's own tests).

mod common;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use common::daemon::Daemon;
use common::Env;

const LATEST: &str = "1.56";
const SWAGGER: &str = include_str!("fixtures/engine-api/v1.56.yaml");

// --- the Swagger definition -------------------------------------------------------------------

/// The YAML of the Swagger file as JSON: block maps and lists, scalars, `[a, b]` lists; as much
/// YAML as Docker's definition uses (no anchors, no multi-line scalars in the excerpt).
fn yaml(text: &str) -> Value {
    let lines: Vec<(usize, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim().to_string()))
        .collect();
    let mut i = 0;
    block(&lines, &mut i, 0)
}

fn block(lines: &[(usize, String)], i: &mut usize, indent: usize) -> Value {
    if lines.get(*i).is_some_and(|(_, l)| l.starts_with("- ")) {
        let mut items = Vec::new();
        while let Some((ind, l)) = lines.get(*i) {
            if *ind != indent || !l.starts_with("- ") {
                break;
            }
            let item = l[2..].to_string();
            if item.contains(": ") || item.ends_with(':') {
                // A map in a list: its first key on the dash's line, the rest below it.
                let mut sub = vec![(indent + 2, item)];
                *i += 1;
                while let Some((ind, l)) = lines.get(*i) {
                    if *ind <= indent {
                        break;
                    }
                    sub.push((*ind, l.clone()));
                    *i += 1;
                }
                let mut j = 0;
                items.push(block(&sub, &mut j, indent + 2));
            } else {
                items.push(scalar(&item));
                *i += 1;
            }
        }
        return Value::Array(items);
    }
    let mut map = Map::new();
    while let Some((ind, l)) = lines.get(*i) {
        if *ind != indent {
            break;
        }
        let (key, rest) = match l.split_once(": ") {
            Some((k, r)) => (k, r.trim()),
            None => (l.trim_end_matches(':'), ""),
        };
        let key = key.trim_matches('"').to_string();
        *i += 1;
        let value = if !rest.is_empty() {
            scalar(rest)
        } else {
            match lines.get(*i) {
                Some((next, _)) if *next > indent => block(lines, i, *next),
                _ => Value::Null,
            }
        };
        map.insert(key, value);
    }
    Value::Object(map)
}

fn scalar(s: &str) -> Value {
    if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return Value::Array(
            inner
                .split(',')
                .map(|p| Value::String(p.trim().trim_matches('"').to_string()))
                .collect(),
        );
    }
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(s.trim_matches('"').to_string()),
    }
}

/// The properties a schema gives an object: its own, its `allOf`'s, its `$ref`'s.
fn properties(spec: &Value, schema: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/definitions/");
        if let Some(def) = spec["definitions"].get(name) {
            out.extend(properties(spec, def));
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(properties(spec, part));
    }
    if let Some(p) = schema["properties"].as_object() {
        out.extend(p.clone());
    }
    out
}

/// What an answer at one API version must look like besides the Swagger definition.
struct Rules<'a> {
    /// Keys (paths, `*` for a map's members or a list's items) Docker leaves out when they are
    /// empty or unset (Go's `omitempty`): they may be missing.
    omitted: &'a [&'a str],
    /// Keys this version has that the latest does not (the version history): they must be there.
    legacy: Vec<&'a str>,
    /// Keys the latest has that this version does not yet: they must not be there.
    newer: Vec<&'a str>,
}

fn matches(pattern: &str, path: &str) -> bool {
    let (p, k): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == k.len() && p.iter().zip(&k).all(|(a, b)| a == b || *a == "*")
}

/// Compares `v` with `schema`, all the way down; what differs goes to `problems`.
fn check(
    spec: &Value,
    schema: &Value,
    v: &Value,
    path: &str,
    rules: &Rules,
    problems: &mut Vec<String>,
) {
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for item in list {
            check(spec, items, item, &format!("{path}/*"), rules, problems);
        }
        return;
    }
    if let (Some(each), Some(members)) = (schema.get("additionalProperties"), v.as_object()) {
        if properties(spec, schema).is_empty() {
            for m in members.values() {
                check(spec, each, m, &format!("{path}/*"), rules, problems);
            }
            return;
        }
    }
    let props = properties(spec, schema);
    let Some(obj) = v.as_object() else { return };
    if props.is_empty() {
        return;
    }
    let sub = |k: &str| format!("{path}/{k}");
    for k in obj.keys() {
        let known = props.contains_key(k)
            || k == "Ctrace"
            || rules.legacy.iter().any(|l| matches(l, &sub(k)));
        if !known {
            problems.push(format!("{} is not in the Engine API", sub(k)));
        }
        if rules.newer.iter().any(|n| matches(n, &sub(k))) {
            problems.push(format!("{} is newer than this API version", sub(k)));
        }
    }
    for k in props.keys() {
        let optional = rules.omitted.iter().any(|o| matches(o, &sub(k)))
            || rules.newer.iter().any(|n| matches(n, &sub(k)));
        if !obj.contains_key(k) && !optional {
            problems.push(format!("{} is missing", sub(k)));
        }
    }
    for l in &rules.legacy {
        let (parent, key) = l.rsplit_once('/').unwrap_or(("", l));
        if matches(parent, path) && !obj.contains_key(key) {
            problems.push(format!("{} is missing (this API version has it)", sub(key)));
        }
    }
    for (k, s) in &props {
        if let Some(child) = obj.get(k) {
            check(spec, s, child, &sub(k), rules, problems);
        }
    }
}

// --- the version history, for the answers replayed ---------------------------------------------

/// (key, the version that removed it): older versions still have it.
const REMOVED: &[(&str, &str)] = &[
    ("/ContainerInspectResponse/NetworkSettings/Bridge", "1.52"),
    (
        "/ContainerInspectResponse/NetworkSettings/HairpinMode",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/LinkLocalIPv6Address",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/LinkLocalIPv6PrefixLen",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/SecondaryIPAddresses",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/SecondaryIPv6Addresses",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/EndpointID",
        "1.52",
    ),
    ("/ContainerInspectResponse/NetworkSettings/Gateway", "1.52"),
    (
        "/ContainerInspectResponse/NetworkSettings/GlobalIPv6Address",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/GlobalIPv6PrefixLen",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/IPAddress",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/IPPrefixLen",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/IPv6Gateway",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/MacAddress",
        "1.52",
    ),
    (
        "/ContainerInspectResponse/HostConfig/KernelMemoryTCP",
        "1.42",
    ),
    ("/ContainerInspectResponse/HostConfig/KernelMemory", "1.42"),
    ("/ImageInspect/VirtualSize", "1.44"),
    ("/ImageSummary/VirtualSize", "1.44"),
    ("/ImageInspect/Parent", "1.52"),
    ("/ImageInspect/DockerVersion", "1.52"),
    ("/ImageInspect/Config/Hostname", "1.50"),
    ("/ImageInspect/Config/Domainname", "1.50"),
    ("/ImageInspect/Config/AttachStdin", "1.50"),
    ("/ImageInspect/Config/AttachStdout", "1.50"),
    ("/ImageInspect/Config/AttachStderr", "1.50"),
    ("/ImageInspect/Config/Tty", "1.50"),
    ("/ImageInspect/Config/OpenStdin", "1.50"),
    ("/ImageInspect/Config/StdinOnce", "1.50"),
    ("/ImageInspect/Config/Image", "1.50"),
];

/// (key, the version that added it): older versions do not have it.
const ADDED: &[(&str, &str)] = &[
    (
        "/ContainerInspectResponse/NetworkSettings/Networks/*/DNSNames",
        "1.44",
    ),
    (
        "/ContainerInspectResponse/NetworkSettings/Networks/*/GwPriority",
        "1.48",
    ),
    (
        "/ContainerSummary/NetworkSettings/Networks/*/GwPriority",
        "1.48",
    ),
    (
        "/ContainerSummary/NetworkSettings/Networks/*/DNSNames",
        "1.44",
    ),
    ("/ContainerSummary/Health", "1.52"),
];

/// Keys Docker leaves out when empty or unset.
const OMITTED: &[&str] = &[
    "/ContainerInspectResponse/ImageManifestDescriptor",
    "/ContainerInspectResponse/Storage",
    "/ContainerInspectResponse/SizeRw",
    "/ContainerInspectResponse/SizeRootFs",
    "/ContainerInspectResponse/State/Health",
    "/ContainerInspectResponse/HostConfig/Annotations",
    "/ContainerInspectResponse/HostConfig/StorageOpt",
    "/ContainerInspectResponse/HostConfig/Sysctls",
    "/ContainerInspectResponse/HostConfig/Umask",
    "/ContainerInspectResponse/Config/ExposedPorts",
    "/ContainerInspectResponse/Config/Healthcheck",
    "/ContainerInspectResponse/Config/ArgsEscaped",
    "/ContainerInspectResponse/Config/NetworkDisabled",
    "/ContainerInspectResponse/Config/StopSignal",
    "/ContainerInspectResponse/Config/Shell",
    "/ContainerInspectResponse/Config/OnBuild",
    "/ContainerSummary/*/ImageManifestDescriptor",
    "/ContainerSummary/*/SizeRw",
    "/ContainerSummary/*/SizeRootFs",
    "/ContainerSummary/*/HostConfig/Annotations",
    "/ContainerSummary/*/Ports/*/IP",
    "/ContainerSummary/*/Ports/*/PublicPort",
    "/ImageInspect/Descriptor",
    "/ImageInspect/Manifests",
    "/ImageInspect/Identity",
    "/ImageInspect/Variant",
    "/ImageInspect/OsVersion",
    "/ImageInspect/Comment",
    "/ImageInspect/Author",
    "/ImageInspect/Created",
    "/ImageInspect/Config/*",
    "/ImageSummary/*/Manifests",
    "/ImageSummary/*/Descriptor",
    "/SystemVersion/Experimental",
    "/ContainerWaitResponse/Error",
];

fn version(s: &str) -> (u32, u32) {
    let (a, b) = s.split_once('.').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// The rules for answers of definition `def` at version `v`. A list answer's rows are under
/// `/def/*`.
fn rules(def: &str, v: &str, list: bool) -> Rules<'static> {
    let at = |key: &'static str| -> Option<&'static str> {
        let rest = key.strip_prefix('/')?.strip_prefix(def)?;
        if !rest.starts_with('/') {
            return None;
        }
        let prefix = if list { "/*" } else { "" };
        Some(Box::leak(format!("/{def}{prefix}{rest}").into_boxed_str()))
    };
    Rules {
        omitted: OMITTED,
        legacy: REMOVED
            .iter()
            .filter(|(_, until)| version(v) < version(until))
            .filter_map(|(k, _)| at(k))
            .collect(),
        newer: ADDED
            .iter()
            .filter(|(_, since)| version(v) < version(since))
            .filter_map(|(k, _)| at(k))
            .collect(),
    }
}

// --- the replay ---------------------------------------------------------------------------------

/// One request and what Docker documents for its answer.
struct Case {
    method: &'static str,
    /// `{name}` stands for the test's container.
    path: &'static str,
    body: Option<&'static str>,
    status: u16,
    content_type: Option<&'static str>,
    /// The definition of the body; a list of them when `list`.
    def: Option<&'static str>,
    list: bool,
}

const fn case(method: &'static str, path: &'static str, status: u16) -> Case {
    Case {
        method,
        path,
        body: None,
        status,
        content_type: None,
        def: None,
        list: false,
    }
}

const JSON: Option<&str> = Some("application/json");

fn cases() -> Vec<Case> {
    let error = |method, path, status| Case {
        content_type: JSON,
        def: Some("ErrorResponse"),
        ..case(method, path, status)
    };
    let answer = |method, path, status, def| Case {
        content_type: JSON,
        def: Some(def),
        ..case(method, path, status)
    };
    let create = r#"{"Image":"busybox","Cmd":["sleep","1000"],"Labels":{"suite":"conformance"}}"#;
    vec![
        Case {
            content_type: Some("text/plain; charset=utf-8"),
            ..case("GET", "/_ping", 200)
        },
        answer("GET", "/version", 200, "SystemVersion"),
        Case {
            body: Some(create),
            ..answer(
                "POST",
                "/containers/create?name={name}",
                201,
                "ContainerCreateResponse",
            )
        },
        Case {
            body: Some(create),
            ..error("POST", "/containers/create?name={name}", 409)
        },
        Case {
            body: Some(r#"{"Image":"127.0.0.1:1/ctrace-conformance/absent"}"#),
            ..error("POST", "/containers/create", 404)
        },
        Case {
            body: Some("{not json"),
            ..error("POST", "/containers/create", 400)
        },
        answer(
            "GET",
            "/containers/{name}/json",
            200,
            "ContainerInspectResponse",
        ),
        case("POST", "/containers/{name}/start", 204),
        case("POST", "/containers/{name}/start", 304),
        answer(
            "GET",
            "/containers/{name}/json",
            200,
            "ContainerInspectResponse",
        ),
        Case {
            list: true,
            ..answer("GET", "/containers/json?all=1", 200, "ContainerSummary")
        },
        error("DELETE", "/containers/{name}", 409),
        error("POST", "/containers/{name}/kill?signal=NOSUCH", 400),
        case("POST", "/containers/{name}/kill", 204),
        answer(
            "POST",
            "/containers/{name}/wait",
            200,
            "ContainerWaitResponse",
        ),
        case("POST", "/containers/{name}/stop", 304),
        Case {
            list: true,
            ..answer("GET", "/images/json", 200, "ImageSummary")
        },
        answer("GET", "/images/busybox/json", 200, "ImageInspect"),
        error("GET", "/images/ctrace-conformance-absent/json", 404),
        error("GET", "/containers/ctrace-conformance-absent/json", 404),
        case("DELETE", "/containers/{name}", 204),
        error("DELETE", "/containers/{name}", 404),
        error("GET", "/swarm", 503),
        error("GET", "/services", 503),
        Case {
            content_type: JSON,
            ..case("GET", "/plugins", 200)
        },
        error("GET", "/no/such/endpoint", 404),
    ]
}

/// Replays the table at `v`; every difference from Docker's documented answer.
fn replay(d: &Daemon, spec: &Value, v: &str, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for c in cases() {
        let path = format!("/v{v}{}", c.path.replace("{name}", name));
        let a = d.request(c.method, &path, c.body);
        let what = format!("v{v} {} {}", c.method, c.path);
        if a.status != c.status {
            problems.push(format!(
                "{what}: status {} (want {}): {}",
                a.status, c.status, a.body
            ));
            continue;
        }
        for (k, want) in [("api-version", LATEST), ("ostype", "linux")] {
            if a.header(k) != Some(want) {
                problems.push(format!("{what}: header {k} is {:?}", a.header(k)));
            }
        }
        if let Some(ct) = c.content_type {
            if a.header("content-type") != Some(ct) {
                problems.push(format!(
                    "{what}: content-type {:?}",
                    a.header("content-type")
                ));
            }
        }
        let Some(def) = c.def else { continue };
        let body = a.json();
        let schema = serde_json::json!({ "$ref": format!("#/definitions/{def}") });
        let r = rules(def, v, c.list);
        let mut found = Vec::new();
        if c.list {
            for row in body.as_array().into_iter().flatten() {
                check(spec, &schema, row, &format!("/{def}/*"), &r, &mut found);
            }
        } else {
            check(spec, &schema, &body, &format!("/{def}"), &r, &mut found);
        }
        found.sort();
        found.dedup();
        problems.extend(found.into_iter().map(|p| format!("{what}: {p}")));
    }
    problems
}

#[test]
fn the_swagger_excerpt_reads_as_dockers_definitions() {
    let spec = yaml(SWAGGER);
    assert_eq!(spec["info"]["version"], LATEST);
    let hc = properties(&spec, &spec["definitions"]["HostConfig"]);
    for key in [
        "LogConfig",
        "CpuShares",
        "Init",
        "PidsLimit",
        "Umask",
        "MaskedPaths",
    ] {
        assert!(hc.contains_key(key), "HostConfig lacks {key}");
    }
    assert_eq!(
        spec["definitions"]["ImageSummary"]["required"][8],
        "Containers"
    );
    let ep = properties(&spec, &spec["definitions"]["EndpointSettings"]);
    assert!(ep.contains_key("DriverOpts") && ep.contains_key("IPAMConfig"));
}

#[test]
fn the_daemon_answers_as_the_engine_api_documents_at_1_41_1_44_and_the_latest() {
    let env = Env::new("conformance");
    let d = Daemon::start(&env);
    let spec = yaml(SWAGGER);
    let mut problems: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for v in ["1.41", "1.44", LATEST] {
        let name = env.name(&format!("conf{}", v.replace('.', "")));
        problems.insert(v, replay(&d, &spec, v, &name));
    }
    let all: Vec<&String> = problems.values().flatten().collect();
    assert!(
        all.is_empty(),
        "{} differences from the Engine API:\n{}",
        all.len(),
        all.iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
