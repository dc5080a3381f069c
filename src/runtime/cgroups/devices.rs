//! The devices controller: the spec's device allow-list, as v1 `devices.deny`/`devices.allow`
//! rules. cgroup v2 enforces device rules with an eBPF program, which ctrace does not attach:
//! there the rules are skipped with a warning.

use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use super::{files, CgroupError};

/// v1: "deny all", then the spec's rules in order, in the devices hierarchy's `dir`.
pub(super) fn apply_v1(dir: Option<&Path>, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    if rules.is_empty() {
        return Ok(());
    }
    let Some(dir) = dir else {
        tracing::warn!(
            "device rules requested but the devices cgroup controller is not mounted; \
             not applied"
        );
        return Ok(());
    };
    // Start from nothing allowed, then apply the spec's rules in order — docker's list begins
    // with "deny all" anyway, so the outcome is the spec's allow-list.
    files::write(&dir.join("devices.deny"), "a")?;
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
        files::write(&dir.join(file), &line)?;
    }
    Ok(())
}

/// v2: says that the rules are not applied.
pub(super) fn warn_v2(dir: &Path, rules: &[LinuxDeviceCgroup]) {
    if !rules.is_empty() {
        tracing::warn!(
            path = %dir.display(),
            "device rules not applied: cgroup v2 enforces them with an eBPF program, which \
             ctrace does not attach; the container sees only the devices its /dev holds"
        );
    }
}

/// A v1 device rule line: `c 1:3 rwm`, `a *:* rwm`.
fn device_rule(rule: &LinuxDeviceCgroup) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Cgroup, Version};
    use super::*;
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResourcesBuilder};

    #[test]
    fn a_rule_line_is_type_major_minor_access_with_stars_for_any() {
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
    }

    #[test]
    fn device_rules_default_deny_then_allow() {
        require_root();
        let h = super::super::Hierarchy::detect().unwrap();
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
}
