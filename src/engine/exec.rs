//! `exec`: run one more process in a running container — docker's `ContainerExecCreate` and
//! `ContainerExecStart` (daemon/exec.go), which containerd carries out as runc's `exec`.
//!
//! Phases, top to bottom:
//! - `exec.lookup`: the container, which must be running (docker's 409 otherwise);
//! - `exec.create`: the process, from the container's own OCI spec (its env, user, working
//!   directory, capabilities, no_new_privs, rlimits) with `-e`, `-u` and `-w` applied; an
//!   `exec_create` event;
//! - `exec.join`: fork into the container's cgroup and `setns()` into its namespaces
//!   ([`crate::runtime::exec::join`]);
//! - `exec.start`: release it to `execve`, or report docker's 126/127; an `exec_start` event;
//! - `exec.wait`: relay the terminal (`-t`) or forward signals, and collect the exit code; an
//!   `exec_die` event. Skipped with `-d`.
//!
//! Not here: health checks run the same [`crate::runtime::exec`] from the shim.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::runtime::seccomp::Filter;
use oci_spec::runtime::{Process, Spec, User};

use crate::runtime::console as tty;
use crate::runtime::exec::{self as rexec, Stdio};
use crate::runtime::spec::resolve_user;
use crate::state::{events, ContainerConfig, ContainerState, Status};
use crate::{kernel_event, phase_span, trace};

use super::operation::find;
use super::phase;
use super::{Engine, EngineError};

/// What `ctrace exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    /// `-e NAME=VALUE` (already resolved: `NAME` alone was looked up in our environment).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
}

/// Runs `opts.cmd` in the container `query` names, as the traced operation `exec`. Returns the
/// process's exit code (0 with `-d`), and the container, when it was found, for the trace file.
pub fn exec(
    engine: &Engine,
    query: &str,
    opts: &ExecOptions,
) -> (Result<i32, EngineError>, Option<ContainerConfig>) {
    let span = phase_span!(
        "exec",
        query = query,
        container.id = tracing::field::Empty,
        cmd = %opts.cmd.join(" "),
        tty = opts.tty,
        detach = opts.detach
    );
    let _e = span.enter();
    let mut cfg = None;
    let result = exec_phases(engine, query, opts, &span, &mut cfg);
    match &result {
        Ok(code) => trace::note(&span, format!("exit code {code}")),
        Err(e) => trace::fail(&span, e),
    }
    (result, cfg)
}

fn exec_phases(
    engine: &Engine,
    query: &str,
    opts: &ExecOptions,
    root: &tracing::Span,
    out_cfg: &mut Option<ContainerConfig>,
) -> Result<i32, EngineError> {
    let (cfg, st) = lookup(engine, query, root)?;
    *out_cfg = Some(cfg.clone());
    let id = cfg.id.clone();
    let command = opts.cmd.join(" ");
    // Docker gives each exec an id of its own; events name it.
    let exec_id = {
        let mut b = [0u8; 32];
        crate::sys::random::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };

    let process = phase(phase_span!("exec.create"), |span| {
        let p = build_process(engine, &cfg, st.pid, opts)?;
        let _ = events::container(
            &engine.paths.events(),
            &format!("exec_create: {command}"),
            &id,
            &[("name", &cfg.name), ("execID", &exec_id)],
        );
        trace::note(
            span,
            format!(
                "{command} as uid {} in {}, the container's env, caps and limits",
                p.0.user().uid(),
                p.0.cwd().display()
            ),
        );
        Ok(p)
    })?;
    let (process, seccomp) = process;

    let (pty, stdio) = exec_stdio(opts, st.pid)?;

    let joined = phase(phase_span!("exec.join", init_pid = st.pid), |span| {
        let j =
            rexec::join(st.pid, &st.cgroup, &process, seccomp.as_ref(), &stdio).map_err(runtime)?;
        for ns in &j.namespaces {
            kernel_event!(ns = %ns, "setns");
        }
        kernel_event!(cgroup = %st.cgroup, "write cgroup.procs");
        trace::note(
            span,
            format!(
                "pid {} in {} namespaces of pid {} and cgroup {}",
                j.pid,
                j.namespaces.len(),
                st.pid,
                st.cgroup
            ),
        );
        Ok(j)
    })?;
    let joined_pid = joined.pid;

    let pid = phase(phase_span!("exec.start"), |span| {
        let pid = joined.start().map_err(runtime)?;
        kernel_event!(pid = pid, "execve");
        let _ = events::container(
            &engine.paths.events(),
            &format!("exec_start: {command}"),
            &id,
            &[("name", &cfg.name), ("execID", &exec_id)],
        );
        trace::note(span, format!("pid {pid}: {command}"));
        Ok(pid)
    })
    .inspect_err(|_| rexec::abandon(joined_pid))?;

    if opts.detach {
        return Ok(0);
    }
    wait(engine, &cfg, &exec_id, pid, pty, opts.interactive)
}

