//! The container's process, set up by its init after `pivot_root`: who it runs as, with which
//! limits and capabilities, and which program it becomes.
//!
//! [`prepare`] (span `init.process`) does, in runc's order: hostname, rlimits, the cgroup
//! namespace (already entered by `rootfs::prepare` before its mounts; checked again here so a
//! caller that skips that step still gets it), `oom_score_adj`, umask, `no_new_privs`, the
//! working directory (created if missing, as docker does), then the switch to the container's
//! user with its capabilities, and finally finds the program, so that a missing command fails
//! `create` (docker's 127) instead of surfacing after `start`.
//! [`exec`] is the last step: `execve`, which returns only on failure.
//!
//! Capabilities, because their order is the subtle part: the bounding set is dropped first,
//! while we still have `CAP_SETPCAP`; `PR_SET_KEEPCAPS` keeps the permitted set across
//! `setuid` (which empties the effective set); then one `capset` sets effective, permitted and
//! inheritable together (separately, the kernel would refuse an effective set larger than a
//! permitted one set first), and the ambient set last. For a non-root user docker's spec has no
//! effective or permitted set, and the kernel's `execve` would clear them anyway.
//!
//! Not here: namespaces (created by the shim's `clone()`), mounts ([`super::rootfs`]), cgroups,
//! and waiting on the exec fifo (the init's own loop).

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::{
    Capabilities, LinuxCapabilities, LinuxNamespaceType, PosixRlimitType, Process, Spec,
};

use super::init_error::{errno_of, errno_text, io_text};
use super::InitError;
use crate::host;
use crate::host::ns::CloneFlags;
use crate::sys::exit::{CANNOT_EXEC, ENGINE, NOT_FOUND};

/// The program to `execve`, ready before the init waits on the exec fifo.
#[derive(Debug, Clone)]
pub struct Prepared {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Prepared {
    /// The resolved path of `args[0]`.
    pub fn program(&self) -> &CStr {
        &self.program
    }

    pub fn argv(&self) -> &[CString] {
        &self.argv
    }

    pub fn envp(&self) -> &[CString] {
        &self.envp
    }
}

/// What went wrong while setting up the process.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("the spec has no process to run: set process.args in config.json")]
    NoProcess,
    #[error(
        "cannot set the hostname without a private UTS namespace: add a uts namespace to the spec"
    )]
    NoUtsNamespace,
    #[error("cannot set hostname {name:?}: {}", errno_text(*.source))]
    Hostname { name: String, source: Errno },
    #[error("cannot set {resource} to soft {soft}, hard {hard}: {}{}", errno_text(*.source), rlimit_hint(.source))]
    Rlimit {
        resource: PosixRlimitType,
        soft: u64,
        hard: u64,
        source: Errno,
    },
    #[error("cannot create a cgroup namespace: {}", errno_text(*.0))]
    CgroupNamespace(Errno),
    #[error("cannot set oom_score_adj to {value}: {}", io_text(.source))]
    OomScoreAdj { value: i32, source: io::Error },
    #[error("cannot set no_new_privs: {}", errno_text(*.0))]
    NoNewPrivs(Errno),
    #[error("cannot use working directory {path}: {}", io_text(.source))]
    Cwd { path: PathBuf, source: io::Error },
    #[error("cannot switch to uid {uid} gid {gid}: {step}: {}", errno_text(*.source))]
    User {
        uid: u32,
        gid: u32,
        step: &'static str,
        source: Errno,
    },
    #[error("cannot set capabilities: {step}: {}", errno_text(*.source))]
    Capabilities { step: String, source: Errno },
    #[error("argument or environment variable {0:?} contains a NUL byte")]
    Nul(String),
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotInPath(String),
    #[error("exec: \"{name}\": stat {name}: {reason}")]
    Stat {
        name: String,
        reason: String,
        errno: Errno,
    },
    #[error("exec: \"{0}\": is a directory")]
    IsDirectory(String),
    #[error("exec: \"{name}\": {reason}")]
    NotExecutable { name: String, reason: String },
}

fn rlimit_hint(e: &Errno) -> &'static str {
    if *e == Errno::EPERM {
        " (raising a hard limit needs CAP_SYS_RESOURCE: lower the limit or give the runtime the capability)"
    } else {
        ""
    }
}

