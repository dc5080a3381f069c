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

#[test]
fn cap_drop_all_leaves_no_capability_and_ulimit_sets_the_open_file_limit() {
    let env = Env::new("caps_ulimit");
    let r = env.run(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--ulimit",
        "nofile=64:64",
        "busybox",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; ulimit -n",
    ]);
    let out = r.ok().stdout.clone();
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert_eq!(out.lines().last(), Some("64"), "{out}");
}

#[test]
fn cap_add_and_cap_drop_change_the_set_and_the_filter_follows() {
    let env = Env::new("caps_tweak");
    let eff = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["busybox", "grep", "CapEff", "/proc/self/status"]);
        let r = env.run(&a);
        let hex = r.ok().stdout.split_whitespace().nth(1).unwrap().to_string();
        u64::from_str_radix(&hex, 16).unwrap()
    };
    assert_eq!(eff(&[]), 0xa804_25fb);
    // CAP_CHOWN is bit 0, CAP_NET_ADMIN bit 12; with or without the CAP_ prefix, any case.
    assert_eq!(
        eff(&["--cap-drop", "chown", "--cap-add", "CAP_NET_ADMIN"]),
        0xa804_35fa
    );
    // With CAP_SYS_ADMIN the profile's rules for it apply: mount is allowed again.
    let r = env.run(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /mnt && mount -t tmpfs x /mnt && echo mounted",
    ]);
    assert_eq!(r.ok().stdout.trim(), "mounted");
    let r = env.run(&["run", "--rm", "--cap-add", "bogus", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains("unknown capability: \"CAP_BOGUS\""),
        "{}",
        r.stderr
    );
}

