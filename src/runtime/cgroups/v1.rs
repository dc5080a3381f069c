//! cgroup v1: one hierarchy per controller (or co-mounted group), so a container's cgroup is one
//! directory in each hierarchy it joins; each controller's files live in its own hierarchy.
//!
//! Not here: the controllers' files themselves ([`super::memory`], [`super::cpu`], …), which
//! this driver writes into the right directory.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::freezer::Freezer;
use super::hierarchy::KNOWN_V1;
use super::{cpu, devices, files, memory, pids, Cgroup, CgroupError, Dir, Driver, Hierarchy};

/// The v1 controllers a container joins, in the order their directories are created.
///
/// `blkio`, `net_cls`, `perf_event`, `hugetlb`, … are left out: ctrace sets no limit there, and
/// every extra hierarchy is one more directory to create and clean up.
const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices",
];

/// The v1 driver.
pub(super) struct V1;

impl Driver for V1 {
    fn controllers(&self, h: &Hierarchy) -> Vec<String> {
        KNOWN_V1
            .iter()
            .filter(|c| h.v1.contains_key(**c))
            .map(|c| c.to_string())
            .collect()
    }

    fn has(&self, h: &Hierarchy, controller: &str) -> bool {
        h.v1.contains_key(controller)
    }

    fn describe(&self, h: &Hierarchy) -> String {
        let list = h.controllers().join(",");
        match &h.v2 {
            Some(p) => format!("v1 ({list}; cgroup2 also at {})", p.display()),
            None => format!("v1 ({list})"),
        }
    }

    fn missing(&self, _: &Hierarchy, controller: &str) -> String {
        format!(
            "mounted: mount it (mount -t cgroup -o {controller} cgroup \
             /sys/fs/cgroup/{controller}) or drop the limit"
        )
    }

    fn layout(&self, h: &Hierarchy, rel: &Path) -> (Vec<Dir>, Vec<Dir>) {
        let mut dirs: Vec<Dir> = Vec::new();
        let mut others: Vec<Dir> = Vec::new();
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
                path: mount.join(rel),
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
                path: mount.join(rel),
            });
        }
        (dirs, others)
    }

    fn dir<'a>(&self, cg: &'a Cgroup, controller: &str) -> Option<&'a Dir> {
        cg.dirs.iter().find(|d| d.has(controller))
    }

    fn create(
        &self,
        cg: &Cgroup,
        _: &Hierarchy,
        resources: &LinuxResources,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError> {
        for dir in &cg.dirs {
            let cpuset = dir.has("cpuset");
            let leaf_created =
                files::mkdir_levels(dir, &cg.rel, created, &|_| Ok(()), &|level, _| {
                    if cpuset {
                        cpu::init_cpuset_v1(level)
                    } else {
                        Ok(())
                    }
                })?;
            cg.check_reused(dir, leaf_created)?;
        }

        let path = |controller: &str| self.dir(cg, controller).map(|d| d.path.as_path());
        if let (Some(m), Some(dir)) = (resources.memory(), path("memory")) {
            memory::apply_v1(dir, m)?;
        }
        if let (Some(p), Some(dir)) = (resources.pids(), path("pids")) {
            pids::apply(dir, p)?;
        }
        if let Some(c) = resources.cpu() {
            cpu::apply_v1(path("cpu"), c)?;
            cpu::apply_cpuset(path("cpuset"), c)?;
        }
        if let Some(rules) = resources.devices() {
            devices::apply_v1(path("devices"), rules)?;
        }
        Ok(())
    }

    fn freezer(&self, cg: &Cgroup, op: &'static str) -> Result<Freezer, CgroupError> {
        let dir = self
            .dir(cg, "freezer")
            .ok_or(CgroupError::NoFreezer { op })?;
        let state = dir.path.join("freezer.state");
        Ok(Freezer {
            control: state.clone(),
            status: state,
            values: ("FROZEN", "THAWED"),
            reached: |text, frozen| text.trim() == if frozen { "FROZEN" } else { "THAWED" },
            // v1 moves tasks to the freezer one pass at a time and stays FREEZING when one
            // cannot be frozen yet; writing FROZEN again makes the kernel retry (as runc does).
            rewrite: true,
        })
    }

    fn oom_file(&self) -> &'static str {
        "memory.oom_control"
    }

    fn kill_file(&self, _: &Cgroup) -> Option<PathBuf> {
        None
    }
}
