//! The task of a start: spawning the container's shim (a re-exec of `ctrace shim` with the report
//! pipe on fd 3 and, under `--step`, the gate on fd 4), relaying its `--step` pauses, and
//! releasing the init to `execve` — containerd's task `Create` and `Start` as the engine sees
//! them.
//!
//! Not here: what the shim does (`crate::shim`), the phases around it ([`super::start`]).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::host::process::Signal;
use crate::phase::gate::{self, GATE_FD, REPORT_FD};
use crate::runtime::protocol::{recv, Report};
use crate::runtime::{console, runc, Kind};
use crate::state::Paths;
use crate::trace::recorder;
use crate::{kernel_event, phase_span, trace};

use super::{Engine, EngineError};

/// Where the shim sends the container's output besides its json log, and whether it reports the
/// exit to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShimIo {
    /// Nobody listens: the shim writes its own exit trace.
    Detached,
    /// To our own stdout/stderr (an attached CLI).
    Inherit,
    /// To pipes in `Started::shim`'s `stdout`/`stderr` (the daemon, which streams them to
    /// attached API clients); with `-i`, the container's stdin is a pipe from `stdin` too.
    Piped,
}

/// What the shim inherits from us.
pub(super) struct ShimStdio {
    /// Where the container's output goes.
    pub io: ShimIo,
    /// Our stdin (or, piped, the daemon's pipe), for the container's (attached `-i` without
    /// `-t`).
    pub stdin: bool,
    /// `-t`: our window size, so the container's terminal starts with it.
    pub tty: bool,
}

/// What [`spawn_shim`] hands back once the shim reported `Created`: the shim, the line to it,
/// the init's pid, and how taking in the report went (`runtime.report`: a failure there comes
/// after the shim and the init exist, so the caller undoes them with the rest of the start).
pub(super) type Spawned = (Child, BufReader<File>, i32, Result<(), EngineError>);

/// Spawns `ctrace shim` for `id` and waits for its `Created` report (relaying its `--step`
/// pauses meanwhile).
pub(super) fn spawn_shim(
    engine: &Engine,
    id: &str,
    stdio: ShimStdio,
) -> Result<Spawned, EngineError> {
    let span = phase_span!(
        "runtime.shim",
        attach = stdio.io != ShimIo::Detached,
        shim_pid = tracing::field::Empty
    );
    let _e = span.enter();
    crate::phase::fault::check("runtime.shim")
        .map_err(EngineError::Injected)
        .inspect_err(|e| trace::fail(&span, e))?;
    let (read_end, write_end): (OwnedFd, OwnedFd) = crate::sys::pipe::pipe_cloexec()
        .map_err(EngineError::io("cannot create the report pipe", "pipe"))?;
    let mut cmd = shim_command(engine, id, &stdio)?;
    // `--step`: the shim and the init pause on a gate we hold the other end of.
    let gate = if crate::phase::step::armed() {
        let (r, w) = crate::sys::pipe::pipe_cloexec()
            .map_err(EngineError::io("cannot create the step gate", "pipe"))?;
        cmd.env(gate::ENV, "1");
        Some((r, File::from(w)))
    } else {
        None
    };
    let mut fds = vec![(write_end.as_raw_fd(), REPORT_FD)];
    fds.extend(gate.as_ref().map(|(r, _)| (r.as_raw_fd(), GATE_FD)));
    // The shim's first span (`runtime.shim.start`) starts here, where its process does.
    cmd.env(
        crate::runtime::protocol::SHIM_SPAWNED_ENV,
        recorder::now_unix_ns().to_string(),
    );
    let mut child = crate::host::current()
        .spawn(&mut cmd, &fds, true)
        .map_err(EngineError::io("cannot start the shim", "ctrace shim"))?;
    drop(write_end);
    let shim_pid = crate::host::current().child_pid(&child);
    span.record("shim_pid", shim_pid);
    kernel_event!(pid = shim_pid, "fork+exec ctrace shim, setsid");
    let mut reports = BufReader::new(File::from(read_end));
    let (report, quit_at) = relay_pauses(&child, &mut reports, gate.map(|(_, w)| w));
    match report {
        Ok(Some(Report::Created { pid, spans })) => {
            let report = received_report(spans);
            trace::note(
                &span,
                format!("shim pid {shim_pid} reported init pid {pid}"),
            );
            Ok((child, reports, pid, report))
        }
        Ok(Some(Report::Failed {
            code,
            message,
            spans,
        })) => {
            recorder::import(spans);
            let _ = child.wait();
            match quit_at {
                Some(phase) => Err(EngineError::Aborted(phase.to_string())),
                None => Err(EngineError::Runtime { code, message }),
            }
        }
        other => {
            let _ = child.kill();
            let _ = child.wait();
            Err(EngineError::Runtime {
                code: crate::sys::exit::ENGINE,
                message: format!("the shim exited without creating the container ({other:?})"),
            })
        }
    }
}