#[test]
fn cpu_shares_quota_and_period_reach_the_cgroup() {
    let env = Env::new("cpu_settings");
    let c = env.name("c");
    let id = env.out(&[
        "run",
        "-d",
        "--name",
        &c,
        "--cpu-shares",
        "512",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim();
    let read = |name: &str| {
        common::cgroups_of(id)
            .iter()
            .map(|d| d.join(name))
            .find(|f| f.exists())
            .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string())
    };
    match read("cpu.max") {
        // v2: the weight docker derives from 512 shares.
        Some(max) => {
            assert_eq!(max, "50000 100000");
            assert_eq!(read("cpu.weight").as_deref(), Some("20"));
        }
        None => {
            assert_eq!(read("cpu.shares").as_deref(), Some("512"));
            assert_eq!(read("cpu.cfs_quota_us").as_deref(), Some("50000"));
            assert_eq!(read("cpu.cfs_period_us").as_deref(), Some("100000"));
        }
    }
    let r = env.run(&[
        "run",
        "--rm",
        "--cpus",
        "1",
        "--cpu-quota",
        "50000",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("Conflicting options"), "{}", r.stderr);
}

#[test]
fn stop_without_a_timeout_uses_the_containers_stop_timeout() {
    let env = Env::new("stop_timeout_flag");
    let c = env.name("c");
    // pid 1 ignores SIGTERM: the grace runs out and SIGKILL follows.
    env.out(&[
        "run",
        "-d",
        "--name",
        &c,
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let t0 = std::time::Instant::now();
    env.run(&["stop", &c]).ok();
    let took = t0.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(1) && took < std::time::Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(env.state(&c)["ExitCode"], 137);
    let r = env.run(&["create", "--stop-timeout", "-1", "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
}

#[test]
fn settings_ctrace_cannot_honour_are_refused_with_the_reason() {
    let env = Env::new("refused_flags");
    for (flags, want) in [
        (&["--privileged"][..], "--privileged is not supported"),
        (&["--device", "/dev/kvm"][..], "--device is not supported"),
        (&["--pid", "host"][..], "--pid host is not supported"),
        (
            &["--cgroup-parent", "/mine"][..],
            "--cgroup-parent is not supported",
        ),
        (&["--ulimit", "nofile=128:64"][..], "soft limit"),
        (&["--ulimit", "bogus=1"][..], "invalid ulimit type"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let r = env.run(&args);
        assert_eq!(r.code, 125, "{flags:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{flags:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{flags:?}: {}", r.stderr);
    }
    assert!(env.ids().is_empty(), "a refused run left a container");
}

#[test]
fn twenty_parallel_creates_of_one_name_make_exactly_one_container() {
    let env = Env::new("name_race");
    let name = env.name("dup");
    let results: Vec<common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    env.run(&[
                        "create",
                        "--name",
                        &name,
                        "--network",
                        "none",
                        "busybox",
                        "true",
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter(|r| r.code == 0).collect();
    assert_eq!(won.len(), 1, "{} creates succeeded", won.len());
    let id = won[0].stdout.trim();
    for r in results.iter().filter(|r| r.code != 0) {
        assert_eq!(r.code, 125, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{id}\""
            )),
            "{}",
            r.stderr
        );
    }
    assert_eq!(env.ids(), [id.to_string()]);
    // Released by its owner's rm, and only then.
    env.run(&["rm", &name]).ok();
    env.run(&[
        "create",
        "--name",
        &name,
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
}

#[test]
fn a_failed_create_gives_its_name_back() {
    let env = Env::new("name_rollback");
    let name = env.name("web");
    let r = env.run(&[
        "create",
        "--name",
        &name,
        "--fail-at",
        "create.register",
        "busybox",
        "true",
    ]);
    assert_ne!(r.code, 0);
    env.run(&[
        "create",
        "--name",
        &name,
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
}

/// Every entry below `dir`: path, type, mode, link target and content.
fn snapshot(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let what = if md.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if md.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else if md.is_file() {
                format!("file {:?}", std::fs::read(&p).unwrap())
            } else {
                "special".to_string()
            };
            out.push(format!(
                "{} {:o} {what}",
                p.display(),
                md.permissions().mode()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn a_host_directory_bound_on_dev_is_left_as_it_was() {
    let env = Env::new("dev_bind");
    let dir = env.dir.join("hostdev");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("ptmx"), b"not a device").unwrap();
    std::fs::write(dir.join("sub/keep"), b"data").unwrap();
    let before = snapshot(&dir);
    let bind = format!("{}:/dev", dir.display());
    env.run(&["run", "--rm", "-v", &bind, "busybox", "true"])
        .ok();
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn bad_limits_hostnames_names_and_reserved_mounts_are_one_line_at_create_and_tmpfs_dev_works() {
    let env = Env::new("rough-edges");
    let long = format!("--name={}", "a".repeat(300));
    for (flags, want) in [
        (&["-m", "1"][..], "minimum memory limit allowed is 6MB"),
        (&["--cpus=1000000"][..], "range of CPUs is from 0.01"),
        (&["--pids-limit=99999999999999"][..], "invalid pids limit"),
        (
            &["--cpu-quota=999999999999999"][..],
            "can not be larger than",
        ),
        (&["-h", "a\nb"][..], "invalid hostname format"),
        (&[long.as_str()][..], "invalid container name"),
        (
            &["-v", "/tmp:/proc"][..],
            "/proc is reserved for the container's own procfs",
        ),
        (
            &["-v", "/tmp:/sys"][..],
            "/sys is reserved for the container's own sysfs",
        ),
    ] {
        let mut args = vec!["create", "--network", "none"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let r = env.run(&args);
        assert_eq!(r.code, 125, "{flags:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(want), "{flags:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains(env.dir.to_str().unwrap()),
            "{}",
            r.stderr
        );
    }
    assert!(env.ids().is_empty(), "a refused create left a container");

    // A tmpfs on /dev still has usable device nodes.
    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tmpfs",
        "/dev",
        "busybox",
        "sh",
        "-c",
        "echo hi > /dev/null && head -c 4 /dev/zero | wc -c",
    ]);
    assert_eq!(r.ok().stdout.trim(), "4");
}

/// The engine, its shim and the init ignore SIGPIPE (every Rust program does), and `execve`
/// keeps an ignored signal ignored: a container's process must start with none ignored, as
/// docker's do, or `yes | head -1` would leave `yes` writing into a closed pipe.
#[test]
fn a_containers_processes_start_with_no_signal_ignored() {
    let env = Env::new("sig_dispositions");
    let ignored = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no SigIgn in {out}"))
    };
    let none = "0000000000000000";
    let status = ["grep", "SigIgn:", "/proc/self/status"];
    for runtime in ["ctrace", "runc"] {
        let mut a = vec!["run", "--rm", "--runtime", runtime, "busybox"];
        a.extend_from_slice(&status);
        assert_eq!(ignored(&env.run(&a).ok().stdout), none, "{runtime}");
    }
    let c = env.name("c");
    env.detached(&c, &["sleep", "1000"]);
    let mut a = vec!["exec", &c];
    a.extend_from_slice(&status);
    assert_eq!(ignored(&env.run(&a).ok().stdout), none, "exec");
    // And the pipe's writer ends by SIGPIPE, so the pipeline ends.
    let r = env.run(&["exec", &c, "sh", "-c", "yes | head -1; echo done"]);
    assert_eq!(r.ok().stdout, "y\ndone\n");
}
