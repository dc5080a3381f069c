//! The control files of the simulated host: the cgroup tree and sysctls.

use std::io;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::{einval, enoent, me, text, SimHost};
use crate::host::KernelFs;

impl KernelFs for SimHost {
    fn kfs_create_dir(&self, path: &Path) -> io::Result<()> {
        let Some(rel) = Self::cgroup_rel(path) else {
            return Ok(());
        };
        self.change(|m| {
            if m.cgroups.contains_key(&rel) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            let parent = rel.rsplit_once('/').map_or("", |(p, _)| p);
            if !parent.is_empty() && !m.cgroups.contains_key(parent) {
                return Err(enoent());
            }
            m.cgroups.insert(rel, Self::fresh_cgroup());
            Ok(())
        })
    }

    fn kfs_write(&self, path: &Path, value: &str) -> io::Result<()> {
        let p = text(path);
        if let Some(key) = p.strip_prefix("/proc/sys/") {
            let pid = me();
            return self.change(|m| {
                let net = m.ns_of(pid)["net"];
                m.sysctls.insert(
                    format!("{} (net:[{net}])", key.replace('/', ".")),
                    value.into(),
                );
                Ok(())
            });
        }
        if p.starts_with("/proc/") {
            return Ok(()); // oom_score_adj and the like: the process's own, nothing to model
        }
        let Some(rel) = Self::cgroup_rel(path) else {
            return Err(enoent());
        };
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let (dir, file, value) = (dir.to_string(), file.to_string(), value.trim().to_string());
        let writer = me();
        let stop = self.change(|m| {
            let files = m.cgroups.get_mut(&dir).ok_or_else(enoent)?;
            match file.as_str() {
                "cgroup.procs" | "tasks" => {
                    // `0` is the writer itself (the init moving itself in, `init.cgroup`).
                    let pid = match value.parse::<i32>().map_err(|_| einval())? {
                        0 => writer,
                        p => p,
                    };
                    let value = pid.to_string();
                    let procs = files.entry(file.clone()).or_default();
                    if !procs.lines().any(|l| l == value) {
                        procs.push_str(&format!("{value}\n"));
                    }
                    m.process(pid, 0, "").cgroup = dir.clone();
                    Ok(None)
                }
                "cgroup.freeze" | "freezer.state" => {
                    let frozen = value == "1" || value == "FROZEN";
                    files.insert(file.clone(), value.clone());
                    // The kernel reports the state it reached (immediately, in the model).
                    files.insert(
                        "cgroup.events".into(),
                        format!("populated 1\nfrozen {}\n", u8::from(frozen)),
                    );
                    let pids: Vec<i32> = m
                        .processes
                        .values()
                        .filter(|p| p.cgroup == dir && p.real > 0)
                        .map(|p| p.real)
                        .collect();
                    Ok(Some((frozen, pids)))
                }
                "devices.allow" | "devices.deny" => {
                    let v = files.entry(file.clone()).or_default();
                    v.push_str(&format!("{value}\n"));
                    Ok(None)
                }
                _ => {
                    files.insert(file.clone(), value.clone());
                    Ok(None)
                }
            }
        })?;
        // Freezing really stops the (real) processes of the modelled cgroup.
        if let Some((frozen, pids)) = stop {
            let sig = if frozen {
                Signal::SIGSTOP
            } else {
                Signal::SIGCONT
            };
            for pid in pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
        Ok(())
    }

    fn kfs_read(&self, path: &Path) -> io::Result<String> {
        let p = text(path);
        if p == "/proc/self/cgroup" {
            let m = self.snapshot()?;
            // In a cgroup namespace of its own, a process sees its cgroup as the root.
            let ns = m.ns_of(me());
            if ns.get("cgroup") != m.host_ns.get("cgroup") {
                return Ok("0::/\n".into());
            }
            let cg = m
                .processes
                .get(&me())
                .map(|p| p.cgroup.clone())
                .unwrap_or_default();
            return Ok(format!("0::/{cg}\n"));
        }
        let m = self.snapshot()?;
        if let Some(key) = p.strip_prefix("/proc/sys/") {
            let key = key.replace('/', ".");
            return m
                .sysctls
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{key} ")))
                .map(|(_, v)| v.clone())
                .ok_or_else(enoent);
        }
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        if file == "cgroup.procs" {
            // Only the live ones, as the kernel lists them.
            let live: Vec<String> = m
                .processes
                .values()
                .filter(|p| p.cgroup == dir)
                .map(|p| p.pid.to_string())
                .collect();
            return Ok(live.iter().map(|p| format!("{p}\n")).collect());
        }
        m.cgroups
            .get(dir)
            .and_then(|f| f.get(file))
            .cloned()
            .ok_or_else(enoent)
    }

    fn kfs_rmdir(&self, path: &Path) -> io::Result<()> {
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        self.change(|m| {
            if !m.cgroups.contains_key(&rel) {
                return Err(enoent());
            }
            let busy = m.processes.values().any(|p| p.cgroup == rel)
                || m.cgroups.keys().any(|k| k.starts_with(&format!("{rel}/")));
            if busy {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            m.cgroups.remove(&rel);
            Ok(())
        })
    }

    fn kfs_subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let rel = Self::cgroup_rel(path).ok_or_else(enoent)?;
        let m = self.snapshot()?;
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        Ok(m.cgroups
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|r| !r.is_empty() && !r.contains('/'))
            .map(|r| path.join(r))
            .collect())
    }

    fn kfs_exists(&self, path: &Path) -> bool {
        let Some(rel) = Self::cgroup_rel(path) else {
            return false;
        };
        let Ok(m) = self.store.load() else {
            return false;
        };
        if m.cgroups.contains_key(&rel) {
            return true;
        }
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        m.cgroups.get(dir).is_some_and(|f| f.contains_key(file))
    }
}
