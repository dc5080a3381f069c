//! A `ctrace daemon` for one test, and raw HTTP/1.1 to it over its unix socket: the status, the
//! headers and the (de-chunked) body of one request, as a client that checks Docker's exact
//! answers needs them.
//!
//! Not here: the docker CLI's environment ([`Daemon::docker`] sets only `DOCKER_HOST` and the
//! config directory); the harness's leak checks ([`super::Env`]).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{within, Env, Run, PATIENCE};

/// A daemon for one test; stopped (SIGTERM) when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub socket: PathBuf,
    config: PathBuf,
}

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Answer {
    /// The body as JSON (a failure shows the body).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).map(String::as_str)
    }
}

impl Daemon {
    pub fn start(env: &Env) -> Daemon {
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
            (request(&socket, "GET", "/_ping", None).status == 200).then_some(())
        });
        assert!(
            ready.is_some(),
            "ctrace daemon did not listen on {socket:?}"
        );
        Daemon {
            child: Some(child),
            socket,
            config: env.dir.join("docker-config"),
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// One request.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        request(&self.socket, method, path, body.map(str::as_bytes))
    }

    /// The stock docker CLI against this daemon, with `envs` added.
    pub fn docker(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("the docker client is not installed: run scripts/deps.sh (docker.io)")
            .into()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

/// One request, `Connection: close`. A daemon that is not there answers status 0.
pub fn request(socket: &Path, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
    let mut answer = Answer {
        status: 0,
        headers: BTreeMap::new(),
        body: String::new(),
    };
    let Ok(mut s) = UnixStream::connect(socket) else {
        return answer;
    };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(b) = body {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        );
    }
    req += "\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return answer;
    }
    if let Some(b) = body {
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    answer.status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            answer
                .headers
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    answer.body = if answer.header("transfer-encoding") == Some("chunked") {
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
    answer
}
