//! The Docker SDK for Python, with its default settings, runs the README's container scenarios
//! against `ctrace daemon` (tests/sdk/readme.py: run and rm, exit codes, limits, runc, seccomp
//! and capabilities, create/start/stop/kill/wait, pause and restart, restart policies, events,
//! logs, exec, interactive attach with the daemon's detach keys, health, volumes (create, ls,
//! inspect, rm, prune), binds and top, env and inspect, images, published ports, networks) and
//! checks what came of each.

mod common;

use common::daemon::Daemon;
use common::Env;

#[test]
fn the_python_sdk_runs_the_readmes_container_scenarios_through_the_daemon() {
    let env = Env::new("sdk_readme");
    let d = Daemon::start(&env);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/readme.py");
    let scratch = env.dir.join("sdk-scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(d.host())
        .arg(env.name("sdk"))
        .arg(&scratch)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_API_VERSION")
        .output()
        .expect("python3 is not installed: run scripts/deps.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scenarios failed through the Docker SDK for Python (scripts/deps.sh installs it):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every scenario ran and passed (a script that stopped early would not list them all).
    let listed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("scenarios "))
        .and_then(|n| n.parse::<usize>().ok());
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(listed, Some(passed), "{stdout}");
    assert!(passed >= 18, "{stdout}");
}
