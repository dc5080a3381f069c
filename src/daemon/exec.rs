//! `docker exec` through the API: `POST /containers/{id}/exec` records an exec instance,
//! `POST /exec/{id}/start` runs it with its output as docker's multiplexed stream frames on the
//! hijacked connection, `GET /exec/{id}/json` reports its exit code (which the docker CLI exits
//! with).
//!
//! The process is run by a `ctrace exec` child of the daemon, not by the daemon itself: joining
//! a container forks, becomes a child subreaper and forwards signals
//! ([`crate::runtime::exec::join`]), none of which is safe in a multi-threaded daemon. The
//! child is the same engine operation the CLI runs, with its own `exec` trace.
//!
//! Not here: the hijacked connection and the detach keys watched for in a `-t` exec's input
//! ([`super::routes`], [`super::detach`]).

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::runtime::console;
use crate::state::Status;

use super::api::{self, ApiError};

/// One exec instance, as docker keeps them until the container goes.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub container: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub stdout: bool,
    pub stderr: bool,
    /// `AttachStdin` (`exec -i`): the client's input is the command's stdin.
    pub stdin: bool,
    /// `Tty` (`exec -t`): the command runs on a terminal the daemon holds the master of; its
    /// output is one raw stream.
    pub tty: bool,
    /// `ConsoleSize`: the terminal's size at start (rows, columns).
    pub size: Option<(u16, u16)>,
    /// `DetachKeys` as the create gave them (empty: the daemon's default); they end an attach
    /// to a `-t` exec's input (see [`super::detach`]).
    pub detach_keys: String,
    pub started: bool,
    pub running: bool,
    pub pid: u32,
    pub exit_code: Option<i32>,
}

/// The daemon's exec instances, by id, and the terminals of those running with `-t`.
#[derive(Default)]
pub struct Execs(
    Mutex<HashMap<String, Instance>>,
    /// Exec id → the master of its terminal and the pid of its `ctrace exec`.
    Mutex<HashMap<String, (std::fs::File, u32)>>,
);

fn new_id() -> String {
    let mut b = [0u8; 32];
    crate::sys::random::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, ApiError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request(format!("{what} must be a list of strings"))
                })
            })
            .collect(),
        _ => Err(ApiError::bad_request(format!(
            "{what} must be a list of strings"
        ))),
    }
}

/// An exec's `DetachKeys` as moby's inspect shows them: the bytes the create gave (none when it
/// gave none), a Go `[]byte` in JSON (base64).
fn inspected_keys(spec: &str) -> String {
    use base64::Engine as _;
    let keys = match spec {
        "" => Vec::new(),
        spec => super::detach::parse(spec).unwrap_or_default(),
    };
    base64::engine::general_purpose::STANDARD.encode(keys)
}

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

