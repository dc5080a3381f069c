//! The shim: one small process per running container, its parent and reaper.
//!
//! Why a separate process (docker has containerd-shim, podman has conmon): the container must
//! outlive the CLI that started it, someone must hold its stdout/stderr and collect its exit code,
//! and forking a container from a multi-threaded daemon is unsafe. The shim is a re-exec of
//! `ctrace` (`ctrace shim …`), single-threaded, in its own session (setsid).
//!
//! Its life:
//! 1. create the container: the cgroup (`runtime.cgroup`), then `clone()` the init
//!    (`runtime.clone`), or `runc create` for the external runtime;
//! 2. report `Created` (with its spans and the init's) to the engine on fd 3;
//! 3. copy the container's stdout/stderr to the json log (and to its own stdout/stderr when the
//!    CLI is attached), report `Started` once the init has exec'd;
//! 4. when the init exits: reap it and run the exit phases ([`crate::engine::exit`]), report
//!    `Exited` to an attached CLI or write the exit trace itself.
//!
//! Not here: building the spec or mounting the rootfs (the engine did that before spawning us);
//! the pty protocol with the CLI ([`crate::runtime::console`]); the restart decision
//! ([`crate::state::restart`]); the report and gate fds and `--step` pauses ([`crate::phase`]).

mod health;
mod io;
pub mod restart;

