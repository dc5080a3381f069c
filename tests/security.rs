//! Confinement as a user checks it from inside real containers: the default seccomp filter,
//! `--security-opt`, and that asking for a setting ctrace cannot honour is refused, never
//! dropped.

mod common;

use common::{span_names, Env};

/// What `unshare -Urm` + `mount` in a fresh user namespace answers (the repro of issue 15).
const USERNS_MOUNT: &str =
    "mkdir -p /mnt; unshare -Urm sh -c 'mount -t tmpfs x /mnt && echo mounted'";

#[test]
fn a_default_container_runs_under_dockers_seccomp_filter() {
    let env = Env::new("seccomp_default");
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(
        r.ok().stdout.split_whitespace().nth(1),
        Some("2"),
        "{}",
        r.stdout
    );

    let r = env.run(&["run", "--rm", "busybox", "sh", "-c", USERNS_MOUNT]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!r.stdout.contains("mounted"), "{}", r.stdout);
    assert!(
        r.stderr.contains("Operation not permitted"),
        "not EPERM: {}",
        r.stderr
    );
    let r = env.run(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);

    let names = span_names(&env.last_trace("run"));
    let pos = |n: &str| {
        names
            .iter()
            .position(|s| s == n)
            .unwrap_or_else(|| panic!("no {n} in {names:?}"))
    };
    assert!(pos("init.process") < pos("init.seccomp"), "{names:?}");
}

#[test]
fn explain_tells_how_many_syscalls_the_filter_allows() {
    let env = Env::new("seccomp_explain");
    let r = env.run(&["run", "--rm", "--explain", "busybox", "true"]);
    let line = r
        .ok()
        .stderr
        .lines()
        .find(|l| l.contains("init.seccomp") && l.contains("syscalls allowed"))
        .unwrap_or_else(|| panic!("no init.seccomp line: {}", r.stderr))
        .to_string();
    let n: usize = line
        .split_whitespace()
        .skip_while(|w| *w != "loaded:")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"));
    assert!((250..400).contains(&n), "{line}");
}

#[test]
fn seccomp_unconfined_lets_a_user_namespace_mount() {
    let env = Env::new("seccomp_unconfined");
    let r = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sh",
        "-c",
        USERNS_MOUNT,
    ]);
    assert_eq!(r.ok().stdout.trim(), "mounted", "{}", r.stderr);
    let r = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(r.ok().stdout.split_whitespace().nth(1), Some("0"));
    assert!(!span_names(&env.last_trace("run")).contains(&"init.seccomp".to_string()));
}

#[test]
fn a_profile_file_in_dockers_format_replaces_the_default() {
    let env = Env::new("seccomp_profile");
    // Everything allowed but mkdir, which fails with EACCES (13).
    let profile = env.dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let r = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/x",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    // Everything else, unshare included, is allowed by that profile.
    env.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "unshare",
        "-U",
        "true",
    ])
    .ok();

    let r = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/no/such.json",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(r.stderr.contains("/no/such.json"), "{}", r.stderr);
    let r = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        "label=disable",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(r.stderr.contains("invalid --security-opt"), "{}", r.stderr);
}

#[test]
fn an_exec_and_runc_get_the_same_filter() {
    let env = Env::new("seccomp_exec_runc");
    let c = env.name("c");
    env.detached(&c, &["sleep", "1000"]);
    let r = env.run(&["exec", &c, "grep", "Seccomp:", "/proc/self/status"]);
    assert_eq!(r.ok().stdout.split_whitespace().nth(1), Some("2"));
    let r = env.run(&["exec", &c, "unshare", "-U", "true"]);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);

    let r = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(r.ok().stdout.split_whitespace().nth(1), Some("2"));
}
