//! `ctrace daemon`: the stock docker CLI against it, one trace across client/daemon/shim, the
//! daemon killed mid-start, concurrent requests, bad requests. Each test runs its own daemon on
//! its own socket and root, and stops it before the harness checks that nothing leaked.

mod common;
mod otlp_receiver;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, gone, mounts_under, processes_with, within, Env, Run, PATIENCE};

/// A daemon for one test; stopped (SIGTERM) when dropped.
struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        Daemon::start_with(env, &[])
    }

    /// A daemon with these environment variables set.
    fn start_with(env: &Env, vars: &[(&str, &str)]) -> Daemon {
        Daemon::start_with_args(env, &[], vars)
    }

    /// A daemon with these flags and environment variables.
    fn start_with_args(env: &Env, flags: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let socket = env.exec_root.join("ctrace.sock");
        // Pulls from the loopback test registry must not go through the caller's proxy.
        let mut args = vec!["daemon", "--group", "no-such-group-ctrace"];
        args.extend(flags);
        let mut cmd = env.direct_cmd(&args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ctrace daemon");
        // Ready when the socket answers a ping; a daemon that exits instead is a failure. Not a
        // bare connect: a daemon killed while it was spawning a shim leaves its listening socket
        // open in the half-spawned child until that child execs, and a connect there succeeds
        // and then gets nothing.
        let ready = within(PATIENCE, || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("ctrace daemon exited before listening: {status}");
            }
            ping(&socket).then_some(())
        });
        assert!(
            ready.is_some(),
            "ctrace daemon did not listen on {socket:?}"
        );
        Daemon {
            child: Some(child),
            socket,
        }
    }

    fn signal(&mut self, sig: i32) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, sig) };
            let _ = c.wait();
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
    }
}

/// One request, `Connection: close`; the status and the (de-chunked) body.
/// True when a daemon answers `GET /_ping` with 200 on `socket`.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    let req = "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut raw = Vec::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_end(&mut raw).is_ok()
        && raw.starts_with(b"HTTP/1.1 200")
}