use std::fs::File;
use std::io::{BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use oci_spec::runtime::Spec;

use crate::engine::Engine;
use crate::phase::gate as step_gate;
use crate::phase::{fault, fds::REPORT_FD};
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::protocol::{recv, send, InitMsg, Report};
use crate::runtime::{console, init, runc, seccomp, Kind};
use crate::state::{ContainerConfig, Paths};
use crate::sys::exit::ABORTED as EXIT_ABORTED;
use crate::trace::{self, recorder};
use crate::{host, kernel_event, phase_span};

pub use crate::engine::ShimArgs;

/// A created container, as the shim holds it.
struct Created {
    pid: i32,
    /// The init's end-of-file tells us it exec'd (embedded runtime only).
    sync: Option<UnixStream>,
    /// The container's output: a pipe, or the pty's master with `-t`.
    stdout: OwnedFd,
    /// None with `-t`: the terminal carries both streams.
    stderr: Option<OwnedFd>,
    /// With `-t`: the pty, handed to the CLI on request.
    console: Option<console::Console>,
    /// With `-i` and no CLI attached: the write end of the container's stdin, held open so the
    /// container does not read end-of-file (docker keeps a detached `-i` container's stdin open).
    _stdin_keep: Option<OwnedFd>,
}

/// The shim's main. Returns the shim's own exit status.
pub fn main(mut args: ShimArgs) -> i32 {
    // SAFETY: fd 3 was set up by the engine for us; nothing else owns it.
    let mut report = unsafe { File::from_raw_fd(REPORT_FD) };
    set_cloexec(REPORT_FD);
    // Reap whatever the container's init leaves behind (and runc's reparented init).
    let _ = crate::host::current().set_child_subreaper();
    fault::arm_from_env();
    step_gate::arm_from_env();
    let traceparent = std::env::var("TRACEPARENT").ok();
    trace::install("shim", traceparent.as_deref(), None);
    let started = phase_span!("runtime.shim.start");
    let entered = started.enter();
    // From the engine's spawn: the fork, the exec, the loader, this process's start-up. (A
    // simulated clock models the span's time instead.)
    let spawned = std::env::var(crate::runtime::protocol::SHIM_SPAWNED_ENV).ok();
    if let (Some(t), "real") = (
        spawned.and_then(|v| v.parse::<u64>().ok()),
        trace::clock::current().mode(),
    ) {
        recorder::backdate_current(t);
    }
    if let Err(m) = fault::check("runtime.shim.start") {
        trace::fail(&started, &m);
        drop(entered);
        drop(started);
        let _ = send(&mut report, &fail(crate::sys::exit::ENGINE, m));
        return 1;
    }
    // The daemon's (or the CLI's) OTLP settings: the exit and restart traces go out live, each
    // by an exporter process of its own (the shim stays single-threaded: it clones).
    trace::otlp::live::start_in_children_from_env();

    let mut engine = Engine::new(Paths::new(&args.root, &args.exec_root));
    // The engine that spawned us named its bridge; a restart by the policy must use the same.
    if let (Ok(name), Ok(subnet)) = (
        std::env::var("CTRACE_BRIDGE"),
        std::env::var("CTRACE_BRIDGE_SUBNET"),
    ) {
        if let Ok(b) = crate::network::BridgeConfig::new(&name, &subnet) {
            engine.bridge = b;
        }
    }
    let cfg = match engine.store.load_config(&args.id) {
        Ok(c) => c,
        Err(e) => {
            let _ = send(&mut report, &fail(crate::sys::exit::ENGINE, e.to_string()));
            return 1;
        }
    };
    let kind = cfg.host_config.runtime;
    let bundle = engine.paths.bundle(&cfg.id);
    let loaded = match args.spec.take() {
        Some(spec) => Ok(*spec),
        None => Spec::load(bundle.join("config.json")),
    };
    let spec = match loaded {
        Ok(s) => s,
        Err(e) => {
            let message = format!("cannot load the bundle's config.json: {e}");
            let _ = send(&mut report, &fail(crate::sys::exit::ENGINE, message));
            return 1;
        }
    };
    trace::note(
        &started,
        format!(
            "ctrace shim pid {} up, the container's config and spec read",
            host::current().pid()
        ),
    );
    drop(entered);
    drop(started);
    let created = match create(&engine, &cfg, &spec, kind, &bundle, args.attach) {
        Ok(c) => c,
        Err(e) => {
            let _ = send(&mut report, &fail(e.code, e.message));
            return 1;
        }
    };
    let _ = send(
        &mut report,
        &Report::Created {
            pid: created.pid,
            spans: recorder::take(),
        },
    );

    let outcome = io::pump(&args, &engine, &cfg, created, &mut report);
    // The exit phases: reap is done by `pump`; the rest is the engine's cleanup, run here because
    // the shim is the one process sure to be alive when the container dies.
    let exit_spans;
    {
        let root = phase_span!("exit", container.id = %cfg.id, exit_code = outcome.code);
        let _e = root.enter();
        trace::note(&root, format!("exit code {}", outcome.code));
        let found = {
            let span = phase_span!("exit.reap", pid = outcome.pid);
            let _e = span.enter();
            kernel_event!(pid = outcome.pid, status = %outcome.how, "waitpid");
            // An exit by SIGKILL may be the kernel's OOM killer: its cgroup's counter says.
            let found = crate::engine::exit::find_cgroup(&engine, &cfg);
            trace::note(
                &span,
                format!(
                    "pid {} {}{}",
                    outcome.pid,
                    outcome.how,
                    if found.oom { " (OOM-killed)" } else { "" }
                ),
            );
            found
        };
        let oom = crate::engine::exit::finish_found(&engine, &cfg, kind, outcome.code, true, found);
        drop(_e);
        drop(root);
        exit_spans = (recorder::take(), oom);
    }
    let (spans, oom_killed) = exit_spans;
    if args.attach {
        let exited = Report::Exited {
            code: outcome.code,
            oom_killed,
            spans,
        };
        if send(&mut report, &exited).is_err() {
            // Whoever attached is gone (a daemon killed, a CLI interrupted): keep the spans.
            if let Report::Exited { spans, .. } = exited {
                crate::engine::exit::write_own_trace(&engine, &cfg, spans);
            }
        }
    } else {
        crate::engine::exit::write_own_trace(&engine, &cfg, spans);
    }
    restart::after_exit(&engine, &cfg, args.attach);
    0
}

fn fail(code: i32, message: String) -> Report {
    Report::Failed {
        code,
        message,
        spans: recorder::take(),
    }
}

fn set_cloexec(fd: RawFd) {
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

/// A pipe whose both ends are close-on-exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = crate::sys::pipe::pipe_cloexec()?;
    Ok((r, w))
}

/// The failure of a create, with docker's exit code.
struct CreateError {
    code: i32,
    message: String,
}

impl From<crate::runtime::InitError> for CreateError {
    fn from(e: crate::runtime::InitError) -> Self {
        CreateError {
            code: e.code,
            message: e.message,
        }
    }
}

fn runtime_err(ctx: &str, e: impl std::fmt::Display) -> CreateError {
    CreateError {
        code: crate::sys::exit::ENGINE,
        message: format!("{ctx}: {e}"),
    }
}

fn create(
    engine: &Engine,
    cfg: &ContainerConfig,
    spec: &Spec,
    kind: Kind,
    bundle: &std::path::Path,
    attach: bool,
) -> Result<Created, CreateError> {
    let (out_r, out_w) = pipe().map_err(|e| runtime_err("cannot create stdout pipe", e))?;
    let (err_r, err_w) = pipe().map_err(|e| runtime_err("cannot create stderr pipe", e))?;
    if kind == Kind::Embedded && (cfg.config.tty || cfg.config.open_stdin) {
        return create_interactive(engine, cfg, spec, bundle, attach);
    }
    match kind {
        Kind::Runc => {
            // The cgroup's directories first (runc writes the limits): see `Cgroup::make_dirs`.
            let cg_path = spec
                .linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().clone())
                .unwrap_or_default();
            let hierarchy =
                Hierarchy::detect().map_err(|e| runtime_err("cannot find cgroups", e))?;
            let cgroup = Cgroup::open(&hierarchy, &cg_path.to_string_lossy());
            cgroup
                .make_dirs()
                .map_err(|e| runtime_err("cannot create the container's cgroup", e))?;
            let pid = runc::create(&engine.paths, &cfg.id, bundle, out_w, err_w).map_err(|e| {
                let _ = cgroup.remove();
                CreateError {
                    code: e.exit_code(),
                    message: e.to_string(),
                }
            })?;
            Ok(Created {
                pid,
                sync: None,
                stdout: out_r,
                stderr: Some(err_r),
                console: None,
                _stdin_keep: None,
            })
        }
        Kind::Embedded => {
            let (pid, sync) = clone_init(engine, &cfg.id, spec, bundle, None, out_w, err_w)?;
            Ok(Created {
                pid,
                sync: Some(sync),
                stdout: out_r,
                stderr: Some(err_r),
                console: None,
                _stdin_keep: None,
            })
        }
    }
}

