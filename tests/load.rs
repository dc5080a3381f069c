//! Load: many runs at once, through the daemon's socket and through the CLI, many creates of one
//! name, and a daemon killed in the middle of it all. Each test asserts that nothing was lost
//! (every run's exit code and trace recorded), nothing duplicated (ids, names, the addresses of
//! containers alive at the same time) and nothing leaked once they are removed (mounts, network
//! namespaces, veths, leases, cgroups, processes; the harness checks the bridge and its rules).
//!
//! The tests take turns (one lock): each alone is already more than a 2-core machine runs at
//! once. Bounded: a couple of minutes for the file.
//!
//! Not here: how fast any of it is (`ctrace bench`, `bench/`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::daemon::Daemon;
use common::{cgroups_of, link_gone, mounts_under, processes_with, within, Env, PATIENCE};
use serde_json::Value;

/// One test at a time.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// The busybox image, built once in this test's root before the crowd arrives.
fn with_busybox(env: &Env) {
    env.run(&["run", "--rm", "--network", "none", "busybox", "true"])
        .ok();
}

/// What the traces say about one container: the `exit` span's code, and the address it held
/// from `start.network.attach` to the end of `exit.network` (ns since the epoch).
#[derive(Debug, Default)]
struct Seen {
    exit_code: Option<i64>,
    ip: Option<String>,
    held: (u64, u64),
}

fn seen(env: &Env) -> HashMap<String, Seen> {
    let mut out: HashMap<String, Seen> = HashMap::new();
    for t in env.traces() {
        let owner = t["container"]["id"].as_str().map(str::to_string);
        for s in t["spans"].as_array().into_iter().flatten() {
            let id = s["attrs"]["container.id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| owner.clone());
            let Some(id) = id else { continue };
            let e = out.entry(id).or_default();
            let start = s["start_unix_ns"].as_u64().unwrap_or(0);
            let end = start + s["duration_ns"].as_u64().unwrap_or(0);
            match s["name"].as_str() {
                Some("exit") => e.exit_code = s["attrs"]["exit_code"].as_i64(),
                Some("start.network.attach") => {
                    e.ip = s["attrs"]["ip"].as_str().map(str::to_string);
                    e.held.0 = start;
                }
                Some("exit.network") => e.held.1 = end,
                _ => {}
            }
        }
    }
    out
}

/// Waits until every container in `want` (id → exit code) has its exit recorded in a trace,
/// then checks the codes, that each had an address (bridge mode), and that no two containers
/// held one address at the same time.
#[track_caller]
fn assert_recorded(env: &Env, want: &BTreeMap<String, i64>) {
    assert_recorded_but(env, want, &BTreeSet::new())
}

/// [`assert_recorded`], except that the containers in `start_lost` may have no recorded start:
/// a start in flight when its daemon was SIGKILLed had its spans in that daemon's memory. Their
/// exits (recorded by their shims) are still checked, and any address they are seen with.
#[track_caller]
fn assert_recorded_but(env: &Env, want: &BTreeMap<String, i64>, start_lost: &BTreeSet<String>) {
    let all = within(PATIENCE, || {
        let s = seen(env);
        want.keys()
            .all(|id| s.get(id).is_some_and(|x| x.exit_code.is_some()))
            .then_some(s)
    });
    let all = all.unwrap_or_else(|| {
        let s = seen(env);
        let missing: Vec<&String> = want
            .keys()
            .filter(|id| s.get(*id).is_none_or(|x| x.exit_code.is_none()))
            .collect();
        panic!(
            "no exit in any trace for {} containers: {missing:?}",
            missing.len()
        )
    });
    for (id, code) in want {
        assert_eq!(all[id].exit_code, Some(*code), "exit code of {id}");
    }
    let mut by_ip: BTreeMap<&str, Vec<(u64, u64, &str)>> = BTreeMap::new();
    for id in want.keys() {
        let s = &all[id];
        if s.ip.is_none() && start_lost.contains(id) {
            continue;
        }
        let ip =
            s.ip.as_deref()
                .unwrap_or_else(|| panic!("{id} had no address"));
        let end = if s.held.1 == 0 { u64::MAX } else { s.held.1 };
        by_ip.entry(ip).or_default().push((s.held.0, end, id));
    }
    for (ip, mut spans) in by_ip {
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "{ip} was held by {} and {} at once",
                w[0].2,
                w[1].2
            );
        }
    }
}

