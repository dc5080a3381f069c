//! The engine end to end: real containers, as a user runs them.

mod common;

use common::{eventually, gone, mounts_under, span_names, Env, PATIENCE};

#[test]
fn run_prints_the_output_and_exits_zero() {
    let env = Env::new("run_echo");
    let r = env.run(&["run", "--rm", "busybox", "echo", "hi"]);
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    assert!(env.ids().is_empty(), "--rm left the container behind");
}

#[test]
fn explain_narrates_every_create_and_start_phase_with_its_docker_mapping() {
    let env = Env::new("explain");
    let r = env.run(&["run", "--rm", "--explain", "busybox", "echo", "hi"]);
    r.ok();
    assert_eq!(r.stdout, "hi\n", "the narration must not mix into stdout");
    for phase in [
        "create.image.lookup",
        "create.config",
        "create.register",
        "start.lock",
        "start.mount",
        "start.network.init",
        "start.spec",
        "start.runtime.create",
        "runtime.clone",
        "init.pivot_root",
        "start.runtime.start",
        "start.set_running",
        "start.health",
        "start.event",
        "exit.unmount",
    ] {
        assert!(
            r.stderr.contains(phase),
            "--explain does not show {phase}:\n{}",
            r.stderr
        );
    }
    // The lessons' mapping: a Docker function and a seed step.
    assert!(r.stderr.contains("conditionalMountOnStart"), "{}", r.stderr);
    assert!(r.stderr.contains("000#2.3.2"), "{}", r.stderr);
    assert!(r.stderr.contains("total "), "{}", r.stderr);
}

#[test]
fn exit_codes_follow_docker() {
    let env = Env::new("exit_codes");
    assert_eq!(
        env.run(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .code,
        3
    );
    let r = env.run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found"),
        "{}",
        r.stderr
    );
    let r = env.run(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    let r = env.run(&["run", "--rm", "busybox", "/tmp"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    // The shell's own code for a child killed by SIGKILL: 128 + 9.
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sleep 5 & kill -9 $!; wait $!",
    ]);
    assert_eq!(r.code, 137);
    assert!(
        env.ids().is_empty(),
        "--rm containers left behind: {:?}",
        env.ids()
    );
}

#[test]
fn the_command_is_pid_1_in_its_own_namespaces() {
    let env = Env::new("isolation");
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'",
    ]);
    r.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "1", "{}", r.stdout);
    assert_eq!(
        lines[1].len(),
        12,
        "default hostname is the short id: {}",
        r.stdout
    );
    assert_ne!(lines[1], nix_hostname());
    // Only the container's own processes are visible.
    let procs: usize = lines[3].trim().parse().unwrap();
    assert!(
        procs <= 3,
        "the container sees {procs} processes: {}",
        r.stdout
    );

    let r = env.run(&["run", "--rm", "-h", "box", "busybox", "hostname"]);
    assert_eq!(r.ok().stdout, "box\n");

    // Mount isolation: the host's mounts are gone, writes stay in the container.
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "touch /created-inside; cat /proc/mounts",
    ]);
    r.ok();
    assert!(
        !r.stdout.contains(" /work "),
        "host mounts visible: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("overlay / overlay"),
        "{}",
        r.stdout
    );
    assert!(!std::path::Path::new("/created-inside").exists());
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn env_workdir_and_user_are_applied() {
    let env = Env::new("env_user");
    let r = env.run(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hello",
        "-w",
        "/made/for/you",
        "-u",
        "65534:65534",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING; pwd; id -u; id -g; grep CapEff /proc/self/status",
    ]);
    r.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        &lines[..4],
        ["hello", "/made/for/you", "65534", "65534"],
        "{}",
        r.stdout
    );
    assert!(
        lines[4].ends_with("0000000000000000"),
        "a non-root user has no capabilities: {}",
        lines[4]
    );

    let r = env.run(&["run", "--rm", "-u", "nobody", "busybox", "id", "-un"]);
    assert_eq!(r.ok().stdout, "nobody\n");
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep -E 'CapEff|NoNewPrivs' /proc/self/status",
    ]);
    r.ok();
    assert!(
        r.stdout.contains("00000000a80425fb"),
        "docker's default capabilities: {}",
        r.stdout
    );
    assert!(r.stdout.contains("NoNewPrivs:\t1"), "{}", r.stdout);

    let r = env.run(&["run", "--rm", "-u", "no-such-user", "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("unable to find user no-such-user"),
        "{}",
        r.stderr
    );
    assert!(
        mounts_under(&env.dir).is_empty(),
        "a failed start left mounts behind"
    );
}

