//! The shim's event loop while the container runs: copy its output, notice the exec, wait for
//! the exit. One `poll(2)` over the stdout and stderr pipes, the init's sync socket and a pidfd
//! for the init — no threads, so the shim stays safe to fork from and cheap.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{Created, ShimArgs};
use crate::engine::Engine;
use crate::runtime::protocol::{recv, send, InitMsg, Report};
use crate::state::ContainerConfig;
use crate::trace::clock::now_rfc3339;
use crate::trace::recorder;

/// How the container's process ended.
pub struct Outcome {
    pub pid: i32,
    /// Docker's exit code: the status, or 128 + signal.
    pub code: i32,
    /// "exited 3", "killed by signal 9".
    pub how: String,
}

/// One output stream: its pipe, its pending partial line, where it is forwarded.
struct Stream {
    name: &'static str,
    pipe: Option<File>,
    partial: Vec<u8>,
    forward: Option<File>,
}

/// Docker's json-file log driver: one JSON object per line of output.
struct JsonLog {
    file: Option<File>,
}

impl JsonLog {
    fn line(&mut self, stream: &str, bytes: &[u8]) {
        let Some(f) = self.file.as_mut() else { return };
        let entry = serde_json::json!({
            "log": String::from_utf8_lossy(bytes),
            "stream": stream,
            "time": now_rfc3339(),
        });
        let mut line = entry.to_string().into_bytes();
        line.push(b'\n');
        let _ = f.write_all(&line);
    }
}

/// Runs until the container's process has exited and its output is drained; reaps it.
/// How long a running container's shim waits, with nothing to do, before it gives back the
/// memory its start-up touched.
const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

pub fn pump(
    args: &ShimArgs,
    engine: &Engine,
    cfg: &ContainerConfig,
    created: Created,
    report: &mut File,
) -> Outcome {
    let pid = created.pid;
    let mut log = JsonLog {
        file: OpenOptions::new()
            .create(true)
            .append(true)
            .open(engine.paths.log(&cfg.id))
            .ok(),
    };
    // SAFETY: fds 1 and 2 are ours (inherited from the attached CLI, or /dev/null).
    let forward = |fd| {
        args.attach
            .then(|| unsafe { File::from_raw_fd(libc::dup(fd)) })
    };
    let mut streams = [
        Stream {
            name: "stdout",
            pipe: Some(File::from(created.stdout)),
            partial: Vec::new(),
            forward: forward(1),
        },
        Stream {
            name: "stderr",
            pipe: created.stderr.map(File::from),
            partial: Vec::new(),
            forward: forward(2),
        },
    ];
    let mut sync = created.sync.map(std::io::BufReader::new);
    let pidfd = crate::sys::process::exit_fd(crate::host::current().os_pid(pid));
    let mut exited = pidfd.is_none();
    let mut buf = vec![0u8; 64 * 1024];
    let mut health = super::health::Monitor::new(cfg);
    // Once the container runs and nothing happened for a while, the shim gives back the pages
    // its start-up touched (`sys::memory::release_idle`): a hundred idle shims then cost a
    // hundred small heaps, not a hundred copies of the binary's working set.
    let mut release_at: Option<std::time::Instant> = None;

    loop {
        let open_streams = streams.iter().filter(|s| s.pipe.is_some()).count();
        if exited && open_streams == 0 {
            break;
        }
        let mut fds = Vec::with_capacity(4);
        let mut which = Vec::with_capacity(4);
        for (i, s) in streams.iter().enumerate() {
            if let Some(p) = &s.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        if let Some(s) = &sync {
            fds.push(PollFd::new(s.get_ref().as_fd(), PollFlags::POLLIN));
            which.push(10);
        }
        if let (false, Some(p)) = (exited, &pidfd) {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            which.push(20);
        }
        if let Some(c) = &created.console {
            fds.push(PollFd::new(c.listener(), PollFlags::POLLIN));
            which.push(30);
        }
        // After the exit, give writers that outlived the init a moment, not forever.
        let release_in = release_at.map(|t| t.saturating_duration_since(std::time::Instant::now()));
        let timeout = if exited {
            PollTimeout::from(2000u16)
        } else {
            let due = [health.as_ref().map(|h| h.due_in()), release_in]
                .into_iter()
                .flatten()
                .min();
            due.map_or(PollTimeout::NONE, |d| {
                // Rounded up: a timeout rounded down to 0 would spin until it is due.
                PollTimeout::from(d.as_micros().div_ceil(1000).min(60_000) as u16)
            })
        };
        match poll(&mut fds, timeout) {
            Ok(0) if exited => break,
            Ok(0) => {
                drop(fds);
                if let Some(h) = health.as_mut() {
                    h.run_if_due(engine, cfg, pid);
                }
                if release_at.is_some_and(|t| t <= std::time::Instant::now()) {
                    release_at = None;
                    crate::sys::memory::release_idle();
                }
                continue;
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<(usize, bool)> = fds
            .iter()
            .zip(&which)
            .map(|(f, w)| (*w, f.revents().is_some_and(|r| !r.is_empty())))
            .collect();
        drop(fds);
        for (w, is_ready) in ready {
            if !is_ready {
                continue;
            }
            match w {
                0 | 1 => {
                    let s = &mut streams[w];
                    let n = s.pipe.as_mut().map_or(0, |p| p.read(&mut buf).unwrap_or(0));
                    if n == 0 {
                        if !s.partial.is_empty() {
                            log.line(s.name, &std::mem::take(&mut s.partial));
                        }
                        s.pipe = None;
                        continue;
                    }
                    let chunk = &buf[..n];
                    if let Some(f) = s.forward.as_mut() {
                        if f.write_all(chunk).is_err() {
                            s.forward = None;
                        }
                    }
                    s.partial.extend_from_slice(chunk);
                    while let Some(nl) = s.partial.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = s.partial.drain(..=nl).collect();
                        log.line(s.name, &line);
                    }
                }
                10 => {
                    let msg = sync.as_mut().map(recv::<InitMsg>);
                    match msg {
                        Some(Ok(Some(InitMsg::ExecFailed { code, message }))) => {
                            let _ = send(&mut *report, &Report::ExecFailed { code, message });
                        }
                        Some(Ok(Some(_))) => {}
                        // End of file: the close-on-exec socket closed, so execve succeeded.
                        _ => {
                            let _ = send(
                                &mut *report,
                                &Report::Started {
                                    spans: recorder::take(),
                                },
                            );
                            sync = None;
                            release_at = Some(std::time::Instant::now() + RELEASE_AFTER);
                        }
                    }
                }
                20 => exited = true,
                30 => {
                    if let Some(c) = &created.console {
                        c.serve();
                    }
                }
                _ => {}
            }
        }
        // A chatty container keeps poll busy: probes still run on time.
        if let (false, Some(h)) = (exited, health.as_mut()) {
            h.run_if_due(engine, cfg, pid);
        }
    }
    reap(pid)
}

fn reap(pid: i32) -> Outcome {
    use crate::host::process::WaitStatus;
    loop {
        match crate::host::current().wait_child(pid) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Outcome {
                    pid,
                    code,
                    how: format!("exited {code}"),
                }
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return Outcome {
                    pid,
                    code: crate::sys::exit::of_signal(sig as i32),
                    how: format!("killed by {sig}"),
                }
            }
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Outcome {
                    pid,
                    code: crate::sys::exit::LOST,
                    how: format!("could not be reaped: {e}"),
                }
            }
        }
    }
}