/// Takes in the spans of the shim's `Created` report under a `runtime.report` span that starts
/// where the last of them ended (the init's last step): the report's way back — the init's spans
/// to the shim, the shim's and the init's to us, each serialised and parsed once — is time of
/// the start too, and without this span it would be a gap no span explains.
fn received_report(spans: Vec<crate::trace::format::SpanRecord>) -> Result<(), EngineError> {
    let last = spans.iter().map(|s| s.start_unix_ns + s.duration_ns).max();
    let n = spans.len();
    let real = crate::trace::clock::current().mode() == "real";
    let mut spans = Some(spans);
    if !real {
        // A modelled clock moves to the end of what it takes in; the span then starts there and
        // lasts what the model says.
        recorder::import(spans.take().unwrap_or_default());
    }
    let span = phase_span!("runtime.report", spans = n);
    let _e = span.enter();
    if let (Some(t), Some(spans)) = (last.filter(|_| real), spans.take()) {
        recorder::backdate_current(t);
        recorder::import(spans);
    }
    crate::phase::fault::check("runtime.report")
        .map_err(EngineError::Injected)
        .inspect_err(|e| trace::fail(&span, e))?;
    trace::note(
        &span,
        format!("{n} spans of the shim and the init received"),
    );
    Ok(())
}

/// `ctrace shim --root … --exec-root … --id …`, with the stdio and the environment the shim
/// needs (trace parent, bridge, window size, `--fail-at`).
fn shim_command(engine: &Engine, id: &str, stdio: &ShimStdio) -> Result<Command, EngineError> {
    let exe = std::env::current_exe().map_err(EngineError::io("cannot find", "/proc/self/exe"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("shim")
        .arg("--root")
        .arg(&engine.paths.root)
        .arg("--exec-root")
        .arg(&engine.paths.exec_root)
        .arg("--id")
        .arg(id)
        .stdin(match (stdio.stdin, stdio.io) {
            (false, _) => Stdio::null(),
            // The daemon writes what attached clients send (`Started::shim`'s `stdin`).
            (true, ShimIo::Piped) => Stdio::piped(),
            (true, _) => Stdio::inherit(),
        });
    if let (true, Some(size)) = (stdio.tty, console::size_of(0)) {
        cmd.env(console::SIZE_ENV, console::size_env(size));
    }
    match stdio.io {
        ShimIo::Inherit => {
            cmd.arg("--attach");
        }
        ShimIo::Piped => {
            cmd.arg("--attach")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        ShimIo::Detached => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    if let Some(tp) = recorder::traceparent() {
        cmd.env("TRACEPARENT", tp);
    }
    // The shim may start the container again (restart policy): it must join the same bridge.
    cmd.env("CTRACE_BRIDGE", &engine.bridge.name)
        .env("CTRACE_BRIDGE_SUBNET", engine.bridge.subnet.to_string());
    if let Some(p) = crate::phase::fault::armed() {
        cmd.env(crate::phase::fault::ENV, p);
    }
    Ok(cmd)
}

/// Reads the shim's reports until one that is not a `--step` pause; each pause is shown to the
/// user and answered on `gate`. Returns that report and, when the user quit, the phase at which.
fn relay_pauses(
    child: &Child,
    reports: &mut BufReader<File>,
    mut gate: Option<File>,
) -> (std::io::Result<Option<Report>>, Option<&'static str>) {
    let mut quit_at: Option<&'static str> = None;
    loop {
        match recv::<Report>(reports) {
            Ok(Some(Report::Paused { phase, pid, spans })) => {
                recorder::import(spans);
                if pid > 0 {
                    crate::phase::step::learn_processes(
                        crate::host::current().child_pid(child),
                        pid,
                    );
                }
                let phase = crate::lessons::catalog::find(&phase).map_or("runtime.shim", |p| p.id);
                let key = match crate::phase::step::pause(phase) {
                    Ok(()) => gate::GO,
                    Err(_) => {
                        quit_at = Some(phase);
                        gate::QUIT
                    }
                };
                if let Some(g) = gate.as_mut() {
                    let _ = g.write_all(&[key]);
                }
            }
            other => return (other, quit_at),
        }
    }
}

/// Undoes a created task: kills the init and the shim, reaps the shim, deletes runc's container.
pub(super) fn undo_task(paths: &Paths, id: &str, kind: Kind, pid: i32, shim_pid: i32) {
    let host = crate::host::current();
    let _ = host.kill(pid, Signal::SIGKILL);
    let _ = host.kill(shim_pid, Signal::SIGKILL);
    let _ = host.wait_child(shim_pid);
    if kind == Kind::Runc {
        let _ = runc::delete(paths, id);
    }
}

/// Opens the exec fifo for reading, which lets the waiting init go on to `execve`; then waits for
/// the shim to confirm the exec (or report why it failed).
pub(super) fn release_fifo(
    engine: &Engine,
    id: &str,
    reports: &mut BufReader<File>,
) -> Result<(), EngineError> {
    let path = engine.paths.exec_fifo(id);
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(EngineError::io("cannot open exec fifo", &path))?;
    kernel_event!(path = %path.display(), "open(exec.fifo, O_RDONLY)");
    loop {
        if !reports.buffer().is_empty() {
            break;
        }
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(reports.get_ref().as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(EngineError::io("poll", &path)(e.into())),
            Ok(_) => {}
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let report_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
        if fifo_ready {
            let mut b = [0u8; 1];
            if matches!(fifo.read(&mut b), Ok(1)) {
                kernel_event!("read(exec.fifo): init released");
                break;
            }
        }
        if report_ready {
            break;
        }
    }
    match recv::<Report>(reports) {
        Ok(Some(Report::Started { spans })) => {
            recorder::import(spans);
            Ok(())
        }
        Ok(Some(Report::ExecFailed { code, message })) => {
            Err(EngineError::Runtime { code, message })
        }
        other => Err(EngineError::Runtime {
            code: crate::sys::exit::ENGINE,
            message: format!("the container's init did not start ({other:?})"),
        }),
    }
}
