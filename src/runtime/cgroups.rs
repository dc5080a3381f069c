//! Control groups for a container: find the hierarchy, create the container's cgroup with its
//! limits, move processes into it, freeze it, and take it down again.
//!
//! What this module is for:
//!
//! - [`Hierarchy::detect`] reads `/proc/self/mountinfo` and decides between **cgroup v1** (one
//!   mount per controller: `/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids`, …) and **cgroup v2**
//!   (one unified tree, `/sys/fs/cgroup` itself is `cgroup2`). A *hybrid* host — v1 controllers
//!   plus an (empty) `cgroup2` mount at `/sys/fs/cgroup/unified`, as systemd sets up in hybrid
//!   mode — counts as v1: a controller can be attached to only one hierarchy at a time, and here
//!   they are all on the v1 side.
//! - [`Hierarchy::verify`] answers docker's `verifyContainerSettings` question for cgroups: can
//!   this host honour the limits at all (is the controller there, are the numbers sane)?
//! - [`Cgroup::create`] makes the directories and writes the limits — docker's `--memory`,
//!   `--memory-swap`, `--pids-limit`, `--cpus`, `--cpuset-cpus`, and the device allow-list —
//!   and undoes its own work when anything fails. [`Cgroup::remove`] is the inverse and is
//!   idempotent, so `rm`, the exit path and a rollback may all call it.
//!
//! What it is not for: deciding *where* a container's cgroup lives (the engine passes an OCI
//! `cgroupsPath` like `/ctrace/<id>`), systemd-managed cgroups (`slice:prefix:name` paths are
//! refused), and cgroup v2 device rules, which need an eBPF program attached to the cgroup: they
//! are skipped with a warning (the container's `/dev` then only holds the devices its mounts
//! create).
//! It also does not read statistics beyond what the engine needs (`oom_killed`, `pids`).
//!
//! On a hybrid host the container is not placed in the `unified` or `name=systemd` trees: they
//! carry no controllers, so there is nothing to limit or count there.
//!
//! Two containers may create and remove `ctrace/<a>` and `ctrace/<b>` at the same moment, so
//! every step tolerates the other: `create` starts its walk over when a parent vanishes under it
//! (ENOENT, or ENODEV from a cgroup being removed), and `remove` takes parents away only when the
//! kernel agrees they are empty (EBUSY/ENOTEMPTY means another container lives there).
//!
//! Every change to the kernel's state — each `mkdir`, each control-file write, each `rmdir`,
//! each `kill` — is a `tracing` event in the current span, so a trace shows exactly which files
//! `docker run --memory 64m` ends up touching.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

/// The v1 controllers a container joins, in the order their directories are created.
///
/// `blkio`, `net_cls`, `perf_event`, `hugetlb`, … are left out: ctrace sets no limit there, and
/// every extra hierarchy is one more directory to create and clean up.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices",
];

/// The v2 controllers enabled in `cgroup.subtree_control` above a container (when available).
const V2_CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

/// Every controller a v1 `cgroup` mount can carry, in the order [`Hierarchy::describe`] lists them.
/// Anything else in a mount's super options (`rw`, `noprefix`, `release_agent=…`) is not one.
const KNOWN_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "rdma",
    "misc",
    "debug",
];

/// The kernel's default CFS period (µs), used when a quota comes without a period.
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// Docker refuses smaller memory limits (`Minimum memory limit allowed is 6MB`): below this a
/// container's runtime cannot even start before it is OOM-killed.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// How long `remove` waits for killed processes to leave the cgroup and for `rmdir` to stop
/// returning `EBUSY`: the kernel finishes tearing a task down (freeing its memory, uncharging
/// the memcg) a little after `kill(2)` returns.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `freeze` waits for every task to reach the freezer.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often `create` starts over when a parent directory disappears under it (another
/// container's `remove` took an empty `ctrace/` away between our `mkdir`s).
const MKDIR_ATTEMPTS: usize = 20;

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
    fn is_not_found(&self) -> bool {
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

/// Which cgroup interface the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    V1,
    V2,
}

/// The host's cgroup mounts, as detected from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    version: Version,
    /// v1 controller (or named hierarchy, `name=systemd`) → its mount point.
    v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount, if any (the whole tree in v2; the empty `unified` mount on hybrid hosts).
    v2: Option<PathBuf>,
    /// The controllers in the cgroup2 mount's `cgroup.controllers`.
    v2_controllers: Vec<String>,
}

/// One `cgroup`/`cgroup2` line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    /// The path inside the hierarchy that is mounted (`/` unless bind-mounted or namespaced).
    root: String,
    mount_point: PathBuf,
    v2: bool,
    /// For v1: the controllers (and `name=…`) this mount carries.
    controllers: Vec<String>,
}

