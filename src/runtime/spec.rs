//! The OCI runtime config (`config.json`) of one container — docker's `createSpec`.
//!
//! What Docker writes for a plain `docker run` (moby `daemon/oci_linux.go` on top of
//! `oci/defaults.go`): the pid, mount, ipc, uts and network namespaces (plus cgroup where the
//! kernel has it), the standard `/proc`, `/dev`, `/sys` and `/sys/fs/cgroup` mounts, the 14
//! default capabilities, `no_new_privs`, the masked and read-only `/proc` paths, the two
//! network sysctls, and the resource limits from the command line. Both runtimes read the
//! result: the embedded one ([`super::rootfs`], [`super::process`]) and runc, so it must stay
//! a config that `runc run` accepts.
//!
//! Also here: [`resolve_user`], docker's `-u` resolution against the image's `/etc/passwd` and
//! `/etc/group`, because the spec carries numeric ids only.
//!
//! Not here: seccomp and AppArmor profiles (ctrace has neither), deciding what the user's
//! mounts are (that is `crate::storage::mounts`; they arrive here as OCI mounts), devices from `--device`, and deciding the cgroup driver or whether a limit can be
//! enforced (that is `start.verify`, with the cgroups module). The host facts this module does
//! depend on (CPU count, cgroup namespaces, swap accounting, the open-file ceiling) are probed
//! once in [`HostFacts::probe`] so tests can pin them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory,
    LinuxNamespace, LinuxNamespaceType, LinuxPids, LinuxResources, Mount, PosixRlimitBuilder,
    PosixRlimitType, Process, Root, Spec, User,
};

/// What `build` needs to know about one container, already merged from image and flags.
#[derive(Debug, Clone)]
pub struct SpecInput {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// Numeric, resolved already (see [`resolve_user`]).
    pub user: ResolvedUser,
    pub hostname: String,
    /// The value of `root.path`, e.g. `"rootfs"` (relative to the bundle).
    pub root_path: PathBuf,
    pub readonly_rootfs: bool,
    pub network: NetworkNs,
    /// e.g. `"/ctrace/<id>"`.
    pub cgroups_path: String,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub pids_limit: Option<i64>,
    pub cpus: Option<f64>,
    /// Host file → container path (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`).
    pub etc_binds: Vec<(PathBuf, String)>,
    /// The user's mounts (`-v`, `--mount`, `--tmpfs`, `--volumes-from`, the image's volumes),
    /// ready for the runtime. One that lands on a default mount's or an `/etc` file's
    /// destination replaces it, as in docker.
    pub mounts: Vec<Mount>,
    pub annotations: BTreeMap<String, String>,
}

/// A user as the kernel sees it: ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Docker's list: the primary gid first, then every group that lists the user.
    pub additional_gids: Vec<u32>,
}

pub use crate::state::NetworkNs;

