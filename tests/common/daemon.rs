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
    /// The body as text (lossy).
    pub body: String,
    /// The body's bytes.
    pub raw: Vec<u8>,
}

impl Answer {
    /// The payloads of docker's multiplexed stream frames in the body, as text.
    pub fn frames(&self) -> String {
        let mut out = String::new();
        let b = &self.raw;
        let mut i = 0;
        while i + 8 <= b.len() {
            let n = u32::from_be_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
            let end = (i + 8 + n).min(b.len());
            out.push_str(&String::from_utf8_lossy(&b[i + 8..end]));
            i = end;
        }
        out
    }
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

    /// Kills the daemon with SIGKILL, as a crash would: nothing of its own shutdown runs. The
    /// containers' shims live on; [`Daemon::start`] on the same `Env` is the restart.
    /// Returns once the daemon no longer answers (its process is reaped when dropped).
    pub fn kill(&self) {
        if let Some(c) = &self.child {
            // SAFETY: a plain signal to our own child, not yet reaped, so its pid is still its.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
        }
        let gone = within(PATIENCE, || {
            (request(&self.socket, "GET", "/_ping", None).status == 0).then_some(())
        });
        assert!(gone.is_some(), "the killed daemon still answers");
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

impl Daemon {
    /// The docker CLI's command against this daemon, to start in a terminal.
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// The stock docker CLI against this daemon, `input` on its stdin.
    pub fn docker_with_input(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write as _;
        let mut child = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the docker client is not installed: run scripts/deps.sh (docker.io)");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap().into()
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
        raw: Vec::new(),
    };
    let Ok(mut s) = UnixStream::connect(socket) else {
        return answer;
    };
    // A request that never answers fails the test instead of hanging it.
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(60)));
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
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, rest) = match split {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (&raw[..], &raw[raw.len()..]),
    };
    let head = String::from_utf8_lossy(head).into_owned();
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
    answer.raw = if answer.header("transfer-encoding") == Some("chunked") {
        let mut out = Vec::new();
        let mut r = rest;
        while let Some(eol) = r.windows(2).position(|w| w == b"\r\n") {
            let size = String::from_utf8_lossy(&r[..eol]);
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let data = &r[eol + 2..];
            if n == 0 || data.len() < n {
                break;
            }
            out.extend_from_slice(&data[..n]);
            r = data[n..].strip_prefix(b"\r\n").unwrap_or(&data[n..]);
        }
        out
    } else {
        rest.to_vec()
    };
    answer.body = String::from_utf8_lossy(&answer.raw).into_owned();
    answer
}