#[test]
fn memory_limit_is_enforced_by_the_oom_killer() {
    let env = Env::new("oom");
    let name = env.name("oom");
    let r = env.run(&[
        "run", "--name", &name, "-m", "16m", "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; head -c 200m /dev/zero | tail",
    ]);
    assert_eq!(r.code, 137, "stdout {} stderr {}", r.stdout, r.stderr);
    let v = env.inspect(&name);
    assert_eq!(v["State"]["OOMKilled"], true, "{v}");
    assert_eq!(v["State"]["ExitCode"], 137);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let env = Env::new("pids");
    let r = env.run(&[
        "run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
        // The inner shell dies at its first failed fork; the outer one reads the count with builtins.
        "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done'; read n < /sys/fs/cgroup/pids/pids.current || read n < /sys/fs/cgroup/pids.current; echo $n",
    ]);
    assert!(
        r.stderr.contains("can't fork"),
        "the 6th process cannot be forked: {}",
        r.stderr
    );
    let n: usize = r.stdout.trim().parse().unwrap_or(99);
    assert!(n <= 5, "{n} processes under --pids-limit 5");
}

#[test]
fn cpu_and_memory_limits_reach_the_cgroup() {
    let env = Env::new("limits");
    let r = env.run(&[
        "run", "--rm", "-m", "64m", "--cpus", "0.5", "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max",
    ]);
    r.ok();
    assert!(r.stdout.contains("67108864"), "{}", r.stdout);
    assert!(r.stdout.contains("50000"), "{}", r.stdout);
}

#[test]
fn runc_runs_the_same_bundle_with_the_same_result() {
    let env = Env::new("runc");
    let embedded = env.run(&[
        "run",
        "--rm",
        "-h",
        "same",
        "-e",
        "X=1",
        "busybox",
        "sh",
        "-c",
        "echo $X $(hostname) $$; exit 4",
    ]);
    let runc = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "-h",
        "same",
        "-e",
        "X=1",
        "busybox",
        "sh",
        "-c",
        "echo $X $(hostname) $$; exit 4",
    ]);
    assert_eq!(embedded.code, 4, "{}", embedded.stderr);
    assert_eq!(runc.code, 4, "{}", runc.stderr);
    assert_eq!(embedded.stdout, "1 same 1\n");
    assert_eq!(runc.stdout, embedded.stdout);
    let r = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "no-such-command",
    ]);
    assert_eq!(r.code, 127, "{}", r.stderr);
}

