//! The task of a start: spawning the container's shim (a fork of the CLI that goes on without
//! exec, or a re-exec of `ctrace shim`, with the report pipe on fd 3 and, under `--step`, the gate
//! on fd 4), relaying its `--step` pauses, and
//! releasing the init to `execve` — containerd's task `Create` and `Start` as the engine sees
//! them.
//!
//! Not here: what the shim does (`crate::shim`), the phases around it ([`super::start`]).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::host::process::{Signal, WaitStatus};
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
pub(super) type Spawned = (Shim, BufReader<File>, i32, Result<(), EngineError>);

/// Arguments of `ctrace shim` (not a user command).
#[derive(Debug, Clone)]
pub struct ShimArgs {
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub id: String,
    pub attach: bool,
    /// The bundle's spec as the engine has just written it: handed to a forked shim in memory,
    /// where an exec'd one reads and parses `config.json` again.
    pub spec: Option<Box<oci_spec::runtime::Spec>>,
}

/// The shim's main, for a shim forked without exec. The shim sits above the engine, so the
/// command layer hands it down ([`set_shim_main`]); without it every shim is exec'd.
static SHIM_MAIN: OnceLock<fn(ShimArgs) -> i32> = OnceLock::new();

/// Lets the engine fork its shims instead of exec'ing `ctrace shim` (see [`spawn_shim`]).
pub fn set_shim_main(main: fn(ShimArgs) -> i32) {
    let _ = SHIM_MAIN.set(main);
}

/// A container's shim, as the process that started it holds it.
pub struct Shim {
    /// Its pid on this host.
    pid: i32,
    /// An exec'd shim's handle (std reaps it); `None` for a forked one, reaped by pid.
    child: Option<Child>,
    reaped: bool,
    /// Piped ([`ShimIo::Piped`]): the container's stdin, stdout and stderr.
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

impl Shim {
    fn exec(mut child: Child) -> Shim {
        Shim {
            pid: crate::host::current().child_pid(&child),
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child: Some(child),
            reaped: false,
        }
    }