/// Why a spec could not be built; each message is docker's where docker has one.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no command specified: give a command after the image name, or use an image with an ENTRYPOINT or CMD")]
    NoCommand,
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeCwd(String),
    #[error("minimum memory limit allowed is 6MB")]
    MemoryTooLow,
    #[error("you should always set the memory limit when using memoryswap limit, see usage")]
    SwapWithoutMemory,
    #[error("minimum memoryswap limit should be larger than memory limit, see usage")]
    SwapBelowMemory,
    #[error("range of CPUs is from 0.01 to {0}.00, as there are only {0} CPUs available")]
    CpusOutOfRange(usize),
    #[error("invalid pids limit {0}: give a positive number, or -1 for unlimited")]
    PidsLimit(i64),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error("uids and gids must be in range 0-{}", MAX_ID)]
    IdOutOfRange,
    #[error("cannot read {}: {} (check the image's user database)", path.display(), super::init_error::io_text(.source))]
    ReadUserDb {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the OCI spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

/// The OCI version ctrace writes; runc 1.1 writes the same.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// `PATH` when neither the image nor `-e` sets one (moby `oci.DefaultPathEnv`).
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set (moby `oci/caps/defaults.go`), in docker's order.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from the container (moby `oci.DefaultLinuxSpec`).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container may read but not write (moby `oci.DefaultLinuxSpec`).
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The open-file limit docker containers get (inherited from dockerd's systemd unit).
pub const NOFILE: u64 = 1_048_576;

/// Docker's `linuxMinMemory`.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The CFS period docker uses for `--cpus` (µs).
pub const CPU_PERIOD: u64 = 100_000;

const MAX_ID: i64 = 2_147_483_647;

/// The facts about this host that change the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// CPUs this process may run on (docker's `sysinfo.NCPU`).
    pub cpus: usize,
    /// `/proc/self/ns/cgroup` exists.
    pub cgroup_ns: bool,
    /// The memory cgroup can limit swap (v1 `memory.memsw.*`, or v2's memory controller).
    pub swap_limit: bool,
    /// The `RLIMIT_NOFILE` a container can be given from here (see [`HostFacts::probe`]).
    pub nofile: u64,
}

impl HostFacts {
    /// Looks at this host. Never fails: an unreadable fact falls back to the cautious answer.
    pub fn probe() -> HostFacts {
        let cpus = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .ok()
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&i| set.is_set(i).unwrap_or(false))
                    .count()
            })
            .filter(|&n| n > 0)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1);
        let cgroup_ns = Path::new("/proc/self/ns/cgroup").exists();
        let swap_limit = match std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
            Ok(controllers) => controllers.split_whitespace().any(|c| c == "memory"),
            Err(_) => Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
        };
        HostFacts {
            cpus,
            cgroup_ns,
            swap_limit,
            nofile: nofile_ceiling(),
        }
    }
}

/// Docker's 1048576 when this process could set it, else its own hard limit.
///
/// Why not always 1048576: dockerd gets that number by inheriting it from its systemd unit; a
/// runtime without `CAP_SYS_RESOURCE` (some sandboxes drop it from the bounding set) and a lower
/// hard limit cannot raise it, and runc then fails the whole start on `setrlimit`. Giving the
/// container our own ceiling is what docker would do on such a host: it passes on what it has.
fn nofile_ceiling() -> u64 {
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(NOFILE);
    let can_raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    if hard >= NOFILE || can_raise {
        NOFILE
    } else {
        tracing::warn!(
            hard,
            wanted = NOFILE,
            "RLIMIT_NOFILE capped at the runtime's hard limit (no CAP_SYS_RESOURCE to raise it)"
        );
        hard
    }
}

/// Builds docker's spec for `input` on this host.
pub fn build(input: &SpecInput) -> Result<Spec, SpecError> {
    build_on(input, &HostFacts::probe())
}

/// [`build`] with the host facts given, so tests do not depend on the machine.
pub fn build_on(input: &SpecInput, host: &HostFacts) -> Result<Spec, SpecError> {
    if input.args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let cwd = if input.cwd.is_empty() {
        "/"
    } else {
        input.cwd.as_str()
    };
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeCwd(input.cwd.clone()));
    }
    let resources = resources(input, host)?;

    let mut root = Root::default();
    root.set_path(input.root_path.clone());
    root.set_readonly(Some(input.readonly_rootfs));

    let mut linux = oci_spec::runtime::Linux::default();
    linux.set_namespaces(Some(namespaces(&input.network, host)));
    linux.set_resources(Some(resources));
    linux.set_cgroups_path(
        (!input.cgroups_path.is_empty()).then(|| input.cgroups_path.clone().into()),
    );
    linux.set_masked_paths(Some(MASKED_PATHS.iter().map(|p| p.to_string()).collect()));
    linux.set_readonly_paths(Some(READONLY_PATHS.iter().map(|p| p.to_string()).collect()));
    linux.set_sysctl(sysctls(&input.network));
    linux.set_devices(None);
    linux.set_seccomp(None);
    linux.set_rootfs_propagation(rootfs_propagation(&input.mounts));

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.into());
    spec.set_root(Some(root));
    spec.set_mounts(Some(mounts(input)?));
    spec.set_process(Some(process(input, cwd, host)?));
    spec.set_hostname(Some(input.hostname.clone()));
    spec.set_domainname(None);
    spec.set_hooks(None);
    spec.set_annotations((!input.annotations.is_empty()).then(|| {
        input
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    }));
    spec.set_linux(Some(linux));
    Ok(spec)
}