#[test]
fn create_start_ps_rm_like_docker() {
    let env = Env::new("lifecycle");
    let web = env.name("web");
    let id = env
        .run(&["create", "--name", &web, "busybox", "sleep", "1000"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = env.run(&["ps", "-a"]);
    assert!(ps.ok().stdout.contains("Created"), "{}", ps.stdout);
    assert!(
        ps.stdout.starts_with("CONTAINER ID   IMAGE"),
        "{}",
        ps.stdout
    );
    assert!(
        env.run(&["ps", "-q"]).stdout.is_empty(),
        "ps without -a lists only running ones"
    );

    assert_eq!(env.run(&["start", &web]).ok().stdout, format!("{web}\n"));
    let ps = env.run(&["ps", "--format", "json"]);
    let row: serde_json::Value =
        serde_json::from_str(ps.ok().stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["State"], "running");
    assert_eq!(row["Names"], web.as_str());
    assert!(row["Status"].as_str().unwrap().starts_with("Up "), "{row}");
    assert_eq!(
        env.run(&["ps", "-a", "-q", "-f", "status=running"])
            .stdout
            .trim(),
        &id[..12]
    );

    // Illegal transitions, docker's way.
    let r = env.run(&["start", &web]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("already running"), "{}", r.stderr);
    let r = env.run(&["rm", &web]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("stop the container before removing or force remove"),
        "{}",
        r.stderr
    );

    let v = env.inspect(&web);
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    assert_eq!(env.run(&["rm", "-f", &web]).ok().stdout, format!("{web}\n"));
    eventually(|| gone(pid), PATIENCE);
    assert!(env.ids().is_empty());
    let r = env.run(&["rm", &web]);
    assert!(r.stderr.contains("no such container"), "{}", r.stderr);
}

#[test]
fn containers_are_found_by_id_name_and_unique_prefix() {
    let env = Env::new("lookup");
    let mut ids = Vec::new();
    for i in 0..17 {
        let id = env
            .run(&[
                "create",
                "--name",
                &env.name(&format!("c{i}")),
                "busybox",
                "true",
            ])
            .ok()
            .stdout
            .trim()
            .to_string();
        ids.push(id);
    }
    // 17 ids over 16 hex digits: two share a first character.
    let shared = ids
        .iter()
        .find(|a| ids.iter().filter(|b| b[..1] == a[..1]).count() > 1)
        .unwrap()[..1]
        .to_string();
    let r = env.run(&["inspect", &shared]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("multiple IDs found with provided prefix"),
        "{}",
        r.stderr
    );
    let v = env.inspect(&ids[3][..10]);
    assert_eq!(v["Id"], ids[3].as_str());
    let v = env.inspect(&env.name("c5"));
    assert_eq!(v["Id"], ids[5].as_str());
    let v = env.inspect(&ids[7]);
    assert_eq!(v["Name"], format!("/{}", env.name("c7")));
    let r = env.run(&["create", "--name", &env.name("c5"), "busybox", "true"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("already in use"), "{}", r.stderr);
}

#[test]
fn bad_input_is_refused_with_one_line_and_changes_nothing() {
    let env = Env::new("bad_input");
    let r = env.run(&["run", "-m", "12zz", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("\"12zz\""), "{}", r.stderr);
    let r = env.run(&["run", "no-such-image-here", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("unable to find image"), "{}", r.stderr);
    let r = env.run(&["run", "--network", "bogus", "busybox", "true"]);
    assert_eq!(r.code, 125);
    let r = env.run(&["run", "--name", "x", "busybox", "true"]);
    assert_eq!(
        r.code, 125,
        "one-character names are refused like docker: {}",
        r.stderr
    );
    assert!(
        env.ids().is_empty(),
        "bad input created containers: {:?}",
        env.ids()
    );

    // Not root and real containers asked for (no simulator): a clear error, exit 125. (Without
    // that ask a user without root gets the simulator: tests/sim.rs.)
    use std::os::unix::process::CommandExt;
    let out = env
        .cmd(&["run", "busybox", "true"])
        .env("CTRACE_SIM", "0")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("real containers need root"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_failed_start_rolls_back_and_leaves_the_container_created() {
    let env = Env::new("rollback");
    let name = env.name("broken");
    env.run(&["create", "--name", &name, "busybox", "no-such-command"])
        .ok();
    let r = env.run(&["start", &name]);
    assert_ne!(r.code, 0);
    assert!(mounts_under(&env.dir).is_empty(), "rollback left mounts");
    let v = env.inspect(&name);
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["State"]["ExitCode"], 127);
    // The failed start's trace shows the rollback, step by step.
    let names = span_names(&env.last_trace("start"));
    assert!(names.iter().any(|n| n == "rollback"), "{names:?}");
    assert!(names.iter().any(|n| n == "rollback.undo"), "{names:?}");
}

#[test]
fn the_trace_file_has_every_phase_in_order_with_parent_links() {
    let env = Env::new("trace_file");
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    let traces = env.traces();
    let run = traces
        .iter()
        .find(|t| t["operation"] == "run")
        .expect("a run trace");
    assert_eq!(run["format"], "ctrace-trace/1");
    assert_eq!(run["trace_id"].as_str().unwrap().len(), 32);
    let spans = run["spans"].as_array().unwrap();
    let by_id: std::collections::HashMap<&str, &serde_json::Value> = spans
        .iter()
        .map(|s| (s["span_id"].as_str().unwrap(), s))
        .collect();
    let roots: Vec<_> = spans.iter().filter(|s| s["parent_id"].is_null()).collect();
    assert_eq!(roots.len(), 1, "one root span");
    assert_eq!(roots[0]["name"], "run");
    for s in spans {
        if let Some(p) = s["parent_id"].as_str() {
            assert!(
                by_id.contains_key(p),
                "span {} has a dangling parent",
                s["name"]
            );
        }
    }
    let parent_name = |s: &serde_json::Value| {
        by_id[s["parent_id"].as_str().unwrap()]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let children_of = |parent: &str| -> Vec<String> {
        let mut c: Vec<&serde_json::Value> = spans
            .iter()
            .filter(|s| s["parent_id"].is_string() && parent_name(s) == parent)
            .collect();
        c.sort_by_key(|s| s["start_unix_ns"].as_u64().unwrap());
        c.iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let create = children_of("create");
    assert_eq!(
        create,
        [
            "create.validate",
            "create.image.lookup",
            "create.image.pull",
            "create.config",
            "create.id",
            "create.network",
            "create.mounts",
            "create.rwlayer",
            "create.register"
        ]
    );
    let start = children_of("start");
    assert_eq!(
        start,
        [
            "start.lookup",
            "start.validate",
            "start.verify",
            "start.lock",
            "start.mount",
            "start.network.init",
            "start.mounts.setup",
            "start.spec",
            "start.runtime.options",
            "start.runtime.create",
            "start.network.attach",
            "start.runtime.start",
            "start.set_running",
            "start.state_counter",
            "start.health",
            "start.checkpoint",
            "start.event",
        ]
    );
    // Spans recorded in the shim and in the container's init are in the same trace.
    let processes: std::collections::HashSet<&str> = spans
        .iter()
        .map(|s| s["process"].as_str().unwrap())
        .collect();
    assert!(
        processes.contains("shim") && processes.contains("init"),
        "{processes:?}"
    );
    for name in [
        "runtime.cgroup",
        "runtime.clone",
        "init.mounts",
        "init.pivot_root",
        "init.process",
        "exit",
        "exit.reap",
        "exit.unmount",
    ] {
        assert!(spans.iter().any(|s| s["name"] == name), "no {name} span");
    }
    // Kernel-level actions are events with attributes.
    let mount = spans.iter().find(|s| s["name"] == "start.mount").unwrap();
    assert!(
        mount["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "mount(overlay)"),
        "{mount}"
    );
    for s in spans {
        assert!(
            s["duration_ns"].as_u64().is_some() && s["status"] == "ok",
            "{s}"
        );
    }
    let ls = env.run(&["trace", "ls", "--format", "json"]);
    assert!(ls.ok().stdout.contains(run["trace_id"].as_str().unwrap()));

    // CTRACE_TRACE=off records nothing.
    let before = env.traces().len();
    let out = env
        .cmd(&["run", "--rm", "busybox", "true"])
        .env("CTRACE_TRACE", "off")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(env.traces().len(), before);
}

#[test]
fn logs_keep_the_containers_output() {
    let env = Env::new("logs");
    let name = env.name("talker");
    env.run(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ])
    .ok();
    let r = env.run(&["logs", &name]);
    assert_eq!(r.ok().stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    let v = env.inspect(&name);
    assert_eq!(v["State"]["Status"], "exited");
}

#[test]
fn a_failure_injected_at_any_phase_rolls_back_and_leaks_nothing() {
    let env = Env::new("fail_at");
    // The engine lists the phases a failure can be injected into.
    let r = env.run(&[
        "run",
        "--rm",
        "--fail-at",
        "no.such.phase",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    let phases: Vec<String> = r
        .stderr
        .split("choose one of ")
        .nth(1)
        .expect("the error lists the phases")
        .trim()
        .split(", ")
        .map(str::to_string)
        .collect();
    for must in [
        "create.register",
        "start.mount",
        "start.spec",
        "runtime.cgroup",
        "runtime.clone",
        "init.mounts",
        "init.pivot_root",
        "init.process",
        "init.seccomp",
        "start.network.attach",
        "start.runtime.start",
        "start.event",
        "run.wait",
    ] {
        assert!(
            phases.iter().any(|p| p == must),
            "{must} cannot be failed: {phases:?}"
        );
    }
    let traces_before = env.traces().len();
    for phase in &phases {
        let r = env.run(&[
            "run",
            "--rm",
            "--fail-at",
            phase,
            "busybox",
            "echo",
            "should not matter",
        ]);
        assert_ne!(r.code, 0, "--fail-at {phase} succeeded");
        assert!(
            r.stderr.contains(&format!("injected failure at {phase}")),
            "{phase}: {}",
            r.stderr
        );
        assert!(
            mounts_under(&env.dir).is_empty(),
            "--fail-at {phase} left mounts: {:?}",
            mounts_under(&env.dir)
        );
        assert!(
            env.ids().is_empty(),
            "--fail-at {phase} left a container (run --rm)"
        );
        let left: Vec<_> = std::fs::read_dir(&env.exec_root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            // The shared directory of named network namespaces may stay, empty; the compiled
            // seccomp filters are a cache of the engine's, kept for the next start.
            .filter(|p| {
                let empty_netns = p.ends_with("netns")
                    && std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none());
                !(empty_netns || p.ends_with("seccomp"))
            })
            .collect();
        assert!(
            left.is_empty(),
            "--fail-at {phase} left {left:?} in the exec root"
        );
        assert!(
            common::processes_with(&env.root.to_string_lossy()).is_empty(),
            "--fail-at {phase} left a shim running"
        );
    }
    // Each failed run is traced, the failed phase marked, and the undo steps visible.
    let traces = env.traces();
    assert!(
        traces.len() >= traces_before + phases.len() - 2,
        "every failure is traced"
    );
    let spec_failure = traces
        .iter()
        .find(|t| {
            t["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "start.spec" && s["status"] == "error")
        })
        .expect("a trace with start.spec failed");
    let names: Vec<&str> = spec_failure["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"rollback") && names.contains(&"rollback.undo"),
        "{names:?}"
    );
}

#[test]
fn explain_narrates_in_chinese_with_lang_zh_or_ctrace_lang() {
    let env = Env::new("explain_zh");
    let chinese = |s: &str| {
        s.chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count()
    };
    let r = env.run(&[
        "run",
        "--rm",
        "--explain",
        "--lang",
        "zh",
        "busybox",
        "true",
    ]);
    r.ok();
    assert!(
        chinese(&r.stderr) > 200,
        "--lang zh narrates in Chinese:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("start.mount") && r.stderr.contains("000#2.3.2"),
        "{}",
        r.stderr
    );
    let out = env
        .cmd(&["run", "--rm", "--explain", "busybox", "true"])
        .env("CTRACE_LANG", "zh")
        .output()
        .unwrap();
    assert!(chinese(&String::from_utf8_lossy(&out.stderr)) > 200);
    let r = env.run(&[
        "run",
        "--rm",
        "--explain",
        "--lang",
        "en",
        "busybox",
        "true",
    ]);
    assert_eq!(chinese(&r.stderr), 0, "{}", r.stderr);
}

/// The traces in the test's root, oldest first, by id.
fn trace_ids(env: &Env) -> Vec<String> {
    env.traces()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn traces_past_the_settings_limit_go_oldest_first_and_trace_prune_says_what_it_removed() {
    let env = Env::new("trace-retention");
    let run = ["run", "--rm", "--network", "none", "busybox", "true"];
    for _ in 0..3 {
        env.run(&run).ok();
    }
    let first = trace_ids(&env);
    assert_eq!(first.len(), 3);

    // max-traces in the settings file: each recorded command leaves the newest 3.
    std::fs::write(env.root.join("settings.json"), r#"{"max-traces": 3}"#).unwrap();
    env.run(&run).ok();
    env.run(&run).ok();
    let now = trace_ids(&env);
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(
        now[0], first[2],
        "the newest kept, the two oldest gone: {now:?}"
    );
    std::fs::remove_file(env.root.join("settings.json")).unwrap();

    // trace prune --keep 1 prints what it removed, oldest first, as docker's prunes do.
    let r = env.run(&["trace", "prune", "--keep", "1"]);
    let out = &r.ok().stdout;
    let want = format!(
        "Deleted Traces:\n{}\n{}\n\nTotal reclaimed space: ",
        now[0], now[1]
    );
    assert!(out.starts_with(&want), "{out}");
    assert_eq!(trace_ids(&env), [now[2].clone()]);

    // --all never takes the trace of a container still running.
    let c = env.name("kept");
    env.run(&[
        "run",
        "-d",
        "--name",
        &c,
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let r = env.run(&["trace", "prune", "--all"]);
    assert!(r.ok().stdout.contains(&now[2]), "{}", r.stdout);
    let left = env.traces();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["operation"], "run");
    env.run(&["rm", "-f", &c]).ok();

    let r = env.run(&["trace", "prune"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--keep N, --older-than DURATION or --all"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_daemon_keeps_at_most_max_traces() {
    let env = Env::new("daemon-max-traces");
    let socket = env.exec_root.join("ctrace.sock");
    let mut daemon = env
        .direct_cmd(&[
            "daemon",
            "--group",
            "no-such-group-ctrace",
            "--max-traces",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = common::within(PATIENCE, || {
        (common::daemon::request(&socket, "GET", "/_ping", None).status == 200).then_some(())
    });
    assert!(ready.is_some(), "the daemon did not listen");
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    for _ in 0..4 {
        let a = common::daemon::request(&socket, "POST", "/containers/create", Some(body));
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let ids = trace_ids(&env);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = daemon.wait();
}
