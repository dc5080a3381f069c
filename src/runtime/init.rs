//! The container's init, from `clone()` to `execve()` — the embedded runtime's `runc init`.
//!
//! Runs in the child the shim cloned: pid 1 of a new pid namespace, in new mount, uts, ipc and
//! (unless `--network host`) net namespaces. Its steps, each a span shipped back to the shim:
//!
//! 1. wait for the shim's go-ahead (with `--step`, the shim pauses before giving it);
//! 2. `init.cgroup` — move ourselves into the container's cgroup first, so nothing we do
//!    escapes its limits ([`super::cgroups::join_self`]: a thread moving itself costs
//!    microseconds where the shim moving our pid waited for an RCU grace period);
//! 3. `init.namespaces` — join the namespaces the spec names by path (a bridge container's
//!    netns, another container's for `--network container:`), before anything else so every
//!    later step happens inside them ([`join_namespaces`]); skipped when there are none;
//! 4. `init.mounts` — the rootfs and the standard mounts ([`rootfs::prepare`]);
//! 5. `init.pivot_root` — swap the root and drop the host's ([`rootfs::pivot`], [`rootfs::finish`]);
//! 6. `init.process` — hostname, rlimits, user, capabilities, no_new_privs, workdir, and check
//!    that the command exists ([`process::prepare`]);
//! 7. `init.seccomp` — load the spec's seccomp filter (compiled by the shim before the clone),
//!    the last thing before the exec fifo, as runc does once `no_new_privs` is set
//!    ([`load_seccomp`]); skipped when the container runs unconfined;
//! 8. tell the shim we are ready; with a terminal (`-t`), receive the pty slave the shim
//!    allocated in our devpts and make it our stdio and controlling terminal;
//! 9. block on the exec fifo until `start`, then `execve`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use oci_spec::runtime::Spec;

use super::protocol::{send, InitMsg};
use super::{process, rootfs, InitError};
use crate::sys::exit;
use crate::{phase_span, trace};

/// What the shim hands the init across `clone()`.
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    /// The container's cgroup, made by the shim (`runtime.cgroup`); the init joins it.
    pub cgroup: &'a super::cgroups::Cgroup,
    /// The spec's seccomp filter, compiled by the shim (`None`: unconfined).
    pub seccomp: Option<&'a super::seccomp::Filter>,
    /// The init's end of the socketpair with the shim (close-on-exec).
    pub sync: UnixStream,
    /// The exec fifo, opened `O_PATH` by the shim before the clone (it lies outside the rootfs);
    /// see [`fifo_handle`].
    pub fifo: OwnedFd,
}

/// The shim's handle on the exec fifo, opened before the clone because the fifo lies outside
/// the container's rootfs: on Linux the fifo itself, `O_PATH` (no reader is created, so the
/// init's open for writing still blocks until `start`); elsewhere, where there is no `O_PATH`
/// and only the simulator runs, its directory.
pub fn fifo_handle(fifo: &Path) -> nix::Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    #[cfg(target_os = "linux")]
    return open(fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty());
    #[cfg(not(target_os = "linux"))]
    return open(
        fifo.parent().unwrap_or(Path::new(".")),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
}

/// The length of the shim's go-ahead: `g` and the moment it was sent.
const GO_LEN: usize = 9;

/// The shim's go-ahead to the init: `g`, then the moment it is sent (the trace clock's
/// nanoseconds, little-endian), where the init's first span starts — so the init's wake-up is
/// inside a span, not a gap between the shim's and the init's.
pub fn go_message(now_unix_ns: u64) -> [u8; GO_LEN] {
    let mut m = [b'g'; GO_LEN];
    m[1..].copy_from_slice(&now_unix_ns.to_le_bytes());
    m
}

/// Opens the exec fifo for writing through the shim's [`fifo_handle`]: blocks until `start`
/// opens it for reading.
fn open_fifo_for_write(handle: &OwnedFd) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    return File::options()
        .write(true)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    #[cfg(not(target_os = "linux"))]
    {
        use nix::fcntl::{openat, OFlag};
        let fd = openat(
            handle,
            "exec.fifo",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        Ok(File::from(fd))
    }
}

