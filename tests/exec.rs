//! `ctrace exec`: output and exit codes, -e/-w/-u/-i/-d, docker's 126/127 and errors, and proof
//! that the process really is in the container's namespaces and cgroup.

mod common;

use common::{span_names, Env};

#[test]
fn exec_runs_commands_with_their_exit_codes_and_options() {
    let env = Env::new("exec_basic");
    let name = env.name("box");
    env.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "-e",
        "GREETING=hi",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();

    // Output and the container's pid namespace: pid 1 is the container's sleep.
    let ps = env.run(&["exec", &name, "ps", "-o", "pid,args"]);
    assert!(
        ps.ok().stdout.lines().any(|l| l.trim() == "1 sleep 1000"),
        "{}",
        ps.stdout
    );
    // The command's own exit code, stdout and stderr kept apart.
    let r = env.run(&["exec", &name, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "out\n", "err\n")
    );

    // The container's env plus -e (and --env-file), -w, -u against the container's passwd.
    let envfile = env.dir.join("env.list");
    std::fs::write(&envfile, "# comment\nFROM_FILE=yes\n").unwrap();
    let r = env.run(&[
        "exec",
        "-e",
        "WHO=you",
        "--env-file",
        envfile.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "nobody",
        &name,
        "sh",
        "-c",
        "echo $GREETING $WHO $FROM_FILE; pwd; id -u; id -g",
    ]);
    assert_eq!(r.ok().stdout, "hi you yes\n/tmp\n65534\n65534\n");
    // The container's capabilities and no_new_privs apply to an exec'd root process too.
    let status = env
        .run(&["exec", &name, "cat", "/proc/self/status"])
        .ok()
        .stdout
        .clone();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].trim().to_string())
            .unwrap()
    };
    assert_eq!(field("CapBnd:"), "00000000a80425fb");
    assert_eq!(field("NoNewPrivs:"), "1");

    // -i pipes our stdin; without it the process reads /dev/null.
    let mut child = env
        .cmd(&["exec", "-i", &name, "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"piped\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    assert_eq!(env.run(&["exec", &name, "cat"]).ok().stdout, "");

    // docker's codes: 127 not found, 126 cannot invoke; a relative -w is refused.
    let r = env.run(&["exec", &name, "no-such-command"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    let r = env.run(&["exec", &name, "/etc"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    let r = env.run(&["exec", "-w", "tmp", &name, "true"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("needs to be an absolute path"),
        "{}",
        r.stderr
    );
    // -t with a stdin that is not a terminal, as docker.
    let r = env.run(&["exec", "-it", &name, "sh"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("the input device is not a TTY"),
        "{}",
        r.stderr
    );

    // Each exec is a trace with its phases in order, and leaves exec_create/exec_start events.
    let t = env
        .traces()
        .into_iter()
        .rev()
        .find(|t| t["operation"] == "exec" && t["argv"].to_string().contains("exit 3"))
        .unwrap();
    let names = span_names(&t);
    for p in [
        "exec",
        "exec.lookup",
        "exec.create",
        "exec.join",
        "exec.start",
    ] {
        assert!(names.iter().any(|n| n == p), "{p} missing from {names:?}");
    }
    let ev = env.actions();
    assert!(
        ev.iter()
            .any(|e| e == "exec_create: sh -c echo out; echo err >&2; exit 3"),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e == "exec_start: sh -c echo out; echo err >&2; exit 3"),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e == "exec_die"), "{ev:?}");
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    let env = Env::new("exec_ns");
    let name = env.name("box");
    env.detached(&name, &["sleep", "1000"]);
    let c = env.inspect(&name);
    let id = c["Id"].as_str().unwrap().to_string();
    let init = c["State"]["Pid"].as_i64().unwrap();

    // A detached exec: it keeps running in the container while we look at it from the host.
    let r = env.run(&["exec", "-d", &name, "sleep", "999"]);
    assert_eq!(r.ok().stdout, "");
    let dirs = common::cgroups_of(&id);
    assert!(!dirs.is_empty());
    let procs: Vec<i64> = std::fs::read_to_string(dirs[0].join("cgroup.procs"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let exec_pid = *procs.iter().find(|p| **p != init).unwrap_or_else(|| {
        panic!("the exec'd process is not in the container's cgroup: {procs:?}")
    });
    let cmdline = std::fs::read_to_string(format!("/proc/{exec_pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\0999\0");
    for ns in ["ipc", "uts", "net", "pid", "mnt", "cgroup"] {
        let a = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        let b = std::fs::read_link(format!("/proc/{exec_pid}/ns/{ns}")).unwrap();
        assert_eq!(a, b, "{ns} namespace differs");
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(a, host, "{ns}: the container should not share the host's");
    }
    // Every hierarchy holds it (a hybrid host has several).
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == exec_pid.to_string()),
            "{} lacks {exec_pid}",
            d.display()
        );
    }
    // Stopping the container ends the exec'd process with it (pid namespace teardown).
    env.run(&["stop", "-t", "1", &name]).ok();
    assert!(
        !std::path::Path::new(&format!("/proc/{exec_pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{exec_pid}/cmdline")).unwrap_or_default()
                != cmdline
    );
}

#[test]
fn exec_into_a_stopped_or_missing_container_fails_and_changes_nothing() {
    let env = Env::new("exec_stopped");
    let name = env.name("box");
    env.run(&["create", "--name", &name, "busybox", "sleep", "1000"])
        .ok();
    let before = env.inspect(&name);
    let events_before = env.actions();
    let r = env.run(&["exec", &name, "true"]);
    assert_eq!(r.code, 1);
    let id = before["Id"].as_str().unwrap();
    assert_eq!(
        r.stderr.trim(),
        format!("ctrace: container {id} is not running")
    );
    assert_eq!(env.inspect(&name)["State"], before["State"]);
    assert_eq!(env.actions(), events_before);

    env.run(&["start", &name]).ok();
    env.run(&["stop", "-t", "0", &name]).ok();
    let r = env.run(&["exec", &name, "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    assert_eq!(env.inspect(&name)["State"]["Status"], "exited");

    let r = env.run(&["exec", "no-such-container-xyz", "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no such container"), "{}", r.stderr);
}

#[test]
fn exec_joins_every_cgroup_of_a_runc_container() {
    let env = Env::new("exec_runc");
    let name = env.name("box");
    env.run(&[
        "run",
        "-d",
        "--runtime",
        "runc",
        "--name",
        &name,
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Every hierarchy, named ones included, as the container's own pid 1.
    let r = env.run(&[
        "exec",
        &name,
        "sh",
        "-c",
        "diff /proc/1/cgroup /proc/self/cgroup && echo same",
    ]);
    assert_eq!(r.ok().stdout, "same\n", "{}", r.stderr);
    let r = env.run(&["exec", &name, "hostname"]);
    assert_eq!(
        r.ok().stdout.trim(),
        &env.inspect(&name)["Id"].as_str().unwrap()[..12]
    );
}
