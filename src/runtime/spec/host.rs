//! The facts about this host that change the spec, probed once so tests can pin them.

use std::path::Path;

use super::NOFILE;

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
        let cpus = HostFacts::cpus();
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

impl HostFacts {
    /// The CPUs this process may run on (what `--cpus` is checked against), without probing the
    /// rest of the host.
    pub fn cpus() -> usize {
        affinity_cpus()
            .filter(|&n| n > 0)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1)
    }
}

/// The CPUs in this process's affinity mask (Linux; elsewhere the caller asks the standard
/// library).
#[cfg(target_os = "linux")]
fn affinity_cpus() -> Option<usize> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    Some(
        (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count(),
    )
}

#[cfg(not(target_os = "linux"))]
fn affinity_cpus() -> Option<usize> {
    None
}

/// Whether this process may raise its hard limits (`CAP_SYS_RESOURCE`; a platform without
/// capabilities has nobody here who could).
fn can_raise_limits() -> bool {
    #[cfg(target_os = "linux")]
    return caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    #[cfg(not(target_os = "linux"))]
    return false;
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
    let can_raise = can_raise_limits();
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