impl Execs {
    /// `POST /containers/{id}/exec`: checks the request and the container (running, not
    /// paused: docker's 409s), records the instance, returns its id.
    pub fn create(&self, engine: &Engine, query: &str, body: &[u8]) -> Result<String, ApiError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid exec config: {e}")))?;
        let cmd = strings(&v["Cmd"], "Cmd")?;
        if cmd.is_empty() {
            return Err(ApiError::bad_request("No exec command specified"));
        }
        if v["Privileged"].as_bool().unwrap_or(false) {
            return Err(ApiError::bad_request(
                "privileged exec is not supported: run it without --privileged",
            ));
        }
        let detach_keys = v["DetachKeys"].as_str().unwrap_or("").to_string();
        super::detach::for_exec(Some(&detach_keys)).map_err(ApiError::bad_request)?;
        let id = engine.store.lookup(query)?;
        let st = engine.store.load_state(&id)?;
        match st.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("Container {id} is paused, unpause the container before exec"),
                ))
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("Container {id} is not running"),
                ))
            }
        }
        let inst = Instance {
            id: new_id(),
            container: id,
            cmd,
            env: strings(&v["Env"], "Env")?,
            user: opt_string(&v["User"]),
            workdir: opt_string(&v["WorkingDir"]),
            stdout: v["AttachStdout"].as_bool().unwrap_or(true),
            stderr: v["AttachStderr"].as_bool().unwrap_or(true),
            stdin: v["AttachStdin"].as_bool().unwrap_or(false),
            tty: v["Tty"].as_bool().unwrap_or(false),
            size: match v["ConsoleSize"].as_array().map(Vec::as_slice) {
                Some([h, w]) => h
                    .as_u64()
                    .zip(w.as_u64())
                    .map(|(h, w)| (h as u16, w as u16)),
                _ => None,
            },
            detach_keys,
            started: false,
            running: false,
            pid: 0,
            exit_code: None,
        };
        let exec_id = inst.id.clone();
        self.0.lock().unwrap().insert(exec_id.clone(), inst);
        Ok(exec_id)
    }

    fn missing(id: &str) -> ApiError {
        ApiError::not_found(format!("No such exec instance: {id}"))
    }

    /// Marks `id` started, once: docker refuses a second start.
    pub fn begin(&self, id: &str) -> Result<Instance, ApiError> {
        let mut m = self.0.lock().unwrap();
        let inst = m.get_mut(id).ok_or_else(|| Execs::missing(id))?;
        if inst.started {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Exec command {id} has already run"),
            ));
        }
        inst.started = true;
        inst.running = true;
        Ok(inst.clone())
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Instance)) {
        if let Some(i) = self.0.lock().unwrap().get_mut(id) {
            f(i);
        }
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect(&self, id: &str) -> Result<Value, ApiError> {
        let m = self.0.lock().unwrap();
        let i = m.get(id).ok_or_else(|| Execs::missing(id))?;
        Ok(json!({
            "ID": i.id,
            "Running": i.running,
            "ExitCode": i.exit_code,
            "ProcessConfig": {
                "tty": i.tty,
                "entrypoint": i.cmd[0],
                "arguments": &i.cmd[1..],
                "privileged": false,
                "user": i.user.clone().unwrap_or_default(),
            },
            "OpenStdin": i.stdin,
            "OpenStderr": i.stderr,
            "OpenStdout": i.stdout,
            "CanRemove": false,
            "ContainerID": i.container,
            "DetachKeys": inspected_keys(&i.detach_keys),
            "Pid": i.pid,
        }))
    }

    /// `POST /exec/{id}/resize`: the size of a running `-t` exec's terminal; its `ctrace exec`
    /// is told (SIGWINCH) and passes it on to the container's. Nothing to do for the others.
    pub fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), ApiError> {
        if !self.0.lock().unwrap().contains_key(id) {
            return Err(Execs::missing(id));
        }
        if let Some((master, pid)) = self.1.lock().unwrap().get(id) {
            console::resize(
                std::os::fd::AsRawFd::as_raw_fd(master),
                console::Size { rows, cols },
            );
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(*pid as i32, libc::SIGWINCH) };
        }
        Ok(())
    }

    /// Forgets the instances of a removed container.
    pub fn forget_container(&self, container: &str) {
        self.0
            .lock()
            .unwrap()
            .retain(|_, i| i.container != container);
    }
}