/// docker's rule (`WithMounts`): a shared bind needs the container's `/` rshared, a slave bind
/// needs it rslave, or mounts made on the host under the source would stop at the rootfs.
fn rootfs_propagation(mounts: &[Mount]) -> Option<String> {
    let has = |names: &[&str]| {
        mounts.iter().any(|m| {
            m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| names.contains(&o.as_str()))
        })
    };
    if has(&["shared", "rshared"]) {
        Some("rshared".into())
    } else if has(&["slave", "rslave"]) {
        Some("rslave".into())
    } else {
        None
    }
}

/// `process`: command, environment, user, capabilities, rlimits, `no_new_privs`.
fn process(input: &SpecInput, cwd: &str, host: &HostFacts) -> Result<Process, SpecError> {
    let mut user = User::default();
    user.set_uid(input.user.uid);
    user.set_gid(input.user.gid);
    user.set_additional_gids(
        (!input.user.additional_gids.is_empty()).then(|| input.user.additional_gids.clone()),
    );

    let all: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(all.clone()));
    // moby `oci.SetCapabilities`: a non-root user gets the bounding set only, "to match what
    // execve does" — a non-root process has no effective capabilities after exec anyway.
    let root = input.user.uid == 0;
    caps.set_effective(root.then(|| all.clone()));
    caps.set_permitted(root.then_some(all));
    caps.set_inheritable(None);
    caps.set_ambient(None);

    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .hard(host.nofile)
        .soft(host.nofile)
        .build()?;

    let mut p = Process::default();
    p.set_terminal(Some(false));
    p.set_console_size(None);
    p.set_user(user);
    p.set_args(Some(input.args.clone()));
    p.set_env(Some(daemon_environment(&input.hostname, &input.env)));
    p.set_cwd(cwd.into());
    p.set_capabilities(Some(caps));
    p.set_rlimits(Some(vec![nofile]));
    p.set_no_new_privileges(Some(true));
    p.set_apparmor_profile(None);
    p.set_selinux_label(None);
    p.set_oom_score_adj(Some(0));
    Ok(p)
}

/// moby `Container.CreateDaemonEnvironment`: `PATH` and `HOSTNAME` first, then the container's
/// own variables replacing or adding (`ReplaceOrAppendEnvValues`; `NAME` without `=` unsets).
fn daemon_environment(hostname: &str, env: &[String]) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![
        Some(DEFAULT_PATH_ENV.to_string()),
        Some(format!("HOSTNAME={hostname}")),
    ];
    let mut defaults: HashMap<String, usize> = HashMap::new();
    for (i, e) in out.iter().enumerate() {
        if let Some(e) = e {
            defaults.insert(e.split('=').next().unwrap_or_default().to_string(), i);
        }
    }
    for value in env {
        match value.split_once('=') {
            None => {
                if let Some(&i) = defaults.get(value.as_str()) {
                    out[i] = None;
                }
            }
            Some((key, _)) => match defaults.get(key) {
                Some(&i) => out[i] = Some(value.clone()),
                None => out.push(Some(value.clone())),
            },
        }
    }
    out.into_iter().flatten().collect()
}

/// Docker's namespaces, in docker's order.
fn namespaces(network: &NetworkNs, host: &HostFacts) -> Vec<LinuxNamespace> {
    let ns = |typ: LinuxNamespaceType, path: Option<PathBuf>| {
        let mut n = LinuxNamespace::default();
        n.set_typ(typ);
        n.set_path(path);
        n
    };
    let mut out = vec![ns(LinuxNamespaceType::Mount, None)];
    match network {
        NetworkNs::New => out.push(ns(LinuxNamespaceType::Network, None)),
        NetworkNs::Host => {}
        NetworkNs::Path(p) => out.push(ns(LinuxNamespaceType::Network, Some(p.clone()))),
    }
    out.push(ns(LinuxNamespaceType::Uts, None));
    out.push(ns(LinuxNamespaceType::Pid, None));
    out.push(ns(LinuxNamespaceType::Ipc, None));
    if host.cgroup_ns {
        out.push(ns(LinuxNamespaceType::Cgroup, None));
    }
    out
}