impl ProcessError {
    /// Docker's exit code for this failure.
    pub fn code(&self) -> i32 {
        match self {
            ProcessError::NotInPath(_) => NOT_FOUND,
            ProcessError::Stat { errno, .. } => match errno {
                Errno::ENOENT | Errno::ENOTDIR => NOT_FOUND,
                _ => CANNOT_EXEC,
            },
            ProcessError::IsDirectory(_) | ProcessError::NotExecutable { .. } => CANNOT_EXEC,
            _ => ENGINE,
        }
    }
}

impl From<ProcessError> for InitError {
    fn from(e: ProcessError) -> InitError {
        match e.code() {
            NOT_FOUND => InitError::not_found(e.to_string()),
            CANNOT_EXEC => InitError::cannot_invoke(e.to_string()),
            code => InitError::new(code, e.to_string()),
        }
    }
}

/// Everything between `pivot_root` and the exec fifo; see the module docs for the order.
pub fn prepare(spec: &Spec) -> Result<Prepared, InitError> {
    Ok(prepare_process(spec)?)
}

/// The same steps for a process `exec`'d into a running container, which already has its
/// hostname and cgroup namespace (the exec joined them): rlimits, no_new_privs, working
/// directory, user and capabilities, then the program.
pub fn prepare_exec(process: &Process) -> Result<Prepared, InitError> {
    Ok(prepare_common(process)?)
}

fn prepare_process(spec: &Spec) -> Result<Prepared, ProcessError> {
    let process = spec.process().as_ref().ok_or(ProcessError::NoProcess)?;
    if process.args().as_deref().unwrap_or_default().is_empty() {
        return Err(ProcessError::NoProcess);
    }
    set_hostname(spec)?;
    if super::spec::has_new_namespace(spec, LinuxNamespaceType::Cgroup) {
        // Normally done already by `rootfs::prepare`; a no-op then.
        enter_cgroup_namespace()?;
    }
    prepare_common(process)
}

fn prepare_common(process: &Process) -> Result<Prepared, ProcessError> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(ProcessError::NoProcess);
    }
    set_rlimits(process)?;
    if let Some(value) = process.oom_score_adj() {
        host::current()
            .kfs_write(Path::new("/proc/self/oom_score_adj"), &value.to_string())
            .map_err(|source| ProcessError::OomScoreAdj { value, source })?;
        tracing::info!(value, "write oom_score_adj");
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as _));
    if process.no_new_privileges().unwrap_or(false) {
        host::current()
            .set_no_new_privs()
            .map_err(|e| ProcessError::NoNewPrivs(errno_of(&e)))?;
        tracing::info!("prctl(PR_SET_NO_NEW_PRIVS)");
    }
    change_dir(process.cwd())?;
    switch_user(process)?;

    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // runc: HOME from the container's passwd when the spec does not set it.
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    let program = find_program(&args[0], &env)?;
    tracing::info!(program = ?program, "resolved command");
    Ok(Prepared {
        program: cstring(program.as_os_str().as_bytes())?,
        argv: args
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|e| cstring(e.as_bytes()))
            .collect::<Result<_, _>>()?,
    })
}

/// Makes the cgroup this process is in the root of a new cgroup namespace — after `clone()`,
/// because the shim moves the init into its cgroup only then, and before any cgroup filesystem
/// is mounted. Idempotent: when every hierarchy already shows `/`, we are at a namespace root
/// (or in the root cgroup, where a namespace changes nothing) and nothing is done.
pub fn enter_cgroup_namespace() -> Result<(), ProcessError> {
    let own = host::current()
        .kfs_read(Path::new("/proc/self/cgroup"))
        .unwrap_or_default();
    let at_root = own
        .lines()
        .all(|l| l.splitn(3, ':').nth(2).is_none_or(|path| path == "/"));
    if at_root {
        return Ok(());
    }
    host::current()
        .unshare(CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| ProcessError::CgroupNamespace(errno_of(&e)))?;
    tracing::info!("unshare(CLONE_NEWCGROUP)");
    Ok(())
}

fn cstring(bytes: &[u8]) -> Result<CString, ProcessError> {
    CString::new(bytes).map_err(|_| ProcessError::Nul(String::from_utf8_lossy(bytes).into_owned()))
}

