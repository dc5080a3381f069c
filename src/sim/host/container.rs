//! What a simulated container's process sees of its host, from the model.

use std::io::Write;

use super::SimHost;
use crate::sim::model::HostModel;
use crate::sim::shell::Container;
use crate::sim::vfs;

/// What a simulated container's process sees, from the model.
pub(super) struct SimContainer<'a> {
    pub(super) host: &'a SimHost,
    pub(super) pid: i32,
}

impl SimContainer<'_> {
    fn model(&self) -> HostModel {
        self.host.store.load().unwrap_or_default()
    }

    fn cgroup_file(&self, names: &[&str]) -> Option<String> {
        let m = self.model();
        let cg = m.processes.get(&self.pid)?.cgroup.clone();
        let files = m.cgroups.get(&cg)?;
        names.iter().find_map(|n| files.get(*n).cloned())
    }

    fn limit(&self, names: &[&str]) -> Option<u64> {
        self.cgroup_file(names)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|v| *v < (1 << 62))
    }
}

impl Container for SimContainer<'_> {
    fn hostname(&self) -> String {
        let m = self.model();
        let uts = m.ns_of(self.pid)["uts"];
        m.hostnames.get(&uts).cloned().unwrap_or_default()
    }

    fn read(&self, path: &str) -> Option<String> {
        let m = self.model();
        match path {
            "/proc/self/cgroup" | "/proc/1/cgroup" => {
                return Some("0::/\n".into());
            }
            "/proc/self/status" | "/proc/1/status" => {
                let filtered = m.processes.get(&self.pid).is_some_and(|p| p.seccomp > 0);
                let mode = if filtered { 2 } else { 0 };
                return Some(format!(
                    "Name:\tsh\nState:\tR (running)\nPid:\t1\nNoNewPrivs:\t1\nSeccomp:\t{mode}\nSeccomp_filters:\t{}\n",
                    u8::from(filtered)
                ));
            }
            "/etc/hostname" => {
                if let Some(t) = vfs::read(&m, self.pid, path) {
                    return Some(t);
                }
                return Some(format!("{}\n", self.hostname()));
            }
            _ => {}
        }
        if let Some(key) = path.strip_prefix("/proc/sys/") {
            let key = key.replace('/', ".");
            return m
                .sysctls
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{key} ")))
                .map(|(_, v)| format!("{v}\n"));
        }
        if let Some(f) = path.strip_prefix("/sys/fs/cgroup/") {
            return self
                .cgroup_file(&[f])
                .map(|v| format!("{}\n", v.trim_end()));
        }
        vfs::read(&m, self.pid, path)
    }

    fn list(&self, path: &str) -> Option<Vec<String>> {
        vfs::list(&self.model(), self.pid, path)
    }

    fn addresses(&self) -> Vec<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        let mut out = Vec::new();
        for l in m.links.iter().filter(|l| l.netns == net) {
            out.push(format!(
                "{}: {}: <{}> mtu {}",
                l.index,
                l.name,
                if l.up { "UP,LOWER_UP" } else { "DOWN" },
                if l.kind == "loopback" { 65536 } else { 1500 }
            ));
            out.push(format!("    link/ether {}", l.mac));
            for a in &l.addrs {
                out.push(format!("    inet {a} scope global {}", l.name));
            }
        }
        out
    }

    fn routes(&self) -> Vec<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        m.routes
            .iter()
            .filter(|r| r.netns == net)
            .map(|r| format!("{} via {} dev {}", r.dest, r.via, r.dev))
            .collect()
    }

    fn processes(&self) -> Vec<(i32, String)> {
        let m = self.model();
        let pidns = m.ns_of(self.pid)["pid"];
        let mut v: Vec<(i32, String)> = m
            .processes
            .values()
            .filter(|p| p.ns.get("pid") == Some(&pidns))
            .enumerate()
            .map(|(i, p)| (i as i32 + 1, p.command.clone()))
            .collect();
        v.push((v.len() as i32 + 1, "ps".into()));
        v
    }

    fn reach(&self, host: &str) -> Option<String> {
        let m = self.model();
        let net = m.ns_of(self.pid)["net"];
        if matches!(host, "localhost" | "127.0.0.1") {
            return Some("127.0.0.1".into());
        }
        // Its own addresses, and from a bridged container the bridge (the gateway) and the other
        // containers on it, by address: docker's default bridge resolves no container names.
        let bridged = m.links.iter().any(|l| l.netns == net && l.kind == "veth");
        m.links
            .iter()
            .filter(|l| l.netns == net || (bridged && matches!(l.kind.as_str(), "veth" | "bridge")))
            .flat_map(|l| l.addrs.iter())
            .map(|a| a.split('/').next().unwrap_or("").to_string())
            .find(|ip| ip == host)
    }

    fn memory_limit(&self) -> Option<u64> {
        self.limit(&["memory.max", "memory.limit_in_bytes"])
    }

    fn pids_limit(&self) -> Option<u64> {
        self.limit(&["pids.max"])
    }

    fn oom_kill(&self) {
        let pid = self.pid;
        let _ = self.host.change(|m| {
            let cg = m
                .processes
                .get(&pid)
                .map(|p| p.cgroup.clone())
                .unwrap_or_default();
            if let Some(files) = m.cgroups.get_mut(&cg) {
                files.insert(
                    "memory.events".into(),
                    "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n".into(),
                );
                files.insert(
                    "memory.oom_control".into(),
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n".into(),
                );
            }
            Ok(())
        });
    }

    fn serve_http(&self, port: u16, out: &mut dyn Write) -> ! {
        let pid = self.pid;
        let _ = self.host.change(|m| {
            let netns = m.ns_of(pid)["net"];
            m.listeners.push((netns, port, pid));
            Ok(())
        });
        let _ = writeln!(out, "httpd: listening on port {port}");
        let _ = out.flush();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
