//! Confinement through `ctrace daemon` with the stock docker CLI: the seccomp filter,
//! `--cap-drop`, `--ulimit`, and the settings the daemon refuses (400, docker's exit 125) rather
//! than accept and drop.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{within, Env, Run, PATIENCE};

/// A daemon for one test; stopped (SIGTERM) when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        let socket = env.exec_root.join("ctrace.sock");
        let mut child = env
            .direct_cmd(&["daemon", "--group", "no-such-group-ctrace"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ctrace daemon");
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
        Daemon { child, socket }
    }

    fn docker(&self, env: &Env, args: &[&str]) -> Run {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", env.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .output()
            .expect("the docker client is not installed: run scripts/deps.sh (docker.io)")
            .into()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

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

#[test]
fn docker_run_through_the_daemon_is_confined_as_asked() {
    let env = Env::new("daemon_confinement");
    let d = Daemon::start(&env);
    let r = d.docker(
        &env,
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
    );
    let out = r.ok().stdout.clone();
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert_eq!(out.lines().last(), Some("64"), "{out}");

    let r = d.docker(&env, &["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    d.docker(
        &env,
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
        let r = d.docker(&env, &args);
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
            .map(|_| s.spawn(|| d.docker(&env, &["create", "--name", &name, "busybox", "true"])))
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