/// `execve`; returns only on failure: 127 when the file (or its interpreter) is missing, 126
/// for anything else, in runc's wording (`exec /entrypoint.sh: no such file or directory`).
pub fn exec(p: &Prepared) -> InitError {
    let errno = errno_of(&host::current().execve(p.program(), p.argv(), p.envp()));
    let message = format!(
        "exec {}: {}",
        p.program().to_string_lossy(),
        errno_text(errno)
    );
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => InitError::not_found(message),
        _ => InitError::cannot_invoke(message),
    }
}

fn set_hostname(spec: &Spec) -> Result<(), ProcessError> {
    let Some(name) = spec.hostname().as_deref() else {
        return Ok(());
    };
    // Without its own UTS namespace this would rename the host.
    if !super::spec::has_new_namespace(spec, LinuxNamespaceType::Uts) {
        return Err(ProcessError::NoUtsNamespace);
    }
    host::current()
        .sethostname(name)
        .map_err(|e| ProcessError::Hostname {
            name: name.into(),
            source: errno_of(&e),
        })?;
    tracing::info!(hostname = name, "sethostname");
    if let Some(domain) = spec.domainname().as_deref() {
        cstring(domain.as_bytes())?;
        host::current()
            .setdomainname(domain)
            .map_err(|e| ProcessError::Hostname {
                name: domain.into(),
                source: errno_of(&e),
            })?;
        tracing::info!(domainname = domain, "setdomainname");
    }
    Ok(())
}

fn set_rlimits(process: &Process) -> Result<(), ProcessError> {
    for r in process.rlimits().as_deref().unwrap_or_default() {
        let resource = rlimit_resource(r.typ());
        host::current()
            .setrlimit(resource, r.soft(), r.hard())
            .map_err(|e| ProcessError::Rlimit {
                resource: r.typ(),
                soft: r.soft(),
                hard: r.hard(),
                source: errno_of(&e),
            })?;
        tracing::info!(resource = %r.typ(), soft = r.soft(), hard = r.hard(), "setrlimit");
    }
    Ok(())
}

/// Linux's number of an rlimit (the seam's `setrlimit` takes Linux's numbers on every platform;
/// a test checks them against libc on Linux).
fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => 0,
        T::RlimitFsize => 1,
        T::RlimitData => 2,
        T::RlimitStack => 3,
        T::RlimitCore => 4,
        T::RlimitRss => 5,
        T::RlimitNproc => 6,
        T::RlimitNofile => 7,
        T::RlimitMemlock => 8,
        T::RlimitAs => 9,
        T::RlimitLocks => 10,
        T::RlimitSigpending => 11,
        T::RlimitMsgqueue => 12,
        T::RlimitNice => 13,
        T::RlimitRtprio => 14,
        T::RlimitRttime => 15,
    }
}

/// Creates the working directory if the image lacks it (docker does), then enters it — as root,
/// before the user switch, as runc's first attempt does.
fn change_dir(cwd: &Path) -> Result<(), ProcessError> {
    let err = |source| ProcessError::Cwd {
        path: cwd.to_path_buf(),
        source,
    };
    // The directory as this host resolves it: itself after a real pivot_root, the file the
    // modelled mount table leads to on a simulated host (never the real host's `/`).
    let at = host::current().in_root(cwd);
    if !at.exists() {
        fs::create_dir_all(&at).map_err(err)?;
        tracing::info!(path = ?cwd, "mkdir(cwd)");
    }
    nix::unistd::chdir(&at).map_err(|e| err(e.into()))?;
    tracing::info!(path = ?cwd, "chdir");
    Ok(())
}

/// Bounding set, user and groups, then the other capability sets.
fn switch_user(process: &Process) -> Result<(), ProcessError> {
    let user = process.user();
    let (uid, gid) = (user.uid(), user.gid());
    let caps = process.capabilities().as_ref();
    if let Some(c) = caps {
        drop_bounding(c)?;
    }

    let err = |step| {
        move |e: io::Error| ProcessError::User {
            uid,
            gid,
            step,
            source: errno_of(&e),
        }
    };
    let host = host::current();
    host.set_keepcaps(true)
        .map_err(err("prctl(PR_SET_KEEPCAPS)"))?;
    let groups = user.additional_gids().as_deref().unwrap_or_default();
    // Always, even when empty: the init still has the shim's supplementary groups.
    host.setgroups(groups).map_err(err("setgroups"))?;
    tracing::info!(groups = ?groups, "setgroups");
    host.setresgid(gid).map_err(err("setresgid"))?;
    host.setresuid(uid).map_err(err("setresuid"))?;
    tracing::info!(uid, gid, "setresuid/setresgid");
    host.set_keepcaps(false)
        .map_err(err("prctl(PR_SET_KEEPCAPS, 0)"))?;

    // No capabilities in the spec: leave them as they are, as runc does.
    if let Some(c) = caps {
        apply_capabilities(c)?;
    }
    Ok(())
}

