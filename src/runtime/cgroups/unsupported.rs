//! Resource settings that were asked for but that ctrace does not apply: logged, never silent.

use oci_spec::runtime::LinuxResources;

/// Warns once about every setting in `resources` that ctrace leaves alone.
pub(super) fn warn(resources: &LinuxResources) {
    let skipped = ignored(resources);
    if !skipped.is_empty() {
        tracing::warn!(
            settings = %skipped.join(", "),
            "resource settings not applied by ctrace"
        );
    }
}

/// The settings in `resources` that ctrace does not apply.
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

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxResourcesBuilder};

    #[test]
    fn empty_defaults_are_no_request_but_real_settings_are_named() {
        let empty = LinuxResourcesBuilder::default()
            .block_io(LinuxBlockIoBuilder::default().build().unwrap())
            .build()
            .unwrap();
        assert!(ignored(&empty).is_empty());
        let r = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().idle(1i64).build().unwrap())
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(10u16)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(ignored(&r), vec!["cpu.idle", "blockIO"]);
    }
}
