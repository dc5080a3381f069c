//! cgroup v2: one unified tree, so a container's cgroup is one directory holding every
//! controller's files; controllers are enabled top-down in `cgroup.subtree_control`.
//!
//! Not here: the controllers' files themselves ([`super::memory`], [`super::cpu`], …), and
//! device rules, which v2 enforces with an eBPF program that ctrace does not attach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::freezer::Freezer;
use super::{cpu, devices, files, memory, pids, Cgroup, CgroupError, Dir, Driver, Hierarchy};

/// The v2 controllers enabled in `cgroup.subtree_control` above a container (when available).
const V2_CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

/// The v2 driver.
pub(super) struct V2;

impl Driver for V2 {
    fn controllers(&self, h: &Hierarchy) -> Vec<String> {
        h.v2_controllers.clone()
    }

    fn has(&self, h: &Hierarchy, controller: &str) -> bool {
        h.v2_controllers.iter().any(|c| c == controller)
    }

    fn describe(&self, h: &Hierarchy) -> String {
        let list = if h.v2_controllers.is_empty() {
            "no controllers".to_string()
        } else {
            h.v2_controllers.join(" ")
        };
        match h.v2.as_deref() {
            Some(p) if p != Path::new("/sys/fs/cgroup") => {
                format!("v2 ({list}) at {}", p.display())
            }
            _ => format!("v2 ({list})"),
        }
    }

    fn missing(&self, h: &Hierarchy, _: &str) -> String {
        match &h.v2 {
            Some(p) => format!(
                "available in {} (cgroup v2): the kernel lacks it or it is bound to a v1 \
                 hierarchy; drop the limit",
                p.join("cgroup.controllers").display()
            ),
            None => "available: drop the limit".to_string(),
        }
    }

    fn layout(&self, h: &Hierarchy, rel: &Path) -> (Vec<Dir>, Vec<Dir>) {
        let dirs =
            h.v2.iter()
                .map(|mount| Dir {
                    controllers: vec!["unified".into()],
                    mount: mount.clone(),
                    path: mount.join(rel),
                })
                .collect();
        (dirs, Vec::new())
    }

    fn dir<'a>(&self, cg: &'a Cgroup, _: &str) -> Option<&'a Dir> {
        cg.dirs.first()
    }

    fn create(
        &self,
        cg: &Cgroup,
        h: &Hierarchy,
        resources: &LinuxResources,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError> {
        let Some(dir) = cg.dirs.first() else {
            return Err(CgroupError::NotMounted);
        };
        let mut wanted: Vec<&str> = V2_CONTROLLERS.to_vec();
        if cpu::wants_cpuset(resources) {
            wanted.push("cpuset");
        }
        wanted.retain(|c| h.has(c));
        let leaf_created = files::mkdir_levels(
            dir,
            &cg.rel,
            created,
            &|parent| enable_subtree(parent, &wanted),
            &|_, _| Ok(()),
        )?;
        cg.check_reused(dir, leaf_created)?;

        if let Some(m) = resources.memory() {
            memory::apply_v2(&dir.path, m)?;
        }
        if let Some(p) = resources.pids() {
            pids::apply(&dir.path, p)?;
        }
        if let Some(c) = resources.cpu() {
            cpu::apply_v2(&dir.path, c)?;
            cpu::apply_cpuset(Some(&dir.path), c)?;
        }
        if let Some(rules) = resources.devices() {
            devices::warn_v2(&dir.path, rules);
        }
        Ok(())
    }

    fn freezer(&self, cg: &Cgroup, _: &'static str) -> Result<Freezer, CgroupError> {
        let dir = cg.dirs.first().ok_or(CgroupError::NotMounted)?;
        Ok(Freezer {
            control: dir.path.join("cgroup.freeze"),
            status: dir.path.join("cgroup.events"),
            values: ("1", "0"),
            reached: |text, frozen| files::keyed(text, "frozen") == Some(u64::from(frozen)),
            rewrite: false,
        })
    }

    fn oom_file(&self) -> &'static str {
        "memory.events"
    }

    fn kill_file(&self, cg: &Cgroup) -> Option<PathBuf> {
        // Linux ≥ 5.14: one write kills the whole subtree, racing forks included.
        cg.dirs
            .first()
            .map(|d| d.path.join("cgroup.kill"))
            .filter(|p| files::exists(p))
    }
}

/// Enables the wanted controllers (those the parent offers and not yet on) in `parent`'s
/// `cgroup.subtree_control`, so its children get `memory.max`, `pids.max`, `cpu.max`.
fn enable_subtree(parent: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let available = files::read(&parent.join("cgroup.controllers"))?;
    let enabled = files::read(&parent.join("cgroup.subtree_control"))?;
    let enabled: BTreeSet<&str> = enabled.split_whitespace().collect();
    let add: Vec<String> = wanted
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c) && !enabled.contains(**c))
        .map(|c| format!("+{c}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    files::write(&parent.join("cgroup.subtree_control"), &add.join(" "))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{files::keyed, Version};
    use super::*;
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxResourcesBuilder};
    use std::fs;
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    /// The unified tree of a hybrid host, taken as a v2 hierarchy: no controllers, but mkdir,
    /// cgroup.procs, cgroup.freeze, cgroup.kill and rmdir are real v2, so the v2 path runs here.
    #[test]
    fn v2_path_on_the_hybrid_unified_tree() {
        require_root();
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
}