/// The init's whole life. Never returns: it becomes the user's command or exits.
pub fn run(mut args: InitArgs<'_>) -> ! {
    let mut go = [0u8; GO_LEN];
    if args.sync.read_exact(&mut go).is_err() || go[0] != b'g' {
        // The shim is gone; nobody would release or reap us.
        unsafe { libc::_exit(exit::ENGINE) };
    }
    let released = u64::from_le_bytes(go[1..].try_into().unwrap_or_default());
    let prepared = setup(&args, released);
    let spans = trace::recorder::take();
    let prepared = match prepared {
        Ok(p) => {
            let _ = send(&mut args.sync, &InitMsg::Ready { spans });
            p
        }
        Err(e) => {
            let _ = send(
                &mut args.sync,
                &InitMsg::Failed {
                    code: e.code,
                    message: e.message.clone(),
                    spans,
                },
            );
            unsafe { libc::_exit(e.code) };
        }
    };
    let terminal = args
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        if let Err(e) = take_terminal(&args.sync) {
            let _ = send(
                &mut args.sync,
                &InitMsg::ExecFailed {
                    code: exit::ENGINE,
                    message: format!("cannot set up the container's terminal: {e}"),
                },
            );
            unsafe { libc::_exit(exit::ENGINE) };
        }
    }
    // Blocks until `start` opens the fifo for reading: this is the create/start split. The open
    // is the start's request; a starter gone before it read the byte (a daemon killed right
    // then: EPIPE) asked for the start all the same, so the init goes on.
    let released = open_fifo_for_write(&args.fifo).and_then(|mut f| match f.write_all(b"0") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    });
    if let Err(e) = released {
        let _ = send(
            &mut args.sync,
            &InitMsg::ExecFailed {
                code: exit::ENGINE,
                message: format!("cannot open exec fifo: {e}"),
            },
        );
        unsafe { libc::_exit(exit::ENGINE) };
    }
    drop(args.fifo);
    let err = process::exec(&prepared);
    let _ = send(
        &mut args.sync,
        &InitMsg::ExecFailed {
            code: err.code,
            message: err.message.clone(),
        },
    );
    unsafe { libc::_exit(err.code) }
}

fn setup(args: &InitArgs<'_>, released: u64) -> Result<process::Prepared, InitError> {
    let injected = |span: &tracing::Span, phase: &str| {
        crate::phase::fault::check(phase)
            .map_err(|m| InitError {
                code: exit::ENGINE,
                message: m,
            })
            .inspect_err(|e| trace::fail(span, e))
    };
    {
        let span = phase_span!("init.cgroup");
        let _e = span.enter();
        // From the shim's go-ahead (a simulated clock models the span's time instead).
        if released > 0 && trace::clock::current().mode() == "real" {
            trace::recorder::backdate_current(released);
        }
        injected(&span, "init.cgroup")?;
        let how = args
            .cgroup
            .join_self()
            .map_err(|e| InitError::runtime("cannot join the container's cgroup", e))
            .inspect_err(|e| trace::fail(&span, e))?;
        trace::note(&span, format!("moved itself in: {how}"));
    }
    step_pause("init.cgroup")?;
    if join_namespaces(args.spec)? {
        step_pause("init.namespaces")?;
    }
    {
        let span = phase_span!("init.mounts", rootfs = %args.rootfs.display());
        let _e = span.enter();
        injected(&span, "init.mounts")?;
        let mounts = args.spec.mounts().as_ref().map_or(0, |m| m.len());
        trace::note(
            &span,
            format!("{mounts} mounts + /dev nodes under the rootfs"),
        );
        rootfs::prepare(args.spec, args.rootfs).inspect_err(|e| trace::fail(&span, e))?;
    }
    step_pause("init.mounts")?;
    {
        let span = phase_span!("init.pivot_root");
        let _e = span.enter();
        injected(&span, "init.pivot_root")?;
        trace::note(&span, "pivot_root into the rootfs, old root detached");
        rootfs::pivot(args.rootfs).inspect_err(|e| trace::fail(&span, e))?;
        rootfs::finish(args.spec).inspect_err(|e| trace::fail(&span, e))?;
    }
    step_pause("init.pivot_root")?;
    let p = {
        let span = phase_span!("init.process");
        let _e = span.enter();
        injected(&span, "init.process")?;
        let p = process::prepare(args.spec).inspect_err(|e| trace::fail(&span, e))?;
        let user = args.spec.process().as_ref().map(|p| p.user());
        trace::note(
            &span,
            format!(
                "uid {} gid {}, caps dropped to docker's default set, no_new_privs, waiting on exec fifo",
                user.map_or(0, |u| u.uid()),
                user.map_or(0, |u| u.gid())
            ),
        );
        p
    };
    step_pause("init.process")?;
    if let Some(filter) = args.seccomp {
        {
            let span = phase_span!("init.seccomp");
            let _e = span.enter();
            injected(&span, "init.seccomp")?;
            let allowed = load_seccomp(filter).inspect_err(|e| trace::fail(&span, e))?;
            trace::note(
                &span,
                format!(
                    "seccomp filter loaded: {allowed} syscalls allowed, the rest fail with EPERM"
                ),
            );
        }
        step_pause("init.seccomp")?;
    }
    Ok(p)
}

