//! The container lifecycle after start: stop, as a user runs it on real containers.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, span_names, Env, PATIENCE};

#[test]
fn stop_kills_after_the_timeout_when_sigterm_is_ignored() {
    let env = Env::new("stop_timeout");
    let web = env.name("web");
    env.detached(&web, &["sleep", "1000"]);
    let pid = env.state(&web)["Pid"].as_i64().unwrap();

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
    let st = env.state(&web);
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 137, "{st}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

    let ev: Vec<String> = env.events().iter().map(|e| e.to_string()).collect();
    let pos = |a: &str| {
        ev.iter()
            .position(|l| l.contains(&format!("\"{a}\"")))
            .unwrap_or_else(|| panic!("no {a} event in {ev:?}"))
    };
    assert!(pos("kill") < pos("stop"), "{ev:?}");
    assert!(pos("die") < pos("stop"), "{ev:?}");

    let names = span_names(&env.last_trace("stop"));
    for p in [
        "stop",
        "stop.lookup",
        "stop.signal",
        "stop.wait",
        "stop.kill",
    ] {
        assert!(names.iter().any(|n| n == p), "{p} missing from {names:?}");
    }

    // Stopping an exited container is fine and changes nothing, as in docker.
    env.run(&["stop", &web]).ok();
    assert_eq!(env.state(&web)["ExitCode"], 137);
    env.run(&["rm", &web]).ok();
}

#[test]
fn stop_lets_a_container_exit_cleanly_on_sigterm() {
    let env = Env::new("stop_term");
    let web = env.name("web");
    env.detached(
        &web,
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    // Stopped only once the shell has installed its trap (a SIGTERM before it would kill it).
    let pid = env.state(&web)["Pid"].as_i64().unwrap();
    eventually(|| catches(pid, libc::SIGTERM), PATIENCE);
    let t0 = Instant::now();
    env.run(&["stop", &web]).ok();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let st = env.state(&web);
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
    env.detached(&web, &["sleep", "1000"]);
    // sleep as pid 1 has no handler for SIGTERM: the signal is delivered and ignored.
    env.run(&["kill", "-s", "TERM", &web]).ok();
    // The point of this sleep: the container must still be running a while after the signal,
    // which no condition can be polled for.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(env.state(&web)["Status"], "running");

    assert_eq!(env.run(&["kill", &web]).ok().stdout, format!("{web}\n"));
    let st = env.until(&web, |v| v["State"]["Status"] == "exited");
    assert_eq!(st["State"]["ExitCode"], 137);
    assert!(env
        .events()
        .iter()
        .map(|e| e.to_string())
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
    env.detached(&web, &["sh", "-c", "sleep 1; exit 3"]);
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

/// Whether process `pid` has a handler for `signal` (its bit in `SigCgt` of /proc/PID/status).
fn catches(pid: i64, signal: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}