/// `exec.lookup`: the container, which must be running (and not paused).
fn lookup(
    engine: &Engine,
    query: &str,
    root: &tracing::Span,
) -> Result<(ContainerConfig, ContainerState), EngineError> {
    phase(phase_span!("exec.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        let st = engine.store.load_state(&cfg.id)?;
        let alive = crate::host::current().alive(st.pid);
        match st.status {
            Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "container {} is paused, unpause the container before exec",
                    cfg.id
                )))
            }
            Status::Running if alive => {}
            _ => {
                return Err(EngineError::Conflict(format!(
                    "container {} is not running",
                    cfg.id
                )))
            }
        }
        trace::note(
            span,
            format!(
                "{} ({}) running, init pid {}",
                &cfg.id[..12],
                cfg.name,
                st.pid
            ),
        );
        Ok((cfg, st))
    })
}

/// The process's stdio: a new pty (`-t`, the pair returned), or ours; /dev/null for stdin without
/// `-i` and for everything with `-d`.
#[allow(clippy::type_complexity)]
fn exec_stdio(
    opts: &ExecOptions,
    init_pid: i32,
) -> Result<(Option<(OwnedFd, OwnedFd)>, Stdio), EngineError> {
    let pty = if opts.tty {
        // The container's own devpts; the host's when the container has none.
        let size = tty::size_of(0);
        Some(
            tty::open_pty_in(init_pid, size)
                .or_else(|_| tty::open_pty(size))
                .map_err(EngineError::io(
                    "cannot open a pseudo-terminal",
                    "/dev/ptmx",
                ))?,
        )
    } else {
        None
    };
    let stdio = match &pty {
        Some((_, slave)) => Stdio {
            stdin: slave.as_raw_fd(),
            stdout: slave.as_raw_fd(),
            stderr: slave.as_raw_fd(),
            tty: true,
        },
        None if opts.detach => Stdio {
            stdin: -1,
            stdout: -1,
            stderr: -1,
            tty: false,
        },
        None => Stdio {
            stdin: if opts.interactive { 0 } else { -1 },
            stdout: 1,
            stderr: 2,
            tty: false,
        },
    };
    Ok((pty, stdio))
}

/// `exec.wait`: the process's exit code (relaying our terminal to its pty with `-t`).
fn wait(
    engine: &Engine,
    cfg: &ContainerConfig,
    exec_id: &str,
    pid: i32,
    pty: Option<(OwnedFd, OwnedFd)>,
    interactive: bool,
) -> Result<i32, EngineError> {
    phase(phase_span!("exec.wait", pid = pid), |span| {
        let code = match pty {
            Some((master, slave)) => {
                drop(slave);
                wait_tty(pid, master, interactive)
            }
            None => wait_plain(pid),
        };
        let _ = events::container(
            &engine.paths.events(),
            "exec_die",
            &cfg.id,
            &[
                ("name", &cfg.name),
                ("execID", exec_id),
                ("exitCode", &code.to_string()),
            ],
        );
        trace::note(span, format!("pid {pid} exited {code}"));
        Ok(code)
    })
}

