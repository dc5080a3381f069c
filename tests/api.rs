//! `ctrace daemon` as Docker's clients see it: every API version from 1.24 to the latest, each
//! answer in the shape of the version asked for, dockerd's headers, shapes and status codes.
//! Each test runs its own daemon on its own socket and root.

mod common;

use common::daemon::Daemon;
use common::Env;

const LATEST: &str = "1.56";

#[test]
fn every_api_version_from_1_24_to_the_latest_is_served_and_others_get_dockers_400() {
    let env = Env::new("api_versions");
    let d = Daemon::start(&env);
    for prefix in ["", "/v1.24", "/v1.41", "/v1.44", "/v1.45", "/v1.56"] {
        let a = d.request("GET", &format!("{prefix}/version"), None);
        assert_eq!(a.status, 200, "{prefix}: {}", a.body);
        let v = a.json();
        assert_eq!(v["ApiVersion"], LATEST);
        assert_eq!(v["MinAPIVersion"], "1.24");
        assert_eq!(v["Components"][0]["Details"]["ApiVersion"], LATEST);
        assert_eq!(a.header("api-version"), Some(LATEST), "{prefix}");
        assert_eq!(a.header("ostype"), Some("linux"));
    }
    let old = d.request("GET", "/v1.23/version", None);
    assert_eq!(old.status, 400);
    assert_eq!(
        old.json()["message"],
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    assert_eq!(old.header("api-version"), Some(LATEST));
    let new = d.request("GET", "/v1.57/containers/json", None);
    assert_eq!(new.status, 400);
    assert_eq!(
        new.json()["message"],
        "client version 1.57 is too new. Maximum supported API version is 1.56"
    );

    // The docker CLI negotiates down to its own version; pinned, it is served as pinned.
    let negotiated = d.docker(&["version", "--format", "{{.Client.APIVersion}}"], &[]);
    let pinned = d.docker(
        &[
            "version",
            "--format",
            "{{.Client.APIVersion}} {{.Server.MinAPIVersion}}",
        ],
        &[("DOCKER_API_VERSION", "1.44")],
    );
    assert!(!negotiated.ok().stdout.trim().is_empty());
    assert_eq!(pinned.ok().stdout.trim(), "1.44 1.24");
}

#[test]
fn ping_answers_with_dockerds_headers_to_get_and_head() {
    let env = Env::new("api_ping");
    let d = Daemon::start(&env);
    for (method, body) in [("GET", "OK"), ("HEAD", "")] {
        let a = d.request(method, "/_ping", None);
        assert_eq!((a.status, a.body.as_str()), (200, body), "{method}");
        for (k, v) in [
            ("api-version", LATEST),
            ("ostype", "linux"),
            ("docker-experimental", "false"),
            ("builder-version", "2"),
            ("swarm", "inactive"),
            ("cache-control", "no-cache, no-store, must-revalidate"),
            ("pragma", "no-cache"),
            ("content-type", "text/plain; charset=utf-8"),
        ] {
            assert_eq!(a.header(k), Some(v), "{method} {k}: {:?}", a.headers);
        }
        assert!(a.header("server").is_some());
    }
    let versioned = d.request("HEAD", "/v1.41/_ping", None);
    assert_eq!(versioned.status, 200);
}

#[test]
fn answers_take_the_shape_of_the_version_asked_for() {
    let env = Env::new("api_shapes_by_version");
    let d = Daemon::start(&env);
    let name = env.name("shaped");
    let created = d.request(
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(r#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let old = d
        .request("GET", &format!("/v1.41/containers/{name}/json"), None)
        .json();
    let new = d
        .request("GET", &format!("/v{LATEST}/containers/{name}/json"), None)
        .json();
    // The top-level addresses were removed in 1.52.
    assert!(old["NetworkSettings"].get("IPAddress").is_some(), "{old}");
    assert!(new["NetworkSettings"].get("IPAddress").is_none(), "{new}");
    let info_old = d.request("GET", "/v1.41/info", None).json();
    let info_new = d.request("GET", "/info", None).json();
    assert!(info_old.get("BridgeNfIptables").is_some());
    assert!(info_new.get("BridgeNfIptables").is_none());
    let images_old = d.request("GET", "/v1.43/images/json", None).json();
    let images_new = d.request("GET", "/images/json", None).json();
    assert!(images_old[0].get("VirtualSize").is_some(), "{images_old}");
    assert!(images_new[0].get("VirtualSize").is_none(), "{images_new}");
    let rm = d.request("DELETE", &format!("/containers/{name}?force=1"), None);
    assert_eq!(rm.status, 204, "{}", rm.body);
}

#[test]
fn inspect_has_every_key_clients_read_without_checking_with_dockers_zero_values() {
    let env = Env::new("api_inspect_keys");
    let d = Daemon::start(&env);
    let name = env.name("keys");
    let created = d.request(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(r#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let v = d
        .request("GET", &format!("/containers/{name}/json"), None)
        .json();
    let hc = &v["HostConfig"];
    assert_eq!(
        hc["LogConfig"],
        serde_json::json!({"Type": "json-file", "Config": {}})
    );
    for (key, zero) in [
        ("UTSMode", serde_json::json!("")),
        ("CgroupnsMode", serde_json::json!("private")),
        ("CpuShares", serde_json::json!(0)),
        ("CpusetCpus", serde_json::json!("")),
        ("PidMode", serde_json::json!("")),
        ("MemorySwappiness", serde_json::Value::Null),
        ("VolumeDriver", serde_json::json!("")),
        ("Isolation", serde_json::json!("")),
        ("DeviceCgroupRules", serde_json::Value::Null),
        ("Init", serde_json::Value::Null),
    ] {
        assert_eq!(hc.get(key), Some(&zero), "HostConfig.{key} in {hc}");
    }
    assert!(v["Config"].get("StopTimeout").is_some(), "{}", v["Config"]);
    let networks = v["NetworkSettings"]["Networks"].as_object().unwrap();
    assert!(!networks.is_empty(), "{v}");
    for (net, ep) in networks {
        for key in [
            "DriverOpts",
            "IPAMConfig",
            "Aliases",
            "NetworkID",
            "MacAddress",
        ] {
            assert!(ep.get(key).is_some(), "{net}: {key} missing from {ep}");
        }
    }
    let rows = d.request("GET", "/containers/json?all=1", None).json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Names"][0] == format!("/{name}"));
    assert_eq!(row.unwrap()["Image"], "busybox", "{rows}");
    assert_eq!(
        d.request("DELETE", &format!("/containers/{name}"), None)
            .status,
        204
    );
}

#[test]
fn create_reads_nulls_and_unknown_keys_as_go_does_and_refuses_what_it_cannot_honour() {
    let env = Env::new("api_create_bodies");
    let d = Daemon::start(&env);
    let name = env.name("lenient");
    let body = r#"{"Image":"busybox","Cmd":["true"],"Env":["KEPT_AS_GIVEN","A=1"],
        "Healthcheck":null,"Volumes":null,"SomeFutureKey":{"x":1},
        "HostConfig":{"Runtime":"runc","Memory":null,"PidsLimit":null,"Binds":null,
        "LogConfig":{"Type":"json-file","Config":{}},"AnotherFutureKey":true}}"#;
    let created = d.request(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(body),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let v = d
        .request("GET", &format!("/containers/{name}/json"), None)
        .json();
    let env_list: Vec<&str> = v["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(env_list.contains(&"KEPT_AS_GIVEN"), "{env_list:?}");
    assert!(env_list.contains(&"A=1"), "{env_list:?}");
    assert_eq!(
        d.request("DELETE", &format!("/containers/{name}"), None)
            .status,
        204
    );

    for (host_config, want) in [
        (
            r#"{"LogConfig":{"Type":"bogus"}}"#,
            "no log driver named 'bogus'",
        ),
        (r#"{"GroupAdd":["audio"]}"#, "GroupAdd"),
    ] {
        let refused = d.request(
            "POST",
            &format!("/containers/create?name={name}"),
            Some(&format!(
                r#"{{"Image":"busybox","HostConfig":{host_config}}}"#
            )),
        );
        assert_eq!(refused.status, 400, "{}", refused.body);
        let message = refused.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(want), "{message} !~ {want}");
    }
    let all = d.request("GET", "/containers/json?all=1", None).json();
    assert_eq!(
        all,
        serde_json::json!([]),
        "a refused create left a container"
    );
}

#[test]
fn a_bare_env_name_is_unset_in_the_container_and_kept_in_its_config() {
    let env = Env::new("api_bare_env");
    let d = Daemon::start(&env);
    let name = env.name("bare");
    let run = d.docker(
        &[
            "run",
            "--name",
            &name,
            "-e",
            "CTRACE_TEST_SURELY_UNSET",
            "-e",
            "B=2",
            "busybox",
            "env",
        ],
        &[],
    );
    let out = run.ok().stdout.clone();
    assert!(out.contains("B=2\n"), "{out}");
    assert!(!out.contains("CTRACE_TEST_SURELY_UNSET"), "{out}");
    let given = d.docker(&["inspect", "--format", "{{json .Config.Env}}", &name], &[]);
    assert!(
        given.ok().stdout.contains("\"CTRACE_TEST_SURELY_UNSET\""),
        "{}",
        given.stdout
    );
    d.docker(&["rm", &name], &[]).ok();
}

#[test]
fn the_python_sdk_with_its_default_version_runs_a_container_and_reads_its_output() {
    let env = Env::new("api_python_sdk");
    let d = Daemon::start(&env);
    let script = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
print(c.version()["ApiVersion"], c.api.api_version)
out = c.containers.run("busybox", ["echo", "hi"], remove=True)
print(out.decode().strip())
print(len(c.containers.list(all=True)))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &format!("unix://{}", d.socket.display())])
        .output()
        .expect("python3 is not installed: run scripts/deps.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Docker SDK for Python failed (scripts/deps.sh installs it):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with(LATEST), "{stdout}");
    assert_eq!(&lines[1..], ["hi", "0"], "{stdout}");
}

#[test]
fn create_from_a_missing_image_is_dockers_404_and_the_docker_cli_then_pulls() {
    let env = Env::new("api_missing_image");
    let d = Daemon::start(&env);
    // A registry that refuses at once: nothing here may depend on Docker Hub.
    let image = "127.0.0.1:1/ctrace-test/nothing:latest";
    let a = d.request(
        "POST",
        "/containers/create",
        Some(&format!(r#"{{"Image":"{image}"}}"#)),
    );
    assert_eq!(a.status, 404, "{}", a.body);
    assert_eq!(a.json()["message"], format!("No such image: {image}"));
    let run = d.docker(&["run", "--rm", image, "true"], &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("Unable to find image '{image}' locally")),
        "{}",
        run.stderr
    );
    let all = d.request("GET", "/containers/json?all=1", None).json();
    assert_eq!(
        all,
        serde_json::json!([]),
        "a failed create left a container"
    );
}

#[test]
fn kill_with_sigkill_answers_once_the_exit_is_recorded() {
    let env = Env::new("api_kill_waits");
    let d = Daemon::start(&env);
    for round in 0..5 {
        let name = env.name(&format!("killed{round}"));
        d.docker(
            &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
            &[],
        )
        .ok();
        let killed = d.request("POST", &format!("/containers/{name}/kill"), None);
        assert_eq!(killed.status, 204, "{}", killed.body);
        let state = &d
            .request("GET", &format!("/containers/{name}/json"), None)
            .json()["State"];
        assert_eq!(state["Status"], "exited", "round {round}: {state}");
        assert_eq!(state["ExitCode"], 137, "round {round}: {state}");
        let rm = d.request("DELETE", &format!("/containers/{name}"), None);
        assert_eq!(rm.status, 204, "round {round}: {}", rm.body);
    }
}

#[test]
fn wait_returns_on_each_exit_of_a_container_that_restarts_always() {
    let env = Env::new("api_wait_restarts");
    let d = Daemon::start(&env);
    let name = env.name("again");
    d.docker(
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "sleep 0.3; exit 3",
        ],
        &[],
    )
    .ok();
    for condition in ["not-running", "next-exit", "not-running"] {
        let a = d.request(
            "POST",
            &format!("/containers/{name}/wait?condition={condition}"),
            None,
        );
        assert_eq!(a.status, 200, "{condition}: {}", a.body);
        assert_eq!(a.json()["StatusCode"], 3, "{condition}: {}", a.body);
    }
    let rm = d.request("DELETE", &format!("/containers/{name}?force=1"), None);
    assert_eq!(rm.status, 204, "{}", rm.body);
}

#[test]
fn logs_keep_to_the_window_since_and_until_ask_for() {
    let env = Env::new("api_logs_window");
    let d = Daemon::start(&env);
    let name = env.name("talker");
    d.docker(
        &[
            "run",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo first; sleep 1; echo second",
        ],
        &[],
    )
    .ok();
    let all = d.request(
        "GET",
        &format!("/containers/{name}/logs?stdout=1&timestamps=1"),
        None,
    );
    assert_eq!(all.status, 200, "{}", all.body);
    let text = all.frames();
    let stamp = |word: &str| {
        text.lines()
            .find(|l| l.ends_with(word))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {word:?} in {text:?}"))
            .to_string()
    };
    let (first, second) = (stamp("first"), stamp("second"));
    let until = d.request(
        "GET",
        &format!("/containers/{name}/logs?stdout=1&until={first}"),
        None,
    );
    assert_eq!(until.frames(), "first\n");
    let since = d.request(
        "GET",
        &format!("/containers/{name}/logs?stdout=1&since={second}"),
        None,
    );
    assert_eq!(since.frames(), "second\n");
    let bad = d.request(
        "GET",
        &format!("/containers/{name}/logs?stdout=1&until=soon"),
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    d.docker(&["rm", &name], &[]).ok();
}

#[test]
fn swarm_and_plugin_endpoints_answer_as_a_dockerd_in_no_swarm_with_no_plugins() {
    let env = Env::new("api_no_swarm");
    let d = Daemon::start(&env);
    let not_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
    for (method, path) in [
        ("GET", "/swarm"),
        ("GET", "/v1.41/nodes"),
        ("GET", "/services"),
        ("GET", "/tasks"),
        ("GET", "/secrets"),
        ("GET", "/configs"),
        ("POST", "/services/create"),
    ] {
        let a = d.request(method, path, None);
        assert_eq!(a.status, 503, "{method} {path}: {}", a.body);
        assert_eq!(a.json()["message"], not_manager, "{method} {path}");
    }
    let leave = d.request("POST", "/swarm/leave", None);
    assert_eq!(
        (leave.status, leave.json()["message"].clone()),
        (503, serde_json::json!("This node is not part of a swarm"))
    );
    let plugins = d.request("GET", "/plugins", None);
    assert_eq!(
        (plugins.status, plugins.json()),
        (200, serde_json::json!([]))
    );
    assert_eq!(d.request("GET", "/plugins/nope/json", None).status, 404);
    let node_ls = d.docker(&["node", "ls"], &[]);
    assert!(
        node_ls.stderr.contains("not a swarm manager"),
        "{}",
        node_ls.stderr
    );
    d.docker(&["plugin", "ls"], &[]).ok();
}

#[test]
fn docker_run_i_feeds_the_containers_stdin_through_the_attach() {
    let env = Env::new("api_run_i");
    let d = Daemon::start(&env);
    let cat = d.docker_with_input(&["run", "-i", "--rm", "busybox", "cat"], b"hello\nworld\n");
    assert_eq!(cat.ok().stdout, "hello\nworld\n", "{}", cat.stderr);
    let read = d.docker_with_input(
        &[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "read x; echo got $x; exit 4",
        ],
        b"abc\n",
    );
    assert_eq!(
        (read.code, read.stdout.as_str()),
        (4, "got abc\n"),
        "{}",
        read.stderr
    );
    // Without -i the input is not read: the container sees an empty stdin.
    let closed = d.docker_with_input(&["run", "--rm", "busybox", "cat"], b"ignored\n");
    assert_eq!(closed.ok().stdout, "");
    // exec -i: the input is the exec'd command's stdin.
    let name = env.name("target");
    d.docker(
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
        &[],
    )
    .ok();
    let exec = d.docker_with_input(
        &["exec", "-i", &name, "sh", "-c", "cat; exit 6"],
        b"via exec\n",
    );
    assert_eq!(
        (exec.code, exec.stdout.as_str()),
        (6, "via exec\n"),
        "{}",
        exec.stderr
    );
    d.docker(&["rm", "-f", &name], &[]).ok();
    // With -t alone the output is the terminal's, raw (one stream, CR LF).
    let tty = d.docker(&["run", "-t", "--rm", "busybox", "echo", "on-a-tty"], &[]);
    assert_eq!(tty.ok().stdout, "on-a-tty\r\n", "{}", tty.stderr);
}

#[test]
fn docker_run_it_is_a_real_terminal_through_the_daemon() {
    let env = Env::new("api_run_it");
    let d = Daemon::start(&env);
    let mut term = common::term::Term::new(30, 100);
    let name = env.name("shell");
    let mut cli =
        term.spawn(&mut d.docker_cmd(&["run", "-it", "--rm", "--name", &name, "busybox", "sh"]));
    // Typed keys reach the shell, its output comes back; the window size is the terminal's.
    term.type_("echo hi-$((1+2))\r");
    term.expect("hi-3\r\n");
    term.type_("stty size\r");
    term.expect("30 100\r\n");
    // A window change reaches the container (the CLI's resize request).
    term.resize(40, 120);
    unsafe { libc::kill(cli.id() as i32, libc::SIGWINCH) };
    let resized = common::within(common::PATIENCE, || {
        term.type_("stty size; echo =$((1+1))done\r");
        term.expect("=2done\r\n").contains("40 120").then_some(())
    });
    assert!(
        resized.is_some(),
        "the container never saw the new window size"
    );
    // ^C is a byte to the container's terminal, which interrupts its foreground job (once
    // `sleep` shows in ps, the shell has made it the terminal's foreground job; as in tests/tty.rs,
    // ^C is typed until it is gone: the assertion is that it interrupts, not how many it takes).
    term.type_("sleep 1000\r");
    let sleeping = || {
        d.docker(&["exec", &name, "ps", "-o", "args"], &[])
            .stdout
            .lines()
            .any(|l| l.trim() == "sleep 1000")
    };
    common::eventually(sleeping, common::PATIENCE);
    let interrupted = common::within(common::PATIENCE, || {
        term.type_("\x03");
        common::within(std::time::Duration::from_millis(200), || {
            (!sleeping()).then_some(())
        })
    });
    assert!(
        interrupted.is_some(),
        "^C did not interrupt the foreground job"
    );
    term.type_("exit 5\r");
    let status = cli.wait().unwrap();
    assert_eq!(status.code(), Some(5));
}

#[test]
fn containers_started_through_the_daemon_block_no_signals() {
    // The daemon blocks SIGINT and SIGTERM for its signal thread: a container (or an exec) that
    // inherited that would ignore `docker stop`'s SIGTERM and ^C.
    let env = Env::new("api_sigmask");
    let d = Daemon::start(&env);
    let name = env.name("masked");
    d.docker(
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
        &[],
    )
    .ok();
    for pid in ["1", "self"] {
        let status = d.docker(&["exec", &name, "cat", &format!("/proc/{pid}/status")], &[]);
        let blocked = status
            .ok()
            .stdout
            .lines()
            .find(|l| l.starts_with("SigBlk:"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string());
        assert_eq!(blocked.as_deref(), Some("0000000000000000"), "/proc/{pid}");
    }
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn docker_exec_it_is_a_real_terminal_through_the_daemon() {
    let env = Env::new("api_exec_it");
    let d = Daemon::start(&env);
    let name = env.name("host");
    d.docker(
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
        &[],
    )
    .ok();
    let mut term = common::term::Term::new(25, 90);
    let mut cli = term.spawn(&mut d.docker_cmd(&["exec", "-it", &name, "sh"]));
    term.type_("echo x$((2*3))x\r");
    term.expect("x6x\r\n");
    term.type_("stty size; tty\r");
    term.expect("25 90\r\n");
    term.resize(35, 110);
    unsafe { libc::kill(cli.id() as i32, libc::SIGWINCH) };
    let resized = common::within(common::PATIENCE, || {
        term.type_("stty size; echo =$((1+1))done\r");
        term.expect("=2done\r\n").contains("35 110").then_some(())
    });
    assert!(resized.is_some(), "the exec never saw the new window size");
    term.type_("exit 3\r");
    assert_eq!(cli.wait().unwrap().code(), Some(3));
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn docker_start_ai_and_attach_reach_a_containers_terminal_and_detach_with_ctrl_p_ctrl_q() {
    let env = Env::new("api_attach_again");
    let d = Daemon::start(&env);
    let name = env.name("again");
    d.docker(&["create", "-it", "--name", &name, "busybox", "sh"], &[])
        .ok();
    // `start -ai`: attached before the start, as `run -it`.
    let mut term = common::term::Term::new(24, 80);
    let mut cli = term.spawn(&mut d.docker_cmd(&["start", "-ai", &name]));
    term.type_("echo first$((1+1))\r");
    term.expect("first2\r\n");
    // ^P^Q detaches the client; the container keeps running.
    term.type_("\x10\x11");
    assert!(cli.wait().unwrap().success());
    let state = d
        .request("GET", &format!("/containers/{name}/json"), None)
        .json();
    assert_eq!(state["State"]["Status"], "running", "{}", state["State"]);
    // `attach`: the same terminal again.
    let mut term = common::term::Term::new(24, 80);
    let mut cli = term.spawn(&mut d.docker_cmd(&["attach", &name]));
    let back = common::within(common::PATIENCE, || {
        term.type_("echo again$((2+2))\r");
        term.expect("\r\n").contains("again4").then_some(())
    });
    assert!(
        back.is_some(),
        "attach never reached the container's terminal"
    );
    term.type_("exit 2\r");
    assert_eq!(cli.wait().unwrap().code(), Some(2));
    d.docker(&["rm", &name], &[]).ok();
}

#[test]
fn bad_limits_names_hostnames_and_reserved_mounts_get_a_400_at_create_and_make_nothing() {
    let env = Env::new("api-rough-edges");
    let d = Daemon::start(&env);
    let long = "a".repeat(300);
    for (query, body, want) in [
        (
            "",
            r#"{"HostConfig":{"Memory":-5}}"#,
            "minimum memory limit allowed is 6MB",
        ),
        (
            "",
            r#"{"HostConfig":{"NanoCpus":-5}}"#,
            "range of CPUs is from 0.01",
        ),
        (
            "",
            r#"{"HostConfig":{"NanoCpus":100000000000000}}"#,
            "CPUs available",
        ),
        (
            "",
            r#"{"HostConfig":{"CpuShares":-5}}"#,
            "must not be negative",
        ),
        (
            "",
            r#"{"HostConfig":{"PidsLimit":-5}}"#,
            "invalid pids limit -5",
        ),
        (
            "",
            r#"{"HostConfig":{"PidsLimit":99999999999999}}"#,
            "invalid pids limit",
        ),
        (
            "",
            r#"{"HostConfig":{"Memory":67108864,"MemorySwap":-5}}"#,
            "invalid memory swap",
        ),
        ("", r#"{"Hostname":"a\nb"}"#, "invalid hostname format"),
        (
            "",
            r#"{"HostConfig":{"Binds":["/tmp:/proc"]}}"#,
            "/proc is reserved",
        ),
        (
            "",
            r#"{"HostConfig":{"Binds":["/tmp:/sys"]}}"#,
            "/sys is reserved",
        ),
        (long.as_str(), "{}", "invalid container name"),
    ] {
        let mut doc: serde_json::Value = serde_json::from_str(body).unwrap();
        doc["Image"] = "busybox".into();
        let path = if query.is_empty() {
            "/containers/create".to_string()
        } else {
            format!("/containers/create?name={query}")
        };
        let a = d.request("POST", &path, Some(&doc.to_string()));
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        let message = a.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(want), "{message} !~ {want}");
        assert!(!message.contains('\n') && !message.contains(env.dir.to_str().unwrap()));
    }
    let all = d.request("GET", "/containers/json?all=1", None).json();
    assert_eq!(
        all,
        serde_json::json!([]),
        "a refused create left a container"
    );
}
