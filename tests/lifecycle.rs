//! The container lifecycle after start: stop, as a user runs it on real containers.

mod common;

use std::time::{Duration, Instant};

use common::Env;

fn state(env: &Env, name: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&env.run(&["inspect", name]).ok().stdout).unwrap();
    v[0]["State"].clone()
}

fn events(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.root.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn stop_kills_after_the_timeout_when_sigterm_is_ignored() {
    let env = Env::new("stop_timeout");
    let web = env.name("web");
    env.run(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"])
        .ok();
    let pid = state(&env, &web)["Pid"].as_i64().unwrap();

    let t0 = Instant::now();
    assert_eq!(
        env.run(&["stop", "-t", "1", &web]).ok().stdout,
        format!("{web}\n")
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let st = state(&env, &web);
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 137, "{st}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

    let ev = events(&env);
    let pos = |a: &str| {
        ev.iter()
            .position(|l| l.contains(&format!("\"{a}\"")))
            .unwrap_or_else(|| panic!("no {a} event in {ev:?}"))
    };
    assert!(pos("kill") < pos("stop"), "{ev:?}");
    assert!(pos("die") < pos("stop"), "{ev:?}");

    let trace = env
        .traces()
        .into_iter()
        .find(|t| t["operation"] == "stop")
        .expect("a stop trace");
    let names: Vec<&str> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for p in [
        "stop",
        "stop.lookup",
        "stop.signal",
        "stop.wait",
        "stop.kill",
    ] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }

    // Stopping an exited container is fine and changes nothing, as in docker.
    env.run(&["stop", &web]).ok();
    assert_eq!(state(&env, &web)["ExitCode"], 137);
    env.run(&["rm", &web]).ok();
}

#[test]
fn stop_lets_a_container_exit_cleanly_on_sigterm() {
    let env = Env::new("stop_term");
    let web = env.name("web");
    env.run(&[
        "run",
        "-d",
        "--name",
        &web,
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    env.run(&["stop", &web]).ok();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let st = state(&env, &web);
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 0, "{st}");
    env.run(&["rm", &web]).ok();
}

#[test]
fn stop_of_an_unknown_container_fails_with_one_line() {
    let env = Env::new("stop_unknown");
    let r = env.run(&["stop", &env.name("nope")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no such container"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn kill_sends_the_signal_and_refuses_a_stopped_container() {
    let env = Env::new("kill");
    let web = env.name("web");
    env.run(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"])
        .ok();
    // sleep as pid 1 has no handler for SIGTERM: the signal is delivered and ignored.
    env.run(&["kill", "-s", "TERM", &web]).ok();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(state(&env, &web)["Status"], "running");

    assert_eq!(env.run(&["kill", &web]).ok().stdout, format!("{web}\n"));
    let t0 = Instant::now();
    while state(&env, &web)["Status"] != "exited" {
        assert!(t0.elapsed() < Duration::from_secs(5), "still not exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(state(&env, &web)["ExitCode"], 137);
    assert!(events(&env)
        .iter()
        .any(|l| l.contains("\"kill\"") && l.contains("\"9\"")));

    let r = env.run(&["kill", &web]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    let r = env.run(&["kill", "-s", "NOPE", &web]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("invalid signal"), "{}", r.stderr);
    env.run(&["rm", &web]).ok();
}

#[test]
fn wait_blocks_until_the_exit_and_prints_the_code() {
    let env = Env::new("wait");
    let web = env.name("web");
    env.run(&[
        "run",
        "-d",
        "--name",
        &web,
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ])
    .ok();
    let t0 = Instant::now();
    assert_eq!(env.run(&["wait", &web]).ok().stdout, "3\n");
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(env.run(&["wait", &web]).ok().stdout, "3\n");
    let r = env.run(&["wait", &env.name("nope")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no such container"), "{}", r.stderr);
    env.run(&["rm", &web]).ok();
}