/// The sysctls docker sets in a container's own network namespace (moby `WithSysctls`): ports
/// below 1024 and ICMP echo sockets without capabilities. Never in the host's namespace.
fn sysctls(network: &NetworkNs) -> Option<HashMap<String, String>> {
    match network {
        NetworkNs::Host => None,
        NetworkNs::New | NetworkNs::Path(_) => Some(HashMap::from([
            (
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string(),
            ),
            (
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            ),
        ])),
    }
}

/// Docker's default mounts, then the `/etc` files the engine wrote, then the user's mounts,
/// parents before children (docker's `sortMounts`).
fn mounts(input: &SpecInput) -> Result<Vec<Mount>, SpecError> {
    let m = |dst: &str, typ: &str, src: &str, opts: &[&str]| {
        let mut mount = Mount::default();
        mount.set_destination(dst.into());
        mount.set_typ(Some(typ.into()));
        mount.set_source(Some(src.into()));
        mount.set_options(Some(opts.iter().map(|o| o.to_string()).collect()));
        mount
    };
    let mut out = vec![
        m("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        m(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        m(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        m(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        m(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        m(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ];
    for (src, dst) in &input.etc_binds {
        let mut bind = m(dst, "bind", "", &["rbind", "rprivate"]);
        bind.set_source(Some(src.clone()));
        out.push(bind);
    }
    let mut user = input.mounts.clone();
    out.retain(|d| !user.iter().any(|u| u.destination() == d.destination()));
    user.sort_by_key(|m| m.destination().components().count());
    out.extend(user);
    Ok(out)
}

/// `linux.resources`: the device allow-list and the limits from `-m`, `--memory-swap`,
/// `--pids-limit` and `--cpus`, validated as docker's `verifyPlatformContainerResources` does.
fn resources(input: &SpecInput, host: &HostFacts) -> Result<LinuxResources, SpecError> {
    let mut r = LinuxResources::default();
    r.set_devices(Some(device_rules()));

    let memory = match input.memory {
        None | Some(0) => None,
        Some(m) if m < MIN_MEMORY => return Err(SpecError::MemoryTooLow),
        Some(m) => Some(m),
    };
    let swap = match (memory, input.memory_swap) {
        (_, None | Some(0)) => memory.map(|m| m.saturating_mul(2)),
        (_, Some(-1)) => Some(-1),
        (None, Some(_)) => return Err(SpecError::SwapWithoutMemory),
        (Some(m), Some(s)) if s < m => return Err(SpecError::SwapBelowMemory),
        (Some(_), Some(s)) => Some(s),
    };
    // Docker: "--memory-swap" is twice "--memory" unless given; on a host that cannot limit
    // swap, docker warns and leaves swap unlimited rather than failing the start.
    let swap = match swap {
        Some(s) if s != -1 && !host.swap_limit => {
            tracing::warn!(
                memory_swap = s,
                "your kernel does not support swap limit capabilities or the cgroup is not mounted: memory limited without swap"
            );
            Some(-1)
        }
        other => other,
    };
    if memory.is_some() || swap.is_some() {
        let mut mem = LinuxMemory::default();
        mem.set_limit(memory);
        mem.set_swap(swap);
        r.set_memory(Some(mem));
    }

    match input.pids_limit {
        None => {}
        Some(p) if p > 0 || p == -1 => {
            let mut pids = LinuxPids::default();
            pids.set_limit(p);
            r.set_pids(Some(pids));
        }
        Some(p) => return Err(SpecError::PidsLimit(p)),
    }

    if let Some(cpus) = input.cpus {
        let nano = cpus * 1e9;
        let max = host.cpus as f64 * 1e9;
        if !nano.is_finite() || nano.round() < 1e7 || nano.round() > max {
            return Err(SpecError::CpusOutOfRange(host.cpus));
        }
        let mut cpu = LinuxCpu::default();
        // moby: quota = NanoCPUs * period / 1e9, in integers.
        cpu.set_quota(Some(
            nano.round() as i64 * CPU_PERIOD as i64 / 1_000_000_000,
        ));
        cpu.set_period(Some(CPU_PERIOD));
        r.set_cpu(Some(cpu));
    }
    Ok(r)
}

/// Deny every device, then allow what runc and docker allow by default: `mknod` of anything
/// (the node is useless without a read/write rule), and read/write/mknod of the standard nodes.
fn device_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |allow: bool,
                typ: Option<LinuxDeviceType>,
                major: Option<i64>,
                minor: Option<i64>,
                access: &str| {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(allow);
        d.set_typ(typ);
        d.set_major(major);
        d.set_minor(minor);
        d.set_access(Some(access.into()));
        d
    };
    use LinuxDeviceType::{B, C};
    let mut out = vec![
        rule(false, None, None, None, "rwm"),
        rule(true, Some(C), None, None, "m"),
        rule(true, Some(B), None, None, "m"),
    ];
    // null, zero, full, random, urandom, tty, console, ptmx, then the pts slaves.
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        out.push(rule(true, Some(C), Some(major), Some(minor), "rwm"));
    }
    out.push(rule(true, Some(C), Some(136), None, "rwm"));
    out
}

