//! `ctrace daemon`'s volume endpoints and `top` as Docker's clients see them: raw requests for
//! every endpoint and its errors (moby's shapes, status codes and words), then the stock docker
//! CLI's `volume` commands and `docker top`. Each test runs its own daemon on its own socket
//! and root.

mod common;

use common::daemon::Daemon;
use common::Env;
use serde_json::Value;

/// moby's `volume.Volume`, every key.
const VOLUME_KEYS: [&str; 8] = [
    "CreatedAt",
    "Driver",
    "Labels",
    "Mountpoint",
    "Name",
    "Options",
    "Scope",
    "UsageData",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The names `GET /volumes` lists with `filters` (docker's JSON form, already URL-encoded).
fn listed(d: &Daemon, filters: &str) -> Vec<String> {
    let path = if filters.is_empty() {
        "/volumes".to_string()
    } else {
        format!("/volumes?filters={filters}")
    };
    let a = d.request("GET", &path, None);
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    let mut names: Vec<String> = a.json()["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn volumes_are_created_inspected_listed_and_removed_in_mobys_shapes() {
    let env = Env::new("volapi_crud");
    let d = Daemon::start(&env);
    let a = d.request(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"data","Driver":"local","DriverOpts":null,"Labels":{"class":"a"}}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let v = a.json();
    assert_eq!(keys(&v), VOLUME_KEYS);
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["class"], "a");
    assert_eq!(v["Options"], serde_json::json!({}));
    assert!(v["UsageData"].is_null());
    let mountpoint = v["Mountpoint"].as_str().unwrap();
    assert!(mountpoint.starts_with(&*env.root.to_string_lossy()), "{v}");
    assert!(std::path::Path::new(mountpoint).is_dir());

    // Docker's create is idempotent: the same volume again, not a conflict.
    let again = d.request("POST", "/volumes/create", Some(r#"{"Name":"data"}"#));
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["CreatedAt"], v["CreatedAt"]);
    // No name: a new volume named as docker names them (64 hex digits).
    let unnamed = d.request("POST", "/volumes/create", Some("{}"));
    assert_eq!(unnamed.status, 201, "{}", unnamed.body);
    let generated = unnamed.json()["Name"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 64);
    let other = d.request("POST", "/volumes/create", Some(r#"{"Name":"other"}"#));
    assert_eq!(other.status, 201, "{}", other.body);

    let inspect = d.request("GET", "/volumes/data", None);
    assert_eq!(inspect.status, 200, "{}", inspect.body);
    assert_eq!(inspect.json(), v);

    let list = d.request("GET", "/volumes", None);
    assert_eq!(list.status, 200);
    let body = list.json();
    assert_eq!(keys(&body), ["Volumes", "Warnings"]);
    assert_eq!(body["Warnings"], serde_json::json!([]));
    for row in body["Volumes"].as_array().unwrap() {
        assert_eq!(keys(row), VOLUME_KEYS);
    }
    let mut all = vec![generated.clone(), "data".into(), "other".into()];
    all.sort();
    assert_eq!(listed(&d, ""), all);
    assert_eq!(listed(&d, "%7B%22name%22%3A%5B%22dat%22%5D%7D"), ["data"]);
    assert_eq!(
        listed(&d, "%7B%22label%22%3A%5B%22class%3Da%22%5D%7D"),
        ["data"]
    );
    assert_eq!(
        listed(&d, "%7B%22label%22%3A%5B%22class%22%5D%7D"),
        ["data"]
    );
    assert_eq!(listed(&d, "%7B%22driver%22%3A%5B%22local%22%5D%7D"), all);
    assert_eq!(listed(&d, "%7B%22dangling%22%3A%5B%22true%22%5D%7D"), all);
    assert!(listed(&d, "%7B%22dangling%22%3A%5B%22false%22%5D%7D").is_empty());
    // Two values of one key OR.
    assert_eq!(
        listed(&d, "%7B%22name%22%3A%5B%22data%22%2C%22other%22%5D%7D"),
        ["data", "other"]
    );

    for name in ["data", "other", generated.as_str()] {
        let rm = d.request("DELETE", &format!("/volumes/{name}"), None);
        assert_eq!(rm.status, 204, "{name}: {}", rm.body);
    }
    assert!(listed(&d, "").is_empty());
    assert!(!std::path::Path::new(mountpoint).exists());
}

#[test]
fn volume_errors_answer_with_mobys_status_codes_and_words() {
    let env = Env::new("volapi_errors");
    let d = Daemon::start(&env);
    let missing = d.request("GET", "/volumes/nosuch", None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "get nosuch: no such volume");
    let rm_missing = d.request("DELETE", "/volumes/nosuch", None);
    assert_eq!(rm_missing.status, 404);
    assert_eq!(rm_missing.json()["message"], "get nosuch: no such volume");
    let forced = d.request("DELETE", "/volumes/nosuch?force=1", None);
    assert_eq!(forced.status, 204, "{}", forced.body);

    let driver = d.request(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"xy","Driver":"nfs"}"#),
    );
    assert_eq!(driver.status, 400, "{}", driver.body);
    assert!(driver.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("create xy: error looking up volume plugin nfs: plugin \"nfs\" not found"));
    let name = d.request("POST", "/volumes/create", Some(r#"{"Name":"a b"}"#));
    assert_eq!(name.status, 400);
    assert!(name.json()["message"]
        .as_str()
        .unwrap()
        .contains("includes invalid characters for a local volume name"));
    let opts = d.request(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"xy","DriverOpts":{"size":"1G"}}"#),
    );
    assert_eq!(opts.status, 400, "{}", opts.body);
    let body = d.request("POST", "/volumes/create", Some("{not json"));
    assert_eq!(body.status, 400, "{}", body.body);

    let filter = d.request(
        "GET",
        "/volumes?filters=%7B%22color%22%3A%5B%22red%22%5D%7D",
        None,
    );
    assert_eq!(filter.status, 400);
    assert_eq!(
        filter.json()["message"],
        "invalid filter 'color': use dangling, name, driver, label"
    );
    let dangling = d.request(
        "GET",
        "/volumes?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
        None,
    );
    assert_eq!(dangling.status, 400, "{}", dangling.body);
    let prune = d.request(
        "POST",
        "/volumes/prune?filters=%7B%22name%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(prune.status, 400);
    assert_eq!(
        prune.json()["message"],
        "invalid filter 'name': use all, label, label!"
    );
    assert!(listed(&d, "").is_empty());
}

#[test]
fn a_volume_in_use_is_refused_with_409_and_prune_removes_only_unused_matching_ones() {
    let env = Env::new("volapi_prune");
    let d = Daemon::start(&env);
    let name = env.name("user");
    for body in [
        r#"{"Name":"used"}"#,
        r#"{"Name":"kept","Labels":{"keep":"1"}}"#,
        r#"{"Name":"spare","Labels":{"class":"a"}}"#,
    ] {
        let a = d.request("POST", "/volumes/create", Some(body));
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let created = d.request(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Binds":["used:/data"],"NetworkMode":"none"}}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["Id"].as_str().unwrap().to_string();

    let rm = d.request("DELETE", "/volumes/used", None);
    assert_eq!(rm.status, 409);
    assert_eq!(
        rm.json()["message"],
        format!("remove used: volume is in use - [{id}]")
    );
    let dangling = listed(&d, "%7B%22dangling%22%3A%5B%221%22%5D%7D");
    assert_eq!(dangling, ["kept", "spare"]);

    // Without `all`, only anonymous volumes go, and these are named.
    let none = d.request("POST", "/volumes/prune", None);
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(
        none.json(),
        serde_json::json!({ "VolumesDeleted": [], "SpaceReclaimed": 0 })
    );
    std::fs::write(env.root.join("volumes/spare/_data/file"), b"12345").unwrap();
    // all=true, but not those labelled keep.
    let some = d.request(
        "POST",
        "/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%2C%22label%21%22%3A%5B%22keep%22%5D%7D",
        None,
    );
    assert_eq!(some.status, 200, "{}", some.body);
    let report = some.json();
    assert_eq!(report["VolumesDeleted"], serde_json::json!(["spare"]));
    assert!(report["SpaceReclaimed"].as_u64().unwrap() >= 5, "{report}");
    assert_eq!(listed(&d, ""), ["kept", "used"]);

    // Before API 1.42 a prune takes named volumes too.
    let old = d.request(
        "POST",
        "/v1.41/volumes/prune?filters=%7B%22label%22%3A%5B%22keep%22%5D%7D",
        None,
    );
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.json()["VolumesDeleted"], serde_json::json!(["kept"]));
    let again = d.request("POST", "/volumes/create", Some(r#"{"Name":"kept"}"#));
    assert_eq!(again.status, 201, "{}", again.body);

    let rm_ctr = d.request("DELETE", &format!("/containers/{id}"), None);
    assert_eq!(rm_ctr.status, 204, "{}", rm_ctr.body);
    let all = d.request(
        "POST",
        "/volumes/prune?filters=%7B%22all%22%3A%7B%221%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(
        all.json()["VolumesDeleted"],
        serde_json::json!(["kept", "used"])
    );
    assert!(listed(&d, "").is_empty());
}

#[test]
fn top_lists_the_containers_processes_and_refuses_a_stopped_one_with_409() {
    let env = Env::new("volapi_top");
    let d = Daemon::start(&env);
    let name = env.name("top");
    d.docker(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            "busybox",
            "sleep",
            "1000",
        ],
        &[],
    )
    .ok();
    let a = d.request("GET", &format!("/containers/{name}/top"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(keys(&v), ["Processes", "Titles"]);
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows = v["Processes"].as_array().unwrap();
    let cmds: Vec<&str> = rows.iter().map(|r| r[7].as_str().unwrap()).collect();
    assert!(cmds.contains(&"sleep 1000"), "{v}");
    // Nothing of the host: every row is the container's.
    assert!(cmds.iter().all(|c| !c.contains("ctrace daemon")), "{v}");
    assert!(rows
        .iter()
        .all(|r| r.as_array().unwrap().len() == titles.len()));

    let custom = d.request(
        "GET",
        &format!("/containers/{name}/top?ps_args=-o%20pid,comm"),
        None,
    );
    assert_eq!(custom.status, 200, "{}", custom.body);
    let v = custom.json();
    assert_eq!(v["Titles"], serde_json::json!(["PID", "COMMAND"]));
    assert!(
        v["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[1] == "sleep"),
        "{v}"
    );

    let bad = d.request(
        "GET",
        &format!("/containers/{name}/top?ps_args=--no-such-flag"),
        None,
    );
    assert_eq!(bad.status, 500);
    assert!(bad.json()["message"].as_str().unwrap().starts_with("ps: "));

    d.docker(&["stop", "-t", "0", &name], &[]).ok();
    let inspected = d.docker(&["inspect", "-f", "{{.Id}}", &name], &[]);
    let id = inspected.ok().stdout.trim();
    let stopped = d.request("GET", &format!("/containers/{name}/top"), None);
    assert_eq!(stopped.status, 409);
    assert_eq!(
        stopped.json()["message"],
        format!("container {id} is not running")
    );
    let missing = d.request("GET", "/containers/nosuch/top", None);
    assert_eq!(missing.status, 404);
}

#[test]
fn the_docker_cli_manages_volumes_and_runs_top_against_the_daemon() {
    let env = Env::new("volapi_cli");
    let d = Daemon::start(&env);
    let out = |args: &[&str]| d.docker(args, &[]).ok().stdout.trim_end().to_string();
    assert_eq!(
        out(&["volume", "create", "--label", "class=a", "data"]),
        "data"
    );
    assert_eq!(out(&["volume", "create", "other"]), "other");
    assert_eq!(out(&["volume", "ls", "-q"]), "data\nother");
    assert_eq!(out(&["volume", "ls", "-q", "-f", "label=class=a"]), "data");
    let ls = out(&["volume", "ls"]);
    assert!(ls.starts_with("DRIVER"), "{ls}");
    assert!(ls.contains("local     data"), "{ls}");
    let inspect: Value = serde_json::from_str(&out(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(inspect[0]["Name"], "data");
    assert_eq!(inspect[0]["Labels"]["class"], "a");
    assert_eq!(
        out(&["volume", "inspect", "-f", "{{.Driver}} {{.Scope}}", "data"]),
        "local local"
    );
    let missing = d.docker(&["volume", "inspect", "nosuch"], &[]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no such volume"),
        "{}",
        missing.stderr
    );

    let name = env.name("cli");
    d.docker(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            "-v",
            "data:/data",
            "busybox",
            "sleep",
            "1000",
        ],
        &[],
    )
    .ok();
    let top = out(&["top", &name]);
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    let busy = d.docker(&["volume", "rm", "data"], &[]);
    assert_ne!(busy.code, 0);
    assert!(busy.stderr.contains("volume is in use"), "{}", busy.stderr);

    let pruned = out(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("other"), "{pruned}");
    assert!(!pruned.contains("data"), "{pruned}");
    d.docker(&["rm", "-f", &name], &[]).ok();
    assert_eq!(out(&["volume", "rm", "data"]), "data");
    assert_eq!(out(&["volume", "ls", "-q"]), "");
}