    fn forked(pid: i32) -> Shim {
        Shim {
            pid,
            child: None,
            reaped: false,
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }

    /// Its pid on this host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for it to end and reaps it.
    pub fn wait(&mut self) {
        if self.reaped {
            return;
        }
        match self.child.as_mut() {
            Some(c) => {
                let _ = c.wait();
            }
            None => loop {
                match crate::host::current().wait_child(self.pid) {
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => break,
                    Ok(_) => continue,
                }
            },
        }
        self.reaped = true;
    }

    /// SIGKILL, then [`Shim::wait`].
    pub fn kill(&mut self) {
        let _ = crate::host::current().kill(self.pid, Signal::SIGKILL);
        self.wait();
    }
}

/// Spawns `ctrace shim` for `id` and waits for its `Created` report (relaying its `--step`
/// pauses meanwhile).
pub(super) fn spawn_shim(
    engine: &Engine,
    id: &str,
    stdio: ShimStdio,
    spec: oci_spec::runtime::Spec,
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
    let forked = match forkable(&stdio, gate.is_some()) {
        Some(main) => Some(fork_shim(main, engine, id, &stdio, spec, &cmd, &fds)?),
        None => None,
    };
    let how = if forked.is_some() {
        "fork"
    } else {
        "fork+exec"
    };
    let mut shim = match forked {
        Some(pid) => Shim::forked(pid),
        None => Shim::exec(
            crate::host::current()
                .spawn(&mut cmd, &fds, true)
                .map_err(EngineError::io("cannot start the shim", "ctrace shim"))?,
        ),
    };
    drop(write_end);
    let shim_pid = shim.pid();
    span.record("shim_pid", shim_pid);
    kernel_event!(pid = shim_pid, "{how} ctrace shim, setsid");
    let mut reports = BufReader::new(File::from(read_end));
    let (report, quit_at) = relay_pauses(shim_pid, &mut reports, gate.map(|(_, w)| w));
    match report {
        Ok(Some(Report::Created { pid, spans })) => {
            let report = received_report(spans);
            trace::note(
                &span,
                format!("shim pid {shim_pid} reported init pid {pid}"),
            );
            Ok((shim, reports, pid, report))
        }
        Ok(Some(Report::Failed {
            code,
            message,
            spans,
        })) => {
            recorder::import(spans);
            shim.wait();
            match quit_at {
                Some(phase) => Err(EngineError::Aborted(phase.to_string())),
                None => Err(EngineError::Runtime { code, message }),
            }
        }
        other => {
            shim.kill();
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

/// Set (to anything) in the engine's environment: every shim is exec'd, as from a daemon (to
/// compare the two ways, `bench/`).
pub const SHIM_EXEC_ENV: &str = "CTRACE_SHIM_EXEC";

/// Set in a shim forked without exec: the shims it starts (the restart policy's) are exec'd, so
/// that no shim is a copy of a copy.
static FORKED_SHIM: AtomicBool = AtomicBool::new(false);

/// The shim's main when this start may fork its shim instead of exec'ing `ctrace shim`: the
/// command layer handed it down, this process runs a single thread (a fork goes on running
/// ordinary code), it is not a forked shim itself, the shim's output does not go to a daemon's
/// pipes (a daemon is multi-threaded anyway), and `--step` is off (its pauses answer on a gate
/// the exec'd shim arms).
fn forkable(stdio: &ShimStdio, stepping: bool) -> Option<fn(ShimArgs) -> i32> {
    let main = *SHIM_MAIN.get()?;
    let ok = stdio.io != ShimIo::Piped
        && std::env::var_os(SHIM_EXEC_ENV).is_none()
        && !stepping
        && !crate::phase::step::armed()
        && !FORKED_SHIM.load(Ordering::Relaxed)
        && crate::sys::process::single_threaded();
    ok.then_some(main)
}

/// Forks the shim: the child is this process without the exec, ctrace's code and data already
/// loaded and its caches warm, and runs the shim's main with what `cmd` would have given an
/// exec'd shim (its environment, `fds`, stdio). Returns the shim's pid.
fn fork_shim(
    main: fn(ShimArgs) -> i32,
    engine: &Engine,
    id: &str,
    stdio: &ShimStdio,
    spec: oci_spec::runtime::Spec,
    cmd: &Command,
    fds: &[(std::os::fd::RawFd, std::os::fd::RawFd)],
) -> Result<i32, EngineError> {
    let mut args = Some(ShimArgs {
        root: engine.paths.root.clone(),
        exec_root: engine.paths.exec_root.clone(),
        id: id.to_string(),
        attach: stdio.io != ShimIo::Detached,
        spec: Some(Box::new(spec)),
    });
    let env: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(EngineError::io("cannot open", "/dev/null"))?;
    let mut all = fds.to_vec();
    if !stdio.stdin {
        all.push((null.as_raw_fd(), 0));
    }
    if stdio.io == ShimIo::Detached {
        all.extend([(null.as_raw_fd(), 1), (null.as_raw_fd(), 2)]);
    }
    // What we printed and have not flushed would be printed twice.
    let _ = std::io::stdout().flush();
    let mut child = || {
        FORKED_SHIM.store(true, Ordering::Relaxed);
        for (k, v) in &env {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
        recorder::reset_for_forked_process("shim");
        let Some(args) = args.take() else {
            return crate::sys::exit::ENGINE;
        };
        let code = main(args);
        // An exec'd shim's output would be flushed at its exit; this one ends with `_exit`.
        let _ = std::io::stdout().flush();
        code
    };
    // What an exec'd shim's command line would be: `ps`, and the daemon's restore, find a
    // container's shim by it.
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    crate::host::current()
        .spawn_fork(&argv, &all, true, &mut child)
        .map_err(EngineError::io("cannot start the shim", "ctrace shim"))
}

/// Reads the shim's reports until one that is not a `--step` pause; each pause is shown to the
/// user and answered on `gate`. Returns that report and, when the user quit, the phase at which.
fn relay_pauses(
    shim_pid: i32,
    reports: &mut BufReader<File>,
    mut gate: Option<File>,
) -> (std::io::Result<Option<Report>>, Option<&'static str>) {
    let mut quit_at: Option<&'static str> = None;
    loop {
        match recv::<Report>(reports) {
            Ok(Some(Report::Paused { phase, pid, spans })) => {
                recorder::import(spans);
                if pid > 0 {
                    crate::phase::step::learn_processes(shim_pid, pid);
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