/// The `ctrace exec` that runs `inst` (with `-d` when detached).
fn command(engine: &Engine, inst: &Instance, detach: bool) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ctrace".into());
    let mut c = Command::new(exe);
    c.arg("--root")
        .arg(&engine.paths.root)
        .arg("--exec-root")
        .arg(&engine.paths.exec_root)
        .arg("exec");
    if detach {
        c.arg("-d");
    }
    if inst.stdin && !detach {
        c.arg("-i");
    }
    if inst.tty && !detach {
        c.arg("-t");
    }
    for e in &inst.env {
        c.arg("-e").arg(e);
    }
    if let Some(u) = &inst.user {
        c.arg("-u").arg(u);
    }
    if let Some(w) = &inst.workdir {
        c.arg("-w").arg(w);
    }
    // After `--` a command that starts with `-` is not taken for an option.
    c.arg("--").arg(&inst.container).args(&inst.cmd);
    c.stdin(if inst.stdin && !detach {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c
}

/// Runs `inst` to its end on the blocking pool, its output as stream frames into `frames`
/// (and, with `-i`, what comes from `input` as its stdin, until an empty chunk ends it); records
/// the pid and the exit code. The frames channel closes after the exit code is recorded, so a
/// client that inspects the exec when its stream ends sees it.
pub fn run(
    execs: &Execs,
    engine: &Engine,
    inst: &Instance,
    detach: bool,
    frames: mpsc::UnboundedSender<Bytes>,
    input: Option<mpsc::UnboundedReceiver<Bytes>>,
) -> i32 {
    let mut c = command(engine, inst, detach);
    // `-t`: `ctrace exec -t` runs on the slave of a pty whose master is ours (its output is
    // read raw from it, the client's input typed into it, and `resize` sets its size).
    let mut master: Option<std::fs::File> = None;
    if detach {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    } else if inst.tty {
        let size = inst.size.map(|(rows, cols)| console::Size { rows, cols });
        match console::open_pty(size) {
            Ok((m, slave)) => {
                // Raw: a transport only; the line discipline is the container's terminal's.
                if let Ok(mut t) = nix::sys::termios::tcgetattr(&slave) {
                    nix::sys::termios::cfmakeraw(&mut t);
                    let _ = nix::sys::termios::tcsetattr(
                        &slave,
                        nix::sys::termios::SetArg::TCSANOW,
                        &t,
                    );
                }
                let stdio = || slave.try_clone().map(Stdio::from);
                if let (Ok(i), Ok(o), Ok(e)) = (stdio(), stdio(), stdio()) {
                    c.stdin(i).stdout(o).stderr(e);
                }
                master = Some(std::fs::File::from(m));
            }
            Err(e) => {
                let msg = format!("cannot open a terminal for the exec: {e}\n");
                let _ = frames.send(Bytes::copy_from_slice(msg.as_bytes()));
                return crate::sys::exit::CANNOT_EXEC;
            }
        }
    } else {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // Through the host: the child starts with no signal blocked (ours are, for the signal thread).
    let code = match crate::host::current().spawn(&mut c, &[], false) {
        Err(e) => {
            let msg = format!("cannot run ctrace exec: {e}\n");
            let _ = frames.send(Bytes::from(api::frame(2, msg.as_bytes())));
            crate::sys::exit::CANNOT_EXEC
        }
        Ok(mut child) => {
            let pid = crate::host::current().child_pid(&child);
            execs.update(&inst.id, |i| i.pid = u32::try_from(pid).unwrap_or(0));
            // Only the child keeps the slave: the master reads end-of-file when it is gone.
            drop(c);
            let stdin: Option<Box<dyn std::io::Write + Send>> = match &master {
                Some(m) => m
                    .try_clone()
                    .ok()
                    .map(|m| Box::new(m) as Box<dyn std::io::Write + Send>),
                None => child
                    .stdin
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Write + Send>),
            };
            if let Some(m) = &master {
                if let Ok(m) = m.try_clone() {
                    execs
                        .1
                        .lock()
                        .unwrap()
                        .insert(inst.id.clone(), (m, u32::try_from(pid).unwrap_or(0)));
                }
            }
            if let (Some(mut stdin), Some(mut input)) = (stdin, input) {
                std::thread::spawn(move || {
                    use std::io::Write;
                    while let Some(chunk) = input.blocking_recv() {
                        if chunk.is_empty() || stdin.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                });
            }
            let pump = |stream: u8, mut r: Box<dyn Read + Send>, on: bool| {
                let frames = frames.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match r.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) if on => {
                                let _ = frames.send(Bytes::from(api::frame(stream, &buf[..n])));
                            }
                            Ok(_) => {}
                        }
                    }
                })
            };
            let mut pumps = Vec::new();
            if let Some(m) = master.take() {
                // The terminal's output: one raw stream, no frames.
                let frames = frames.clone();
                pumps.push(std::thread::spawn(move || {
                    let mut m = m;
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = m.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        let _ = frames.send(Bytes::copy_from_slice(&buf[..n]));
                    }
                }));
            }
            if let Some(o) = child.stdout.take() {
                pumps.push(pump(1, Box::new(o), inst.stdout));
            }
            if let Some(e) = child.stderr.take() {
                pumps.push(pump(2, Box::new(e), inst.stderr));
            }
            for p in pumps {
                let _ = p.join();
            }
            match child.wait() {
                Ok(s) => s.code().unwrap_or(crate::sys::exit::LOST),
                Err(_) => crate::sys::exit::LOST,
            }
        }
    };
    execs.1.lock().unwrap().remove(&inst.id);
    execs.update(&inst.id, |i| {
        i.running = false;
        i.exit_code = Some(code);
    });
    code
}