/// Parses the `cgroup` and `cgroup2` lines of a mountinfo text (proc(5)):
/// `id parent major:minor root mount-point options [optional…] - fstype source super-options`.
fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let v2 = match right[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            right[2]
                .split(',')
                .filter(|o| KNOWN_V1.contains(o) || o.starts_with("name="))
                .map(str::to_string)
                .collect()
        };
        mounts.push(CgroupMount {
            root: unescape(left[3]),
            mount_point: PathBuf::from(unescape(left[4])),
            v2,
            controllers,
        });
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = oct.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                if let Ok(b) = u8::try_from(value) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Hierarchy {
    /// Detects the host's cgroup layout from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Hierarchy, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(|source| CgroupError::Read {
            path: path.into(),
            source,
        })?;
        Hierarchy::from_mountinfo(&text, |mount| {
            fs::read_to_string(mount.join("cgroup.controllers")).ok()
        })
    }

    /// Detection from a mountinfo text. `v2_controllers` returns the contents of a cgroup2
    /// mount's `cgroup.controllers` (a seam so the v2 rules can be tested on a v1 host).
    ///
    /// The rules: `/sys/fs/cgroup` mounted as cgroup2 → v2. Otherwise any v1 controller
    /// mounted → v1 (a cgroup2 mount beside them is the hybrid `unified` tree, which only gets
    /// the controllers no v1 mount took). Otherwise a cgroup2 mount anywhere → v2.
    pub fn from_mountinfo(
        text: &str,
        v2_controllers: impl Fn(&Path) -> Option<String>,
    ) -> Result<Hierarchy, CgroupError> {
        let mounts = parse_mountinfo(text);

        let mut v1: BTreeMap<String, PathBuf> = BTreeMap::new();
        // Prefer the mount of a hierarchy's root: a bind mount of a sub-cgroup (root ≠ "/") would
        // put our paths somewhere else in the tree.
        for m in mounts.iter().filter(|m| !m.v2) {
            for c in &m.controllers {
                let replace = match v1.get(c) {
                    None => true,
                    Some(_) => {
                        m.root == "/"
                            && mounts
                                .iter()
                                .any(|o| !o.v2 && o.controllers.contains(c) && o.root != "/")
                    }
                };
                if replace {
                    v1.insert(c.clone(), m.mount_point.clone());
                }
            }
        }

        let v2_mounts: Vec<&PathBuf> = mounts
            .iter()
            .filter(|m| m.v2)
            .map(|m| &m.mount_point)
            .collect();
        let preferred = |p: &str| v2_mounts.iter().find(|m| m.as_path() == Path::new(p));
        let v2 = preferred("/sys/fs/cgroup")
            .or_else(|| preferred("/sys/fs/cgroup/unified"))
            .or_else(|| v2_mounts.first())
            .map(|p| (*p).clone());

        let has_v1_controller = v1.keys().any(|c| !c.starts_with("name="));
        let version = if v2.as_deref() == Some(Path::new("/sys/fs/cgroup")) {
            Version::V2
        } else if has_v1_controller {
            Version::V1
        } else if v2.is_some() {
            Version::V2
        } else {
            return Err(CgroupError::NotMounted);
        };
        let v2_controllers = v2
            .as_deref()
            .and_then(v2_controllers)
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Hierarchy {
            version,
            v1,
            v2,
            v2_controllers,
        })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The controllers a container can use: mounted v1 controllers, or the v2 root's
    /// `cgroup.controllers`.
    pub fn controllers(&self) -> Vec<String> {
        match self.version {
            Version::V1 => KNOWN_V1
                .iter()
                .filter(|c| self.v1.contains_key(**c))
                .map(|c| c.to_string())
                .collect(),
            Version::V2 => self.v2_controllers.clone(),
        }
    }

    fn has(&self, controller: &str) -> bool {
        match self.version {
            Version::V1 => self.v1.contains_key(controller),
            Version::V2 => self.v2_controllers.iter().any(|c| c == controller),
        }
    }

    /// One human line for the timeline and the host facts:
    /// `v1 (cpu,cpuacct,cpuset,memory,devices,freezer,blkio,pids; cgroup2 also at
    /// /sys/fs/cgroup/unified)` or `v2 (cpuset cpu io memory pids)`.
    /// The directories of the cgroups process `pid` is in, one per hierarchy mounted here
    /// (from `/proc/<pid>/cgroup`): what a process must join to share them all, whatever runtime
    /// put it there (`exec` into a runc container, whose named hierarchies ctrace does not
    /// create, included).
    pub fn dirs_of(&self, pid: i32) -> Vec<PathBuf> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let mount = if ctrls.is_empty() {
                self.v2.as_ref()
            } else {
                ctrls.split(',').find_map(|c| self.v1.get(c))
            };
            if let Some(m) = mount {
                let dir = m.join(path.trim_start_matches('/'));
                if dir.join("cgroup.procs").exists() && !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
        out
    }

    pub fn describe(&self) -> String {
        match self.version {
            Version::V1 => {
                let list = self.controllers().join(",");
                match &self.v2 {
                    Some(p) => format!("v1 ({list}; cgroup2 also at {})", p.display()),
                    None => format!("v1 ({list})"),
                }
            }
            Version::V2 => {
                let list = if self.v2_controllers.is_empty() {
                    "no controllers".to_string()
                } else {
                    self.v2_controllers.join(" ")
                };
                match self.v2.as_deref() {
                    Some(p) if p != Path::new("/sys/fs/cgroup") => {
                        format!("v2 ({list}) at {}", p.display())
                    }
                    _ => format!("v2 ({list})"),
                }
            }
        }
    }

    /// Checks that every requested limit has its controller and makes sense, before anything is
    /// created (docker's `verifyContainerSettings`).
    pub fn verify(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let need = |what: &'static str, controller: &'static str| -> Result<(), CgroupError> {
            if self.has(controller) {
                return Ok(());
            }
            let missing = match (self.version, &self.v2) {
                (Version::V1, _) => format!(
                    "mounted: mount it (mount -t cgroup -o {controller} cgroup \
                     /sys/fs/cgroup/{controller}) or drop the limit"
                ),
                (Version::V2, Some(p)) => format!(
                    "available in {} (cgroup v2): the kernel lacks it or it is bound to a v1 \
                     hierarchy; drop the limit",
                    p.join("cgroup.controllers").display()
                ),
                (Version::V2, None) => "available: drop the limit".to_string(),
            };
            Err(CgroupError::ControllerMissing {
                what,
                controller,
                missing,
            })
        };

        if let Some(m) = resources.memory() {
            if let Some(limit) = m.limit() {
                need("memory limit", "memory")?;
                if (0..MIN_MEMORY).contains(&limit) {
                    return Err(CgroupError::InvalidLimit {
                        what: "memory limit",
                        reason: format!(
                            "{limit} bytes is below the minimum of {MIN_MEMORY} bytes (6 MiB); \
                             raise it"
                        ),
                    });
                }
            }
            if let Some(swap) = m.swap() {
                need("memory+swap limit", "memory")?;
                if swap >= 0 {
                    match m.limit() {
                        Some(limit) if limit >= 0 && swap < limit => {
                            return Err(CgroupError::InvalidLimit {
                                what: "memory+swap limit",
                                reason: format!(
                                    "{swap} bytes is below the memory limit of {limit} bytes: \
                                     memory+swap counts memory too, so it must be at least the \
                                     memory limit"
                                ),
                            })
                        }
                        Some(limit) if limit >= 0 => {}
                        _ => {
                            return Err(CgroupError::InvalidLimit {
                                what: "memory+swap limit",
                                reason: "it needs a memory limit too (docker: --memory-swap \
                                         needs --memory)"
                                    .into(),
                            })
                        }
                    }
                }
            }
            if m.reservation().is_some() {
                need("memory reservation", "memory")?;
            }
        }
        if let Some(p) = resources.pids() {
            if p.limit() > 0 {
                need("pids limit", "pids")?;
            }
        }
        if let Some(cpu) = resources.cpu() {
            if cpu.quota().is_some() || cpu.period().is_some() {
                need("cpu quota", "cpu")?;
            }
            if cpu.shares().is_some() {
                need("cpu shares", "cpu")?;
            }
            if cpu.cpus().is_some() || cpu.mems().is_some() {
                need("cpuset", "cpuset")?;
            }
            if let Some(q) = cpu.quota() {
                if q > 0 && q < 1000 {
                    return Err(CgroupError::InvalidLimit {
                        what: "cpu quota",
                        reason: format!("{q} µs is below the kernel's minimum of 1000 µs"),
                    });
                }
            }
            if let Some(p) = cpu.period() {
                if !(1000..=1_000_000).contains(&p) {
                    return Err(CgroupError::InvalidLimit {
                        what: "cpu period",
                        reason: format!("{p} µs is outside the kernel's 1000..=1000000 µs"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The OCI `cgroupsPath` as a path relative to each mount, or why it cannot be one.
fn relative(rel: &str) -> Result<PathBuf, &'static str> {
    // runc's systemd driver takes "slice:prefix:name"; ctrace drives cgroupfs directly.
    if !rel.contains('/') && rel.matches(':').count() == 2 {
        return Err(
            "systemd cgroup paths (slice:prefix:name) are not supported; give a path \
                    like /ctrace/<id>",
        );
    }
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` is not allowed; give a path like /ctrace/<id>"),
            p => out.push(p),
        }
    }
    if out.as_os_str().is_empty() {
        // The root cgroup holds every process on the host: never limit, kill or remove it.
        return Err("it names the root cgroup; give a path like /ctrace/<id>");
    }
    Ok(out)
}

/// One directory of the container's cgroup: per v1 hierarchy, or the single v2 one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dir {
    /// `memory`, `cpu,cpuacct` (co-mounted) or `unified`.
    controllers: Vec<String>,
    mount: PathBuf,
    path: PathBuf,
}

impl Dir {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// A container's cgroup: one directory per v1 hierarchy it joins, or one v2 directory.
#[derive(Debug, Clone)]
pub struct Cgroup {
    version: Version,
    /// The `cgroupsPath` as given.
    given: String,
    /// Relative to every mount: `ctrace/<id>`.
    rel: PathBuf,
    dirs: Vec<Dir>,
    /// The same path in the hierarchies ctrace does not join (`blkio`, `name=systemd`, the hybrid
    /// `unified` tree): only `remove` looks there, because runc — the other runtime — does put
    /// its containers there, and `runc delete` leaves their parent (`ctrace/`) behind.
    others: Vec<Dir>,
    /// Why `given` is unusable; every operation then fails instead of touching the root cgroup.
    invalid: Option<&'static str>,
}

/// Writes `value` to the control file `path` in one `write(2)` (no create, no truncate: cgroupfs
/// files exist or the kernel lacks the feature) and records it.
fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    let result = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    match result {
        Ok(()) => {
            tracing::info!(path = %path.display(), value, "write {file}");
            Ok(())
        }
        Err(source) => {
            tracing::warn!(path = %path.display(), value, error = %source, "write {file} failed");
            Err(CgroupError::Write {
                path: path.into(),
                value: value.into(),
                hint: write_hint(&file, source.raw_os_error()),
                source,
            })
        }
    }
}

fn read_file(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.into(),
        source,
    })
}

/// What to do about a failed control-file write, by file and errno.
fn write_hint(file: &str, errno: Option<i32>) -> &'static str {
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

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn mkdir_hint(errno: i32) -> &'static str {
    match errno {
        libc::EACCES | libc::EPERM => "; cgroup directories belong to root: run ctrace as root",
        libc::EAGAIN | libc::ENOSPC => {
            "; a cgroup.max.descendants or cgroup.max.depth limit above it is reached"
        }
        libc::EROFS => "; the cgroup filesystem is mounted read-only (inside a container?)",
        _ => "",
    }
}

/// Reads the pids in `dir`'s `cgroup.procs`; a missing directory holds none.
fn procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let path = dir.join("cgroup.procs");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        // A cgroup removed while we read it (ENODEV from a dead kernfs node).
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(Vec::new()),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

/// `dir` and every cgroup below it, children before parents (the order `rmdir` needs).
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subtree(&entry.path()));
            }
        }
    }
    if dir.is_dir() {
        out.push(dir.to_path_buf());
    }
    out
}

/// The value of `key` in a flat-keyed file (`memory.events`, `memory.oom_control`,
/// `cgroup.events`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sleeps a little longer each time, from 1 ms up to 20 ms: a freeze or a task exit usually takes
/// well under a millisecond, so the first checks come quickly.
fn backoff(round: &mut u32) {
    sleep(Duration::from_millis(u64::from((*round).clamp(1, 20))));
    *round = round.saturating_mul(2).max(1);
}

/// Creates `dir.mount/rel`, one level at a time. `before_child(parent)` runs before each `mkdir`
/// and `after(level, created)` after it (also for levels that already existed). Records every
/// directory it makes in `created`. Returns whether the leaf was made here.
///
/// A concurrent `remove` of a sibling container may rmdir an empty parent between two of our
/// steps: every `ENOENT` restarts the walk from the mount.
fn mkdir_levels(
    dir: &Dir,
    rel: &Path,
    created: &mut Vec<PathBuf>,
    before_child: &dyn Fn(&Path) -> Result<(), CgroupError>,
    after: &dyn Fn(&Path, bool) -> Result<(), CgroupError>,
) -> Result<bool, CgroupError> {
    let mut levels: Vec<PathBuf> = rel
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .map(|a| dir.mount.join(a))
        .collect();
    levels.reverse();
    let mut attempt = 0;
    'walk: loop {
        attempt += 1;
        let mut leaf_created = false;
        let mut parent = dir.mount.clone();
        for level in &levels {
            let step = (|| {
                before_child(&parent)?;
                let made = match fs::create_dir(level) {
                    Ok(()) => {
                        tracing::info!(path = %level.display(), "mkdir");
                        created.push(level.clone());
                        true
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                    Err(source) => {
                        return Err(CgroupError::Mkdir {
                            path: level.clone(),
                            hint: mkdir_hint(errno_of(&source)),
                            source,
                        })
                    }
                };
                after(level, made)?;
                Ok(made)
            })();
            match step {
                Ok(made) => leaf_created = made,
                Err(e) if e.is_not_found() && attempt < MKDIR_ATTEMPTS => {
                    tracing::debug!(
                        path = %level.display(),
                        attempt,
                        "parent cgroup vanished; retrying"
                    );
                    sleep(Duration::from_millis(1));
                    continue 'walk;
                }
                Err(e) => return Err(e),
            }
            parent = level.clone();
        }
        return Ok(leaf_created);
    }
}

/// Copies `cpuset.cpus`/`cpuset.mems` from the parent when `level`'s are empty: a v1 cpuset
/// cgroup starts with neither, and the kernel refuses to let a task join until both are set.
fn init_cpuset(level: &Path) -> Result<(), CgroupError> {
    let Some(parent) = level.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = read_file(&level.join(file))?;
        if own.trim().is_empty() {
            let inherited = read_file(&parent.join(file))?;
            write_file(&level.join(file), inherited.trim())?;
        }
    }
    Ok(())
}

/// Enables the wanted controllers (those the parent offers and not yet on) in `parent`'s
/// `cgroup.subtree_control`, so its children get `memory.max`, `pids.max`, `cpu.max`.
fn enable_subtree(parent: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let available = read_file(&parent.join("cgroup.controllers"))?;
    let enabled = read_file(&parent.join("cgroup.subtree_control"))?;
    let enabled: BTreeSet<&str> = enabled.split_whitespace().collect();
    let add: Vec<String> = wanted
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c) && !enabled.contains(**c))
        .map(|c| format!("+{c}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    write_file(&parent.join("cgroup.subtree_control"), &add.join(" "))
}

/// A v1 device rule line: `c 1:3 rwm`, `a *:* rwm`.
fn device_rule(rule: &oci_spec::runtime::LinuxDeviceCgroup) -> String {
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = rule.access().as_deref().filter(|a| !a.is_empty());
    format!(
        "{} {}:{} {}",
        rule.typ().unwrap_or_default().as_str(),
        num(rule.major()),
        num(rule.minor()),
        access.unwrap_or("rwm")
    )
}

/// Resource settings that were asked for but that ctrace does not apply: logged, never silent.
fn ignored(resources: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(m) = resources.memory() {
        if m.kernel().is_some() {
            out.push("memory.kernel");
        }
        if m.kernel_tcp().is_some() {
            out.push("memory.kernelTCP");
        }
        if m.disable_oom_killer().is_some() {
            out.push("memory.disableOOMKiller");
        }
    }
    if let Some(c) = resources.cpu() {
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            out.push("cpu.realtime*");
        }
        if c.idle().is_some() {
            out.push("cpu.idle");
        }
        if c.burst().is_some() {
            out.push("cpu.burst");
        }
    }
    // An empty blockIO/network object is what a spec builder leaves by default: not a request.
    if let Some(b) = resources.block_io() {
        let lists = [
            b.throttle_read_bps_device(),
            b.throttle_write_bps_device(),
            b.throttle_read_iops_device(),
            b.throttle_write_iops_device(),
        ];
        if b.weight().is_some()
            || b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|d| !d.is_empty())
            || lists
                .iter()
                .any(|l| l.as_ref().is_some_and(|d| !d.is_empty()))
        {
            out.push("blockIO");
        }
    }
    if resources
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        out.push("hugepageLimits");
    }
    if let Some(n) = resources.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            out.push("network");
        }
    }
    if resources.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        out.push("rdma");
    }
    if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        out.push("unified");
    }
    out
}

impl Cgroup {
    /// Creates the cgroup for `rel` (an OCI `cgroupsPath` like `/ctrace/<id>`) and applies
    /// `resources`. On any failure everything created here is removed again.
    ///
    /// An existing, empty leaf (left by a crash) is reused; one with processes is refused.
    pub fn create(
        h: &Hierarchy,
        rel: &str,
        resources: &LinuxResources,
    ) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup::open(h, rel);
        cg.check()?;
        if cg.dirs.is_empty() {
            return Err(CgroupError::NotMounted);
        }
        // Checked again here (the engine checks in start.verify) so that a limit is either
        // applied or refused, never dropped because its controller went missing.
        h.verify(resources)?;
        let skipped = ignored(resources);
        if !skipped.is_empty() {
            tracing::warn!(
                settings = %skipped.join(", "),
                "resource settings not applied by ctrace"
            );
        }

        let mut created = Vec::new();
        let result = match cg.version {
            Version::V1 => cg.create_v1(resources, &mut created),
            Version::V2 => cg.create_v2(h, resources, &mut created),
        };
        if let Err(e) = result {
            cg.rollback(&created);
            return Err(e);
        }
        Ok(cg)
    }

    /// An existing cgroup (to remove it later from another process). Nothing is checked here: a
    /// path that can never be a container's cgroup (the root, `..`) makes every later call fail.
    pub fn open(h: &Hierarchy, rel: &str) -> Cgroup {
        let (relp, invalid) = match relative(rel) {
            Ok(p) => (p, None),
            Err(reason) => (PathBuf::new(), Some(reason)),
        };
        let mut dirs: Vec<Dir> = Vec::new();
        let mut others: Vec<Dir> = Vec::new();
        if invalid.is_none() {
            match h.version {
                Version::V1 => {
                    for c in V1_CONTROLLERS {
                        let Some(mount) = h.v1.get(*c) else { continue };
                        // Co-mounted controllers (cpu,cpuacct) share one directory.
                        if let Some(d) = dirs.iter_mut().find(|d| &d.mount == mount) {
                            d.controllers.push(c.to_string());
                            continue;
                        }
                        dirs.push(Dir {
                            controllers: vec![c.to_string()],
                            mount: mount.clone(),
                            path: mount.join(&relp),
                        });
                    }
                    let v1_others = h.v1.iter().map(|(c, m)| (c.as_str(), m));
                    for (c, mount) in v1_others.chain(h.v2.iter().map(|m| ("unified", m))) {
                        if dirs.iter().chain(&others).any(|d| &d.mount == mount) {
                            continue;
                        }
                        others.push(Dir {
                            controllers: vec![c.to_string()],
                            mount: mount.clone(),
                            path: mount.join(&relp),
                        });
                    }
                }
                Version::V2 => {
                    if let Some(mount) = &h.v2 {
                        dirs.push(Dir {
                            controllers: vec!["unified".into()],
                            mount: mount.clone(),
                            path: mount.join(&relp),
                        });
                    }
                }
            }
        }
        Cgroup {
            version: h.version,
            given: rel.to_string(),
            rel: relp,
            dirs,
            others,
            invalid,
        }
    }

    fn check(&self) -> Result<(), CgroupError> {
        match self.invalid {
            Some(reason) => Err(CgroupError::InvalidPath {
                path: self.given.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The directory holding `controller`'s files (v2: the one directory).
    fn dir(&self, controller: &str) -> Option<&Dir> {
        match self.version {
            Version::V1 => self.dirs.iter().find(|d| d.has(controller)),
            Version::V2 => self.dirs.first(),
        }
    }

    /// Refuses a pre-existing leaf that already has processes: it belongs to someone else.
    fn check_reused(&self, dir: &Dir, leaf_created: bool) -> Result<(), CgroupError> {
        if !leaf_created {
            if procs(&dir.path)?.is_empty() {
                tracing::warn!(
                    path = %dir.path.display(),
                    "cgroup already exists and is empty; reusing it"
                );
            } else {
                return Err(CgroupError::InUse {
                    path: dir.path.clone(),
                });
            }
        }
        Ok(())
    }

    fn create_v1(
        &self,
        resources: &LinuxResources,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let cpuset = dir.has("cpuset");
            let leaf_created = mkdir_levels(dir, &self.rel, created, &|_| Ok(()), &|level, _| {
                if cpuset {
                    init_cpuset(level)
                } else {
                    Ok(())
                }
            })?;
            self.check_reused(dir, leaf_created)?;
        }

        let file = |controller: &str, name: &str| self.dir(controller).map(|d| d.path.join(name));

        if let Some(m) = resources.memory() {
            if let Some(path) = file("memory", "memory.limit_in_bytes") {
                let memsw = path.with_file_name("memory.memsw.limit_in_bytes");
                let swap = m.swap().filter(|_| {
                    let ok = memsw.exists();
                    if !ok {
                        tracing::warn!(
                            path = %memsw.display(),
                            "swap limit requested but this kernel has no swap accounting \
                             (swapaccount=1); memory limited without swap"
                        );
                    }
                    ok
                });
                if let Some(limit) = m.limit() {
                    // memory+swap must stay ≥ memory at every moment: if raising memory fails,
                    // raise memory+swap first (a reused cgroup may hold older, lower values).
                    match (write_file(&path, &limit.to_string()), swap) {
                        (Ok(()), _) => {
                            if let Some(swap) = swap {
                                write_file(&memsw, &swap.to_string())?;
                            }
                        }
                        (Err(_), Some(swap)) => {
                            write_file(&memsw, &swap.to_string())?;
                            write_file(&path, &limit.to_string())?;
                        }
                        (Err(e), None) => return Err(e),
                    }
                } else if let Some(swap) = swap {
                    write_file(&memsw, &swap.to_string())?;
                }
                if let Some(r) = m.reservation() {
                    write_file(
                        &path.with_file_name("memory.soft_limit_in_bytes"),
                        &r.to_string(),
                    )?;
                }
                if let Some(s) = m.swappiness() {
                    write_file(&path.with_file_name("memory.swappiness"), &s.to_string())?;
                }
            }
        }
        if let Some(p) = resources.pids() {
            if let Some(path) = file("pids", "pids.max") {
                write_file(&path, &pids_value(p.limit()))?;
            }
        }
        if let Some(cpu) = resources.cpu() {
            if let Some(shares) = cpu.shares() {
                if let Some(path) = file("cpu", "cpu.shares") {
                    write_file(&path, &shares.to_string())?;
                }
            }
            if cpu.quota().is_some() || cpu.period().is_some() {
                if let Some(dir) = self.dir("cpu") {
                    let period = cpu.period().unwrap_or(DEFAULT_CPU_PERIOD);
                    write_file(&dir.path.join("cpu.cfs_period_us"), &period.to_string())?;
                    if let Some(q) = cpu.quota() {
                        let q = if q > 0 { q } else { -1 };
                        write_file(&dir.path.join("cpu.cfs_quota_us"), &q.to_string())?;
                    }
                }
            }
            self.write_cpuset(cpu)?;
        }
        if let Some(rules) = resources.devices().as_ref().filter(|r| !r.is_empty()) {
            if let Some(dir) = self.dir("devices") {
                // Start from nothing allowed, then apply the spec's rules in order — docker's
                // list begins with "deny all" anyway, so the outcome is the spec's allow-list.
                write_file(&dir.path.join("devices.deny"), "a")?;
                for (i, rule) in rules.iter().enumerate() {
                    let line = device_rule(rule);
                    if i == 0 && !rule.allow() && line == "a *:* rwm" {
                        continue; // the leading "deny all" was just written
                    }
                    let file = if rule.allow() {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    };
                    write_file(&dir.path.join(file), &line)?;
                }
            } else {
                tracing::warn!(
                    "device rules requested but the devices cgroup controller is not mounted; \
                     not applied"
                );
            }
        }
        Ok(())
    }

    fn write_cpuset(&self, cpu: &oci_spec::runtime::LinuxCpu) -> Result<(), CgroupError> {
        let Some(dir) = self.dir("cpuset") else {
            return Ok(());
        };
        // mems before cpus does not matter to the kernel; both are checked against the parent.
        if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
            write_file(&dir.path.join("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
            write_file(&dir.path.join("cpuset.mems"), mems)?;
        }
        Ok(())
    }

    fn create_v2(
        &self,
        h: &Hierarchy,
        resources: &LinuxResources,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError> {
        let Some(dir) = self.dirs.first() else {
            return Err(CgroupError::NotMounted);
        };
        let mut wanted: Vec<&str> = V2_CONTROLLERS.to_vec();
        if resources
            .cpu()
            .as_ref()
            .is_some_and(|c| c.cpus().is_some() || c.mems().is_some())
        {
            wanted.push("cpuset");
        }
        wanted.retain(|c| h.has(c));
        let leaf_created = mkdir_levels(
            dir,
            &self.rel,
            created,
            &|parent| enable_subtree(parent, &wanted),
            &|_, _| Ok(()),
        )?;
        self.check_reused(dir, leaf_created)?;

        let path = |name: &str| dir.path.join(name);
        if let Some(m) = resources.memory() {
            if let Some(limit) = m.limit() {
                write_file(&path("memory.max"), &max_or(limit))?;
            }
            if let Some(swap) = m.swap() {
                // OCI's swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
                let value = match m.limit() {
                    Some(limit) if swap >= 0 && limit >= 0 => (swap - limit).to_string(),
                    _ => "max".to_string(),
                };
                let file = path("memory.swap.max");
                if file.exists() {
                    write_file(&file, &value)?;
                } else {
                    tracing::warn!(
                        path = %file.display(),
                        "swap limit requested but this kernel has no swap accounting; memory \
                         limited without swap"
                    );
                }
            }
            if let Some(r) = m.reservation() {
                write_file(&path("memory.low"), &max_or(r))?;
            }
            if let Some(s) = m.swappiness() {
                tracing::warn!(
                    swappiness = s,
                    "memory swappiness has no cgroup v2 file; not applied"
                );
            }
        }
        if let Some(p) = resources.pids() {
            write_file(&path("pids.max"), &pids_value(p.limit()))?;
        }
        if let Some(cpu) = resources.cpu() {
            if let Some(shares) = cpu.shares() {
                write_file(&path("cpu.weight"), &shares_to_weight(shares).to_string())?;
            }
            if cpu.quota().is_some() || cpu.period().is_some() {
                let quota = match cpu.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".to_string(),
                };
                let period = cpu.period().unwrap_or(DEFAULT_CPU_PERIOD);
                write_file(&path("cpu.max"), &format!("{quota} {period}"))?;
            }
            self.write_cpuset(cpu)?;
        }
        if resources.devices().as_ref().is_some_and(|r| !r.is_empty()) {
            tracing::warn!(
                path = %dir.path.display(),
                "device rules not applied: cgroup v2 enforces them with an eBPF program, which \
                 ctrace does not attach; the container sees only the devices its /dev holds"
            );
        }
        Ok(())
    }

    /// Removes what a failed `create` made, deepest first. A parent another container started
    /// using meanwhile stays (rmdir fails with EBUSY/ENOTEMPTY, which is fine).
    fn rollback(&self, created: &[PathBuf]) {
        for path in created.iter().rev() {
            match fs::remove_dir(path) {
                Ok(()) => tracing::info!(path = %path.display(), "rmdir (rollback)"),
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "rollback rmdir skipped")
                }
            }
        }
    }

    /// Moves `pid` (with all its threads) into the cgroup: `cgroup.procs` in every directory.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        self.check()?;
        for dir in &self.dirs {
            write_file(&dir.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Every process in the cgroup or below it, over all its hierarchies, sorted. A cgroup that
    /// does not exist (any more) holds none.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.check()?;
        let mut all = BTreeSet::new();
        for dir in &self.dirs {
            for d in subtree(&dir.path) {
                all.extend(procs(&d)?);
            }
        }
        Ok(all.into_iter().collect())
    }

    /// Freezes every task (docker pause): v1 `freezer.state` FROZEN, v2 `cgroup.freeze` 1.
    /// Returns once the kernel reports the cgroup frozen.
    // Part of the engine's contract (pause): allowed to be unused until that caller lands.
    #[allow(dead_code)]
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.check()?;
        self.set_frozen(true, FREEZE_TIMEOUT, "freeze")
    }

    /// Thaws a frozen cgroup (docker unpause).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.check()?;
        self.set_frozen(false, FREEZE_TIMEOUT, "thaw")
    }

    /// Where to write and how to tell the state has been reached.
    fn freezer_files(&self, op: &'static str) -> Result<(PathBuf, PathBuf), CgroupError> {
        match self.version {
            Version::V1 => {
                let dir = self.dir("freezer").ok_or(CgroupError::NoFreezer { op })?;
                let f = dir.path.join("freezer.state");
                Ok((f.clone(), f))
            }
            Version::V2 => {
                let dir = self.dirs.first().ok_or(CgroupError::NotMounted)?;
                Ok((
                    dir.path.join("cgroup.freeze"),
                    dir.path.join("cgroup.events"),
                ))
            }
        }
    }

    fn is_frozen_state(&self, text: &str, frozen: bool) -> bool {
        match self.version {
            Version::V1 => text.trim() == if frozen { "FROZEN" } else { "THAWED" },
            Version::V2 => keyed(text, "frozen") == Some(u64::from(frozen)),
        }
    }

    fn set_frozen(
        &self,
        frozen: bool,
        timeout: Duration,
        op: &'static str,
    ) -> Result<(), CgroupError> {
        let (control, status) = self.freezer_files(op)?;
        let value = match (self.version, frozen) {
            (Version::V1, true) => "FROZEN",
            (Version::V1, false) => "THAWED",
            (Version::V2, true) => "1",
            (Version::V2, false) => "0",
        };
        let started = Instant::now();
        write_file(&control, value)?;
        let mut round = 0;
        let mut last_write = Instant::now();
        loop {
            if self.is_frozen_state(&read_file(&status)?, frozen) {
                tracing::info!(
                    path = %status.display(),
                    waited_us = started.elapsed().as_micros() as u64,
                    "{}",
                    if frozen { "frozen" } else { "thawed" }
                );
                return Ok(());
            }
            if started.elapsed() >= timeout {
                if frozen {
                    // Do not leave a half-frozen container behind.
                    let _ = self.set_frozen(false, timeout, "thaw");
                }
                return Err(CgroupError::Timeout {
                    path: status,
                    state: if frozen { "frozen" } else { "thawed" },
                    waited: timeout,
                });
            }
            // v1 moves tasks to the freezer one pass at a time and stays FREEZING when one
            // cannot be frozen yet; writing FROZEN again makes the kernel retry (as runc does).
            if self.version == Version::V1
                && frozen
                && last_write.elapsed() >= Duration::from_millis(50)
            {
                write_file(&control, value)?;
                last_write = Instant::now();
            }
            backoff(&mut round);
        }
    }

    /// True when the kernel OOM-killed a task here: v1 `memory.oom_control` `oom_kill`, v2
    /// `memory.events` `oom_kill` (counted over the whole subtree).
    pub fn oom_killed(&self) -> bool {
        let (dir, file) = match self.version {
            Version::V1 => (self.dir("memory"), "memory.oom_control"),
            Version::V2 => (self.dirs.first(), "memory.events"),
        };
        dir.and_then(|d| fs::read_to_string(d.path.join(file)).ok())
            .and_then(|t| keyed(&t, "oom_kill"))
            .is_some_and(|n| n > 0)
    }

    /// SIGKILLs every process still in the cgroup, removes every directory (and any cgroups
    /// created below them), then the parent directories when they are empty. Missing directories
    /// are fine: calling it twice, or on a cgroup that was never created, succeeds.
    ///
    /// Parents count as "created for it" all the way up to the mount: for `/ctrace/<id>`
    /// that is `ctrace`. A parent still used by another container stays (EBUSY/ENOTEMPTY).
    /// The path is also cleared in the hierarchies ctrace does not join, where runc leaves it.
    pub fn remove(&self) -> Result<(), CgroupError> {
        self.check()?;
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        let mut killed = BTreeSet::new();
        let mut first_error = self.kill_all(deadline, &mut killed).err();
        for dir in self.dirs.iter().chain(&self.others) {
            if let Err(e) = self.remove_dir(dir, deadline, &mut killed) {
                first_error.get_or_insert(e);
                continue;
            }
            self.remove_parents(dir);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Kills every process (all hierarchies), and waits until they have left the cgroup.
    fn kill_all(&self, deadline: Instant, killed: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
        if self.pids()?.is_empty() {
            return Ok(());
        }
        let v2_kill = match self.version {
            Version::V2 => self
                .dirs
                .first()
                .map(|d| d.path.join("cgroup.kill"))
                .filter(|p| p.exists()),
            Version::V1 => None,
        };
        if let Some(file) = v2_kill {
            // Linux ≥ 5.14: one write kills the whole subtree, racing forks included.
            write_file(&file, "1")?;
        } else {
            // Freeze first so nothing can fork between reading the pids and killing them; thaw
            // afterwards because a frozen task does not act on SIGKILL (this also covers
            // removing a paused container). Without a freezer the wait loop below re-kills.
            let froze = self
                .set_frozen(true, Duration::from_millis(500), "freeze")
                .is_ok();
            let result = self.signal_all(killed);
            if froze {
                let _ = self.set_frozen(false, FREEZE_TIMEOUT, "thaw");
            }
            result?;
        }
        let mut round = 0;
        let mut last_kill = Instant::now();
        loop {
            if self.pids()?.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // rmdir will fail with EBUSY and say which cgroup; no need to fail here.
                return Ok(());
            }
            if last_kill.elapsed() >= Duration::from_millis(100) {
                self.signal_all(killed)?;
                last_kill = Instant::now();
            }
            backoff(&mut round);
        }
    }

    /// SIGKILL to every pid listed now. `killed` keeps the trace to one event per process: a
    /// task that is still exiting stays listed and is signalled again, silently.
    fn signal_all(&self, killed: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
        let me = std::process::id() as i32;
        for dir in self.dirs.iter().chain(&self.others) {
            for d in subtree(&dir.path) {
                for pid in procs(&d)? {
                    if pid == me {
                        // Someone moved the engine itself in here: killing it helps no one.
                        tracing::warn!(pid, path = %d.display(), "not killing ourselves");
                        continue;
                    }
                    match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                        Ok(()) => {
                            if killed.insert(pid) {
                                tracing::info!(pid, path = %d.display(), "kill(SIGKILL)");
                            }
                        }
                        // Already gone (or a zombie reaped in between): what we wanted.
                        Err(Errno::ESRCH) => {}
                        Err(source) => {
                            return Err(CgroupError::Kill {
                                pid,
                                path: d,
                                source,
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes `dir` and every cgroup below it, children first, retrying while the kernel still
    /// counts exiting tasks (EBUSY) until `deadline`.
    fn remove_dir(
        &self,
        dir: &Dir,
        deadline: Instant,
        killed: &mut BTreeSet<i32>,
    ) -> Result<(), CgroupError> {
        let mut round = 0;
        loop {
            let mut busy = None;
            for path in subtree(&dir.path) {
                match fs::remove_dir(&path) {
                    Ok(()) => tracing::info!(path = %path.display(), "rmdir"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if matches!(errno_of(&e), libc::EBUSY | libc::ENOTEMPTY) => {
                        busy = Some((path, e));
                        break;
                    }
                    Err(source) => {
                        return Err(CgroupError::Remove {
                            path,
                            hint: match errno_of(&source) {
                                libc::EACCES | libc::EPERM => "; run ctrace as root",
                                _ => "",
                            },
                            source,
                        })
                    }
                }
            }
            let Some((path, source)) = busy else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(CgroupError::Remove {
                    path,
                    source,
                    hint: "; processes are still in it (stuck in D state?) or a child cgroup \
                           was created meanwhile: check its cgroup.procs and run rm again",
                });
            }
            // A fork that raced the kill, or a task still exiting.
            let _ = self.signal_all(killed);
            backoff(&mut round);
        }
    }

    /// Removes `dir`'s empty parents below the mount, deepest first; stops at the first one in
    /// use (another container's cgroup is in it).
    fn remove_parents(&self, dir: &Dir) {
        for ancestor in self.rel.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            let path = dir.mount.join(ancestor);
            match fs::remove_dir(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "rmdir"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) if matches!(errno_of(&e), libc::EBUSY | libc::ENOTEMPTY) => break,
                Err(e) => {
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "cannot remove parent cgroup"
                    );
                    break;
                }
            }
        }
    }

    /// The container's directories, one per hierarchy (for the trace and `inspect`).
    // Part of the engine's contract (inspect): allowed to be unused until that caller lands.
    #[allow(dead_code)]
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }
}

/// `pids.max`: a positive limit, anything else is docker's "unlimited".
fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// v2 spelling of a byte limit: -1 (unlimited) is `max`.
fn max_or(bytes: i64) -> String {
    if bytes < 0 {
        "max".to_string()
    } else {
        bytes.to_string()
    }
}

/// v1 `cpu.shares` (2..=262144, default 1024) → v2 `cpu.weight` (1..=10000, default 100), the
/// mapping runc and crun use.
fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
        LinuxPidsBuilder, LinuxResourcesBuilder,
    };
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    /// Test-only views of the private fields.
    impl Hierarchy {
        fn v1_mount(&self, controller: &str) -> Option<&Path> {
            self.v1.get(controller).map(PathBuf::as_path)
        }

        fn v2_mount(&self) -> Option<&Path> {
            self.v2.as_deref()
        }
    }

    impl Cgroup {
        fn version(&self) -> Version {
            self.version
        }

        fn rel(&self) -> &Path {
            &self.rel
        }
    }

    /// This machine's mountinfo (hybrid: v1 controllers + an empty cgroup2 at unified).
    const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A systemd host in unified mode (Debian 12 / Fedora), with optional fields.
    const V2_ONLY: &str = "\
21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn v2_reader(p: &Path) -> Option<String> {
        (p == Path::new("/sys/fs/cgroup"))
            .then(|| "cpuset cpu io memory hugetlb pids rdma misc\n".into())
    }

    fn root() -> bool {
        // SAFETY: geteuid cannot fail and touches no memory of ours.
        if unsafe { libc::geteuid() } == 0 {
            return true;
        }
        eprintln!("skipped: needs root (cgroup directories belong to root)");
        false
    }

    /// `/ctrace-test-<pid>-<n>-<nanos>/c<n>`: unique per test and per run.
    fn unique() -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("/ctrace-test-{}-{n}-{nanos:x}/c{n}", std::process::id())
    }

    /// Removes the cgroup even when an assertion fails first.
    struct Guard<'a>(&'a Cgroup);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            let _ = self.0.remove();
        }
    }

    /// Neither the container's directories nor the test's top directory exist.
    fn assert_gone(cg: &Cgroup) {
        for p in cg.paths() {
            assert!(!p.exists(), "{} left behind", p.display());
            assert!(
                !p.parent().unwrap().exists(),
                "{} left behind",
                p.parent().unwrap().display()
            );
        }
    }

    fn resources(
        memory: Option<i64>,
        swap: Option<i64>,
        pids: Option<i64>,
        quota: Option<i64>,
    ) -> LinuxResources {
        let mut b = LinuxResourcesBuilder::default();
        if memory.is_some() || swap.is_some() {
            let mut m = LinuxMemoryBuilder::default();
            if let Some(l) = memory {
                m = m.limit(l);
            }
            if let Some(s) = swap {
                m = m.swap(s);
            }
            b = b.memory(m.build().unwrap());
        }
        if let Some(p) = pids {
            b = b.pids(LinuxPidsBuilder::default().limit(p).build().unwrap());
        }
        if let Some(q) = quota {
            b = b.cpu(
                LinuxCpuBuilder::default()
                    .quota(q)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    }

    /// Where `controller`'s files are for `cg`.
    fn dir_of(cg: &Cgroup, controller: &str) -> PathBuf {
        cg.dir(controller).unwrap().path.clone()
    }

    /// `busybox sh -c 'read x; SCRIPT'`: the script waits on stdin, so it can be moved into the
    /// cgroup before it does anything.
    fn gated(script: &str) -> (Child, ChildStdin) {
        let mut child = Command::new("/usr/bin/busybox")
            .args(["sh", "-c", &format!("read x; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn busybox sh");
        let stdin = child.stdin.take().unwrap();
        (child, stdin)
    }

    fn release(mut stdin: ChildStdin) {
        stdin.write_all(b"go\n").unwrap();
    }

    /// The error of a `create` that must fail; removes the cgroup if it did not.
    fn create_err(h: &Hierarchy, rel: &str, r: &LinuxResources) -> CgroupError {
        match Cgroup::create(h, rel, r) {
            Err(e) => e,
            Ok(cg) => {
                let _ = cg.remove();
                panic!("create {rel} succeeded");
            }
        }
    }

    fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(st) = child.try_wait().unwrap() {
                return Some(st);
            }
            sleep(Duration::from_millis(10));
        }
        None
    }

    // ---- detection (pure) ----

    #[test]
    fn hybrid_sample_is_v1_with_unified_beside() {
        let h = Hierarchy::from_mountinfo(HYBRID, |_| Some(String::new())).unwrap();
        assert_eq!(h.version(), Version::V1);
        assert_eq!(
            h.v1_mount("memory"),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(h.v1_mount("pids"), Some(Path::new("/sys/fs/cgroup/pids")));
        assert_eq!(
            h.v1_mount("name=systemd"),
            Some(Path::new("/sys/fs/cgroup/systemd"))
        );
        assert_eq!(h.v2_mount(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert_eq!(
            h.describe(),
            "v1 (cpu,cpuacct,cpuset,memory,devices,freezer,blkio,pids; cgroup2 also at /sys/fs/cgroup/unified)"
        );
        let cg = Cgroup::open(&h, "/ctrace/abc");
        assert_eq!(
            cg.paths(),
            ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"]
                .iter()
                .map(|c| PathBuf::from(format!("/sys/fs/cgroup/{c}/ctrace/abc")))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn v2_sample_is_v2_with_its_controllers() {
        let h = Hierarchy::from_mountinfo(V2_ONLY, v2_reader).unwrap();
        assert_eq!(h.version(), Version::V2);
        assert_eq!(h.v2_mount(), Some(Path::new("/sys/fs/cgroup")));
        assert_eq!(h.v1_mount("memory"), None);
        assert_eq!(
            h.describe(),
            "v2 (cpuset cpu io memory hugetlb pids rdma misc)"
        );
        assert!(h
            .verify(&resources(
                Some(64 << 20),
                Some(128 << 20),
                Some(20),
                Some(50_000)
            ))
            .is_ok());
        let cg = Cgroup::open(&h, "ctrace/abc");
        assert_eq!(cg.paths(), vec![PathBuf::from("/sys/fs/cgroup/ctrace/abc")]);
    }

    #[test]
    fn comounted_escaped_and_bind_mounted_v1() {
        let text = "\
40 31 0:40 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:41 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
42 31 0:40 / /mnt/mem\\040cg rw - cgroup cgroup rw,memory
43 31 0:42 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls,noprefix,release_agent=/x
";
        let h = Hierarchy::from_mountinfo(text, |_| None).unwrap();
        assert_eq!(h.version(), Version::V1);
        // The mount of the hierarchy's root wins over a bind mount of a sub-cgroup.
        assert_eq!(h.v1_mount("memory"), Some(Path::new("/mnt/mem cg")));
        assert_eq!(
            h.v1_mount("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(h.v2_mount(), None);
        assert_eq!(h.describe(), "v1 (cpu,cpuacct,memory,net_cls)");
        let cg = Cgroup::open(&h, "/ctrace/abc");
        // cpu and cpuacct share one directory.
        assert_eq!(
            cg.dirs[0].controllers,
            vec!["cpu".to_string(), "cpuacct".to_string()]
        );
        assert_eq!(cg.paths().len(), 2);
    }

    #[test]
    fn named_hierarchy_only_with_cgroup2_elsewhere_is_v2() {
        let text = "\
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let h = Hierarchy::from_mountinfo(text, |_| Some("cpu memory pids\n".into())).unwrap();
        assert_eq!(h.version(), Version::V2);
        assert_eq!(
            h.describe(),
            "v2 (cpu memory pids) at /sys/fs/cgroup/unified"
        );
        assert!(matches!(
            Hierarchy::from_mountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n", |_| None),
            Err(CgroupError::NotMounted)
        ));
    }

    #[test]
    fn verify_names_the_missing_controller_and_bad_limits() {
        let no_pids: String = HYBRID
            .lines()
            .filter(|l| !l.contains("pids"))
            .map(|l| format!("{l}\n"))
            .collect();
        let h = Hierarchy::from_mountinfo(&no_pids, |_| None).unwrap();
        let err = h
            .verify(&resources(None, None, Some(20), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pids limit requested but the pids cgroup controller is not mounted"),
            "{err}"
        );
        assert!(h
            .verify(&resources(Some(64 << 20), None, None, Some(50_000)))
            .is_ok());

        let h = Hierarchy::from_mountinfo(V2_ONLY, |_| Some("cpu pids".into())).unwrap();
        let err = h
            .verify(&resources(Some(64 << 20), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("memory limit requested but the memory cgroup controller is not available in /sys/fs/cgroup/cgroup.controllers"),
            "{err}"
        );

        let h = Hierarchy::from_mountinfo(HYBRID, |_| None).unwrap();
        let bad = [
            resources(Some(1 << 20), None, None, None),
            resources(Some(64 << 20), Some(32 << 20), None, None),
            resources(None, Some(32 << 20), None, None),
            resources(None, None, None, Some(500)),
        ];
        for r in &bad {
            let err = h.verify(r).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidLimit { .. }), "{err}");
        }
        // -1 is "unlimited" everywhere.
        assert!(h
            .verify(&resources(Some(-1), Some(-1), Some(-1), Some(-1)))
            .is_ok());
    }

    #[test]
    fn paths_are_normalised_and_the_root_is_refused() {
        assert_eq!(
            relative("/ctrace//abc/").unwrap(),
            PathBuf::from("ctrace/abc")
        );
        assert_eq!(
            relative("ctrace/./abc").unwrap(),
            PathBuf::from("ctrace/abc")
        );
        for bad in ["", "/", "//.", "/ctrace/../..", "system.slice:ctrace:abc"] {
            assert!(relative(bad).is_err(), "{bad:?} accepted");
        }
        let h = Hierarchy::from_mountinfo(HYBRID, |_| None).unwrap();
        let cg = Cgroup::open(&h, "/");
        assert!(cg.paths().is_empty());
        let err = cg.remove().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid cgroup path \"/\": it names the root cgroup; give a path like /ctrace/<id>"
        );
        assert!(cg.add_pid(1).is_err() && cg.pids().is_err() && cg.freeze().is_err());
        assert!(!cg.oom_killed());
    }

    #[test]
    fn small_formats() {
        let rule = |allow, typ, major, minor, access: &str| {
            let mut b = LinuxDeviceCgroupBuilder::default()
                .allow(allow)
                .access(access);
            if let Some(t) = typ {
                b = b.typ(t);
            }
            if let Some(m) = major {
                b = b.major(m);
            }
            if let Some(m) = minor {
                b = b.minor(m);
            }
            device_rule(&b.build().unwrap())
        };
        assert_eq!(
            rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm"),
            "c 1:3 rwm"
        );
        assert_eq!(rule(false, None, None, None, "rwm"), "a *:* rwm");
        assert_eq!(
            rule(true, Some(LinuxDeviceType::C), Some(136), None, "rw"),
            "c 136:* rw"
        );
        assert_eq!(
            rule(true, Some(LinuxDeviceType::B), Some(8), Some(-1), ""),
            "b 8:* rwm"
        );
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(keyed("populated 1\nfrozen 0\n", "frozen"), Some(0));
        assert_eq!(unescape("a\\040b\\134c\\"), "a b\\c\\");
    }

    // ---- this host (root) ----

    #[test]
    fn detect_matches_this_host() {
        let h = Hierarchy::detect().unwrap();
        // An independent oracle: the files each layout puts at the top of /sys/fs/cgroup.
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            assert_eq!(h.version(), Version::V2);
        } else if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            assert_eq!(h.version(), Version::V1);
            assert!(h.v1_mount("memory").is_some() && h.v1_mount("pids").is_some());
            assert!(h.describe().starts_with("v1 ("), "{}", h.describe());
            assert!(h.describe().contains("memory") && h.describe().contains("pids"));
        }
        eprintln!("this host: {}", h.describe());
    }

    #[test]
    fn create_writes_the_limits() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(
            &h,
            &unique(),
            &resources(Some(64 << 20), Some(64 << 20), Some(20), Some(50_000)),
        )
        .unwrap();
        let _g = Guard(&cg);
        for p in cg.paths() {
            assert!(p.is_dir(), "{} missing", p.display());
        }
        match h.version() {
            Version::V1 => {
                assert_eq!(
                    read(&dir_of(&cg, "memory"), "memory.limit_in_bytes"),
                    "67108864"
                );
                assert_eq!(
                    read(&dir_of(&cg, "memory"), "memory.memsw.limit_in_bytes"),
                    "67108864"
                );
                assert_eq!(read(&dir_of(&cg, "pids"), "pids.max"), "20");
                assert_eq!(read(&dir_of(&cg, "cpu"), "cpu.cfs_quota_us"), "50000");
                assert_eq!(read(&dir_of(&cg, "cpu"), "cpu.cfs_period_us"), "100000");
                let cpuset = dir_of(&cg, "cpuset");
                assert_eq!(
                    read(&cpuset, "cpuset.cpus"),
                    read(h.v1_mount("cpuset").unwrap(), "cpuset.cpus")
                );
                assert!(!read(&cpuset, "cpuset.mems").is_empty());
            }
            Version::V2 => {
                let d = dir_of(&cg, "memory");
                assert_eq!(read(&d, "memory.max"), "67108864");
                assert_eq!(read(&d, "pids.max"), "20");
                assert_eq!(read(&d, "cpu.max"), "50000 100000");
            }
        }
        cg.remove().unwrap();
        assert_gone(&cg);
    }

    #[test]
    fn device_rules_default_deny_then_allow() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rules = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(136)
                .access("rw")
                .build()
                .unwrap(),
        ];
        let r = LinuxResourcesBuilder::default()
            .devices(rules)
            .build()
            .unwrap();
        let cg = Cgroup::create(&h, &unique(), &r).unwrap();
        let _g = Guard(&cg);
        if h.version() == Version::V1 {
            let list = read(&dir_of(&cg, "devices"), "devices.list");
            assert_eq!(list, "c 1:3 rwm\nc 136:* rw");
        }
        cg.remove().unwrap();
        assert_gone(&cg);
    }

    #[test]
    fn added_process_is_listed() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let pid = child.id() as i32;
        cg.add_pid(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        for p in cg.paths() {
            assert_eq!(read(&p, "cgroup.procs"), pid.to_string(), "{}", p.display());
        }
        // Our own /proc/<pid>/cgroup agrees (the kernel's view, not our file).
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(own.contains(cg.rel().to_str().unwrap()), "{own}");
        cg.remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_gone(&cg);
    }

    #[test]
    fn pids_limit_caps_a_fork_loop() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &resources(None, None, Some(20), None)).unwrap();
        let _g = Guard(&cg);
        let (mut child, stdin) = gated(
            "i=0; while [ $i -lt 30 ]; do sleep 5 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; \
             echo all started; wait",
        );
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        // Either the shell gives up at the first failed fork, or it goes on; both are fine as long
        // as the cgroup never holds more than 20 tasks.
        let status = wait_timeout(&mut child, Duration::from_secs(2));
        let pids = cg.pids().unwrap();
        assert!(
            pids.len() <= 20,
            "{} processes in a cgroup with pids.max 20",
            pids.len()
        );
        let mut stdout = String::new();
        let mut stderr = String::new();
        if status.is_some() {
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
        }
        assert!(
            !stdout.contains("all started"),
            "all 30 sleeps started: {stdout}"
        );
        let events = read(&dir_of(&cg, "pids"), "pids.events");
        assert!(
            keyed(&events, "max").unwrap_or(0) > 0,
            "pids.events: {events}; stderr: {stderr}"
        );
        eprintln!(
            "fork loop: {} tasks, exit {status:?}, stderr {stderr:?}",
            pids.len()
        );
        cg.remove().unwrap();
        let _ = child.wait();
        assert_gone(&cg);
    }

    #[test]
    fn memory_hog_is_oom_killed() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(
            &h,
            &unique(),
            &resources(Some(64 << 20), Some(64 << 20), None, None),
        )
        .unwrap();
        let _g = Guard(&cg);
        assert!(!cg.oom_killed());
        let (mut child, stdin) =
            gated("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}");
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        let status =
            wait_timeout(&mut child, Duration::from_secs(20)).expect("memory hog still running");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert!(cg.oom_killed());
        cg.remove().unwrap();
        assert_gone(&cg);
    }

    /// Lines from a child's stdout, read on a thread so the test can wait with a timeout.
    fn lines(child: &mut Child) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    #[test]
    fn freeze_stops_and_thaw_resumes() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        let (mut child, stdin) = gated("while true; do echo tick; usleep 20000; done");
        cg.add_pid(child.id() as i32).unwrap();
        let ticks = lines(&mut child);
        release(stdin);
        ticks
            .recv_timeout(Duration::from_secs(5))
            .expect("no tick before freeze");

        cg.freeze().unwrap();
        match h.version() {
            Version::V1 => assert_eq!(read(&dir_of(&cg, "freezer"), "freezer.state"), "FROZEN"),
            Version::V2 => assert_eq!(
                keyed(&read(&dir_of(&cg, "x"), "cgroup.events"), "frozen"),
                Some(1)
            ),
        }
        while ticks.recv_timeout(Duration::from_millis(50)).is_ok() {} // lines already in the pipe
        assert!(
            ticks.recv_timeout(Duration::from_millis(300)).is_err(),
            "ticked while frozen"
        );
        assert!(!cg.pids().unwrap().is_empty());

        cg.thaw().unwrap();
        ticks
            .recv_timeout(Duration::from_secs(5))
            .expect("no tick after thaw");

        // Removing a paused container works too: remove thaws after SIGKILL.
        cg.freeze().unwrap();
        cg.remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_gone(&cg);
    }

    #[test]
    fn remove_kills_and_is_idempotent() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg =
            Cgroup::create(&h, &rel, &resources(Some(64 << 20), None, Some(20), None)).unwrap();
        let _g = Guard(&cg);
        // A process tree: sh and a grandchild sleep, neither reaped by remove.
        let (mut child, stdin) = gated("sleep 100 & sleep 100; echo never");
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while cg.pids().unwrap().len() < 3 && Instant::now() < deadline {
            sleep(Duration::from_millis(5));
        }
        assert_eq!(cg.pids().unwrap().len(), 3);
        // A child cgroup made inside the container's (a nested runtime would) goes too.
        let nested = cg.paths()[0].join("nested");
        fs::create_dir(&nested).unwrap();

        // Another process's view: open by path, not the creating handle.
        Cgroup::open(&h, &rel).remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(!nested.exists());
        assert_gone(&cg);
        cg.remove().unwrap();
        Cgroup::open(&h, &rel).remove().unwrap();
        Cgroup::open(&h, &unique()).remove().unwrap(); // never created
    }

    #[test]
    fn remove_also_clears_what_runc_leaves() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg = Cgroup::open(&h, &rel);
        if cg.others.is_empty() {
            eprintln!("skipped: every hierarchy here is one ctrace joins");
            return;
        }
        // What `runc delete` leaves: the parent in blkio, name=systemd, unified; and a leaf too
        // for good measure (a runc killed before its delete).
        for d in &cg.others {
            fs::create_dir_all(&d.path).unwrap();
        }
        cg.remove().unwrap();
        for d in &cg.others {
            assert!(
                !d.path.parent().unwrap().exists(),
                "{} left",
                d.path.display()
            );
        }
    }

    #[test]
    fn failed_create_leaves_nothing() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let cpu = LinuxCpuBuilder::default()
            .cpus("4000-4001")
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(cpu)
            .build()
            .unwrap();
        let rel = unique();
        let err = create_err(&h, &rel, &r);
        eprintln!("{err}");
        if h.has("cpuset") {
            assert!(matches!(err, CgroupError::Write { .. }), "{err}");
            assert!(err.to_string().contains("cpuset.cpus"), "{err}");
            assert!(err.to_string().contains("subset of the parent"), "{err}");
        }
        assert_gone(&Cgroup::open(&h, &rel));
    }

    #[test]
    fn existing_leaf_is_reused_when_empty_and_refused_when_busy() {
        if !root() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg = Cgroup::create(&h, &rel, &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        Cgroup::create(&h, &rel, &resources(None, None, Some(10), None)).unwrap();
        assert_eq!(read(&dir_of(&cg, "pids"), "pids.max"), "10");
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        cg.add_pid(child.id() as i32).unwrap();
        let err = create_err(&h, &rel, &LinuxResources::default());
        assert!(matches!(err, CgroupError::InUse { .. }), "{err}");
        // The refused create removed nothing of the running one.
        assert_eq!(cg.pids().unwrap(), vec![child.id() as i32]);
        cg.remove().unwrap();
        let _ = child.wait();
        assert_gone(&cg);
    }

    #[test]
    fn concurrent_siblings_share_and_drop_the_parent() {
        if !root() {
            return;
        }
        let h = Arc::new(Hierarchy::detect().unwrap());
        let top = unique();
        let top = top.rsplit_once('/').unwrap().0.to_string();
        let workers: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|name| {
                let (h, rel) = (h.clone(), format!("{top}/{name}"));
                std::thread::spawn(move || {
                    for _ in 0..40 {
                        let cg = Cgroup::create(&h, &rel, &resources(None, None, Some(5), None))
                            .unwrap_or_else(|e| panic!("{rel}: {e}"));
                        cg.remove().unwrap_or_else(|e| panic!("{rel}: {e}"));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_gone(&Cgroup::open(&h, &format!("{top}/a")));
    }

    /// The unified tree of a hybrid host, taken as a v2 hierarchy: no controllers, but mkdir,
    /// cgroup.procs, cgroup.freeze, cgroup.kill and rmdir are real v2, so the v2 path runs here.
    #[test]
    fn v2_path_on_the_hybrid_unified_tree() {
        if !root() {
            return;
        }
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let only_v2: String = text
            .lines()
            .filter(|l| l.contains(" - cgroup2 "))
            .map(|l| format!("{l}\n"))
            .collect();
        let h = match Hierarchy::from_mountinfo(&only_v2, |p| {
            fs::read_to_string(p.join("cgroup.controllers")).ok()
        }) {
            Ok(h) if h.v2_mount() != Some(Path::new("/sys/fs/cgroup")) => h,
            _ => {
                eprintln!(
                    "skipped: no separate cgroup2 mount (on a pure v2 host every test runs v2)"
                );
                return;
            }
        };
        assert_eq!(h.version(), Version::V2);
        let err = h
            .verify(&resources(Some(64 << 20), None, None, None))
            .unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::ControllerMissing {
                    controller: "memory",
                    ..
                }
            ),
            "{err}"
        );

        // Device rules on v2: skipped with a warning, not an error.
        let rules = vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()];
        let r = LinuxResourcesBuilder::default()
            .devices(rules)
            .build()
            .unwrap();
        let cg = Cgroup::create(&h, &unique(), &r).unwrap();
        let _g = Guard(&cg);
        assert_eq!(cg.version(), Version::V2);
        let (mut child, stdin) = gated("while true; do echo tick; usleep 20000; done");
        cg.add_pid(child.id() as i32).unwrap();
        let ticks = lines(&mut child);
        release(stdin);
        ticks.recv_timeout(Duration::from_secs(5)).unwrap();
        // The shell, and its usleep child when it is sleeping.
        assert!(cg.pids().unwrap().contains(&(child.id() as i32)));
        cg.freeze().unwrap();
        assert_eq!(
            keyed(&read(&cg.paths()[0], "cgroup.events"), "frozen"),
            Some(1)
        );
        while ticks.recv_timeout(Duration::from_millis(50)).is_ok() {}
        assert!(
            ticks.recv_timeout(Duration::from_millis(300)).is_err(),
            "ticked while frozen"
        );
        cg.thaw().unwrap();
        ticks
            .recv_timeout(Duration::from_secs(5))
            .expect("no tick after thaw");
        assert!(!cg.oom_killed());
        cg.remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_gone(&cg);
        cg.remove().unwrap();
    }

    /// Collects `message path` of each event, as the engine's recorder would see them.
    struct Collect(Arc<Mutex<Vec<String>>>);
    struct Fields(String, String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.0 = format!("{value:?}"),
                "path" => self.1 = format!("{value:?}"),
                _ => {}
            }
        }
    }
    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut f = Fields(String::new(), String::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(format!("{} {}", f.0, f.1));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// Runs [`events_child`] in a fresh process of this test binary.
    ///
    /// Why a child: with one scoped subscriber, tracing caches a callsite's interest from
    /// whichever thread reaches it first, so a parallel test thread without the subscriber would
    /// switch these events off for good; and a global subscriber here would take the place of one
    /// another test in the crate may install.
    #[test]
    fn every_kernel_action_is_an_event() {
        if !root() {
            return;
        }
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, m)| m);
        let name = format!("{module}::events_child");
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                name.as_str(),
                "--exact",
                "--ignored",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(EVENTS_CHILD, "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name}: {stdout}\n{stderr}"
        );
    }

    const EVENTS_CHILD: &str = "CTRACE_CGROUPS_EVENTS_CHILD";

    #[test]
    #[ignore = "run in a child process by every_kernel_action_is_an_event"]
    fn events_child() {
        if std::env::var_os(EVENTS_CHILD).is_none() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let mut child = None;
        let events = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Collect(events.clone()), || {
            let cg =
                Cgroup::create(&h, &rel, &resources(Some(64 << 20), None, Some(20), None)).unwrap();
            let _g = Guard(&cg);
            let c = child.insert(Command::new("sleep").arg("5").spawn().unwrap());
            cg.add_pid(c.id() as i32).unwrap();
            cg.remove().unwrap();
        });
        assert_eq!(child.unwrap().wait().unwrap().signal(), Some(libc::SIGKILL));
        let events = events.lock().unwrap();
        let cg = Cgroup::open(&h, &rel);
        let kills = events
            .iter()
            .filter(|e| e.starts_with("kill(SIGKILL)"))
            .count();
        let joins = events
            .iter()
            .filter(|e| e.starts_with("write cgroup.procs"))
            .count();
        assert_eq!(joins, cg.paths().len(), "{events:#?}");
        // One kill event per process however long it takes to exit (v2 with cgroup.kill: none).
        assert!(kills <= 1, "{events:#?}");
        let mkdirs = events.iter().filter(|e| e.starts_with("mkdir ")).count();
        let rmdirs = events.iter().filter(|e| e.starts_with("rmdir ")).count();
        // Every directory and its parent, in every hierarchy, made and removed.
        assert_eq!(mkdirs, 2 * cg.paths().len(), "{events:#?}");
        assert_eq!(rmdirs, mkdirs, "{events:#?}");
        let limit = match h.version() {
            Version::V1 => "write memory.limit_in_bytes",
            Version::V2 => "write memory.max",
        };
        assert!(events.iter().any(|e| e.starts_with(limit)), "{events:#?}");
        assert!(
            events.iter().any(|e| e.starts_with("write pids.max")),
            "{events:#?}"
        );
        assert_gone(&cg);
    }
}
