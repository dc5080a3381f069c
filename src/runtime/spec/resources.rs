//! The spec's resources: memory, swap, pids, cpus and the device allow-list, checked as docker
//! checks them.

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxPids, LinuxResources,
};

use super::*;

/// `linux.resources`: the device allow-list and the limits from `-m`, `--memory-swap`,
/// `--pids-limit` and `--cpus`, validated as docker's `verifyPlatformContainerResources` does.
pub(super) fn resources(input: &SpecInput, host: &HostFacts) -> Result<LinuxResources, SpecError> {
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

    if input.cpu_shares > 0 || input.cpu_quota != 0 || input.cpu_period > 0 {
        let mut cpu = LinuxCpu::default();
        cpu.set_shares((input.cpu_shares > 0).then_some(input.cpu_shares as u64));
        cpu.set_quota((input.cpu_quota != 0).then_some(input.cpu_quota));
        cpu.set_period((input.cpu_period > 0).then_some(input.cpu_period as u64));
        r.set_cpu(Some(cpu));
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
