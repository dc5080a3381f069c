//! The memory controller: `--memory`, `--memory-swap`, `--memory-reservation`,
//! `--memory-swappiness`, in v1's and v2's files.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::{files, CgroupError};

/// v1: `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`, `memory.soft_limit_in_bytes`,
/// `memory.swappiness` in the memory hierarchy's directory `dir`.
pub(super) fn apply_v1(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let path = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let swap = m.swap().filter(|_| {
        let ok = files::exists(&memsw);
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
        // memory+swap must stay ≥ memory at every moment: if raising memory fails, raise
        // memory+swap first (a reused cgroup may hold older, lower values).
        match (files::write(&path, &limit.to_string()), swap) {
            (Ok(()), _) => {
                if let Some(swap) = swap {
                    files::write(&memsw, &swap.to_string())?;
                }
            }
            (Err(_), Some(swap)) => {
                files::write(&memsw, &swap.to_string())?;
                files::write(&path, &limit.to_string())?;
            }
            (Err(e), None) => return Err(e),
        }
    } else if let Some(swap) = swap {
        files::write(&memsw, &swap.to_string())?;
    }
    if let Some(r) = m.reservation() {
        files::write(&dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        files::write(&dir.join("memory.swappiness"), &s.to_string())?;
    }
    Ok(())
}

/// v2: `memory.max`, `memory.swap.max`, `memory.low` in the cgroup's directory `dir`.
pub(super) fn apply_v2(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(limit) = m.limit() {
        files::write(&dir.join("memory.max"), &max_or(limit))?;
    }
    if let Some(swap) = m.swap() {
        let file = dir.join("memory.swap.max");
        if files::exists(&file) {
            files::write(&file, &swap_v2(swap, m.limit()))?;
        } else {
            tracing::warn!(
                path = %file.display(),
                "swap limit requested but this kernel has no swap accounting; memory \
                 limited without swap"
            );
        }
    }
    if let Some(r) = m.reservation() {
        files::write(&dir.join("memory.low"), &max_or(r))?;
    }
    if let Some(s) = m.swappiness() {
        tracing::warn!(
            swappiness = s,
            "memory swappiness has no cgroup v2 file; not applied"
        );
    }
    Ok(())
}

/// OCI's swap is memory+swap (v1's memsw); v2's `memory.swap.max` is swap alone.
fn swap_v2(swap: i64, limit: Option<i64>) -> String {
    match limit {
        Some(limit) if swap >= 0 && limit >= 0 => (swap - limit).to_string(),
        _ => "max".to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_swap_is_memory_and_swap_minus_memory_and_unlimited_is_max() {
        assert_eq!(
            swap_v2(128 << 20, Some(64 << 20)),
            (64i64 << 20).to_string()
        );
        assert_eq!(swap_v2(-1, Some(64 << 20)), "max");
        assert_eq!(swap_v2(128 << 20, None), "max");
        assert_eq!(max_or(-1), "max");
        assert_eq!(max_or(4096), "4096");
    }
}
