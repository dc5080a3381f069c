//! Running one more process inside a running container — `runc exec`, and what `docker exec`
//! and the health checks come down to.
//!
//! The steps, as runc's `nsexec` does them:
//! 1. open the container init's namespace files (`/proc/<pid>/ns/*`) while we still see the
//!    host's `/proc`;
//! 2. fork a helper; it moves itself into the container's cgroup (every hierarchy), then
//!    `setns()` into the ipc, uts, net, pid, mnt and cgroup namespaces;
//! 3. joining a pid namespace only applies to children, so the helper forks once more: that
//!    grandchild is in the container's pid namespace, sets up its terminal and stdio, takes the
//!    container's limits, user and capabilities ([`process::prepare_exec`]) and `execve`s;
//! 4. the helper exits at once; the grandchild is reparented to us because we are a child
//!    subreaper, so we can wait for it like any child.
//!
//! Messages come back on a close-on-exec pipe: the grandchild's pid, or why it could not exec
//! (with docker's 126/127); end-of-file after the pid means the `execve` succeeded.
//!
//! Not here: what to run (the engine builds the [`Process`] from the container's spec) and the
//! terminal relay.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::host::flags::CloneFlags;
use oci_spec::runtime::Process;
use serde::{Deserialize, Serialize};

use super::cgroups::{Cgroup, Hierarchy};
use super::{process, InitError};
use crate::host;
use crate::sys::exit;

/// The namespaces an exec joins, in the order it joins them (mnt late: after it, the host's
/// `/proc` and cgroup files are out of sight; cgroup last, after the cgroup move).
pub const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
];

/// The exec'd process's stdin, stdout and stderr, as fds of the caller (dup'd onto 0, 1, 2).
pub struct Stdio {
    pub stdin: RawFd,
    pub stdout: RawFd,
    pub stderr: RawFd,
    /// The fds are a pty's slave: start a session and make it the controlling terminal.
    pub tty: bool,
}

/// Helper and grandchild → caller.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Msg {
    Joined { namespaces: Vec<String>, pid: i32 },
    Failed { code: i32, message: String },
}

/// A process forked into the container's namespaces and cgroup, waiting for [`Joined::start`].
#[derive(Debug)]
pub struct Joined {
    /// Its pid as the host sees it.
    pub pid: i32,
    /// The namespaces it joined (`"net:[4026532…]"`), for the trace.
    pub namespaces: Vec<String>,
    go: File,
    reader: BufReader<File>,
}

/// Forks a process into the container whose init is `init_pid` and its cgroup `cgroup`; it waits
/// there until [`Joined::start`] (dropping the `Joined` makes it exit instead). The caller becomes
/// a child subreaper, and must reap [`Joined::pid`].
pub fn join(
    init_pid: i32,
    cgroup: &str,
    process: &Process,
    filter: Option<&super::seccomp::Filter>,
    stdio: &Stdio,
) -> Result<Joined, InitError> {
    let mut ns_files = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{init_pid}/ns/{name}");
        let file = host::current()
            .open_ns(std::path::Path::new(&path))
            .map_err(|e| {
                InitError::runtime(
                    format!("cannot open {path}"),
                    format!("{e}: is the container still running?"),
                )
            })?;
        let link = std::fs::read_link(&path)
            .map(|l| l.display().to_string())
            .unwrap_or_else(|_| name.to_string());
        ns_files.push((link, flag, file));
    }
    let hierarchy =
        Hierarchy::detect().map_err(|e| InitError::runtime("cannot find cgroups", e))?;
    // Every cgroup the init is in, in every hierarchy; the container's own cgroup path when
    // /proc says nothing usable.
    let mut cg_dirs = hierarchy.dirs_of(init_pid);
    if cg_dirs.is_empty() && !cgroup.is_empty() {
        cg_dirs = Cgroup::open(&hierarchy, cgroup).paths();
    }
    let devnull = File::open("/dev/null").map_err(|e| InitError::runtime("/dev/null", e))?;
    let pipe = || {
        crate::sys::pipe::pipe_cloexec().map_err(|e| InitError::runtime("cannot create a pipe", e))
    };
    let (rd, wr): (OwnedFd, OwnedFd) = pipe()?;
    let (go_rd, go_wr): (OwnedFd, OwnedFd) = pipe()?;
    // Lets us wait for the grandchild.
    let _ = host::current().set_child_subreaper();

    // SAFETY: the callers (CLI, shim) are single-threaded; the child only uses what it owns.
    let helper = match unsafe { host::current().fork() } {
        Err(e) => return Err(InitError::runtime("fork failed", e)),
        Ok(0) => {
            drop((rd, go_wr));
            let mut out = File::from(wr);
            let mut go = File::from(go_rd);
            let code = helper_main(
                &mut out,
                &mut go,
                &cg_dirs,
                ns_files,
                (process, filter),
                stdio,
                &devnull,
            );
            unsafe { libc::_exit(code) }
        }
        Ok(child) => child,
    };
    drop((wr, go_rd));
    drop(ns_files);
    let _ = host::current().reap(helper);
    let mut reader = BufReader::new(File::from(rd));
    match read_msg(&mut reader) {
        Some(Msg::Joined { namespaces, pid }) => Ok(Joined {
            pid,
            namespaces,
            go: File::from(go_wr),
            reader,
        }),
        Some(Msg::Failed { code, message }) => Err(InitError { code, message }),
        None => Err(InitError::runtime(
            "cannot exec in the container",
            "the helper died before joining its namespaces",
        )),
    }
}

