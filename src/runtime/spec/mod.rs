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
//! The files: [`host`] (the host facts), [`namespaces`](mod@namespaces),
//! [`mounts`](mod@mounts), [`process`](mod@process), [`resources`](mod@resources) and [`user`]
//! (docker's `-u`).
//!
//! Also here: [`resolve_user`], docker's `-u` resolution against the image's `/etc/passwd` and
//! `/etc/group`, because the spec carries numeric ids only.
//!
//! The seccomp profile (Docker's default, another one, or none) is turned into `linux.seccomp`
//! for the container's bounding set by [`super::seccomp`].
//!
//! Not here: AppArmor profiles (ctrace has none), deciding what the user's
//! mounts are (that is `crate::storage::mounts`; they arrive here as OCI mounts), devices from `--device`, and deciding the cgroup driver or whether a limit can be
//! enforced (that is `start.verify`, with the cgroups module). The host facts this module does
//! depend on (CPU count, cgroup namespaces, swap accounting, the open-file ceiling) are probed
//! once in [`HostFacts::probe`] so tests can pin them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use oci_spec::runtime::{Capability, Mount, Root, Spec};

mod host;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod user;

pub use host::HostFacts;
pub use namespaces::has_new_namespace;
pub use user::{parse_passwd, resolve_user};

use mounts::{mounts, rootfs_propagation};
use namespaces::{namespaces, sysctls};
#[cfg(test)]
use process::daemon_environment;
use process::process;
use resources::resources;

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
    /// `--security-opt seccomp=…`.
    pub seccomp: super::seccomp::Choice,
    /// `--cap-add` / `--cap-drop`: `CAP_` names or `ALL`, normalized.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--ulimit`: (name as docker spells it, soft, hard), -1 unlimited; `nofile` replaces the
    /// default one.
    pub ulimits: Vec<(String, i64, i64)>,
    /// `--cpu-shares`, `--cpu-quota`, `--cpu-period` (0: unset).
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
}

/// A user as the kernel sees it: ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Docker's list: the primary gid first, then every group that lists the user.
    pub additional_gids: Vec<u32>,
}

/// Which network namespace the container gets (plain data, kept in `state`).
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
    #[error(transparent)]
    Seccomp(#[from] super::seccomp::SeccompError),
    #[error("invalid ulimit type: {0}")]
    Ulimit(String),
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

pub(super) const MAX_ID: i64 = 2_147_483_647;

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
    linux.set_rootfs_propagation(rootfs_propagation(&input.mounts));

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.into());
    spec.set_root(Some(root));
    spec.set_mounts(Some(mounts(input)?));
    let process = process(input, cwd, host)?;
    // moby: the profile's `includes.caps` are checked against the bounding set.
    let bounding: Vec<String> = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .into_iter()
        .flatten()
        .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(String::from))
        .collect();
    linux.set_seccomp(super::seccomp::for_spec(&input.seccomp, &bounding)?);
    spec.set_process(Some(process));
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

#[cfg(test)]
mod tests {
    use super::user::tests::user;
    use super::*;

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
            seccomp: Default::default(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            ulimits: Vec::new(),
            cpu_shares: 0,
            cpu_quota: 0,
            cpu_period: 0,
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
        assert_eq!(j["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(j["linux"]["seccomp"]["defaultErrnoRet"], 1);
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
