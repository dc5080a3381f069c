//! The seven states of seed 003 and the commands between them, on real containers: pause and
//! unpause, restart, restart policies, removing a dead-shim container, the events log, and
//! ps/inspect as docker shows them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::{span_names, Env};

/// The scheduler state of `pid` (`/proc/<pid>/status`), e.g. `S (sleeping)`.
fn proc_state(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap()
        .trim()
        .to_string()
}

/// The cgroup's own word on being frozen: v1 `freezer.state`, v2 `frozen` in `cgroup.events`.
fn frozen(id: &str) -> Option<bool> {
    let v1 = format!("/sys/fs/cgroup/freezer/ctrace/{id}/freezer.state");
    if let Ok(s) = std::fs::read_to_string(v1) {
        return Some(s.trim() == "FROZEN");
    }
    for base in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if let Ok(s) = std::fs::read_to_string(format!("{base}/ctrace/{id}/cgroup.events")) {
            return Some(s.lines().any(|l| l == "frozen 1"));
        }
    }
    None
}

#[test]
fn pause_freezes_every_process_and_unpause_thaws_it() {
    let env = Env::new("pause_unpause");
    let web = env.name("web");
    let id = env
        .run(&[
            "run",
            "-d",
            "--name",
            &web,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let pid = env.state(&web)["Pid"].as_i64().unwrap();
    assert!(proc_state(pid).starts_with('S'), "{}", proc_state(pid));

    assert_eq!(env.run(&["pause", &web]).ok().stdout, format!("{web}\n"));
    let st = env.state(&web);
    assert_eq!(st["Status"], "paused", "{st}");
    assert_eq!(st["Paused"], true);
    assert_eq!(
        st["Running"], true,
        "docker counts a paused container as running"
    );
    // Frozen for real: the cgroup says so and the task is no longer sleeping normally.
    assert_eq!(frozen(&id), Some(true));
    assert!(!proc_state(pid).starts_with('S'), "{}", proc_state(pid));
    let ps = env
        .run(&["ps", "-a", "-f", "status=paused"])
        .ok()
        .stdout
        .clone();
    assert!(ps.contains(&web) && ps.contains("(Paused)"), "{ps}");
    // Docker's ps (no -a) lists paused containers too.
    assert!(env.run(&["ps", "-q"]).ok().stdout.contains(&id[..12]));

    let again = env.run(&["pause", &web]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains(&format!("Container {id} is already paused")),
        "{}",
        again.stderr
    );
    assert_eq!(env.state(&web)["Status"], "paused");

    assert_eq!(env.run(&["unpause", &web]).ok().stdout, format!("{web}\n"));
    assert_eq!(env.state(&web)["Status"], "running");
    assert_eq!(frozen(&id), Some(false));
    assert!(proc_state(pid).starts_with('S'), "{}", proc_state(pid));
    let again = env.run(&["unpause", &web]);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains(&format!("Container {id} is not paused")),
        "{}",
        again.stderr
    );
    assert_eq!(env.state(&web)["Status"], "running");

    let a = env.actions_of(&id);
    let pos = |x: &str| a.iter().position(|y| y == x).unwrap_or(usize::MAX);
    assert!(
        pos("pause") < pos("unpause") && pos("unpause") < a.len(),
        "{a:?}"
    );
    let traces = env.traces();
    let pause = traces
        .iter()
        .find(|t| t["operation"] == "pause" && t["spans"].as_array().unwrap().len() > 1)
        .expect("a pause trace");
    let names = span_names(pause);
    for p in ["pause", "pause.lookup", "pause.freeze", "pause.checkpoint"] {
        assert!(names.iter().any(|n| n == p), "{p} missing from {names:?}");
    }
    assert!(traces
        .iter()
        .any(|t| t["operation"] == "unpause" && span_names(t).iter().any(|n| n == "unpause.thaw")));

    // A paused container can be killed (docker resumes it after SIGKILL) or removed by force.
    env.run(&["pause", &web]).ok();
    env.run(&["kill", &web]).ok();
    let v = env.until(&web, |v| v["State"]["Status"] == "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    env.run(&["start", &web]).ok();
    env.run(&["pause", &web]).ok();
    let r = env.run(&["rm", &web]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("must be unpaused first"), "{}", r.stderr);
    assert_eq!(env.state(&web)["Status"], "paused");
    env.run(&["rm", "-f", &web]).ok();
}

#[test]
fn illegal_transitions_are_refused_and_change_nothing() {
    let env = Env::new("illegal_transitions");
    let c = env.name("created");
    let id = env.created(&c, &["true"]);
    let before =
        std::fs::read_to_string(env.root.join("containers").join(&id).join("state.json")).unwrap();
    let r = env.run(&["pause", &c]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        format!("ctrace: Error response from daemon: Container {id} is not running")
    );
    let r = env.run(&["unpause", &c]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not paused"), "{}", r.stderr);
    let after =
        std::fs::read_to_string(env.root.join("containers").join(&id).join("state.json")).unwrap();
    assert_eq!(before, after, "a refused transition wrote the state");

    // An exited container cannot be paused either.
    env.run(&["start", &c]).ok();
    env.until(&c, |v| v["State"]["Status"] == "exited");
    let r = env.run(&["pause", &c]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    assert_eq!(env.state(&c)["Status"], "exited");

    // Unknown names: one line, exit 1, for every command of this module.
    for cmd in ["pause", "unpause", "restart"] {
        let r = env.run(&[cmd, "no-such-container-x"]);
        assert_eq!(r.code, 1, "{cmd}");
        assert_eq!(
            r.stderr.trim(),
            "ctrace: no such container: no-such-container-x",
            "{cmd}"
        );
    }
    assert!(!env.actions_of(&id).iter().any(|a| a == "pause"));
}

#[test]
fn restart_gives_a_new_process_and_one_trace_with_stop_and_start() {
    let env = Env::new("restart");
    let web = env.name("web");
    let id = env
        .run(&[
            "run",
            "-d",
            "--name",
            &web,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let before = env.state(&web);
    env.run(&["restart", "-t", "1", &web]).ok();
    let after = env.state(&web);
    assert_eq!(after["Status"], "running", "{after}");
    assert_ne!(after["Pid"], before["Pid"]);
    assert_ne!(after["StartedAt"], before["StartedAt"]);
    assert!(!std::path::Path::new(&format!("/proc/{}", before["Pid"])).exists());

    let a = env.actions_of(&id);
    let tail: Vec<&str> = a.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["start", "restart"], "{a:?}");
    assert!(a.iter().any(|x| x == "die") && a.iter().any(|x| x == "stop"));

    let names = span_names(&env.last_trace("restart"));
    for p in [
        "restart",
        "restart.lookup",
        "stop",
        "stop.signal",
        "start",
        "start.runtime.create",
        "restart.event",
    ] {
        assert!(names.iter().any(|n| n == p), "{p} missing from {names:?}");
    }

    // Restarting an exited container just starts it.
    env.run(&["stop", "-t", "1", &web]).ok();
    env.run(&["restart", &web]).ok();
    assert_eq!(env.state(&web)["Status"], "running");
}

#[test]
fn rm_refuses_a_running_container_and_rm_f_removes_it() {
    let env = Env::new("rm_running");
    let web = env.name("web");
    env.run(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let r = env.run(&["rm", &web]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("container is running"), "{}", r.stderr);
    assert_eq!(env.state(&web)["Status"], "running");
    env.run(&["rm", "-f", &web]).ok();
    assert!(env.ids().is_empty());
}

#[test]
fn on_failure_restarts_n_times_then_stays_exited() {
    let env = Env::new("on_failure");
    let c = env.name("fail");
    let id = env
        .run(&[
            "run",
            "-d",
            "--name",
            &c,
            "--network",
            "none",
            "--restart",
            "on-failure:3",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    // `wait` follows the container across its restarts, to the exit that ends them.
    assert_eq!(env.run(&["wait", &c]).ok().stdout, "3\n");
    let v = env.inspect(&c);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["RestartCount"], 3, "{v}");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    let a = env.actions_of(&id);
    assert_eq!(a.iter().filter(|x| *x == "start").count(), 4, "{a:?}");
    assert_eq!(a.iter().filter(|x| *x == "die").count(), 4, "{a:?}");
    // Every restart is a start trace of its own, recorded by the shim, and each exit says why.
    let traces = env.traces();
    let by_policy = traces
        .iter()
        .filter(|t| t["operation"] == "start" && t["argv"][0] == "(restart policy)")
        .count();
    assert_eq!(by_policy, 3);
    let notes: Vec<String> = traces
        .iter()
        .flat_map(|t| t["spans"].as_array().unwrap().clone())
        .filter(|s| s["name"] == "exit.restart")
        .map(|s| s["attrs"]["note"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("restart 3 of 3 in 400 ms")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("3 restarts done")),
        "{notes:?}"
    );

    // A user's start resets the count, as docker's does.
    env.run(&["start", &c]).ok();
    // `wait` follows the container across its restarts, to the exit that ends them.
    assert_eq!(env.run(&["wait", &c]).ok().stdout, "3\n");
    let v = env.inspect(&c);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["RestartCount"], 3, "{v}");
    assert_eq!(v["State"]["ExitCode"], 3);
}

#[test]
fn always_restarts_after_exit_0_until_a_user_stops_it() {
    let env = Env::new("always");
    let c = env.name("loop");
    env.run(&[
        "run",
        "-d",
        "--name",
        &c,
        "--network",
        "none",
        "--restart",
        "always",
        "busybox",
        "true",
    ])
    .ok();
    env.until(&c, |v| v["RestartCount"].as_u64().unwrap_or(0) >= 2);
    env.run(&["stop", "-t", "1", &c]).ok();
    let st = env.until(&c, |v| v["State"]["Status"] == "exited");
    let count = st["RestartCount"].clone();
    // The point of this sleep: nothing may happen for longer than the backoff it had reached
    // (a restart would have come by now), and an absence cannot be polled for.
    std::thread::sleep(Duration::from_millis(1500));
    let v = env.inspect(&c);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["RestartCount"], count, "{v}");
    assert!(
        common::processes_with(&env.root.to_string_lossy()).is_empty(),
        "a shim is still waiting to restart it"
    );
    // rm -f of a restarting container cancels the restart for good, too.
    let d = env.name("loop2");
    env.run(&[
        "run",
        "-d",
        "--name",
        &d,
        "--network",
        "none",
        "--restart",
        "unless-stopped",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ])
    .ok();
    env.until(&d, |v| v["RestartCount"].as_u64().unwrap_or(0) >= 1);
    env.run(&["rm", "-f", &d]).ok();
    assert!(env
        .run(&["ps", "-a", "-q", "-f", &format!("name={d}")])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn restart_flag_is_validated_like_docker() {
    let env = Env::new("restart_flag");
    for (args, msg) in [
        (vec!["--restart", "sometimes"], "unknown policy 'sometimes'"),
        (
            vec!["--restart", "always:2"],
            "can only be used with 'on-failure'",
        ),
        (vec!["--restart", "on-failure:x"], "must be an integer"),
        (
            vec!["--restart", "always", "--rm"],
            "Conflicting options: --restart and --rm",
        ),
    ] {
        let mut a = vec!["run", "-d"];
        a.extend(args.iter().copied());
        a.extend(["busybox", "true"]);
        let r = env.run(&a);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(msg), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    assert!(env.ids().is_empty(), "a refused run created a container");
}

#[test]
fn events_are_printed_like_docker_filtered_and_followed_live() {
    let env = Env::new("events");
    let web = env.name("web");
    let other = env.name("other");
    let id = env
        .run(&[
            "run",
            "-d",
            "--name",
            &web,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    env.run(&[
        "run",
        "--name",
        &other,
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();

    let out = env
        .run(&[
            "events",
            "--since",
            "10m",
            "--until",
            "0s",
            "--filter",
            &format!("container={web}"),
        ])
        .ok()
        .stdout
        .clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}"); // create, start
    assert!(
        lines[1].ends_with(&format!("container start {id} (image=busybox, name={web})")),
        "{out}"
    );
    assert!(lines[1].contains('T') && lines[1].split(' ').next().unwrap().ends_with('Z'));
    assert!(!out.contains(&other));

    // Same key ORs, different keys AND.
    let out = env
        .run(&[
            "events",
            "--since",
            "10m",
            "--until",
            "0s",
            "-f",
            &format!("container={web}"),
            "-f",
            &format!("container={other}"),
            "-f",
            "event=start",
            "--format",
            "json",
        ])
        .ok()
        .stdout
        .clone();
    let evs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(evs.len(), 2, "{out}");
    assert!(evs
        .iter()
        .all(|e| e["Action"] == "start" && e["status"] == "start"));
    let since_epoch = env
        .run(&["events", "--since", "0", "--until", "0s", "-f", "event=die"])
        .ok()
        .stdout
        .clone();
    assert_eq!(since_epoch.lines().count(), 1, "{since_epoch}");

    // Following: lines appear as things happen (from a --since taken before it starts, so the
    // pause cannot slip in before the follower has looked).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    let mut follow = env
        .cmd(&[
            "events",
            "--since",
            &since,
            "--filter",
            &format!("container={web}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    env.run(&["pause", &web]).ok();
    env.run(&["unpause", &web]).ok();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        seen.push(line);
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen[0].contains(" container pause "), "{seen:?}");
    assert!(seen[1].contains(" container unpause "), "{seen:?}");

    let bad = env.run(&["events", "--since", "whenever"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("invalid value \"whenever\" for --since"),
        "{}",
        bad.stderr
    );
    let bad = env.run(&["events", "-f", "colour=red"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("invalid filter 'colour'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn ps_filters_formats_and_counts_like_docker() {
    let env = Env::new("ps_formats");
    let up = env.name("up");
    let done = env.name("done");
    let failed = env.name("failed");
    let up_id = env
        .run(&[
            "run",
            "-d",
            "--name",
            &up,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    env.run(&[
        "run",
        "--name",
        &done,
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
    let failed_id = env.created(&failed, &["sh", "-c", "exit 2"]);
    env.run(&["start", "-a", &failed]);

    // -q: running only, short ids; --no-trunc: full ids.
    assert_eq!(
        env.run(&["ps", "-q"]).ok().stdout,
        format!("{}\n", &up_id[..12])
    );
    assert_eq!(
        env.run(&["ps", "-q", "--no-trunc"]).ok().stdout,
        format!("{up_id}\n")
    );
    // -n / -l: the last created, whatever their state.
    assert_eq!(
        env.run(&["ps", "-l", "-q"]).ok().stdout,
        format!("{}\n", &failed_id[..12])
    );
    assert_eq!(
        env.run(&["ps", "-n", "2", "-q"])
            .ok()
            .stdout
            .lines()
            .count(),
        2
    );
    // exited=<code> and status= imply -a; the same key ORs, different keys AND.
    assert_eq!(
        env.run(&["ps", "-q", "-f", "exited=2"]).ok().stdout,
        format!("{}\n", &failed_id[..12])
    );
    assert_eq!(
        env.run(&["ps", "-q", "-f", "status=exited"])
            .ok()
            .stdout
            .lines()
            .count(),
        2
    );
    let both = env
        .run(&[
            "ps",
            "-a",
            "-q",
            "-f",
            &format!("name={up}"),
            "-f",
            &format!("name={done}"),
        ])
        .ok()
        .stdout
        .clone();
    assert_eq!(both.lines().count(), 2, "{both}");
    let and = env
        .run(&[
            "ps",
            "-a",
            "-q",
            "-f",
            &format!("name={up}"),
            "-f",
            "status=exited",
        ])
        .ok()
        .stdout
        .clone();
    assert!(and.is_empty(), "{and}");
    assert_eq!(
        env.run(&["ps", "-a", "-q", "-f", "ancestor=busybox:latest"])
            .ok()
            .stdout
            .lines()
            .count(),
        3
    );
    assert!(env
        .run(&["ps", "-a", "-q", "-f", "ancestor=alpine"])
        .ok()
        .stdout
        .is_empty());

    // --format json: one object per line with docker's keys.
    let out = env
        .run(&["ps", "-a", "--format", "json"])
        .ok()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    let keys = [
        "Command",
        "CreatedAt",
        "ID",
        "Image",
        "Labels",
        "LocalVolumes",
        "Mounts",
        "Names",
        "Networks",
        "Ports",
        "RunningFor",
        "Size",
        "State",
        "Status",
    ];
    for k in keys {
        assert!(
            rows.iter().all(|r| r.get(k).is_some()),
            "{k} missing: {out}"
        );
    }
    let row = rows.iter().find(|r| r["Names"] == failed).unwrap();
    assert_eq!(row["State"], "exited");
    assert!(
        row["Status"].as_str().unwrap().starts_with("Exited (2)"),
        "{row}"
    );
    assert!(
        row["CreatedAt"].as_str().unwrap().ends_with("+0000 UTC"),
        "{row}"
    );

    let bad = env.run(&["ps", "-f", "exited=x"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("invalid filter 'exited=x'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_killed_shim_is_noticed_and_its_container_released() {
    let env = Env::new("killed_shim");
    let web = env.name("web");
    let id = env.detached(&web, &["sleep", "1000"]);
    let st = env.state(&web);
    let shim = env.inspect(&web)["Ctrace"]["ShimPid"].as_i64().unwrap();
    let pid = st["Pid"].as_i64().unwrap();
    assert!(!env.inspect(&web)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .is_empty());
    // SAFETY: plain syscalls on the processes this test started.
    unsafe {
        libc::kill(shim as i32, libc::SIGKILL);
        libc::kill(pid as i32, libc::SIGKILL);
    }
    // Nobody runs the exit phases now; the next ps notices (once the kernel has ended both).
    let v = env.until(&web, |v| v["State"]["Status"] != "running");
    let ps = env.run(&["ps", "-a"]).ok().stdout.clone();
    assert!(ps.contains("Exited (255)"), "{ps}");
    assert_eq!(v["State"]["Status"], "exited");
    assert!(
        v["State"]["Error"].as_str().unwrap().contains("shim"),
        "{v}"
    );
    assert_eq!(
        v["NetworkSettings"]["IPAddress"], "",
        "the address is still leased"
    );
    assert!(
        common::mounts_under(&env.dir).is_empty(),
        "{:?}",
        common::mounts_under(&env.dir)
    );
    assert!(
        common::cgroups_of(&id).is_empty(),
        "{:?}",
        common::cgroups_of(&id)
    );
    // And it can be started again, then removed normally.
    env.run(&["start", &web]).ok();
    assert_eq!(env.state(&web)["Status"], "running");
    env.run(&["rm", "-f", &web]).ok();

    // Only the shim killed: the init runs on, orphaned; stop ends it and releases everything.
    let db = env.name("db");
    env.detached(&db, &["sleep", "1000"]);
    let shim = env.inspect(&db)["Ctrace"]["ShimPid"].as_i64().unwrap();
    // SAFETY: plain syscall on a process this test started.
    unsafe { libc::kill(shim as i32, libc::SIGKILL) };
    env.run(&["stop", "-t", "1", &db]).ok();
    let v = env.inspect(&db);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["NetworkSettings"]["IPAddress"], "", "{v}");
    assert!(
        common::mounts_under(&env.dir).is_empty(),
        "{:?}",
        common::mounts_under(&env.dir)
    );
    env.run(&["rm", &db]).ok();
}

#[test]
fn inspect_shows_dockers_state_fields() {
    let env = Env::new("inspect_state");
    let c = env.name("c");
    env.run(&[
        "create",
        "--name",
        &c,
        "--network",
        "none",
        "--restart",
        "on-failure:2",
        "busybox",
        "true",
    ])
    .ok();
    let v = env.inspect(&c);
    let st = &v["State"];
    for k in [
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "OOMKilled",
        "Dead",
        "Pid",
        "ExitCode",
        "Error",
        "StartedAt",
        "FinishedAt",
        "Health",
    ] {
        assert!(st.get(k).is_some(), "State.{k} missing: {st}");
    }
    assert_eq!(st["Status"], "created");
    assert_eq!(st["StartedAt"], "0001-01-01T00:00:00Z");
    assert!(st["Health"].is_null());
    assert_eq!(v["RestartCount"], 0);
    assert_eq!(
        v["HostConfig"]["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2})
    );
}

#[test]
fn a_removal_that_cannot_clean_up_leaves_a_dead_container_that_rm_retries() {
    let env = Env::new("dead");
    let c = env.name("c");
    let id = env.created(&c, &["true"]);
    env.run(&["start", "-a", &c]).ok();
    // Something on the host where the rootfs mount point should be: the unmount cannot work.
    let bundle = env.exec_root.join(&id);
    let _ = std::fs::remove_dir_all(&bundle);
    std::fs::write(&bundle, "not a bundle").unwrap();
    let r = env.run(&["rm", &c]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("failed to remove root filesystem"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let st = env.state(&c);
    assert_eq!(st["Status"], "dead", "{st}");
    assert_eq!(st["Dead"], true);
    assert!(st["Error"]
        .as_str()
        .unwrap()
        .contains("unable to remove filesystem"));
    assert!(env.run(&["ps", "-a"]).ok().stdout.contains("Dead"));
    let r = env.run(&["start", &c]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is dead"), "{}", r.stderr);
    // Once the obstacle is gone, rm finishes the job.
    std::fs::remove_file(&bundle).unwrap();
    env.run(&["rm", &c]).ok();
    assert!(env.ids().is_empty());
}