/// Nothing of `ids` is left anywhere on the host, and nothing under the test's roots.
#[track_caller]
fn assert_nothing_leaked(env: &Env, ids: &[String]) {
    assert!(env.ids().is_empty(), "containers left: {:?}", env.ids());
    let mounts = mounts_under(&env.dir);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let netns: Vec<_> = std::fs::read_dir(env.exec_root.join("netns"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(netns.is_empty(), "network namespaces left: {netns:?}");
    let leases: Vec<_> =
        std::fs::read_dir(env.root.join("network").join(&env.bridge).join("leases"))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
    assert!(leases.is_empty(), "leases left: {leases:?}");
    for id in ids {
        assert!(
            cgroups_of(id).is_empty(),
            "cgroups left: {:?}",
            cgroups_of(id)
        );
        assert!(link_gone(&format!("ctr{}", &id[..11])), "veth of {id} left");
    }
    let procs: Vec<String> = processes_with(&env.exec_root.to_string_lossy())
        .into_iter()
        .chain(processes_with(&env.root.to_string_lossy()))
        .chain(ids.iter().flat_map(|id| processes_with(&id[..12])))
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
}

/// Create, start, wait and delete one container through the API; its id and exit code.
fn api_run(d: &Daemon, name: &str, code: i64) -> Result<(String, i64), String> {
    let body = format!(r#"{{"Image":"busybox","Cmd":["sh","-c","sleep 1; exit {code}"]}}"#);
    let c = d.request(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body),
    );
    if c.status != 201 {
        return Err(format!("create {name}: {} {}", c.status, c.body));
    }
    let id = c.json()["Id"].as_str().unwrap().to_string();
    let s = d.request("POST", &format!("/containers/{id}/start"), None);
    if s.status != 204 {
        return Err(format!("start {name}: {} {}", s.status, s.body));
    }
    let w = d.request("POST", &format!("/containers/{id}/wait"), None);
    if w.status != 200 {
        return Err(format!("wait {name}: {} {}", w.status, w.body));
    }
    let exit = w.json()["StatusCode"].as_i64().unwrap_or(-1);
    let r = d.request("DELETE", &format!("/containers/{id}"), None);
    if r.status != 204 {
        return Err(format!("delete {name}: {} {}", r.status, r.body));
    }
    Ok((id, exit))
}

#[test]
fn two_hundred_parallel_api_runs_lose_nothing_and_share_nothing() {
    let _turn = turn();
    let env = Env::new("load_api");
    with_busybox(&env);
    let d = Daemon::start(&env);
    let results: Vec<Result<(String, i64), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let (d, name) = (&d, env.name(&format!("api{i}")));
                s.spawn(move || api_run(d, &name, i % 50))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut want = BTreeMap::new();
    for (i, r) in results.into_iter().enumerate() {
        let (id, exit) = r.unwrap_or_else(|e| panic!("run {i}: {e}"));
        assert_eq!(exit, i as i64 % 50, "run {i}'s exit code");
        assert!(
            want.insert(id, i as i64 % 50).is_none(),
            "an id given twice"
        );
    }
    assert_recorded(&env, &want);
    drop(d);
    assert_nothing_leaked(&env, &want.keys().cloned().collect::<Vec<_>>());
}

#[test]
fn fifty_parallel_cli_runs_each_record_their_exit_and_trace() {
    let _turn = turn();
    let env = Env::new("load_cli");
    with_busybox(&env);
    let runs: Vec<common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (env, name) = (&env, env.name(&format!("cli{i}")));
                s.spawn(move || {
                    let script = format!("sleep 1; exit {i}");
                    env.run(&[
                        "run", "--rm", "--name", &name, "busybox", "sh", "-c", &script,
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.code, i as i32, "run {i}: {}", r.stderr);
    }
    // Each run's trace names its container: the ids come from there.
    let mut want = BTreeMap::new();
    for t in env.traces() {
        let name = t["container"]["name"].as_str().unwrap_or("");
        if let Some(i) = (0..50).find(|i| name == env.name(&format!("cli{i}"))) {
            let id = t["container"]["id"].as_str().unwrap().to_string();
            assert!(want.insert(id, i as i64).is_none(), "two traces of {name}");
        }
    }
    assert_eq!(want.len(), 50, "runs with a trace of their own");
    assert_recorded(&env, &want);
    assert_nothing_leaked(&env, &want.keys().cloned().collect::<Vec<_>>());
}

#[test]
fn twenty_parallel_creates_of_one_name_give_one_container() {
    let _turn = turn();
    let env = Env::new("load_names");
    with_busybox(&env);
    let name = env.name("dup");
    let runs: Vec<common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (env, name) = (&env, &name);
                s.spawn(move || env.run(&["create", "--name", name, "busybox", "true"]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = runs.iter().filter(|r| r.code == 0).count();
    assert_eq!(won, 1, "creates that won the name");
    for r in runs.iter().filter(|r| r.code != 0) {
        assert!(r.stderr.contains("is already in use"), "{}", r.stderr);
    }
    assert_eq!(env.ids().len(), 1, "containers");

    // The same through the daemon: one 201, nineteen 409.
    let d = Daemon::start(&env);
    let api = env.name("dup-api");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (d, api) = (&d, &api);
                s.spawn(move || {
                    d.request(
                        "POST",
                        &format!("/containers/create?name={api}"),
                        Some(r#"{"Image":"busybox","Cmd":["true"]}"#),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let ids = env.ids();
    assert_eq!(ids.len(), 2, "containers");
    for id in &ids {
        let r = d.request("DELETE", &format!("/containers/{id}"), None);
        assert_eq!(r.status, 204, "{}", r.body);
    }
    drop(d);
    assert_nothing_leaked(&env, &ids);
}

#[test]
fn a_daemon_killed_mid_way_loses_no_run() {
    let _turn = turn();
    let env = Env::new("load_kill");
    with_busybox(&env);
    let first = Daemon::start(&env);
    let started = AtomicUsize::new(0);
    let created = Mutex::new(BTreeSet::new());
    std::thread::scope(|s| {
        for i in 0..40 {
            let (d, env, started, created) = (&first, &env, &started, &created);
            s.spawn(move || {
                let name = env.name(&format!("k{i}"));
                let body = r#"{"Image":"busybox","Cmd":["sh","-c","sleep 2; exit 3"]}"#;
                let c = d.request(
                    "POST",
                    &format!("/containers/create?name={name}"),
                    Some(body),
                );
                if c.status != 201 {
                    return; // the daemon was gone before it answered
                }
                created
                    .lock()
                    .unwrap()
                    .insert(c.json()["Id"].as_str().unwrap().to_string());
                let id = c.json()["Id"].as_str().unwrap().to_string();
                if d.request("POST", &format!("/containers/{id}/start"), None)
                    .status
                    == 204
                {
                    started.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        // Mid-way: some containers run, others are being created or started.
        let midway = within(PATIENCE, || {
            (started.load(Ordering::SeqCst) >= 10).then_some(())
        });
        assert!(midway.is_some(), "ten starts did not happen");
        first.kill();
    });
    let created = created.into_inner().unwrap();
    let d = Daemon::start(&env);
    // Every container the API said it created is there, once, under its own name.
    let list = d.request("GET", "/containers/json?all=1", None).json();
    let listed: Vec<&Value> = list.as_array().unwrap().iter().collect();
    let ids: BTreeSet<String> = listed
        .iter()
        .map(|c| c["Id"].as_str().unwrap().to_string())
        .collect();
    let names: BTreeSet<&str> = listed
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), listed.len(), "an id listed twice");
    assert_eq!(names.len(), listed.len(), "a name listed twice");
    for id in &created {
        assert!(ids.contains(id), "{id} was created and is gone");
    }
    // Those never started are started now; every one of them ends with its own exit code.
    let mut want = BTreeMap::new();
    // The containers whose first start was under way when the daemon died: running now (the
    // shim outlived the daemon), but the start's spans died with the daemon.
    let mut start_lost = BTreeSet::new();
    for id in &ids {
        let state = d
            .request("GET", &format!("/containers/{id}/json"), None)
            .json();
        if state["State"]["Status"] != "created" {
            start_lost.insert(id.clone());
        }
        if state["State"]["Status"] == "created" {
            let s = d.request("POST", &format!("/containers/{id}/start"), None);
            assert_eq!(s.status, 204, "{}", s.body);
        }
        let w = d.request("POST", &format!("/containers/{id}/wait"), None);
        assert_eq!(w.status, 200, "{}", w.body);
        assert_eq!(w.json()["StatusCode"], 3, "{id}");
        want.insert(id.clone(), 3);
    }
    assert_recorded_but(&env, &want, &start_lost);
    for id in &ids {
        let r = d.request("DELETE", &format!("/containers/{id}"), None);
        assert_eq!(r.status, 204, "{}", r.body);
    }
    drop(d);
    drop(first);
    let ids: Vec<String> = ids.into_iter().collect();
    assert_nothing_leaked(&env, &ids);
}
