//! Confinement through `ctrace daemon` with the stock docker CLI: the seccomp filter,
//! `--cap-drop`, `--ulimit`, and the settings the daemon refuses (400, docker's exit 125) rather
//! than accept and drop.

mod common;

use common::daemon::Daemon;
use common::{Env, Run};

#[test]
fn docker_run_through_the_daemon_is_confined_as_asked() {
    let env = Env::new("daemon_confinement");
    let d = Daemon::start(&env);
    let r = d.docker(
        &[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            "--ulimit",
            "nofile=64:64",
            "busybox",
            "sh",
            "-c",
            "grep -E 'CapEff|Seccomp:' /proc/self/status; ulimit -n",
        ],
        &[],
    );
    let out = r.ok().stdout.clone();
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert_eq!(out.lines().last(), Some("64"), "{out}");

    let r = d.docker(&["run", "--rm", "busybox", "unshare", "-U", "true"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    d.docker(
        &[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "unshare",
            "-U",
            "true",
        ],
        &[],
    )
    .ok();
}

#[test]
fn settings_the_daemon_cannot_honour_get_a_400_and_no_container() {
    let env = Env::new("daemon_refusals");
    let d = Daemon::start(&env);
    for (flags, want) in [
        (
            &["--device", "/dev/null:/dev/x"][..],
            "Devices: --device is not supported",
        ),
        (&["--pid", "host"][..], "PidMode"),
        (&["--cgroup-parent", "mine"][..], "CgroupParent"),
        (&["--sysctl", "net.ipv4.ip_forward=1"][..], "Sysctls"),
        (
            &["--security-opt", "label=disable"][..],
            "invalid --security-opt",
        ),
        (&["--cap-add", "bogus"][..], "unknown capability"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let r = d.docker(&args, &[]);
        assert_eq!(r.code, 125, "{flags:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{flags:?}: {}", r.stderr);
    }
    assert!(env.ids().is_empty(), "a refused create left a container");
}

#[test]
fn twenty_parallel_creates_of_one_name_through_the_daemon_make_one_container() {
    let env = Env::new("daemon_name_race");
    let d = Daemon::start(&env);
    let name = env.name("dup");
    let results: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| d.docker(&["create", "--name", &name, "busybox", "true"], &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter(|r| r.code == 0).collect();
    assert_eq!(won.len(), 1, "{} creates succeeded", won.len());
    for r in results.iter().filter(|r| r.code != 0) {
        assert!(
            r.stderr.contains("Conflict. The container name")
                && r.stderr.contains("is already in use by container"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(env.ids().len(), 1);
}
