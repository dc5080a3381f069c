//! The cpu and cpuset controllers: `--cpu-shares`, `--cpus` (quota and period),
//! `--cpuset-cpus`/`--cpuset-mems`, in v1's and v2's files.

use std::path::Path;

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{files, CgroupError};

/// The kernel's default CFS period (µs), used when a quota comes without a period.
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// v1: `cpu.shares`, `cpu.cfs_period_us`, `cpu.cfs_quota_us` in the cpu hierarchy's `dir`.
pub(super) fn apply_v1(dir: Option<&Path>, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    let Some(dir) = dir else { return Ok(()) };
    if let Some(shares) = cpu.shares() {
        files::write(&dir.join("cpu.shares"), &shares.to_string())?;
    }
    if cpu.quota().is_some() || cpu.period().is_some() {
        let period = cpu.period().unwrap_or(DEFAULT_CPU_PERIOD);
        files::write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
        if let Some(q) = cpu.quota() {
            let q = if q > 0 { q } else { -1 };
            files::write(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
        }
    }
    Ok(())
}

/// v2: `cpu.weight` and `cpu.max` in the cgroup's `dir`.
pub(super) fn apply_v2(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = cpu.shares() {
        files::write(
            &dir.join("cpu.weight"),
            &shares_to_weight(shares).to_string(),
        )?;
    }
    if cpu.quota().is_some() || cpu.period().is_some() {
        let quota = match cpu.quota() {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = cpu.period().unwrap_or(DEFAULT_CPU_PERIOD);
        files::write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
    }
    Ok(())
}

/// `cpuset.cpus` and `cpuset.mems` (same files in v1 and v2) in the cpuset directory `dir`.
pub(super) fn apply_cpuset(dir: Option<&Path>, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    let Some(dir) = dir else { return Ok(()) };
    // mems before cpus does not matter to the kernel; both are checked against the parent.
    if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        files::write(&dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        files::write(&dir.join("cpuset.mems"), mems)?;
    }
    Ok(())
}

/// True when the resources pin cpus or memory nodes (v2 then enables `cpuset` above the leaf).
pub(super) fn wants_cpuset(resources: &LinuxResources) -> bool {
    resources
        .cpu()
        .as_ref()
        .is_some_and(|c| c.cpus().is_some() || c.mems().is_some())
}

/// Copies `cpuset.cpus`/`cpuset.mems` from the parent when `level`'s are empty: a v1 cpuset
/// cgroup starts with neither, and the kernel refuses to let a task join until both are set.
pub(super) fn init_cpuset_v1(level: &Path) -> Result<(), CgroupError> {
    let Some(parent) = level.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = files::read(&level.join(file))?;
        if own.trim().is_empty() {
            let inherited = files::read(&parent.join(file))?;
            files::write(&level.join(file), inherited.trim())?;
        }
    }
    Ok(())
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

    #[test]
    fn shares_map_to_weights_as_runc_maps_them() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 100);
    }
}