fn runtime(e: crate::runtime::InitError) -> EngineError {
    EngineError::Runtime {
        code: e.code,
        message: e.message,
    }
}

/// The container's process, changed as `docker exec` changes it.
fn build_process(
    engine: &Engine,
    cfg: &ContainerConfig,
    init_pid: i32,
    opts: &ExecOptions,
) -> Result<(Process, Option<Filter>), EngineError> {
    let path = engine.paths.bundle(&cfg.id).join("config.json");
    let spec = Spec::load(&path).map_err(|e| EngineError::Runtime {
        code: crate::sys::exit::CANNOT_EXEC,
        message: format!("cannot load {}: {e}", path.display()),
    })?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(opts.cmd.clone()));
    p.set_terminal(Some(opts.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for e in &opts.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|v| v.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if opts.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        // docker sets TERM for a tty, so full-screen programs work.
        env.push("TERM=xterm".into());
    }
    p.set_env(Some(env));
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            return Err(EngineError::Invalid(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        p.set_cwd(w.into());
    }
    if let Some(u) = &opts.user {
        // The container's own user database, through its root as the init sees it.
        let rootfs = format!("/proc/{init_pid}/root");
        let r = resolve_user(Path::new(&rootfs), u)?;
        let mut user = User::default();
        user.set_uid(r.uid);
        user.set_gid(r.gid);
        user.set_additional_gids((!r.additional_gids.is_empty()).then_some(r.additional_gids));
        p.set_user(user);
    }
    // An exec'd process gets the container's seccomp filter, as under runc.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::runtime::seccomp::compile_cached(s, &engine.paths.seccomp_cache()))
        .transpose()
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok((p, seccomp))
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn set_forwarding(handler: libc::sighandler_t) {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls kill().
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Waits for `pid`, forwarding our signals to it; docker's exit code (128 + signal).
fn wait_plain(pid: i32) -> i32 {
    FORWARD_TO.store(crate::host::current().os_pid(pid), Ordering::Relaxed);
    set_forwarding(forward as *const () as libc::sighandler_t);
    let code = reap(pid);
    set_forwarding(libc::SIG_DFL);
    FORWARD_TO.store(0, Ordering::Relaxed);
    code
}

/// Reaps our child `pid`: docker's exit code (the status, or 128 + signal).
pub(crate) fn reap(pid: i32) -> i32 {
    use crate::host::process::WaitStatus;
    loop {
        match crate::host::current().wait_child(pid) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return crate::sys::exit::of_signal(s as i32),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return crate::sys::exit::LOST,
        }
    }
}

/// Relays our terminal to the pty until the process exits; our terminal is raw meanwhile.
fn wait_tty(pid: i32, master: std::os::fd::OwnedFd, interactive: bool) -> i32 {
    let pidfd = crate::sys::process::exit_fd(crate::host::current().os_pid(pid));
    let raw = if interactive && tty::is_terminal(0) {
        tty::RawMode::enter(0).ok()
    } else {
        None
    };
    tty::watch_window_size();
    let mut to = std::fs::File::from(master);
    let mut from = match to.try_clone() {
        Ok(f) => f,
        Err(_) => return reap(pid),
    };
    // SAFETY: fd 0 is open for the life of the process.
    let stdin = interactive.then(|| unsafe { BorrowedFd::borrow_raw(0) });
    let master_fd = to.as_raw_fd();
    tty::relay(
        stdin,
        &mut to,
        &mut from,
        &mut std::io::stdout().lock(),
        pidfd.as_ref().map(|p| p.as_fd()),
        &mut || {
            if let Some(s) = tty::size_of(0) {
                tty::resize(master_fd, s);
            }
        },
    );
    drop(raw);
    reap(pid)
}