/// `-t` and/or `-i`: the container's stdio is the pty's slave (`-t`); its stdin is the CLI's
/// (attached `-i`, passed through the shim's own stdin) or a pipe the shim holds open.
fn create_interactive(
    engine: &Engine,
    cfg: &ContainerConfig,
    spec: &Spec,
    bundle: &std::path::Path,
    attach: bool,
) -> Result<Created, CreateError> {
    if cfg.config.tty {
        // The init starts with /dev/null and pipes nobody reads; once it is set up (its devpts
        // mounted), the pty is allocated there and the slave sent to it, which makes it its
        // stdio and controlling terminal before exec.
        let (_, out) = pipe().map_err(|e| runtime_err("cannot create a pipe", e))?;
        let (_, err) = pipe().map_err(|e| runtime_err("cannot create a pipe", e))?;
        let (pid, sync) = clone_init(engine, &cfg.id, spec, bundle, None, out, err)?;
        let kill = |e: CreateError| {
            kill_and_reap(pid);
            let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
            if let (Ok(h), Some(p)) = (Hierarchy::detect(), path) {
                let _ = Cgroup::open(&h, &p.to_string_lossy()).remove();
            }
            e
        };
        let (console, slave) = console::Console::open(bundle, pid)
            .map_err(|e| runtime_err("cannot open a pseudo-terminal", e))
            .map_err(kill)?;
        console::send_fd(&sync, &slave)
            .map_err(|e| runtime_err("cannot hand the terminal to the container", e))
            .map_err(kill)?;
        drop(slave);
        let stdout = console
            .master
            .try_clone()
            .map_err(|e| runtime_err("cannot duplicate the terminal", e))
            .map_err(kill)?;
        return Ok(Created {
            pid,
            sync: Some(sync),
            stdout,
            stderr: None,
            console: Some(console),
            _stdin_keep: None,
        });
    }
    let (out_r, out_w) = pipe().map_err(|e| runtime_err("cannot create stdout pipe", e))?;
    let (err_r, err_w) = pipe().map_err(|e| runtime_err("cannot create stderr pipe", e))?;
    let (stdin, keep) = if attach {
        // SAFETY: fd 0 is the CLI's stdin, which the engine passed to us for `-i`.
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            return Err(runtime_err(
                "cannot use stdin",
                std::io::Error::last_os_error(),
            ));
        }
        (unsafe { OwnedFd::from_raw_fd(fd) }, None)
    } else {
        let (r, w) = pipe().map_err(|e| runtime_err("cannot create stdin pipe", e))?;
        (r, Some(w))
    };
    let (pid, sync) = clone_init(engine, &cfg.id, spec, bundle, Some(stdin), out_w, err_w)?;
    Ok(Created {
        pid,
        sync: Some(sync),
        stdout: out_r,
        stderr: Some(err_r),
        console: None,
        _stdin_keep: keep,
    })
}