/// Capability numbers of an OCI set; names this kernel interface does not know are skipped
/// with a warning, as runc does.
fn cap_mask(set: Option<&Capabilities>) -> u64 {
    let mut mask = 0u64;
    for c in set.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        match crate::sys::capability::number(&name) {
            Some(cap) if cap < 64 => mask |= 1 << cap,
            _ => tracing::warn!(capability = name, "unknown capability skipped"),
        }
    }
    mask
}

fn drop_bounding(c: &LinuxCapabilities) -> Result<(), ProcessError> {
    let keep = cap_mask(c.bounding().as_ref());
    let mut dropped = Vec::new();
    for cap in 0..64u32 {
        if keep & (1 << cap) != 0 {
            continue;
        }
        match host::current().capbset_drop(cap).map_err(|e| errno_of(&e)) {
            Ok(_) => dropped.push(cap),
            // Past the kernel's last capability.
            Err(Errno::EINVAL) => break,
            Err(source) => {
                return Err(ProcessError::Capabilities {
                    step: format!("prctl(PR_CAPBSET_DROP, {cap})"),
                    source,
                })
            }
        }
    }
    tracing::info!(keep = %format!("{keep:#018x}"), dropped = dropped.len(), "prctl(PR_CAPBSET_DROP)");
    Ok(())
}

fn apply_capabilities(c: &LinuxCapabilities) -> Result<(), ProcessError> {
    let effective = cap_mask(c.effective().as_ref());
    let permitted = cap_mask(c.permitted().as_ref());
    let inheritable = cap_mask(c.inheritable().as_ref());
    let ambient = cap_mask(c.ambient().as_ref());
    host::current()
        .capset(effective, permitted, inheritable)
        .map_err(|e| ProcessError::Capabilities {
            step: "capset".into(),
            source: errno_of(&e),
        })?;
    tracing::info!(
        effective = %format!("{effective:#018x}"),
        permitted = %format!("{permitted:#018x}"),
        inheritable = %format!("{inheritable:#018x}"),
        "capset"
    );
    match host::current().ambient_clear().map_err(|e| errno_of(&e)) {
        Ok(()) => {}
        // A kernel without ambient capabilities (< 4.3) has nothing to clear.
        Err(Errno::EINVAL) if ambient == 0 => return Ok(()),
        Err(source) => {
            return Err(ProcessError::Capabilities {
                step: "prctl(PR_CAP_AMBIENT_CLEAR_ALL)".into(),
                source,
            })
        }
    }
    for cap in (0..64u32).filter(|i| ambient & (1 << i) != 0) {
        host::current()
            .ambient_raise(cap)
            .map_err(|e| ProcessError::Capabilities {
                step: format!("prctl(PR_CAP_AMBIENT_RAISE, {cap})"),
                source: errno_of(&e),
            })?;
    }
    if ambient != 0 {
        tracing::info!(ambient = %format!("{ambient:#018x}"), "prctl(PR_CAP_AMBIENT_RAISE)");
    }
    Ok(())
}