/// Docker's user resolution against the image: `""` is root, then `uid`, `uid:gid`, `name`,
/// `name:group`, `uid:group`… looked up in `<rootfs>/etc/passwd` and `<rootfs>/etc/group`
/// (moby `getUser` on libcontainer's `GetExecUserPath`). A missing file only matters for
/// names: numeric ids need no entry.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, SpecError> {
    let passwd = read_user_db(rootfs, "/etc/passwd")?;
    let group = read_user_db(rootfs, "/etc/group")?;
    resolve_user_in(passwd.as_deref(), group.as_deref(), user)
}

/// Reads an image's user database without following its symlinks out of the rootfs (an image
/// whose `/etc/passwd` links to `/etc/shadow` must not read the host's).
fn read_user_db(rootfs: &Path, path: &str) -> Result<Option<String>, SpecError> {
    let full = super::rootfs::secure_join(rootfs, Path::new(path)).map_err(|source| {
        SpecError::ReadUserDb {
            path: rootfs.join(path.trim_start_matches('/')),
            source,
        }
    })?;
    match std::fs::read(&full) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SpecError::ReadUserDb { path: full, source }),
    }
}

/// One `/etc/passwd` line, as libcontainer's parser reads it (bad numbers read as 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: i64,
    pub gid: i64,
    pub home: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: i64,
    pub members: Vec<String>,
}

/// Parses `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            PasswdEntry {
                name: f[0].to_string(),
                uid: atoi(f.get(2)),
                gid: atoi(f.get(3)),
                home: f.get(5).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