/// Creates the cgroup and clones the init into it; waits until the init is set up. `in_fd` is
/// the container's stdin (None: /dev/null).
fn clone_init(
    engine: &Engine,
    id: &str,
    spec: &Spec,
    bundle: &std::path::Path,
    in_fd: Option<OwnedFd>,
    out_w: OwnedFd,
    err_w: OwnedFd,
) -> Result<(i32, UnixStream), CreateError> {
    let linux = spec.linux().clone().unwrap_or_default();
    let cg_path = linux.cgroups_path().clone().unwrap_or_default();
    let cgroup = {
        let span = phase_span!("runtime.cgroup", cgroup = %cg_path.display());
        let _e = span.enter();
        fault::check("runtime.cgroup")
            .map_err(|m| runtime_err("cannot create the container's cgroup", m))
            .inspect_err(|e| trace::fail(&span, &e.message))?;
        let hierarchy = Hierarchy::detect().map_err(|e| runtime_err("cannot find cgroups", e))?;
        let resources = linux.resources().clone().unwrap_or_default();
        let cg = Cgroup::create(&hierarchy, &cg_path.to_string_lossy(), &resources)
            .map_err(|e| runtime_err("cannot create the container's cgroup", e))
            .inspect_err(|e| trace::fail(&span, &e.message))?;
        trace::note(
            &span,
            format!("{} {}", hierarchy.describe(), cg_path.display()),
        );
        cg
    };
    let undo_cgroup = |e: CreateError| {
        let _ = cgroup.remove();
        e
    };
    step_gate::pause("runtime.cgroup", 0)
        .map_err(|m| CreateError {
            code: EXIT_ABORTED,
            message: m,
        })
        .map_err(undo_cgroup)?;

    // The clone's preparations (the sync socket, the fifo, the filter) are part of its span.
    let flags = clone_flags(spec);
    let span = phase_span!("runtime.clone", flags = %flag_names(flags));
    if let Err(m) = fault::check("runtime.clone") {
        span.in_scope(|| trace::fail(&span, &m));
        return Err(undo_cgroup(runtime_err("clone failed", m)));
    }
    let rootfs = bundle.join(
        spec.root()
            .as_ref()
            .map_or("rootfs".into(), |r| r.path().clone()),
    );
    let (mut shim_sync, init_sync) = UnixStream::pair()
        .map_err(|e| runtime_err("cannot create sync socket", e))
        .map_err(undo_cgroup)?;
    let fifo = crate::runtime::init::fifo_handle(&engine.paths.exec_fifo(id))
        .map_err(|e| runtime_err("cannot open exec fifo", e))
        .map_err(undo_cgroup)?;
    let devnull = File::open("/dev/null")
        .map_err(|e| runtime_err("cannot open /dev/null", e))
        .map_err(undo_cgroup)?;

    // Compiled (or read from the cache) here, before the clone: the init only loads it.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| seccomp::compile_cached(s, &engine.paths.seccomp_cache()))
        .transpose()
        .map_err(|e| runtime_err("cannot prepare the seccomp filter", e))
        .map_err(undo_cgroup)?;

    let (init_fd, out_fd, err_fd, fifo_fd) = (
        init_sync.as_raw_fd(),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
        fifo.as_raw_fd(),
    );
    let in_fd_raw = in_fd
        .as_ref()
        .map_or(devnull.as_raw_fd(), |f| f.as_raw_fd());
    let mut child = || -> isize {
        recorder::reset_for_child("init");
        unsafe {
            libc::dup2(in_fd_raw, 0);
            libc::dup2(out_fd, 1);
            libc::dup2(err_fd, 2);
        }
        // SAFETY: these fds were inherited through clone() and belong to this child alone now.
        let args = init::InitArgs {
            spec,
            rootfs: &rootfs,
            cgroup: &cgroup,
            seccomp: seccomp.as_ref(),
            sync: unsafe { UnixStream::from_raw_fd(init_fd) },
            fifo: unsafe { init::owned(fifo_fd) },
        };
        init::run(args)
    };
    // SAFETY: the shim is single-threaded, so the child may run arbitrary code after clone().
    let pid = unsafe { host::current().clone_process(flags, &mut child) }
        .map_err(|e| runtime_err("clone failed", e))
        .inspect_err(|e| trace::fail(&span, &e.message))
        .map_err(undo_cgroup)?;
    span.in_scope(|| {
        kernel_event!(pid = pid, flags = %flag_names(flags), "clone");
        trace::note(
            &span,
            format!("init pid {} in new {}", pid, flag_names(flags)),
        );
    });
    drop(span);
    drop((init_sync, out_w, err_w, fifo, devnull, in_fd));

    let kill_init = |e: CreateError| {
        kill_and_reap(pid);
        undo_cgroup(e)
    };
    // Paused here, the init exists in its namespaces and waits for our go-ahead; its first step
    // then is to move itself into its cgroup (`init.cgroup`).
    step_gate::pause("runtime.clone", pid)
        .map_err(|m| CreateError {
            code: EXIT_ABORTED,
            message: m,
        })
        .map_err(kill_init)?;
    shim_sync
        .write_all(&init::go_message(recorder::now_unix_ns()))
        .map_err(|e| runtime_err("cannot release the init", e))
        .map_err(kill_init)?;
    let mut reader = BufReader::new(
        shim_sync
            .try_clone()
            .map_err(|e| runtime_err("sync socket", e))
            .map_err(kill_init)?,
    );
    match recv::<InitMsg>(&mut reader) {
        Ok(Some(InitMsg::Ready { spans })) => {
            recorder::import(spans);
            Ok((pid, shim_sync))
        }
        Ok(Some(InitMsg::Failed {
            code,
            message,
            spans,
        })) => {
            recorder::import(spans);
            Err(kill_init(CreateError { code, message }))
        }
        other => Err(kill_init(runtime_err(
            "the container's init died during setup",
            format!("{other:?}"),
        ))),
    }
}

