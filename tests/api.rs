//! `ctrace daemon` as Docker's clients see it: every API version from 1.24 to the latest, each
//! answer in the shape of the version asked for, dockerd's headers, shapes and status codes.
//! Each test runs its own daemon on its own socket and root.

mod common;

use common::daemon::Daemon;
use common::Env;

const LATEST: &str = "1.56";

#[test]
fn every_api_version_from_1_24_to_the_latest_is_served_and_others_get_dockers_400() {
    let env = Env::new("api_versions");
    let d = Daemon::start(&env);
    for prefix in ["", "/v1.24", "/v1.41", "/v1.44", "/v1.45", "/v1.56"] {
        let a = d.request("GET", &format!("{prefix}/version"), None);
        assert_eq!(a.status, 200, "{prefix}: {}", a.body);
        let v = a.json();
        assert_eq!(v["ApiVersion"], LATEST);
        assert_eq!(v["MinAPIVersion"], "1.24");
        assert_eq!(v["Components"][0]["Details"]["ApiVersion"], LATEST);
        assert_eq!(a.header("api-version"), Some(LATEST), "{prefix}");
        assert_eq!(a.header("ostype"), Some("linux"));
    }
    let old = d.request("GET", "/v1.23/version", None);
    assert_eq!(old.status, 400);
    assert_eq!(
        old.json()["message"],
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    assert_eq!(old.header("api-version"), Some(LATEST));
    let new = d.request("GET", "/v1.57/containers/json", None);
    assert_eq!(new.status, 400);
    assert_eq!(
        new.json()["message"],
        "client version 1.57 is too new. Maximum supported API version is 1.56"
    );

    // The docker CLI negotiates down to its own version; pinned, it is served as pinned.
    let negotiated = d.docker(&["version", "--format", "{{.Client.APIVersion}}"], &[]);
    let pinned = d.docker(
        &[
            "version",
            "--format",
            "{{.Client.APIVersion}} {{.Server.MinAPIVersion}}",
        ],
        &[("DOCKER_API_VERSION", "1.44")],
    );
    assert!(!negotiated.ok().stdout.trim().is_empty());
    assert_eq!(pinned.ok().stdout.trim(), "1.44 1.24");
}

#[test]
fn ping_answers_with_dockerds_headers_to_get_and_head() {
    let env = Env::new("api_ping");
    let d = Daemon::start(&env);
    for (method, body) in [("GET", "OK"), ("HEAD", "")] {
        let a = d.request(method, "/_ping", None);
        assert_eq!((a.status, a.body.as_str()), (200, body), "{method}");
        for (k, v) in [
            ("api-version", LATEST),
            ("ostype", "linux"),
            ("docker-experimental", "false"),
            ("builder-version", "2"),
            ("swarm", "inactive"),
            ("cache-control", "no-cache, no-store, must-revalidate"),
            ("pragma", "no-cache"),
            ("content-type", "text/plain; charset=utf-8"),
        ] {
            assert_eq!(a.header(k), Some(v), "{method} {k}: {:?}", a.headers);
        }
        assert!(a.header("server").is_some());
    }
    let versioned = d.request("HEAD", "/v1.41/_ping", None);
    assert_eq!(versioned.status, 200);
}

#[test]
fn answers_take_the_shape_of_the_version_asked_for() {
    let env = Env::new("api_shapes_by_version");
    let d = Daemon::start(&env);
    let name = env.name("shaped");
    let created = d.request(
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(r#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let old = d
        .request("GET", &format!("/v1.41/containers/{name}/json"), None)
        .json();
    let new = d
        .request("GET", &format!("/v{LATEST}/containers/{name}/json"), None)
        .json();
    // The top-level addresses were removed in 1.52.
    assert!(old["NetworkSettings"].get("IPAddress").is_some(), "{old}");
    assert!(new["NetworkSettings"].get("IPAddress").is_none(), "{new}");
    let info_old = d.request("GET", "/v1.41/info", None).json();
    let info_new = d.request("GET", "/info", None).json();
    assert!(info_old.get("BridgeNfIptables").is_some());
    assert!(info_new.get("BridgeNfIptables").is_none());
    let images_old = d.request("GET", "/v1.43/images/json", None).json();
    let images_new = d.request("GET", "/images/json", None).json();
    assert!(images_old[0].get("VirtualSize").is_some(), "{images_old}");
    assert!(images_new[0].get("VirtualSize").is_none(), "{images_new}");
    let rm = d.request("DELETE", &format!("/containers/{name}?force=1"), None);
    assert_eq!(rm.status, 204, "{}", rm.body);
}
