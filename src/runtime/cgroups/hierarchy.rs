//! The host's cgroup mounts: detect them (on [`crate::sys::mountinfo`], the one mountinfo
//! parser), say what they offer, and verify that requested limits can be honoured.
//!
//! Not here: what differs per version (the [`super::Driver`] of [`super::v1`] and [`super::v2`]
//! answers), and anything that changes the kernel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{driver, CgroupError, Version};
use crate::host;
use crate::sys::mountinfo;

/// Docker refuses smaller memory limits (`Minimum memory limit allowed is 6MB`): below this a
/// container's runtime cannot even start before it is OOM-killed.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Every controller a v1 `cgroup` mount can carry, in the order [`Hierarchy::describe`] lists them.
/// Anything else in a mount's super options (`rw`, `noprefix`, `release_agent=…`) is not one.
pub(super) const KNOWN_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "rdma",
    "misc",
    "debug",
];

/// The host's cgroup mounts, as detected from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub(super) version: Version,
    /// v1 controller (or named hierarchy, `name=systemd`) → its mount point.
    pub(super) v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount, if any (the whole tree in v2; the empty `unified` mount on hybrid hosts).
    pub(super) v2: Option<PathBuf>,
    /// The controllers in the cgroup2 mount's `cgroup.controllers`.
    pub(super) v2_controllers: Vec<String>,
}

/// One `cgroup`/`cgroup2` mount.
struct CgroupMount {
    /// The path inside the hierarchy that is mounted (`/` unless bind-mounted or namespaced).
    root: String,
    mount_point: PathBuf,
    v2: bool,
    /// For v1: the controllers (and `name=…`) this mount carries.
    controllers: Vec<String>,
}