fn http(socket: &Path, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    let mut s = UnixStream::connect(socket).expect("connect to the daemon");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(b) = body {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        );
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        // A huge body may be refused before it is all sent.
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((size, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            r = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_string()
    };
    (status, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn docker(env: &Env, d: &Daemon, args: &[&str]) -> Run {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null())
        .output()
        .expect("the docker client is not installed: run scripts/deps.sh (docker.io)")
        .into()
}

#[test]
fn the_stock_docker_cli_runs_containers_through_the_daemon() {
    let env = Env::new("daemon_docker_cli");
    let d = Daemon::start(&env);

    let v = docker(&env, &d, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.ok().stdout.trim(), "1.56");
    let info = docker(
        &env,
        &d,
        &["info", "--format", "{{.Driver}} {{.DefaultRuntime}}"],
    );
    assert_eq!(info.ok().stdout.trim(), "overlay embedded");

    let hi = docker(&env, &d, &["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(hi.ok().stdout, "hi\n");
    let images = docker(
        &env,
        &d,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    assert!(
        images.ok().stdout.contains("busybox:latest"),
        "{}",
        images.stdout
    );

    let code = docker(
        &env,
        &d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo oops >&2; exit 3",
        ],
    );
    assert_eq!(code.code, 3, "{}", code.stderr);
    assert!(code.stderr.contains("oops"), "stderr: {}", code.stderr);
    let missing = docker(&env, &d, &["run", "--rm", "busybox", "no-such-cmd"]);
    assert_eq!(missing.code, 127, "{}", missing.stderr);

    let name = env.name("web");
    let run = docker(
        &env,
        &d,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo ready; sleep 1000",
        ],
    );
    let id = run.ok().stdout.trim().to_string();
    assert_eq!(id.len(), 64, "{}", run.stdout);
    let ps = docker(&env, &d, &["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        ps.ok().stdout.contains(&format!("{name} running")),
        "{}",
        ps.stdout
    );
    let state = docker(
        &env,
        &d,
        &["inspect", "-f", "{{.State.Running}} {{.Id}}", &name],
    );
    assert_eq!(state.ok().stdout.trim(), format!("true {id}"));
    // The output is in the log once the shim has copied it; `ready` comes first.
    eventually(
        || docker(&env, &d, &["logs", &name]).ok().stdout == "ready\n",
        PATIENCE,
    );
    docker(&env, &d, &["stop", "-t", "1", &name]).ok();
    let after = docker(
        &env,
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ],
    );
    assert_eq!(after.ok().stdout.trim(), "exited 137");
    docker(&env, &d, &["rm", &name]).ok();

    let gone = docker(&env, &d, &["rm", &name]);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("no such container"),
        "stderr: {}",
        gone.stderr
    );
    let inspect_gone = docker(&env, &d, &["inspect", &name]);
    assert_ne!(inspect_gone.code, 0);

    let exec = docker(&env, &d, &["pause", "whatever"]);
    assert_ne!(exec.code, 0);
}

/// Spans of the trace files under the root, by trace id.
fn spans_of(env: &Env, trace_id: &str) -> Vec<serde_json::Value> {
    env.traces()
        .into_iter()
        .filter(|t| t["trace_id"] == trace_id)
        .flat_map(|t| t["spans"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn one_trace_runs_through_client_daemon_shim_and_init() {
    let env = Env::new("daemon_one_trace");
    let d = Daemon::start(&env);
    let run = env.run(&["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    assert_eq!(run.ok().stdout, "hi\n");
    let run_trace = env
        .traces()
        .into_iter()
        .find(|t| t["operation"] == "run")
        .expect("the client's run trace");
    let spans = run_trace["spans"].as_array().unwrap();
    let by_name = |n: &str| spans.iter().find(|s| s["name"] == n).cloned();
    let connect = by_name("client.connect").expect("client.connect");
    assert_eq!(connect["attrs"]["mode"], "daemon");
    let processes: std::collections::BTreeSet<&str> =
        spans.iter().filter_map(|s| s["process"].as_str()).collect();
    for p in ["ctrace", "daemon", "shim", "init"] {
        assert!(processes.contains(p), "no {p} spans: {processes:?}");
    }
    // The daemon's request span hangs under one of the client's request spans.
    let requests: Vec<_> = spans
        .iter()
        .filter(|s| s["name"] == "client.request")
        .map(|s| s["span_id"].clone())
        .collect();
    let api = spans
        .iter()
        .filter(|s| s["name"] == "api.request")
        .collect::<Vec<_>>();
    assert!(api.len() >= 2, "create and start requests");
    for a in api {
        assert!(requests.contains(&a["parent_id"]), "orphan {a}");
    }
    for phase in [
        "start.runtime.create",
        "runtime.clone",
        "init.pivot_root",
        "exit.reap",
    ] {
        assert!(by_name(phase).is_some(), "{phase} missing from the trace");
    }
    // The daemon wrote no trace of its own for these requests: the client has them all.
    assert!(env.traces().iter().all(|t| t["operation"] != "start"));
    drop(d);
}

/// The stress variant of the test above: the client's trace through the daemon once lost its
/// exit spans (`exit.reap` missing) in one run of two on a fresh machine. Fifty runs in a row,
/// each trace complete with the shim's exit spans, or the race is back.
#[test]
fn fifty_runs_in_a_row_through_the_daemon_each_keep_their_exit_spans() {
    let env = Env::new("daemon_fifty_traces");
    let d = Daemon::start(&env);
    for round in 0..50 {
        let run = env.run(&["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
        assert_eq!(run.ok().stdout, "hi\n", "round {round}");
        let traces: Vec<serde_json::Value> = env
            .traces()
            .into_iter()
            .filter(|t| t["operation"] == "run")
            .collect();
        assert_eq!(traces.len(), round + 1, "round {round}: one trace per run");
        let last = traces
            .iter()
            .max_by_key(|t| t["started_unix_ns"].as_u64().unwrap_or(0))
            .unwrap();
        let names: Vec<&str> = last["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        for phase in ["init.pivot_root", "exit.reap", "exit.autoremove"] {
            assert!(
                names.contains(&phase),
                "round {round}: {phase} missing: {names:?}"
            );
        }
    }
    drop(d);
}

/// The running container's id and init pid, from its `state.json`.
fn running_container(env: &Env) -> Option<(String, i32)> {
    env.ids().into_iter().find_map(|id| {
        let path = env.root.join("containers").join(&id).join("state.json");
        let state = json(&std::fs::read_to_string(path).ok()?);
        let pid = state["Pid"].as_i64().unwrap_or(0) as i32;
        (state["Status"] == "running" && pid > 0).then_some((id, pid))
    })
}

#[test]
fn run_rm_through_the_daemon_gets_its_exit_code_and_spans_however_late_the_shim_reports() {
    let env = Env::new("daemon_late_report");
    let d = Daemon::start(&env);
    // The container exits 3 when told to (SIGUSR1 to its init), once the test holds the volume
    // store's lock: `--rm` then removes the state file and blocks on that lock (removing the
    // anonymous volume, in `exit.autoremove`), before the shim's exited report.
    let script = "trap 'exit 3' USR1; while :; do sleep 1 & wait $!; done";
    let client = env
        .cmd(&[
            "-H",
            &d.host(),
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "/data",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctrace run");
    let (id, init) = within(PATIENCE, || running_container(&env)).expect("the container runs");
    let lock_path = env.root.join("volumes").join(".lock");
    let lock = std::fs::File::open(&lock_path).expect("the volume store's lock file");
    use std::os::fd::AsRawFd;
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    assert_eq!(unsafe { libc::kill(init, libc::SIGUSR1) }, 0);
    let state = env.root.join("containers").join(&id).join("state.json");
    eventually(|| !state.exists(), PATIENCE);
    // The point of the test: the shim reports the exit well after its state file is gone —
    // longer than the daemon's wait re-reads the state (every 500 ms), as on a loaded machine.
    std::thread::sleep(Duration::from_millis(1200));
    drop(lock);
    let run: Run = client.wait_with_output().expect("ctrace run").into();
    assert_eq!(
        run.code, 3,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let run_trace = env
        .traces()
        .into_iter()
        .find(|t| t["operation"] == "run")
        .expect("the client's run trace");
    let spans = run_trace["spans"].as_array().unwrap();
    assert!(
        spans.iter().any(|s| s["name"] == "exit.reap"),
        "exit.reap missing from the trace"
    );
    drop(d);
}

#[test]
fn requests_without_traceparent_get_a_trace_of_their_own() {
    let env = Env::new("daemon_no_traceparent");
    let d = Daemon::start(&env);
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let (status, created) = http(&d.socket, "POST", "/v1.41/containers/create", Some(body));
    assert_eq!(status, 201, "{created}");
    let id = json(&created)["Id"].as_str().unwrap().to_string();
    let (status, out) = http(&d.socket, "POST", &format!("/containers/{id}/start"), None);
    assert_eq!(status, 204, "{out}");
    let (status, waited) = http(&d.socket, "POST", &format!("/containers/{id}/wait"), None);
    assert_eq!(status, 200);
    assert_eq!(json(&waited)["StatusCode"], 0);
    let start = env
        .traces()
        .into_iter()
        .find(|t| t["operation"] == "start")
        .expect("the daemon wrote the start's trace");
    let tid = start["trace_id"].as_str().unwrap().to_string();
    let spans = spans_of(&env, &tid);
    let root = spans.iter().find(|s| s["name"] == "api.request").unwrap();
    assert!(root["parent_id"].is_null());
    assert!(spans.iter().any(|s| s["process"] == "shim"));
    // The exit joins the start's trace once the shim has reported it.
    eventually(
        || {
            spans_of(&env, &tid)
                .iter()
                .any(|s| s["name"] == "exit.state")
        },
        PATIENCE,
    );
    let (status, _) = http(&d.socket, "DELETE", &format!("/containers/{id}"), None);
    assert_eq!(status, 204);
    drop(d);
}

#[test]
fn containers_that_exit_at_once_still_add_their_exit_to_the_daemons_start_traces() {
    let env = Env::new("daemon_quick_exits");
    let d = Daemon::start(&env);
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let ids: Vec<String> = (0..16)
        .map(|_| {
            let (status, created) = http(&d.socket, "POST", "/containers/create", Some(body));
            assert_eq!(status, 201, "{created}");
            json(&created)["Id"].as_str().unwrap().to_string()
        })
        .collect();
    // Started together, so each exit races the writing of its start's trace file.
    std::thread::scope(|s| {
        for id in &ids {
            let socket = &d.socket;
            s.spawn(move || {
                let (status, out) = http(socket, "POST", &format!("/containers/{id}/start"), None);
                assert_eq!(status, 204, "{out}");
            });
        }
    });
    for id in &ids {
        let (status, waited) = http(&d.socket, "POST", &format!("/containers/{id}/wait"), None);
        assert_eq!(status, 200);
        assert_eq!(json(&waited)["StatusCode"], 0);
    }
    let starts: Vec<String> = env
        .traces()
        .into_iter()
        .filter(|t| t["operation"] == "start")
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts.len(), ids.len(), "one start trace per container");
    for tid in &starts {
        let has_exit = || {
            spans_of(&env, tid)
                .iter()
                .any(|s| s["name"] == "exit.state")
        };
        assert!(
            within(PATIENCE, || has_exit().then_some(())).is_some(),
            "the exit is missing from start trace {tid}"
        );
    }
    for id in &ids {
        let (status, _) = http(&d.socket, "DELETE", &format!("/containers/{id}"), None);
        assert_eq!(status, 204);
    }
    drop(d);
}

#[test]
fn daemon_start_up_is_a_trace_and_a_live_socket_is_not_stolen() {
    let env = Env::new("daemon_startup");
    let mut d = Daemon::start(&env);
    // The start-up's trace is written once its last phase (listen) has ended: just after the
    // socket starts answering.
    let startup = within(PATIENCE, || {
        env.traces()
            .into_iter()
            .find(|t| t["operation"] == "daemon")
    })
    .expect("the daemon's start-up trace");
    let names: Vec<String> = startup["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("{n} missing: {names:?}"))
    };
    assert!(pos("daemon.config") < pos("daemon.root"));
    assert!(pos("daemon.stores") < pos("daemon.restore"));
    assert!(pos("daemon.restore") < pos("daemon.listen"));
    let mode = std::fs::metadata(&d.socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o660);

    let second = env.run(&["daemon"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("already listening"),
        "{}",
        second.stderr
    );
    // Still served.
    assert_eq!(http(&d.socket, "GET", "/_ping", None), (200, "OK".into()));

    // A daemon killed with SIGKILL leaves its socket file: the next one replaces it.
    d.signal(libc::SIGKILL);
    assert!(d.socket.exists());
    let d2 = Daemon::start(&env);
    assert_eq!(http(&d2.socket, "GET", "/_ping", None).0, 200);
}

#[test]
fn bad_requests_get_a_4xx_and_the_daemon_keeps_serving() {
    let env = Env::new("daemon_bad_requests");
    let d = Daemon::start(&env);
    // method, path, body, expected status, words of the message
    type Case = (&'static str, String, Option<Vec<u8>>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/containers/create".into(),
            Some(b"{not json".to_vec()),
            400,
            "malformed",
        ),
        (
            "POST",
            "/containers/create".into(),
            Some(br#"{"Image":"busybox","Env":[1]}"#.to_vec()),
            400,
            "Env",
        ),
        (
            "POST",
            "/containers/create".into(),
            Some(vec![b' '; 2 << 20]),
            413,
            "too large",
        ),
        (
            "POST",
            "/containers/create?name=..%2F..%2Fetc".into(),
            Some(br#"{"Image":"busybox"}"#.to_vec()),
            400,
            "invalid container name",
        ),
        (
            "GET",
            "/containers/..%2F..%2Fetc/json".into(),
            None,
            400,
            "invalid container name",
        ),
        (
            "GET",
            "/containers/no-such-thing/json".into(),
            None,
            404,
            "no such container",
        ),
        (
            "POST",
            "/containers/no-such-thing/start".into(),
            None,
            404,
            "no such container",
        ),
        (
            "DELETE",
            "/containers/no-such-thing".into(),
            None,
            404,
            "no such container",
        ),
        (
            "POST",
            "/containers/no-such-thing/kill?signal=BOGUS".into(),
            None,
            400,
            "invalid signal",
        ),
        (
            "POST",
            "/containers/x1/wait?condition=whenever".into(),
            None,
            400,
            "invalid condition",
        ),
        ("GET", "/v9.99/info".into(), None, 400, "too new"),
        (
            "GET",
            "/no/such/endpoint".into(),
            None,
            404,
            "page not found",
        ),
        (
            "POST",
            "/containers/x1/pause".into(),
            None,
            404,
            "no such container",
        ),
        (
            "GET",
            "/events?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D".into(),
            None,
            400,
            "invalid filter",
        ),
        (
            "GET",
            "/events?since=soon".into(),
            None,
            400,
            "invalid value",
        ),
    ];
    for (method, path, body, want, words) in cases {
        let (status, text) = http(&d.socket, method, &path, body.as_deref());
        assert_eq!(status, want, "{method} {path}: {text}");
        if status != 413 || !text.is_empty() {
            let msg = json(&text)["message"].as_str().unwrap_or("").to_string();
            assert!(msg.contains(words), "{method} {path}: {msg}");
        }
        assert_eq!(
            http(&d.socket, "GET", "/_ping", None).0,
            200,
            "after {path}"
        );
    }
    assert!(env.ids().is_empty(), "a bad request created a container");
}

#[test]
fn fifty_concurrent_creates_and_starts_get_distinct_ids_and_addresses() {
    let env = Env::new("daemon_concurrent");
    let d = Daemon::start(&env);
    // The image is built once, before the rush.
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let (s, b) = http(&d.socket, "POST", "/containers/create", Some(body));
    assert_eq!(s, 201, "{b}");
    let first = json(&b)["Id"].as_str().unwrap().to_string();
    http(&d.socket, "DELETE", &format!("/containers/{first}"), None);

    let socket = d.socket.clone();
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let body = br#"{"Image":"busybox","Cmd":["sleep","1000"]}"#;
                let (s, b) = http(&socket, "POST", "/containers/create", Some(body));
                assert_eq!(s, 201, "create: {b}");
                let id = json(&b)["Id"].as_str().unwrap().to_string();
                let (s, b) = http(&socket, "POST", &format!("/containers/{id}/start"), None);
                assert_eq!(s, 204, "start: {b}");
                id
            })
        })
        .collect();
    let ids: Vec<String> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 50);
    let mut addresses = std::collections::BTreeSet::new();
    for id in &ids {
        let (s, b) = http(&d.socket, "GET", &format!("/containers/{id}/json"), None);
        assert_eq!(s, 200);
        let v = json(&b);
        assert_eq!(v["State"]["Status"], "running", "{id}");
        addresses.insert(
            v["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(addresses.len(), 50, "{addresses:?}");
    for id in &ids {
        let (s, b) = http(
            &d.socket,
            "DELETE",
            &format!("/containers/{id}?force=1"),
            None,
        );
        assert_eq!(s, 204, "{b}");
    }
}

#[test]
fn a_daemon_killed_mid_start_twenty_times_loses_nothing_and_leaks_nothing() {
    let env = Env::new("daemon_sigkill");
    let mut d = Daemon::start(&env);
    let body = br#"{"Image":"busybox","Cmd":["sleep","1000"]}"#;
    for round in 0..20u64 {
        let (s, b) = http(&d.socket, "POST", "/containers/create", Some(body));
        assert_eq!(s, 201, "{b}");
        let id = json(&b)["Id"].as_str().unwrap().to_string();
        let socket = d.socket.clone();
        let path = format!("/containers/{id}/start");
        let req = std::thread::spawn(move || http(&socket, "POST", &path, None));
        // Vary where in the start the kill lands, from before the request is read to after
        // the container runs: this sleep is the point (a moment, not a condition).
        std::thread::sleep(Duration::from_millis(round * 4));
        d.signal(libc::SIGKILL);
        let _ = req.join();
        d = Daemon::start(&env);

        let (s, b) = http(&d.socket, "GET", &format!("/containers/{id}/json"), None);
        assert_eq!(s, 200, "round {round}: {b}");
        let v = json(&b);
        let status = v["State"]["Status"].as_str().unwrap().to_string();
        let shims = processes_with(&format!("--id {id}"));
        match status.as_str() {
            "running" => {
                assert_eq!(
                    shims.len(),
                    1,
                    "round {round}: running without one shim: {shims:?}"
                );
                let pid = v["State"]["Pid"].as_i64().unwrap();
                assert!(Path::new(&format!("/proc/{pid}")).exists());
            }
            "created" => {
                assert!(
                    shims.is_empty(),
                    "round {round}: created with a shim: {shims:?}"
                );
                assert!(
                    mounts_under(&env.exec_root.join(&id)).is_empty(),
                    "round {round}: rootfs still mounted"
                );
                assert!(!env.exec_root.join("netns").join(&id).exists());
            }
            other => panic!("round {round}: container is {other}"),
        }
        let (s, b) = http(
            &d.socket,
            "DELETE",
            &format!("/containers/{id}?force=1"),
            None,
        );
        assert_eq!(s, 204, "round {round}: {b}");
    }
    drop(d);
}

#[test]
fn without_a_daemon_the_cli_runs_the_engine_itself() {
    let env = Env::new("daemon_fallback");
    let d = Daemon::start(&env);
    let host = d.host();
    let via = env.run(&[
        "-H",
        &host,
        "run",
        "-d",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = via.ok().stdout.trim().to_string();
    drop(d);
    // The same container, now handled in-process: one state, either way.
    env.run(&["stop", "-t", "0", &id]).ok();
    let inspect = env.run(&["inspect", &id]);
    assert!(
        inspect.ok().stdout.contains("\"exited\""),
        "{}",
        inspect.stdout
    );
    let last = env.last_trace("stop");
    let connect = last["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "client.connect")
        .cloned();
    assert!(connect.is_none() || connect.unwrap()["attrs"]["mode"] == "embedded");
    // -H names a daemon that must answer.
    let gone = env.run(&["-H", &host, "rm", &id]);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("cannot connect to the ctrace daemon"),
        "{}",
        gone.stderr
    );
    env.run(&["rm", &id]).ok();
}

#[test]
fn restore_reattaches_live_shims_and_cleans_up_after_dead_ones() {
    let env = Env::new("daemon_restore");
    let mut d = Daemon::start(&env);
    let body = br#"{"Image":"busybox","Cmd":["sleep","1000"]}"#;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, b) = http(&d.socket, "POST", "/containers/create", Some(body));
        assert_eq!(s, 201, "{b}");
        let id = json(&b)["Id"].as_str().unwrap().to_string();
        assert_eq!(
            http(&d.socket, "POST", &format!("/containers/{id}/start"), None).0,
            204
        );
        ids.push(id);
    }
    let state = |d: &Daemon, id: &str| {
        json(&http(&d.socket, "GET", &format!("/containers/{id}/json"), None).1)["State"].clone()
    };
    // The daemon dies; so does the second container's shim (its init lives on, orphaned).
    let shim = json(
        &http(
            &d.socket,
            "GET",
            &format!("/containers/{}/json", ids[1]),
            None,
        )
        .1,
    )["Ctrace"]["ShimPid"]
        .as_i64()
        .unwrap() as i32;
    d.signal(libc::SIGKILL);
    unsafe { libc::kill(shim, libc::SIGKILL) };
    // Dead and reaped before the next daemon looks (a loaded machine can take a moment).
    eventually(|| gone(i64::from(shim)), PATIENCE);
    let d = Daemon::start(&env);

    let live = state(&d, &ids[0]);
    assert_eq!(live["Status"], "running");
    let dead = state(&d, &ids[1]);
    assert_eq!(dead["Status"], "exited", "{dead}");
    assert_eq!(dead["ExitCode"], 137);
    assert!(processes_with(&format!("--id {}", ids[1])).is_empty());
    assert!(mounts_under(&env.exec_root.join(&ids[1])).is_empty());

    // The reattached container is still watched: wait returns when it is stopped.
    let socket = d.socket.clone();
    let id0 = ids[0].clone();
    let waiter =
        std::thread::spawn(move || http(&socket, "POST", &format!("/containers/{id0}/wait"), None));
    assert_eq!(
        http(
            &d.socket,
            "POST",
            &format!("/containers/{}/stop?t=0", ids[0]),
            None
        )
        .0,
        204
    );
    let (s, b) = waiter.join().unwrap();
    assert_eq!(s, 200);
    assert_eq!(json(&b)["StatusCode"], 137);
    for id in &ids {
        assert_eq!(
            http(&d.socket, "DELETE", &format!("/containers/{id}"), None).0,
            204
        );
    }
}

fn status_of(env: &Env, d: &Daemon, name: &str) -> String {
    docker(env, d, &["inspect", "-f", "{{.State.Status}}", name])
        .ok()
        .stdout
        .trim()
        .to_string()
}

#[test]
fn docker_pause_unpause_and_restart_go_through_the_engine() {
    let env = Env::new("daemon_pause");
    let d = Daemon::start(&env);
    let name = env.name("web");
    let run = docker(
        &env,
        &d,
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
    );
    let id = run.ok().stdout.trim().to_string();

    docker(&env, &d, &["pause", &name]).ok();
    assert_eq!(status_of(&env, &d, &name), "paused");
    let again = docker(&env, &d, &["pause", &name]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains(&format!(
            "Error response from daemon: Container {id} is already paused"
        )),
        "stderr: {}",
        again.stderr
    );
    docker(&env, &d, &["unpause", &name]).ok();
    assert_eq!(status_of(&env, &d, &name), "running");
    let not_paused = docker(&env, &d, &["unpause", &name]);
    assert_eq!(not_paused.code, 1);
    assert!(
        not_paused.stderr.contains("is not paused"),
        "stderr: {}",
        not_paused.stderr
    );
    let (status, _) = http(&d.socket, "POST", "/containers/no-such-ctr/unpause", None);
    assert_eq!(status, 404);

    let pid = |env: &Env| {
        docker(env, &d, &["inspect", "-f", "{{.State.Pid}}", &name])
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    let before = pid(&env);
    docker(&env, &d, &["restart", "-t", "0", &name]).ok();
    assert_eq!(status_of(&env, &d, &name), "running");
    assert_ne!(pid(&env), before, "restart kept the old process");
    docker(&env, &d, &["rm", "-f", &name]).ok();

    // Nothing to pause once it is stopped.
    docker(
        &env,
        &d,
        &["create", "--name", &name, "busybox", "sleep", "1000"],
    )
    .ok();
    let stopped = docker(&env, &d, &["pause", &name]);
    assert_eq!(stopped.code, 1);
    assert!(
        stopped.stderr.contains("is not running"),
        "stderr: {}",
        stopped.stderr
    );
    docker(&env, &d, &["rm", &name]).ok();
}

#[test]
fn docker_events_lists_the_past_and_follows_live() {
    let env = Env::new("daemon_events");
    let d = Daemon::start(&env);
    let name = env.name("web");
    docker(
        &env,
        &d,
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
    )
    .ok();
    let filter = format!("container={name}");
    let past = docker(
        &env,
        &d,
        &[
            "events",
            "--since",
            "1m",
            "--until",
            "0s",
            "--filter",
            &filter,
            "--format",
            "{{json .}}",
        ],
    );
    let lines: Vec<serde_json::Value> = past.ok().stdout.lines().map(json).collect();
    let actions: Vec<&str> = lines.iter().filter_map(|l| l["Action"].as_str()).collect();
    assert_eq!(actions, ["create", "start"], "{}", past.stdout);
    let start = &lines[1];
    assert_eq!(start["Type"], "container");
    assert_eq!(start["status"], "start");
    assert_eq!(start["id"], start["Actor"]["ID"]);
    assert_eq!(start["Actor"]["Attributes"]["name"], name.as_str());
    assert_eq!(start["from"], "busybox");
    assert!(start["timeNano"].as_u64().unwrap() / 1_000_000_000 == start["time"].as_u64().unwrap());

    // Following from just after that start: the stream waits, then shows the restart's start.
    let after = start["timeNano"].as_u64().unwrap() + 1;
    let since = format!("{}.{:09}", after / 1_000_000_000, after % 1_000_000_000);
    let mut follow = Command::new("docker")
        .args([
            "events",
            "--since",
            &since,
            "--filter",
            &filter,
            "--filter",
            "event=start",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run docker events");
    docker(&env, &d, &["restart", "-t", "0", &name]).ok();
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), format!("start {name}"));
    unsafe { libc::kill(follow.id() as i32, libc::SIGTERM) };
    let _ = follow.wait();
    docker(&env, &d, &["rm", "-f", &name]).ok();
}

#[test]
fn docker_pull_through_the_daemon_streams_progress_from_a_registry() {
    let env = Env::new("daemon_pull");
    let d = Daemon::start(&env);
    let (reg, _img) = common::registry::Registry::with_app("daemon_pull", 200_000);
    let reference = format!("{}/team/app:1.2", reg.addr);

    // The raw stream: one JSON message a line, docker's words.
    let (status, body) = http(
        &d.socket,
        "POST",
        &format!(
            "/v1.41/images/create?fromImage={}/team/app&tag=1.2",
            reg.addr
        ),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let msgs: Vec<serde_json::Value> = body.lines().map(json).collect();
    let statuses: Vec<&str> = msgs.iter().filter_map(|m| m["status"].as_str()).collect();
    assert_eq!(statuses[0], "Pulling from team/app", "{body}");
    assert!(statuses.contains(&"Pulling fs layer"), "{body}");
    assert!(statuses.contains(&"Pull complete"), "{body}");
    let downloading = msgs
        .iter()
        .find(|m| m["status"] == "Downloading")
        .unwrap_or_else(|| panic!("no Downloading message: {body}"));
    assert!(downloading["progressDetail"]["total"].as_u64().unwrap() > 0);
    assert!(downloading["id"].as_str().is_some_and(|id| id.len() == 12));
    assert_eq!(
        statuses.last().copied(),
        Some(format!("Status: Downloaded newer image for {reference}").as_str()),
        "{body}"
    );
    assert!(msgs.iter().all(|m| m.get("error").is_none()), "{body}");

    // The docker CLI: up to date now, and the image runs.
    let again = docker(&env, &d, &["pull", &reference]);
    assert!(
        again
            .ok()
            .stdout
            .contains(&format!("Status: Image is up to date for {reference}")),
        "{}",
        again.stdout
    );
    let hello = docker(&env, &d, &["run", "--rm", &reference, "cat", "/etc/hello"]);
    assert_eq!(hello.ok().stdout, "hello");

    // A tag the registry does not have: docker's message, exit 1, nothing stored.
    let missing = docker(&env, &d, &["pull", &format!("{}/team/app:9.9", reg.addr)]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("manifest for") && missing.stderr.contains("not found"),
        "stderr: {}",
        missing.stderr
    );
    let bad = docker(&env, &d, &["pull", "Not A Reference"]);
    assert_ne!(bad.code, 0);
}

#[test]
fn docker_exec_runs_in_the_container_and_exits_with_its_code() {
    let env = Env::new("daemon_exec");
    let d = Daemon::start(&env);
    let name = env.name("web");
    docker(
        &env,
        &d,
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
    )
    .ok();

    // The container's own pid namespace: its init is pid 1, ps itself is there too.
    let ps = docker(&env, &d, &["exec", &name, "ps"]);
    let out = &ps.ok().stdout;
    assert!(out.contains("    1 root     sleep 1000"), "{out}");
    assert!(out.lines().any(|l| l.trim_end().ends_with(" ps")), "{out}");
    assert!(out.lines().count() == 3, "only init and ps: {out}");

    let code = docker(
        &env,
        &d,
        &["exec", &name, "sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    assert_eq!(code.code, 3, "{}", code.stderr);
    assert_eq!(code.stdout, "out\n");
    assert_eq!(code.stderr, "err\n");
    let env_wd = docker(
        &env,
        &d,
        &[
            "exec",
            "-e",
            "FOO=bar",
            "-w",
            "/etc",
            &name,
            "sh",
            "-c",
            "echo $FOO $PWD",
        ],
    );
    assert_eq!(env_wd.ok().stdout, "bar /etc\n");
    let missing = docker(&env, &d, &["exec", &name, "no-such-cmd"]);
    assert_eq!(missing.code, 127, "{}", missing.stderr);

    // Detached: it runs in the background; the container sees it.
    docker(&env, &d, &["exec", "-d", &name, "sleep", "777"]).ok();
    let top = docker(&env, &d, &["exec", &name, "ps"]);
    assert!(top.ok().stdout.contains("sleep 777"), "{}", top.stdout);

    // With -t the output comes from the exec's terminal, raw (CR LF).
    let tty = docker(&env, &d, &["exec", "-t", &name, "echo", "on-a-tty"]);
    assert_eq!(tty.ok().stdout, "on-a-tty\r\n", "{}", tty.stderr);
    let (status, body) = http(&d.socket, "GET", "/exec/0123456789ab/json", None);
    assert_eq!(status, 404, "{body}");

    docker(&env, &d, &["stop", "-t", "0", &name]).ok();
    let stopped = docker(&env, &d, &["exec", &name, "ps"]);
    assert_eq!(stopped.code, 1);
    assert!(
        stopped.stderr.contains("is not running"),
        "{}",
        stopped.stderr
    );
    docker(&env, &d, &["rm", &name]).ok();
}

#[test]
fn docker_logs_follow_streams_until_the_container_exits() {
    let env = Env::new("daemon_logs_follow");
    let d = Daemon::start(&env);
    let name = env.name("web");
    docker(
        &env,
        &d,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo last >&2",
        ],
    )
    .ok();
    let mut follow = Command::new("docker")
        .args(["logs", "-f", &name])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker logs -f");
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "first\n");
    // Still following: the container has not exited. Let it finish.
    docker(&env, &d, &["exec", &name, "touch", "/tmp/go"]).ok();
    let mut err = String::new();
    follow
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err, "last\n");
    let status = follow.wait().unwrap();
    assert!(status.success(), "docker logs -f: {status}");
    let state = docker(&env, &d, &["inspect", "-f", "{{.State.Status}}", &name]);
    assert_eq!(state.ok().stdout.trim(), "exited");
    docker(&env, &d, &["rm", &name]).ok();
}

/// Span names that reached the receiver, with their service.
fn received_spans(rx: &otlp_receiver::Receiver) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rs in rx
        .received()
        .iter()
        .flat_map(|g| g.request.resource_spans.clone())
    {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|k| k.key == "service.name"))
            .and_then(|k| match k.value.as_ref()?.value.as_ref()? {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            out.push((service.clone(), s.name.clone()));
        }
    }
    out
}

#[test]
fn a_daemon_exports_every_trace_live_and_counts_what_a_full_queue_drops() {
    let env = Env::new("dmn_otlp");
    let rx = otlp_receiver::Receiver::start();
    let http_endpoint = format!("http://{}", rx.http);
    {
        let d = Daemon::start_with(
            &env,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &http_endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ],
        );
        // The start-up trace, then a container's: create, start (with the shim's and the
        // init's spans) and, from the shim, its exit — each as it completes, nobody exporting.
        docker(&env, &d, &["run", "--rm", "busybox", "true"]).ok();
        let want = [
            ("ctrace-daemon", "daemon"),
            ("ctrace-daemon", "start"),
            ("ctrace-shim", "runtime.clone"),
            ("ctrace-init", "init.pivot_root"),
            ("ctrace-shim", "exit"),
        ];
        let arrived = within(PATIENCE, || {
            let got = received_spans(&rx);
            want.iter()
                .all(|(svc, name)| got.iter().any(|(s, n)| s == svc && n == name))
                .then_some(())
        });
        assert!(
            arrived.is_some(),
            "missing some of {want:?} in {:?}",
            received_spans(&rx)
        );
        let (code, body) = http(&d.socket, "GET", "/info", None);
        assert_eq!(code, 200);
        let export = &json(&body)["OtlpExport"];
        assert_eq!(export["Endpoint"], format!("{http_endpoint}/v1/traces"));
        assert!(export["SentSpans"].as_u64().unwrap() > 0, "{export}");
        assert_eq!(export["DroppedSpans"], 0, "{export}");
    }

    // A collector that accepts and never answers, and a queue of one span: the container runs
    // as if nothing were exported, and what did not fit is counted.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    let d = Daemon::start_with(
        &env,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &silent_endpoint),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000"),
        ],
    );
    let r = docker(&env, &d, &["run", "--rm", "busybox", "echo", "hi"]);
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    let (_, body) = http(&d.socket, "GET", "/info", None);
    let export = &json(&body)["OtlpExport"];
    assert!(export["DroppedSpans"].as_u64().unwrap() > 0, "{export}");
    assert_eq!(export["SentSpans"], 0, "{export}");
    // `ctrace info` shows the counters (which only grow meanwhile).
    let shown = env.run(&["-H", &d.host(), "info"]);
    let prefix = format!(" OTLP Export: live to {silent_endpoint}/v1/traces — 0 spans sent, ");
    let line = shown
        .ok()
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{}", shown.stdout))
        .to_string();
    let dropped: u64 = line.split(' ').next().unwrap().parse().unwrap();
    assert!(
        dropped >= export["DroppedSpans"].as_u64().unwrap(),
        "{line}"
    );
    assert!(line.contains(" dropped (queue full)"), "{line}");
}

#[test]
fn a_daemon_asked_to_propagate_hands_each_create_requests_trace_to_its_container() {
    let env = Env::new("dmn_propagate");
    let tp_of = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("TRACEPARENT="))
            .map(str::to_string)
    };
    {
        let d = Daemon::start(&env);
        let r = docker(
            &env,
            &d,
            &["run", "--rm", "--network", "none", "busybox", "env"],
        );
        assert_eq!(
            tp_of(&r.ok().stdout),
            None,
            "not asked: nothing handed over"
        );
    }
    let d = Daemon::start_with_args(&env, &["--trace-propagate"], &[]);
    let r = docker(
        &env,
        &d,
        &["run", "--rm", "--network", "none", "busybox", "env"],
    );
    let tp = tp_of(&r.ok().stdout).expect("TRACEPARENT in the container");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!((parts.len(), parts[0], parts[3]), (4, "00", "01"), "{tp}");
    // The create request's trace, written by the daemon, holds the span it names.
    let traces = env.traces();
    let holder = traces
        .iter()
        .find(|t| t["trace_id"] == parts[1])
        .unwrap_or_else(|| panic!("{tp}: no trace of the daemon's has that id"));
    assert!(holder["spans"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["span_id"] == parts[2] && s["name"].as_str().unwrap().starts_with("create")));
}

#[test]
fn fifty_concurrent_starts_with_live_export_arrive_as_complete_traces() {
    use std::collections::{BTreeMap, BTreeSet};
    let env = Env::new("dmn_otlp_rush");
    let rx = otlp_receiver::Receiver::start();
    let endpoint = format!("http://{}", rx.http);
    let d = Daemon::start_with(
        &env,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            // The default queue (16384 spans) holds 50 starts at once, some 2300 spans.
        ],
    );
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let socket = d.socket.clone();
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let (s, b) = http(&socket, "POST", "/containers/create", Some(body));
                assert_eq!(s, 201, "create: {b}");
                let id = json(&b)["Id"].as_str().unwrap().to_string();
                let (s, b) = http(&socket, "POST", &format!("/containers/{id}/start"), None);
                assert_eq!(s, 204, "start: {b}");
                id
            })
        })
        .collect();
    let ids: Vec<String> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for id in &ids {
        let exited = within(PATIENCE, || {
            let (_, b) = http(&d.socket, "GET", &format!("/containers/{id}/json"), None);
            (json(&b)["State"]["Status"] == "exited").then_some(())
        });
        assert!(exited.is_some(), "{id} did not exit");
    }

    // Every span of every operation's trace file arrives once, under its trace's id, and its
    // parent is a span that arrived in the same trace.
    let file_spans = || -> Vec<(String, serde_json::Value)> {
        env.traces()
            .into_iter()
            .filter(|t| t["operation"] != "daemon")
            .flat_map(|t| {
                let id = t["trace_id"].as_str().unwrap().to_string();
                let spans = t["spans"].as_array().cloned().unwrap_or_default();
                spans.into_iter().map(move |s| (id.clone(), s))
            })
            .collect()
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let received = || -> BTreeMap<String, Vec<(String, String)>> {
        let mut by_span: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for s in rx
            .received()
            .iter()
            .flat_map(|g| g.request.resource_spans.clone())
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
        {
            by_span
                .entry(hex(&s.span_id))
                .or_default()
                .push((hex(&s.trace_id), hex(&s.parent_span_id)));
        }
        by_span
    };
    let all_arrived = within(PATIENCE, || {
        let got = received();
        file_spans()
            .iter()
            .all(|(_, s)| got.contains_key(s["span_id"].as_str().unwrap()))
            .then_some(())
    });
    let spans = file_spans();
    let got = received();
    let (_, info) = http(&d.socket, "GET", "/info", None);
    let missing: BTreeSet<String> = spans
        .iter()
        .filter(|(_, s)| !got.contains_key(s["span_id"].as_str().unwrap()))
        .map(|(_, s)| format!("{}/{}", s["process"], s["name"]))
        .collect();
    assert!(
        all_arrived.is_some(),
        "{} of {} spans arrived; missing {missing:?}; {}",
        spans
            .iter()
            .filter(|(_, s)| got.contains_key(s["span_id"].as_str().unwrap()))
            .count(),
        spans.len(),
        json(&info)["OtlpExport"]
    );
    assert_eq!(json(&info)["OtlpExport"]["DroppedSpans"], 0);
    for (trace_id, s) in &spans {
        let span_id = s["span_id"].as_str().unwrap();
        let arrivals = &got[span_id];
        assert_eq!(arrivals.len(), 1, "{s} arrived {} times", arrivals.len());
        assert_eq!(&arrivals[0].0, trace_id, "{s} under another trace");
        if let Some(parent) = s["parent_id"].as_str() {
            assert_eq!(arrivals[0].1, parent);
            assert!(
                got.get(parent)
                    .is_some_and(|p| p.iter().any(|(t, _)| t == trace_id)),
                "{s}: its parent {parent} did not arrive in its trace"
            );
        }
    }
    // One trace per operation: 50 creates, 50 starts, each start with the daemon's, the
    // shim's and the init's phases down to the exit.
    let mut by_trace: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for (t, s) in &spans {
        by_trace.entry(t).or_default().push(s);
    }
    let with = |name: &str| {
        by_trace
            .values()
            .filter(|ss| ss.iter().any(|s| s["name"] == name))
            .collect::<Vec<_>>()
    };
    assert_eq!(by_trace.len(), 100);
    assert_eq!(with("create").len(), 50);
    let starts = with("start");
    assert_eq!(starts.len(), 50);
    for ss in starts {
        let names: BTreeSet<&str> = ss.iter().filter_map(|s| s["name"].as_str()).collect();
        let processes: BTreeSet<&str> = ss.iter().filter_map(|s| s["process"].as_str()).collect();
        for p in ["daemon", "shim", "init"] {
            assert!(processes.contains(p), "no {p} spans: {processes:?}");
        }
        for phase in ["runtime.clone", "init.pivot_root", "exit", "exit.reap"] {
            assert!(names.contains(phase), "{phase} missing: {names:?}");
        }
    }
    for id in &ids {
        let (s, b) = http(&d.socket, "DELETE", &format!("/containers/{id}"), None);
        assert_eq!(s, 204, "{b}");
    }
}

#[test]
fn docker_run_v_path_gets_an_anonymous_volume() {
    let env = Env::new("dmn_anonvol");
    let d = Daemon::start(&env);
    // The docker CLI sends `-v /data` as Config.Volumes, not as a bind.
    let r = docker(
        &env,
        &d,
        &[
            "run",
            "--name",
            "anon",
            "--network",
            "none",
            "-v",
            "/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/f && cat /data/f",
        ],
    );
    assert_eq!(r.ok().stdout, "kept\n");
    let mounts = docker(&env, &d, &["inspect", "-f", "{{json .Mounts}}", "anon"]);
    let v: serde_json::Value = serde_json::from_str(mounts.ok().stdout.trim()).unwrap();
    assert_eq!(v[0]["Type"], "volume", "{v}");
    assert_eq!(v[0]["Destination"], "/data", "{v}");
    docker(&env, &d, &["rm", "-v", "anon"]).ok();
}