/// The namespaces to create, from the spec (a namespace with a path is joined later, not created).
fn clone_flags(spec: &Spec) -> crate::host::flags::CloneFlags {
    use crate::host::flags::CloneFlags as F;
    use oci_spec::runtime::LinuxNamespaceType as T;
    let mut flags = F::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        if ns.path().is_some() {
            continue;
        }
        flags |= match ns.typ() {
            T::Pid => F::CLONE_NEWPID,
            T::Mount => F::CLONE_NEWNS,
            T::Uts => F::CLONE_NEWUTS,
            T::Ipc => F::CLONE_NEWIPC,
            T::Network => F::CLONE_NEWNET,
            // The cgroup namespace is unshared by the init after the shim moved it into its
            // cgroup, so the container's cgroup root is its own cgroup.
            _ => F::empty(),
        };
    }
    flags
}

fn flag_names(flags: crate::host::flags::CloneFlags) -> String {
    use crate::host::flags::CloneFlags as F;
    let names = [
        (F::CLONE_NEWNS, "NEWNS"),
        (F::CLONE_NEWPID, "NEWPID"),
        (F::CLONE_NEWUTS, "NEWUTS"),
        (F::CLONE_NEWIPC, "NEWIPC"),
        (F::CLONE_NEWNET, "NEWNET"),
    ];
    names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| format!("CLONE_{n}"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Undoes a half-created init: SIGKILL, then reap it (it is our child).
fn kill_and_reap(pid: i32) {
    let host = crate::host::current();
    let _ = host.kill(pid, crate::host::process::Signal::SIGKILL);
    let _ = host.wait_child(pid);
}
