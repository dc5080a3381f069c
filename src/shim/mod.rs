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
//! Not here: building the spec or mounting the rootfs (the engine did that before spawning us).

mod io;

use std::fs::File;
use std::io::{BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::Spec;

use crate::engine::{fault, Engine};
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::protocol::{recv, send, InitMsg, Report};
use crate::runtime::{init, runc, Kind};
use crate::state::{ContainerConfig, Paths};
use crate::trace::{self, recorder};
use crate::{kernel_event, phase_span};

/// The fd on which the engine listens for [`Report`]s.
pub const REPORT_FD: RawFd = 3;

/// Arguments of `ctrace shim` (not a user command).
#[derive(Debug, Clone)]
pub struct ShimArgs {
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub id: String,
    pub attach: bool,
}

/// A created container, as the shim holds it.
struct Created {
    pid: i32,
    /// The init's end-of-file tells us it exec'd (embedded runtime only).
    sync: Option<UnixStream>,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

/// The shim's main. Returns the shim's own exit status.
pub fn main(args: ShimArgs) -> i32 {
    // SAFETY: fd 3 was set up by the engine for us; nothing else owns it.
    let mut report = unsafe { File::from_raw_fd(REPORT_FD) };
    set_cloexec(REPORT_FD);
    unsafe {
        // Reap whatever the container's init leaves behind (and runc's reparented init).
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    crate::engine::fault::arm_from_env();
    let traceparent = std::env::var("TRACEPARENT").ok();
    trace::install("shim", traceparent.as_deref(), None);

    let engine = Engine::new(Paths::new(&args.root, &args.exec_root));
    let cfg = match engine.store.load_config(&args.id) {
        Ok(c) => c,
        Err(e) => {
            let _ = send(&mut report, &fail(125, e.to_string()));
            return 1;
        }
    };
    let kind = Kind::parse(&cfg.host_config.runtime).unwrap_or(Kind::Embedded);
    let bundle = engine.paths.bundle(&cfg.id);
    let created = match create(&engine, &cfg, kind, &bundle) {
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
        {
            let span = phase_span!("exit.reap", pid = outcome.pid);
            let _e = span.enter();
            kernel_event!(pid = outcome.pid, status = %outcome.how, "waitpid");
            trace::note(&span, format!("pid {} {}", outcome.pid, outcome.how));
        }
        let oom = crate::engine::exit::finish(&engine, &cfg, kind, outcome.code);
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
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
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
        code: 125,
        message: format!("{ctx}: {e}"),
    }
}

fn create(
    engine: &Engine,
    cfg: &ContainerConfig,
    kind: Kind,
    bundle: &std::path::Path,
) -> Result<Created, CreateError> {
    let spec = Spec::load(bundle.join("config.json"))
        .map_err(|e| runtime_err("cannot load the bundle's config.json", e))?;
    let (out_r, out_w) = pipe().map_err(|e| runtime_err("cannot create stdout pipe", e))?;
    let (err_r, err_w) = pipe().map_err(|e| runtime_err("cannot create stderr pipe", e))?;
    match kind {
        Kind::Runc => {
            let pid = runc::create(&engine.paths, &cfg.id, bundle, out_w, err_w).map_err(|e| {
                CreateError {
                    code: e.exit_code(),
                    message: e.to_string(),
                }
            })?;
            Ok(Created {
                pid,
                sync: None,
                stdout: out_r,
                stderr: err_r,
            })
        }
        Kind::Embedded => {
            let (pid, sync) = clone_init(engine, &cfg.id, &spec, bundle, out_w, err_w)?;
            Ok(Created {
                pid,
                sync: Some(sync),
                stdout: out_r,
                stderr: err_r,
            })
        }
    }
}

/// Creates the cgroup and clones the init into it; waits until the init is set up.
fn clone_init(
    engine: &Engine,
    id: &str,
    spec: &Spec,
    bundle: &std::path::Path,
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

    let rootfs = bundle.join(
        spec.root()
            .as_ref()
            .map_or("rootfs".into(), |r| r.path().clone()),
    );
    let (mut shim_sync, init_sync) = UnixStream::pair()
        .map_err(|e| runtime_err("cannot create sync socket", e))
        .map_err(undo_cgroup)?;
    let fifo = nix::fcntl::open(
        &engine.paths.exec_fifo(id),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| runtime_err("cannot open exec fifo", e))
    .map_err(undo_cgroup)?;
    let devnull = File::open("/dev/null")
        .map_err(|e| runtime_err("cannot open /dev/null", e))
        .map_err(undo_cgroup)?;

    let flags = clone_flags(spec);
    let span = phase_span!("runtime.clone", flags = %flag_names(flags));
    if let Err(m) = fault::check("runtime.clone") {
        span.in_scope(|| trace::fail(&span, &m));
        return Err(undo_cgroup(runtime_err("clone failed", m)));
    }
    let mut stack = vec![0u8; 1 << 20];
    let (init_fd, out_fd, err_fd, null_fd, fifo_fd) = (
        init_sync.as_raw_fd(),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
        devnull.as_raw_fd(),
        fifo.as_raw_fd(),
    );
    let child = Box::new(|| -> isize {
        recorder::reset_for_child("init");
        unsafe {
            libc::dup2(null_fd, 0);
            libc::dup2(out_fd, 1);
            libc::dup2(err_fd, 2);
        }
        // SAFETY: these fds were inherited through clone() and belong to this child alone now.
        let args = init::InitArgs {
            spec,
            rootfs: &rootfs,
            sync: unsafe { UnixStream::from_raw_fd(init_fd) },
            fifo: unsafe { init::owned(fifo_fd) },
        };
        init::run(args)
    });
    // SAFETY: the shim is single-threaded, so the child may run arbitrary code after clone().
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| runtime_err("clone failed", e))
        .inspect_err(|e| trace::fail(&span, &e.message))
        .map_err(undo_cgroup)?;
    span.in_scope(|| {
        kernel_event!(pid = pid.as_raw(), flags = %flag_names(flags), "clone");
        trace::note(
            &span,
            format!("init pid {} in new {}", pid, flag_names(flags)),
        );
    });
    drop(span);
    drop((init_sync, out_w, err_w, fifo, devnull));

    let pid = pid.as_raw();
    let kill_init = |e: CreateError| {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        undo_cgroup(e)
    };
    cgroup
        .add_pid(pid)
        .map_err(|e| runtime_err("cannot move the init into its cgroup", e))
        .map_err(kill_init)?;
    shim_sync
        .write_all(b"g")
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
fn clone_flags(spec: &Spec) -> nix::sched::CloneFlags {
    use nix::sched::CloneFlags as F;
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

fn flag_names(flags: nix::sched::CloneFlags) -> String {
    use nix::sched::CloneFlags as F;
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
