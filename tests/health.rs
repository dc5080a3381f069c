//! Health checks: starting → healthy once the probe passes, unhealthy after the retries, the
//! timeout, what inspect/ps/events show, --no-healthcheck and bad flags.

mod common;

use common::Env;

/// Waits until the container's health status is `want` (probes run every 100 ms here).
fn wait_for(env: &Env, name: &str, want: &str) -> serde_json::Value {
    env.until(name, |v| v["State"]["Health"]["Status"] == want)["State"]["Health"].clone()
}

#[test]
fn starting_then_healthy_once_the_probe_passes() {
    let env = Env::new("health_ok");
    let name = env.name("web");
    env.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "test -f /tmp/ok && echo fine",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1000",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Failing probes before the file exists leave it starting (1000 retries).
    assert_eq!(env.health(&name)["Status"], "starting");
    let ps = env.run(&["ps"]);
    assert!(
        ps.ok().stdout.contains("(health: starting)"),
        "{}",
        ps.stdout
    );

    env.run(&["exec", &name, "touch", "/tmp/ok"]).ok();
    let h = wait_for(&env, &name, "healthy");
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{log:?}");
    let last = log.last().unwrap();
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());
    let ps = env.run(&["ps"]);
    assert!(ps.ok().stdout.contains("(healthy)"), "{}", ps.stdout);
    assert!(env.actions().iter().any(|e| e == "health_status: healthy"));
    // The trace of the start says a monitor started.
    let note = env.last_trace("run")["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "start.health")
        .map(|s| s["attrs"].to_string())
        .unwrap();
    assert!(note.contains("health monitor"), "{note}");
}

#[test]
fn unhealthy_after_the_retries_and_on_timeout() {
    let env = Env::new("health_bad");
    let failing = env.name("failing");
    env.run(&[
        "run",
        "-d",
        "--name",
        &failing,
        "--health-cmd",
        "echo broken; exit 1",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let h = wait_for(&env, &failing, "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    assert_eq!(
        h["Log"].as_array().unwrap().last().unwrap()["Output"],
        "broken\n"
    );
    let ps = env.run(&["ps"]);
    assert!(ps.ok().stdout.contains("(unhealthy)"), "{}", ps.stdout);
    assert!(env
        .actions()
        .iter()
        .any(|e| e == "health_status: unhealthy"));

    let slow = env.name("slow");
    env.run(&[
        "run",
        "-d",
        "--name",
        &slow,
        "--health-cmd",
        "sleep 100",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let h = wait_for(&env, &slow, "unhealthy");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], -1);
    assert!(
        last["Output"]
            .as_str()
            .unwrap()
            .contains("exceeded timeout"),
        "{last}"
    );
    // The killed probe left nothing running in the container.
    let ps = env.run(&["exec", &slow, "ps", "-o", "args"]);
    assert!(
        !ps.ok().stdout.lines().any(|l| l.trim() == "sleep 100"),
        "{}",
        ps.stdout
    );
}

#[test]
fn no_healthcheck_and_bad_flags() {
    let env = Env::new("health_flags");
    let name = env.name("plain");
    env.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "--no-healthcheck",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    assert!(env.health(&name).is_null());
    let ps = env.run(&["ps"]);
    assert!(!ps.ok().stdout.contains("(health"), "{}", ps.stdout);

    let r = env.run(&[
        "run",
        "-d",
        "--health-interval",
        "often",
        "--health-cmd",
        "true",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("--health-interval"), "{}", r.stderr);
    let r = env.run(&[
        "run",
        "-d",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert_eq!(env.ids().len(), 1, "bad flags create nothing");
}