/// The `cgroup` and `cgroup2` mounts of a mountinfo text.
fn cgroup_mounts(text: &str) -> Vec<CgroupMount> {
    mountinfo::parse(text)
        .into_iter()
        .filter_map(|m| {
            let v2 = match m.fstype.as_str() {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let controllers = if v2 {
                Vec::new()
            } else {
                m.super_options
                    .split(',')
                    .filter(|o| KNOWN_V1.contains(o) || o.starts_with("name="))
                    .map(str::to_string)
                    .collect()
            };
            Some(CgroupMount {
                root: m.root,
                mount_point: m.mount_point,
                v2,
                controllers,
            })
        })
        .collect()
}

impl Hierarchy {
    /// Detects the host's cgroup layout from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Hierarchy, CgroupError> {
        let text = host::current()
            .mountinfo()
            .map_err(|source| CgroupError::Read {
                path: "/proc/self/mountinfo".into(),
                source,
            })?;
        Hierarchy::from_mountinfo(&text, |mount| {
            host::current()
                .kfs_read(&mount.join("cgroup.controllers"))
                .ok()
        })
    }

    /// Detection from a mountinfo text. `v2_controllers` returns the contents of a cgroup2
    /// mount's `cgroup.controllers` (a seam so the v2 rules can be tested on a v1 host).
    ///
    /// The rules: `/sys/fs/cgroup` mounted as cgroup2 → v2. Otherwise any v1 controller
    /// mounted → v1 (a cgroup2 mount beside them is the hybrid `unified` tree, which only gets
    /// the controllers no v1 mount took). Otherwise a cgroup2 mount anywhere → v2.
    pub fn from_mountinfo(
        text: &str,
        v2_controllers: impl Fn(&Path) -> Option<String>,
    ) -> Result<Hierarchy, CgroupError> {
        let mounts = cgroup_mounts(text);

        let mut v1: BTreeMap<String, PathBuf> = BTreeMap::new();
        // Prefer the mount of a hierarchy's root: a bind mount of a sub-cgroup (root ≠ "/") would
        // put our paths somewhere else in the tree.
        for m in mounts.iter().filter(|m| !m.v2) {
            for c in &m.controllers {
                let replace = match v1.get(c) {
                    None => true,
                    Some(_) => {
                        m.root == "/"
                            && mounts
                                .iter()
                                .any(|o| !o.v2 && o.controllers.contains(c) && o.root != "/")
                    }
                };
                if replace {
                    v1.insert(c.clone(), m.mount_point.clone());
                }
            }
        }

        let v2_mounts: Vec<&PathBuf> = mounts
            .iter()
            .filter(|m| m.v2)
            .map(|m| &m.mount_point)
            .collect();
        let preferred = |p: &str| v2_mounts.iter().find(|m| m.as_path() == Path::new(p));
        let v2 = preferred("/sys/fs/cgroup")
            .or_else(|| preferred("/sys/fs/cgroup/unified"))
            .or_else(|| v2_mounts.first())
            .map(|p| (*p).clone());

        let has_v1_controller = v1.keys().any(|c| !c.starts_with("name="));
        let version = if v2.as_deref() == Some(Path::new("/sys/fs/cgroup")) {
            Version::V2
        } else if has_v1_controller {
            Version::V1
        } else if v2.is_some() {
            Version::V2
        } else {
            return Err(CgroupError::NotMounted);
        };
        let v2_controllers = v2
            .as_deref()
            .and_then(v2_controllers)
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Hierarchy {
            version,
            v1,
            v2,
            v2_controllers,
        })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The controllers a container can use: mounted v1 controllers, or the v2 root's
    /// `cgroup.controllers`.
    pub fn controllers(&self) -> Vec<String> {
        driver(self.version).controllers(self)
    }

    pub(super) fn has(&self, controller: &str) -> bool {
        driver(self.version).has(self, controller)
    }

    /// The directories of the cgroups process `pid` is in, one per hierarchy mounted here
    /// (from `/proc/<pid>/cgroup`): what a process must join to share them all, whatever runtime
    /// put it there (`exec` into a runc container, whose named hierarchies ctrace does not
    /// create, included).
    pub fn dirs_of(&self, pid: i32) -> Vec<PathBuf> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let mount = if ctrls.is_empty() {
                self.v2.as_ref()
            } else {
                ctrls.split(',').find_map(|c| self.v1.get(c))
            };
            if let Some(m) = mount {
                let dir = m.join(path.trim_start_matches('/'));
                if host::current().kfs_exists(&dir.join("cgroup.procs")) && !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
        out
    }

    /// One human line for the timeline and the host facts:
    /// `v1 (cpu,cpuacct,cpuset,memory,devices,freezer,blkio,pids; cgroup2 also at
    /// /sys/fs/cgroup/unified)` or `v2 (cpuset cpu io memory pids)`.
    pub fn describe(&self) -> String {
        driver(self.version).describe(self)
    }

    /// Checks that every requested limit has its controller and makes sense, before anything is
    /// created (docker's `verifyContainerSettings`).
    pub fn verify(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let need = |what: &'static str, controller: &'static str| -> Result<(), CgroupError> {
            if self.has(controller) {
                return Ok(());
            }
            Err(CgroupError::ControllerMissing {
                what,
                controller,
                missing: driver(self.version).missing(self, controller),
            })
        };

        if let Some(m) = resources.memory() {
            if let Some(limit) = m.limit() {
                need("memory limit", "memory")?;
                if (0..MIN_MEMORY).contains(&limit) {
                    return Err(CgroupError::InvalidLimit {
                        what: "memory limit",
                        reason: format!(
                            "{limit} bytes is below the minimum of {MIN_MEMORY} bytes (6 MiB); \
                             raise it"
                        ),
                    });
                }
            }
            if let Some(swap) = m.swap() {
                need("memory+swap limit", "memory")?;
                if swap >= 0 {
                    match m.limit() {
                        Some(limit) if limit >= 0 && swap < limit => {
                            return Err(CgroupError::InvalidLimit {
                                what: "memory+swap limit",
                                reason: format!(
                                    "{swap} bytes is below the memory limit of {limit} bytes: \
                                     memory+swap counts memory too, so it must be at least the \
                                     memory limit"
                                ),
                            })
                        }
                        Some(limit) if limit >= 0 => {}
                        _ => {
                            return Err(CgroupError::InvalidLimit {
                                what: "memory+swap limit",
                                reason: "it needs a memory limit too (docker: --memory-swap \
                                         needs --memory)"
                                    .into(),
                            })
                        }
                    }
                }
            }
            if m.reservation().is_some() {
                need("memory reservation", "memory")?;
            }
        }
        if let Some(p) = resources.pids() {
            if p.limit() > 0 {
                need("pids limit", "pids")?;
            }
        }
        if let Some(cpu) = resources.cpu() {
            if cpu.quota().is_some() || cpu.period().is_some() {
                need("cpu quota", "cpu")?;
            }
            if cpu.shares().is_some() {
                need("cpu shares", "cpu")?;
            }
            if cpu.cpus().is_some() || cpu.mems().is_some() {
                need("cpuset", "cpuset")?;
            }
            if let Some(q) = cpu.quota() {
                if q > 0 && q < 1000 {
                    return Err(CgroupError::InvalidLimit {
                        what: "cpu quota",
                        reason: format!("{q} µs is below the kernel's minimum of 1000 µs"),
                    });
                }
            }
            if let Some(p) = cpu.period() {
                if !(1000..=1_000_000).contains(&p) {
                    return Err(CgroupError::InvalidLimit {
                        what: "cpu period",
                        reason: format!("{p} µs is outside the kernel's 1000..=1000000 µs"),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Cgroup, Version};
    use super::*;

    #[test]
    fn hybrid_sample_is_v1_with_unified_beside() {
        let h = Hierarchy::from_mountinfo(HYBRID, |_| Some(String::new())).unwrap();
        assert_eq!(h.version(), Version::V1);
        assert_eq!(
            h.v1_mount("memory"),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(h.v1_mount("pids"), Some(Path::new("/sys/fs/cgroup/pids")));
        assert_eq!(
            h.v1_mount("name=systemd"),
            Some(Path::new("/sys/fs/cgroup/systemd"))
        );
        assert_eq!(h.v2_mount(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert_eq!(
            h.describe(),
            "v1 (cpu,cpuacct,cpuset,memory,devices,freezer,blkio,pids; cgroup2 also at /sys/fs/cgroup/unified)"
        );
        let cg = Cgroup::open(&h, "/ctrace/abc");
        assert_eq!(
            cg.paths(),
            ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"]
                .iter()
                .map(|c| PathBuf::from(format!("/sys/fs/cgroup/{c}/ctrace/abc")))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn v2_sample_is_v2_with_its_controllers() {
        let h = Hierarchy::from_mountinfo(V2_ONLY, v2_reader).unwrap();
        assert_eq!(h.version(), Version::V2);
        assert_eq!(h.v2_mount(), Some(Path::new("/sys/fs/cgroup")));
        assert_eq!(h.v1_mount("memory"), None);
        assert_eq!(
            h.describe(),
            "v2 (cpuset cpu io memory hugetlb pids rdma misc)"
        );
        assert!(h
            .verify(&resources(
                Some(64 << 20),
                Some(128 << 20),
                Some(20),
                Some(50_000)
            ))
            .is_ok());
        let cg = Cgroup::open(&h, "ctrace/abc");
        assert_eq!(cg.paths(), vec![PathBuf::from("/sys/fs/cgroup/ctrace/abc")]);
    }

    #[test]
    fn comounted_escaped_and_bind_mounted_v1() {
        let text = "\
40 31 0:40 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:41 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
42 31 0:40 / /mnt/mem\\040cg rw - cgroup cgroup rw,memory
43 31 0:42 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls,noprefix,release_agent=/x
";
        let h = Hierarchy::from_mountinfo(text, |_| None).unwrap();
        assert_eq!(h.version(), Version::V1);
        // The mount of the hierarchy's root wins over a bind mount of a sub-cgroup.
        assert_eq!(h.v1_mount("memory"), Some(Path::new("/mnt/mem cg")));
        assert_eq!(
            h.v1_mount("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(h.v2_mount(), None);
        assert_eq!(h.describe(), "v1 (cpu,cpuacct,memory,net_cls)");
        let cg = Cgroup::open(&h, "/ctrace/abc");
        // cpu and cpuacct share one directory.
        assert_eq!(
            cg.dirs[0].controllers,
            vec!["cpu".to_string(), "cpuacct".to_string()]
        );
        assert_eq!(cg.paths().len(), 2);
    }

    #[test]
    fn named_hierarchy_only_with_cgroup2_elsewhere_is_v2() {
        let text = "\
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let h = Hierarchy::from_mountinfo(text, |_| Some("cpu memory pids\n".into())).unwrap();
        assert_eq!(h.version(), Version::V2);
        assert_eq!(
            h.describe(),
            "v2 (cpu memory pids) at /sys/fs/cgroup/unified"
        );
        assert!(matches!(
            Hierarchy::from_mountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n", |_| None),
            Err(CgroupError::NotMounted)
        ));
    }

    #[test]
    fn verify_names_the_missing_controller_and_bad_limits() {
        let no_pids: String = HYBRID
            .lines()
            .filter(|l| !l.contains("pids"))
            .map(|l| format!("{l}\n"))
            .collect();
        let h = Hierarchy::from_mountinfo(&no_pids, |_| None).unwrap();
        let err = h
            .verify(&resources(None, None, Some(20), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pids limit requested but the pids cgroup controller is not mounted"),
            "{err}"
        );
        assert!(h
            .verify(&resources(Some(64 << 20), None, None, Some(50_000)))
            .is_ok());

        let h = Hierarchy::from_mountinfo(V2_ONLY, |_| Some("cpu pids".into())).unwrap();
        let err = h
            .verify(&resources(Some(64 << 20), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("memory limit requested but the memory cgroup controller is not available in /sys/fs/cgroup/cgroup.controllers"),
            "{err}"
        );

        let h = Hierarchy::from_mountinfo(HYBRID, |_| None).unwrap();
        let bad = [
            resources(Some(1 << 20), None, None, None),
            resources(Some(64 << 20), Some(32 << 20), None, None),
            resources(None, Some(32 << 20), None, None),
            resources(None, None, None, Some(500)),
        ];
        for r in &bad {
            let err = h.verify(r).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidLimit { .. }), "{err}");
        }
        // -1 is "unlimited" everywhere.
        assert!(h
            .verify(&resources(Some(-1), Some(-1), Some(-1), Some(-1)))
            .is_ok());
    }

    #[test]
    fn detect_matches_this_host() {
        let h = Hierarchy::detect().unwrap();
        // An independent oracle: the files each layout puts at the top of /sys/fs/cgroup.
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            assert_eq!(h.version(), Version::V2);
        } else if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            assert_eq!(h.version(), Version::V1);
            assert!(h.v1_mount("memory").is_some() && h.v1_mount("pids").is_some());
            assert!(h.describe().starts_with("v1 ("), "{}", h.describe());
            assert!(h.describe().contains("memory") && h.describe().contains("pids"));
        }
        eprintln!("this host: {}", h.describe());
    }
}