/// The user's home in the container's `/etc/passwd`, `/` when it has none.
fn home_of(uid: u32) -> String {
    fs::read(host::current().in_root(Path::new("/etc/passwd")))
        .ok()
        .and_then(|b| {
            super::spec::parse_passwd(&String::from_utf8_lossy(&b))
                .into_iter()
                .find(|u| u.uid == i64::from(uid))
        })
        .map(|u| u.home)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// Go's `exec.LookPath`, which docker users know through runc: a name with a `/` is used as
/// is, anything else is searched in the spec's `PATH` (not ours).
pub fn find_program(name: &str, env: &[String]) -> Result<PathBuf, ProcessError> {
    if name.contains('/') {
        return match check_executable(Path::new(name)) {
            Ok(()) => Ok(PathBuf::from(name)),
            Err(Check::Stat(errno)) => Err(ProcessError::Stat {
                name: name.into(),
                reason: errno_text(errno),
                errno,
            }),
            Err(Check::Dir) => Err(ProcessError::IsDirectory(name.into())),
            Err(Check::Access(errno)) => Err(ProcessError::NotExecutable {
                name: name.into(),
                reason: errno_text(errno),
            }),
        };
    }
    // getenv semantics: the first PATH wins. No PATH at all finds nothing, as in Go.
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_default();
    if !name.is_empty() {
        for dir in path.split(':').filter(|_| !path.is_empty()) {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = Path::new(dir).join(name);
            if check_executable(&candidate).is_ok() {
                return Ok(candidate);
            }
        }
    }
    Err(ProcessError::NotInPath(name.into()))
}

enum Check {
    Stat(Errno),
    Dir,
    Access(Errno),
}

/// Go's `findExecutable`: exists, is not a directory, and this user may execute it.
fn check_executable(path: &Path) -> Result<(), Check> {
    // Where the kernel (or the simulator's mount table) finds it.
    let path = &host::current().in_root(path);
    let md = fs::metadata(path)
        .map_err(|e| Check::Stat(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    if md.is_dir() {
        return Err(Check::Dir);
    }
    nix::unistd::faccessat(
        nix::fcntl::AT_FDCWD,
        path,
        nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .map_err(Check::Access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn rlimit_numbers_are_linuxs() {
        use PosixRlimitType as T;
        let table = [
            (T::RlimitCpu, libc::RLIMIT_CPU),
            (T::RlimitFsize, libc::RLIMIT_FSIZE),
            (T::RlimitData, libc::RLIMIT_DATA),
            (T::RlimitStack, libc::RLIMIT_STACK),
            (T::RlimitCore, libc::RLIMIT_CORE),
            (T::RlimitRss, libc::RLIMIT_RSS),
            (T::RlimitNproc, libc::RLIMIT_NPROC),
            (T::RlimitNofile, libc::RLIMIT_NOFILE),
            (T::RlimitMemlock, libc::RLIMIT_MEMLOCK),
            (T::RlimitAs, libc::RLIMIT_AS),
            (T::RlimitLocks, libc::RLIMIT_LOCKS),
            (T::RlimitSigpending, libc::RLIMIT_SIGPENDING),
            (T::RlimitMsgqueue, libc::RLIMIT_MSGQUEUE),
            (T::RlimitNice, libc::RLIMIT_NICE),
            (T::RlimitRtprio, libc::RLIMIT_RTPRIO),
            (T::RlimitRttime, libc::RLIMIT_RTTIME),
        ];
        for (t, linux) in table {
            assert_eq!(rlimit_resource(t), linux, "{t:?}");
        }
    }

    #[test]
    fn default_capabilities_are_dockers_mask() {
        let set: Capabilities = super::super::spec::DEFAULT_CAPABILITIES
            .into_iter()
            .collect();
        assert_eq!(cap_mask(Some(&set)), 0xa804_25fb);
        assert_eq!(cap_mask(None), 0);
    }

    #[test]
    fn lookup_follows_the_specs_path() {
        let env = ["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let sh = find_program("sh", &env).unwrap();
        assert!(sh.ends_with("sh") && sh.is_absolute(), "{sh:?}");
        let e = find_program("no-such-command-xyz", &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"exec: "no-such-command-xyz": executable file not found in $PATH"#
        );
        assert_eq!(e.code(), NOT_FOUND);
        // No PATH at all: nothing is found, even `sh`.
        assert_eq!(find_program("sh", &[]).unwrap_err().code(), NOT_FOUND);
    }

    #[test]
    fn explicit_paths_report_dockers_errors() {
        let e = find_program("/no/such/file", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"exec: "/no/such/file": stat /no/such/file: no such file or directory"#
        );
        assert_eq!(e.code(), NOT_FOUND);
        let e = find_program("/", &[]).unwrap_err();
        assert_eq!(e.to_string(), r#"exec: "/": is a directory"#);
        assert_eq!(e.code(), CANNOT_EXEC);
        assert!(find_program("/bin/sh", &[]).is_ok());
    }
}