/// Loads a compiled seccomp filter into this process through the host; the number of system
/// calls it allows. Loading needs `no_new_privs` (set by `init.process`) or
/// `CAP_SYS_ADMIN`, which the container has given up by now: runc, too, loads the filter last
/// only when `no_new_privs` is set.
pub fn load_seccomp(filter: &super::seccomp::Filter) -> Result<usize, InitError> {
    crate::host::current()
        .seccomp_load(&filter.bpf)
        .map_err(|e| {
            InitError::runtime(
                "cannot load the seccomp filter",
                format!(
                    "{}: the kernel needs no_new_privs or CAP_SYS_ADMIN for it",
                    super::init_error::errno_of(&e).desc()
                ),
            )
        })?;
    crate::kernel_event!(
        instructions = filter.bpf.len() / 8,
        allowed = filter.allowed,
        "seccomp(SECCOMP_SET_MODE_FILTER)"
    );
    Ok(filter.allowed)
}

/// Receives the pty slave from the shim (`SCM_RIGHTS`), makes it fds 0-2 and the controlling
/// terminal of a new session: what runc does with its console socket.
fn take_terminal(sync: &UnixStream) -> std::io::Result<()> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sync.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )?;
    let mut slave = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            slave = fds.first().copied();
        }
    }
    let slave = slave.ok_or_else(|| std::io::Error::other("the shim sent no terminal"))?;
    // SAFETY: plain syscalls on the fd the kernel just gave us.
    unsafe {
        if libc::setsid() < 0
            || libc::dup2(slave, 0) < 0
            || libc::dup2(slave, 1) < 0
            || libc::dup2(slave, 2) < 0
            || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

/// `--step`: wait for the engine after an init phase (its span closed, so the pause is not
/// counted in it).
fn step_pause(phase: &str) -> Result<(), InitError> {
    crate::phase::gate::pause(phase, 0).map_err(|message| InitError {
        code: crate::sys::exit::ABORTED,
        message,
    })
}

/// `setns()` into each net, ipc or uts namespace the spec gives a path for (runc's `nsexec`
/// does the same); one `init.namespaces` span when there is any. Returns whether there was.
fn join_namespaces(spec: &Spec) -> Result<bool, InitError> {
    use crate::host::ns::CloneFlags;
    use oci_spec::runtime::LinuxNamespaceType as T;

    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let joins: Vec<_> = namespaces
        .iter()
        .filter_map(|ns| {
            let flag = match ns.typ() {
                T::Network => CloneFlags::CLONE_NEWNET,
                T::Ipc => CloneFlags::CLONE_NEWIPC,
                T::Uts => CloneFlags::CLONE_NEWUTS,
                _ => return None,
            };
            ns.path().as_ref().map(|p| (ns.typ(), flag, p.clone()))
        })
        .collect();
    if joins.is_empty() {
        return Ok(false);
    }
    let span = phase_span!("init.namespaces");
    let _e = span.enter();
    crate::phase::fault::check("init.namespaces")
        .map_err(|m| InitError {
            code: exit::ENGINE,
            message: m,
        })
        .inspect_err(|e| trace::fail(&span, e))?;
    let mut joined = Vec::new();
    for (typ, flag, path) in joins {
        let host = crate::host::current();
        let r = host
            .open_ns(&path)
            .map_err(|e| e.to_string())
            .and_then(|ns| {
                host.setns(&ns, flag)
                    .map_err(|e| super::init_error::errno_of(&e).desc().to_string())
            });
        if let Err(e) = r {
            let err = InitError::runtime(
                format!("cannot join the {typ:?} namespace {}", path.display()),
                format!("{e}: is the container that owns it still running?"),
            );
            trace::fail(&span, &err);
            return Err(err);
        }
        crate::kernel_event!(path = %path.display(), "setns({typ:?})");
        joined.push(format!("{typ:?} {}", path.display()));
    }
    trace::note(&span, format!("joined {}", joined.join(", ")));
    Ok(true)
}

/// Wraps a raw fd the shim passed through `clone()`.
///
/// # Safety
/// `fd` must be open and owned by nobody else in this process.
pub unsafe fn owned(fd: i32) -> OwnedFd {
    OwnedFd::from_raw_fd(fd)
}