fn read_msg(reader: &mut BufReader<File>) -> Option<Msg> {
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Ok(m) = serde_json::from_str::<Msg>(&line) {
            return Some(m);
        }
        line.clear();
    }
    None
}

impl Joined {
    /// Lets the process go on to `execve`; returns once it has (end-of-file on the close-on-exec
    /// pipe), or with why it could not, after reaping it.
    pub fn start(mut self) -> Result<i32, InitError> {
        self.go
            .write_all(b"g")
            .map_err(|e| InitError::runtime("cannot release the exec'd process", e))?;
        drop(self.go);
        match read_msg(&mut self.reader) {
            None => Ok(self.pid),
            Some(Msg::Failed { code, message }) => {
                let _ = host::current().reap(self.pid);
                Err(InitError { code, message })
            }
            Some(Msg::Joined { .. }) => Ok(self.pid),
        }
    }
}

/// Reaps the process of a `Joined` that is dropped without being started (it exits on its own).
pub fn abandon(pid: i32) {
    let _ = host::current().reap(pid);
}

fn send(out: &mut File, msg: &Msg) {
    if let Ok(mut line) = serde_json::to_vec(msg) {
        line.push(b'\n');
        let _ = out.write_all(&line);
    }
}

/// The helper: cgroup, namespaces, fork. Returns its exit status.
fn helper_main(
    out: &mut File,
    go: &mut File,
    cg_dirs: &[std::path::PathBuf],
    ns_files: Vec<(String, CloneFlags, crate::host::ns::NsHandle)>,
    (process, filter): (&Process, Option<&super::seccomp::Filter>),
    stdio: &Stdio,
    devnull: &File,
) -> i32 {
    let fail = |out: &mut File, e: InitError| {
        send(
            out,
            &Msg::Failed {
                code: e.code,
                message: e.message,
            },
        );
        e.code
    };
    for dir in cg_dirs {
        if let Err(e) = super::cgroups::join_self(dir) {
            return fail(
                out,
                InitError::runtime(
                    format!("cannot join the container's cgroup {}", dir.display()),
                    e,
                ),
            );
        }
    }
    let mut joined = Vec::new();
    for (link, flag, file) in ns_files {
        if let Err(e) = host::current().setns(&file, flag) {
            return fail(out, InitError::runtime(format!("cannot join {link}"), e));
        }
        joined.push(link);
    }
    // SAFETY: single-threaded child of a fork.
    match unsafe { host::current().fork() } {
        Err(e) => fail(out, InitError::runtime("fork failed", e)),
        Ok(0) => {
            // Wait for the go-ahead; end-of-file means the caller gave up.
            let mut b = [0u8; 1];
            if !matches!(std::io::Read::read(go, &mut b), Ok(1)) {
                return exit::ENGINE;
            }
            let err = exec_main(process, filter, stdio, devnull);
            let code = err.code;
            fail(out, err);
            code
        }
        Ok(child) => {
            send(
                out,
                &Msg::Joined {
                    namespaces: joined,
                    pid: child,
                },
            );
            0
        }
    }
}

/// The grandchild, in the container's pid namespace: stdio, then the process. Returns only on
/// failure.
fn exec_main(
    process: &Process,
    filter: Option<&super::seccomp::Filter>,
    stdio: &Stdio,
    devnull: &File,
) -> InitError {
    let null = devnull.as_raw_fd();
    let pick = |fd: RawFd| if fd < 0 { null } else { fd };
    // SAFETY: plain syscalls on fds this process owns.
    unsafe {
        if stdio.tty {
            libc::setsid();
            if libc::ioctl(pick(stdio.stdin), libc::TIOCSCTTY as _, 0) < 0 {
                return InitError::runtime(
                    "cannot set the controlling terminal",
                    std::io::Error::last_os_error(),
                );
            }
        }
        let (i, o, e) = (pick(stdio.stdin), pick(stdio.stdout), pick(stdio.stderr));
        if libc::dup2(i, 0) < 0 || libc::dup2(o, 1) < 0 || libc::dup2(e, 2) < 0 {
            return InitError::runtime("cannot set up stdio", std::io::Error::last_os_error());
        }
    }
    let prepared = match process::prepare_exec(process) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Some(f) = filter {
        if let Err(e) = host::current().seccomp_load(&f.bpf) {
            return InitError::runtime("cannot load the seccomp filter", e);
        }
    }
    process::exec(&prepared)
}
