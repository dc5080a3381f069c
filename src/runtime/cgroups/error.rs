//! Every way a cgroup operation can fail, and the hints that say what to do about it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

/// Every way a cgroup operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "no cgroup hierarchy is mounted (no cgroup or cgroup2 entry in /proc/self/mountinfo): \
         mount cgroup2 on /sys/fs/cgroup, or the v1 controllers under it"
    )]
    NotMounted,
    /// A limit was requested whose controller this host does not offer.
    #[error("{what} requested but the {controller} cgroup controller is not {missing}")]
    ControllerMissing {
        what: &'static str,
        controller: &'static str,
        missing: String,
    },
    /// A limit the kernel would refuse or that cannot work.
    #[error("invalid {what}: {reason}")]
    InvalidLimit { what: &'static str, reason: String },
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("cannot create cgroup {path}: {source}{hint}")]
    Mkdir {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },
    #[error("cannot write {value:?} to {path}: {source}{hint}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
        hint: &'static str,
    },
    #[error(
        "cgroup {path} already exists and has processes in it: another container uses this \
         cgroup path; pick another one"
    )]
    InUse { path: PathBuf },
    #[error("cannot {op}: the freezer cgroup controller is not mounted")]
    NoFreezer { op: &'static str },
    #[error(
        "cgroup {path} did not become {state} within {waited:?}: a task may be stuck in the \
         kernel (D state in `ps`); try again"
    )]
    Timeout {
        path: PathBuf,
        state: &'static str,
        waited: Duration,
    },
    #[error("cannot remove cgroup {path}: {source}{hint}")]
    Remove {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },
    #[error("cannot kill process {pid} in cgroup {path}: {source}")]
    Kill {
        pid: i32,
        path: PathBuf,
        source: Errno,
    },
}

impl CgroupError {
    /// True when the error is a missing file or directory: under `create` that means a parent
    /// vanished (a concurrent `remove`) and the walk should start over. The kernel says so with
    /// ENOENT, or with ENODEV for a file opened in a cgroup that is being removed right now.
    pub(super) fn is_not_found(&self) -> bool {
        match self {
            CgroupError::Read { source, .. }
            | CgroupError::Mkdir { source, .. }
            | CgroupError::Write { source, .. } => {
                source.kind() == io::ErrorKind::NotFound
                    || source.raw_os_error() == Some(libc::ENODEV)
            }
            _ => false,
        }
    }
}

/// What to do about a failed control-file write, by file and errno.
pub(super) fn write_hint(file: &str, errno: Option<i32>) -> &'static str {
    match (errno.unwrap_or(0), file) {
        (libc::EACCES | libc::EPERM, _) => "; cgroup files belong to root: run ctrace as root",
        (libc::ENOENT, _) => {
            "; the file is missing: this kernel lacks the feature, or the cgroup was removed"
        }
        (libc::EBUSY, "cgroup.subtree_control") => {
            "; the cgroup has processes of its own and cgroup v2 allows controllers only above \
             leaves (no internal processes): move those processes into a child cgroup"
        }
        (libc::EBUSY, f) if f.starts_with("memory.") => {
            "; the cgroup already uses more memory than that and the kernel could not reclaim \
             it: raise the limit"
        }
        (libc::EINVAL, "memory.memsw.limit_in_bytes") => {
            "; memory+swap must be at least the memory limit"
        }
        // ERANGE: a cpu or node number beyond what the machine has.
        (libc::EINVAL | libc::ERANGE, f) if f.starts_with("cpuset.") => {
            "; the cpus/mems must exist and be a subset of the parent cgroup's"
        }
        (libc::EINVAL, f) if f.starts_with("cpu.") => {
            "; the quota must be at least 1000 µs and the period 1000..=1000000 µs"
        }
        (libc::EINVAL, f) if f.starts_with("devices.") => {
            "; a device rule is `TYPE MAJOR:MINOR ACCESS`, e.g. `c 1:3 rwm`, and may not \
             exceed the parent's"
        }
        (libc::ESRCH, "cgroup.procs") => "; the process has already exited",
        (libc::EOPNOTSUPP, "cgroup.procs") => {
            "; the cgroup is not a leaf or is threaded: processes can only join a domain leaf"
        }
        _ => "",
    }
}

/// What to do about a failed `mkdir` of a cgroup, by errno.
pub(super) fn mkdir_hint(errno: i32) -> &'static str {
    match errno {
        libc::EACCES | libc::EPERM => "; cgroup directories belong to root: run ctrace as root",
        libc::EAGAIN | libc::ENOSPC => {
            "; a cgroup.max.descendants or cgroup.max.depth limit above it is reached"
        }
        libc::EROFS => "; the cgroup filesystem is mounted read-only (inside a container?)",
        _ => "",
    }
}

pub(super) fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_hint_names_the_cause_by_file_and_errno() {
        assert!(write_hint("cpuset.cpus", Some(libc::ERANGE)).contains("subset of the parent"));
        assert!(write_hint("memory.max", Some(libc::EBUSY)).contains("raise the limit"));
        assert!(write_hint("cgroup.procs", Some(libc::ESRCH)).contains("already exited"));
        assert_eq!(write_hint("pids.max", None), "");
        assert!(mkdir_hint(libc::EROFS).contains("read-only"));
    }
}