/// Parses `/etc/group`: `name:password:gid:member,member`.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            GroupEntry {
                name: f[0].to_string(),
                gid: atoi(f.get(2)),
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn atoi(field: Option<&&str>) -> i64 {
    field.and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// [`resolve_user`] on the files' contents (`None`: the image has no such file).
pub fn resolve_user_in(
    passwd: Option<&str>,
    group: Option<&str>,
    spec: &str,
) -> Result<ResolvedUser, SpecError> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, rest)) => (u, rest.split(':').next().unwrap_or("")),
        None => (spec, ""),
    };
    let uid_arg: Option<i64> = user_arg.parse().ok();
    let gid_arg: Option<i64> = group_arg.parse().ok();

    let users = passwd.map(parse_passwd).unwrap_or_default();
    let matched = users.iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(uid) = uid_arg {
            u.uid == uid
        } else {
            u.name == user_arg
        }
    });
    let (mut uid, mut gid) = (0i64, 0i64);
    let matched_name = match matched {
        Some(u) => {
            uid = u.uid;
            gid = u.gid;
            Some(u.name.as_str())
        }
        None if user_arg.is_empty() => None,
        None => {
            // Only a numeric user may be absent from passwd.
            uid = uid_arg.ok_or_else(|| SpecError::UnknownUser(user_arg.to_string()))?;
            None
        }
    };
    if !(0..=MAX_ID).contains(&uid) {
        return Err(SpecError::IdOutOfRange);
    }

    let mut sgids = Vec::new();
    if !group_arg.is_empty() || matched_name.is_some() {
        let groups = group.map(parse_group).unwrap_or_default();
        if !group_arg.is_empty() {
            let found = groups.iter().find(|g| match gid_arg {
                Some(gid) => g.gid == gid,
                None => g.name == group_arg,
            });
            gid = match (found, gid_arg) {
                (Some(g), _) => g.gid,
                (None, Some(n)) => n,
                (None, None) => return Err(SpecError::UnknownGroup(group_arg.to_string())),
            };
            if !(0..=MAX_ID).contains(&gid) {
                return Err(SpecError::IdOutOfRange);
            }
        } else if let Some(name) = matched_name {
            // Supplementary groups only in the implicit form, as libcontainer does.
            sgids = groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m == name))
                .map(|g| g.gid)
                .collect();
        }
    }
    // moby `getUser` puts the primary gid first (the fix for CVE-2022-36109: a group denied by
    // a file's group permission must not be droppable by leaving the supplementary list).
    let additional_gids = std::iter::once(gid)
        .chain(sgids)
        .map(|g| g as u32)
        .collect();
    Ok(ResolvedUser {
        uid: uid as u32,
        gid: gid as u32,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        \n\
        www-data:x:33:33:www-data:/var/www:/bin/false\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:root\n\
        www-data:x:33:\n\
        web:x:500:www-data,daemon\n\
        staff:x:50:www-data\n\
        nogroup:x:65534:\n";

    fn resolve(spec: &str) -> Result<ResolvedUser, SpecError> {
        resolve_user_in(Some(PASSWD), Some(GROUP), spec)
    }

    fn user(uid: u32, gid: u32, gids: &[u32]) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: gids.to_vec(),
        }
    }

    #[test]
    fn empty_user_is_root_with_roots_groups() {
        assert_eq!(resolve("").unwrap(), user(0, 0, &[0, 10]));
    }

    #[test]
    fn names_resolve_with_their_groups() {
        assert_eq!(resolve("root").unwrap(), user(0, 0, &[0, 10]));
        assert_eq!(resolve("www-data").unwrap(), user(33, 33, &[33, 500, 50]));
        assert_eq!(resolve("nobody").unwrap(), user(65534, 65534, &[65534]));
    }

    #[test]
    fn numbers_resolve_with_or_without_entries() {
        assert_eq!(resolve("33").unwrap(), user(33, 33, &[33, 500, 50]));
        assert_eq!(resolve("1234").unwrap(), user(1234, 0, &[0]));
        assert_eq!(
            resolve("65534:65534").unwrap(),
            user(65534, 65534, &[65534])
        );
        assert_eq!(resolve("1234:4321").unwrap(), user(1234, 4321, &[4321]));
    }

    #[test]
    fn explicit_group_replaces_gid_and_drops_supplementary_groups() {
        assert_eq!(resolve("www-data:staff").unwrap(), user(33, 50, &[50]));
        assert_eq!(resolve("33:web").unwrap(), user(33, 500, &[500]));
        assert_eq!(resolve("daemon:7").unwrap(), user(1, 7, &[7]));
        assert_eq!(resolve("nobody:").unwrap(), user(65534, 65534, &[65534]));
    }

    #[test]
    fn unknown_names_fail_with_dockers_wording() {
        let e = resolve("nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nope: no matching entries in passwd file"
        );
        let e = resolve("root:nogrp").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogrp: no matching entries in group file"
        );
        assert!(matches!(resolve("-1"), Err(SpecError::IdOutOfRange)));
        assert!(matches!(
            resolve("0:4294967296"),
            Err(SpecError::IdOutOfRange)
        ));
    }

    #[test]
    fn missing_files_allow_numbers_only() {
        assert_eq!(resolve_user_in(None, None, "").unwrap(), user(0, 0, &[0]));
        assert_eq!(
            resolve_user_in(None, None, "5:6").unwrap(),
            user(5, 6, &[6])
        );
        assert!(matches!(
            resolve_user_in(None, None, "root"),
            Err(SpecError::UnknownUser(n)) if n == "root"
        ));
    }

    fn input() -> SpecInput {
        SpecInput {
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin:/usr/bin".into(), "FOO=bar".into()],
            cwd: "/".into(),
            user: user(0, 0, &[0, 10]),
            hostname: "5e1c0ffee123".into(),
            root_path: "rootfs".into(),
            readonly_rootfs: false,
            network: NetworkNs::New,
            cgroups_path: "/ctrace/abc".into(),
            memory: None,
            memory_swap: None,
            pids_limit: None,
            cpus: None,
            etc_binds: vec![("/var/lib/ctrace/c/hosts".into(), "/etc/hosts".into())],
            mounts: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    fn host() -> HostFacts {
        HostFacts {
            cpus: 2,
            cgroup_ns: true,
            swap_limit: true,
            nofile: NOFILE,
        }
    }

    fn json(spec: &Spec) -> serde_json::Value {
        serde_json::to_value(spec).unwrap()
    }

    fn strings(v: &serde_json::Value) -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn defaults_are_dockers() {
        let j = json(&build_on(&input(), &host()).unwrap());
        let p = &j["process"];
        assert_eq!(p["terminal"], false);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["cwd"], "/");
        assert_eq!(
            p["env"],
            serde_json::json!(["PATH=/bin:/usr/bin", "HOSTNAME=5e1c0ffee123", "FOO=bar"])
        );
        assert_eq!(
            p["user"],
            serde_json::json!({"uid": 0, "gid": 0, "additionalGids": [0, 10]})
        );
        assert_eq!(
            p["rlimits"],
            serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}])
        );
        let mut want: Vec<String> = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FSETID",
            "FOWNER",
            "MKNOD",
            "NET_RAW",
            "SETGID",
            "SETUID",
            "SETFCAP",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "SYS_CHROOT",
            "KILL",
            "AUDIT_WRITE",
        ]
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
        want.sort();
        for set in ["bounding", "effective", "permitted"] {
            assert_eq!(strings(&p["capabilities"][set]), want, "{set}");
        }
        assert!(p["capabilities"].get("inheritable").is_none());
        assert!(p["capabilities"].get("ambient").is_none());

        assert_eq!(j["hostname"], "5e1c0ffee123");
        assert_eq!(
            j["root"],
            serde_json::json!({"path": "rootfs", "readonly": false})
        );
        let l = &j["linux"];
        let ns: Vec<&str> = l["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["mount", "network", "uts", "pid", "ipc", "cgroup"]);
        assert_eq!(l["cgroupsPath"], "/ctrace/abc");
        assert_eq!(l["maskedPaths"].as_array().unwrap().len(), 11);
        assert_eq!(l["readonlyPaths"].as_array().unwrap().len(), 5);
        assert_eq!(l["sysctl"]["net.ipv4.ip_unprivileged_port_start"], "0");
        let devices = l["resources"]["devices"].as_array().unwrap();
        assert_eq!(
            devices[0],
            serde_json::json!({"allow": false, "access": "rwm"})
        );
        assert!(devices.contains(
            &serde_json::json!({"allow": true, "type": "c", "major": 136, "access": "rwm"})
        ));
        assert!(l["resources"].get("memory").is_none());

        let mounts: Vec<(&str, &str)> = j["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["destination"].as_str().unwrap(),
                    m["type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            mounts,
            [
                ("/proc", "proc"),
                ("/dev", "tmpfs"),
                ("/dev/pts", "devpts"),
                ("/sys", "sysfs"),
                ("/sys/fs/cgroup", "cgroup"),
                ("/dev/mqueue", "mqueue"),
                ("/dev/shm", "tmpfs"),
                ("/etc/hosts", "bind"),
            ]
        );
        assert_eq!(j["mounts"][7]["source"], "/var/lib/ctrace/c/hosts");
        assert_eq!(
            j["mounts"][7]["options"],
            serde_json::json!(["rbind", "rprivate"])
        );
    }

    #[test]
    fn user_mounts_come_last_parents_first_and_replace_defaults() {
        let mut i = input();
        let m = |dst: &str, typ: &str| {
            let mut m = Mount::default();
            m.set_destination(dst.into());
            m.set_typ(Some(typ.into()));
            m.set_source(Some(typ.into()));
            m
        };
        i.mounts = vec![
            m("/data/sub", "tmpfs"),
            m("/data", "bind"),
            m("/dev/shm", "tmpfs"),
        ];
        let spec = build_on(&i, &host()).unwrap();
        let dsts: Vec<String> = spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dsts.iter().filter(|d| *d == "/dev/shm").count(), 1);
        let tail: Vec<&str> = dsts[dsts.len() - 3..].iter().map(String::as_str).collect();
        assert_eq!(tail, ["/data", "/data/sub", "/dev/shm"]);
        assert!(spec
            .linux()
            .as_ref()
            .unwrap()
            .rootfs_propagation()
            .is_none());
        i.mounts[1].set_options(Some(vec!["rbind".into(), "rslave".into()]));
        let spec = build_on(&i, &host()).unwrap();
        let prop = spec.linux().as_ref().unwrap().rootfs_propagation().clone();
        assert_eq!(prop.as_deref(), Some("rslave"));
    }

    #[test]
    fn non_root_users_get_bounding_caps_only() {
        let mut i = input();
        i.user = user(65534, 65534, &[65534]);
        let j = json(&build_on(&i, &host()).unwrap());
        let caps = &j["process"]["capabilities"];
        assert_eq!(caps["bounding"].as_array().unwrap().len(), 14);
        assert!(caps.get("effective").is_none());
        assert!(caps.get("permitted").is_none());
    }

    #[test]
    fn network_modes_and_cgroup_namespace() {
        let mut i = input();
        i.network = NetworkNs::Host;
        let h = HostFacts {
            cgroup_ns: false,
            ..host()
        };
        let j = json(&build_on(&i, &h).unwrap());
        let ns: Vec<&str> = j["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["mount", "uts", "pid", "ipc"]);
        assert!(j["linux"].get("sysctl").is_none());

        i.network = NetworkNs::Path("/run/netns/x".into());
        let j = json(&build_on(&i, &h).unwrap());
        assert_eq!(
            j["linux"]["namespaces"][1],
            serde_json::json!({"type": "network", "path": "/run/netns/x"})
        );
    }

    #[test]
    fn limits_become_resources() {
        let mut i = input();
        i.memory = Some(64 << 20);
        i.pids_limit = Some(100);
        i.cpus = Some(1.5);
        let j = json(&build_on(&i, &host()).unwrap());
        let r = &j["linux"]["resources"];
        assert_eq!(
            r["memory"],
            serde_json::json!({"limit": 64 << 20, "swap": 128 << 20})
        );
        assert_eq!(r["pids"], serde_json::json!({"limit": 100}));
        assert_eq!(
            r["cpu"],
            serde_json::json!({"quota": 150000, "period": 100000})
        );

        i.memory_swap = Some(-1);
        let j = json(&build_on(&i, &host()).unwrap());
        assert_eq!(j["linux"]["resources"]["memory"]["swap"], -1);

        i.memory_swap = None;
        let no_swap = HostFacts {
            swap_limit: false,
            ..host()
        };
        let j = json(&build_on(&i, &no_swap).unwrap());
        assert_eq!(j["linux"]["resources"]["memory"]["swap"], -1);
    }

    #[test]
    fn invalid_inputs_fail_with_dockers_messages() {
        let check = |f: &dyn Fn(&mut SpecInput), want: &str| {
            let mut i = input();
            f(&mut i);
            assert_eq!(build_on(&i, &host()).unwrap_err().to_string(), want);
        };
        check(&|i| i.args.clear(), &SpecError::NoCommand.to_string());
        check(
            &|i| i.cwd = "work".into(),
            "the working directory 'work' is invalid, it needs to be an absolute path",
        );
        check(
            &|i| i.memory = Some(4 << 20),
            "minimum memory limit allowed is 6MB",
        );
        check(
            &|i| i.memory_swap = Some(64 << 20),
            "you should always set the memory limit when using memoryswap limit, see usage",
        );
        check(
            &|i| {
                i.memory = Some(64 << 20);
                i.memory_swap = Some(32 << 20)
            },
            "minimum memoryswap limit should be larger than memory limit, see usage",
        );
        let cpus = "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available";
        check(&|i| i.cpus = Some(3.0), cpus);
        check(&|i| i.cpus = Some(0.0), cpus);
        check(&|i| i.cpus = Some(f64::NAN), cpus);
        check(
            &|i| i.pids_limit = Some(0),
            "invalid pids limit 0: give a positive number, or -1 for unlimited",
        );
    }

    #[test]
    fn env_without_value_unsets_a_default() {
        assert_eq!(
            daemon_environment("h", &["HOSTNAME".into(), "A=1".into(), "A=2".into()]),
            [DEFAULT_PATH_ENV, "A=1", "A=2"]
        );
    }
}
