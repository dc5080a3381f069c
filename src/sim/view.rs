//! The modelled host, shown the way the real one is looked at: `findmnt`-like mount tables per
//! mount namespace, `lsns`-like namespaces per process, the cgroup tree with its limit files
//! (`ls /sys/fs/cgroup/...`), `ip link`/`ip addr`/`ip route` per network namespace, and
//! `iptables -S`. `ctrace sim host` prints it; `--step`'s live-state key shows it in a simulated
//! run.
//!
//! Not here: changing the model ([`super::model`]).

use std::fmt::Write;

use super::model::HostModel;

/// Which part to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    All,
    Processes,
    Mounts,
    Cgroups,
    Network,
    Firewall,
}

impl Part {
    pub fn parse(s: &str) -> Result<Part, String> {
        Ok(match s {
            "all" => Part::All,
            "ps" | "processes" => Part::Processes,
            "mounts" | "findmnt" => Part::Mounts,
            "cgroups" | "cgroup" => Part::Cgroups,
            "net" | "network" | "ip" => Part::Network,
            "iptables" | "firewall" => Part::Firewall,
            other => {
                return Err(format!(
                "unknown part {other:?} of the simulated host: use all, processes, mounts, cgroups, network or iptables"
            ))
            }
        })
    }
}

/// The model as text.
pub fn render(m: &HostModel, part: Part) -> String {
    let mut s = String::new();
    let all = part == Part::All;
    if all || part == Part::Processes {
        processes(m, &mut s);
    }
    if all || part == Part::Mounts {
        mounts(m, &mut s);
    }
    if all || part == Part::Cgroups {
        cgroups(m, &mut s);
    }
    if all || part == Part::Network {
        network(m, &mut s);
    }
    if all || part == Part::Firewall {
        firewall(m, &mut s);
    }
    s
}

fn ns_label(m: &HostModel, kind: &str, ino: u64) -> String {
    if m.host_ns.get(kind) == Some(&ino) {
        format!("{kind}:[{ino}] (host)")
    } else {
        format!("{kind}:[{ino}]")
    }
}

fn processes(m: &HostModel, s: &mut String) {
    let _ = writeln!(s, "PROCESSES (ps -o pid,ppid,cmd; ls -l /proc/PID/ns)");
    if m.processes.is_empty() {
        let _ = writeln!(s, "  (no container processes)");
    }
    for p in m.processes.values() {
        let _ = writeln!(s, "  {:>7} {:>7}  {}", p.pid, p.ppid, p.command);
        let own: Vec<String> =
            p.ns.iter()
                .filter(|(k, v)| m.host_ns.get(*k) != Some(v))
                .map(|(k, v)| ns_label(m, k, *v))
                .collect();
        if !own.is_empty() {
            let _ = writeln!(s, "                   namespaces {}", own.join(" "));
        }
        if !p.cgroup.is_empty() {
            let _ = writeln!(s, "                   cgroup     {}", p.cgroup);
        }
        if !p.root.is_empty() {
            let _ = writeln!(
                s,
                "                   root       {} (after pivot_root)",
                p.root
            );
        }
    }
    s.push('\n');
}

fn mounts(m: &HostModel, s: &mut String) {
    let mut namespaces: Vec<u64> = m.mounts.iter().map(|e| e.ns).collect();
    namespaces.dedup();
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces {
        let _ = writeln!(s, "MOUNTS in {} (findmnt -N)", ns_label(m, "mnt", ns));
        let _ = writeln!(
            s,
            "  {:<44} {:<10} {:<14} OPTIONS",
            "TARGET", "FSTYPE", "SOURCE"
        );
        for e in m.mounts.iter().filter(|e| e.ns == ns) {
            let _ = writeln!(
                s,
                "  {:<44} {:<10} {:<14} {}",
                e.target, e.fstype, e.source, e.options
            );
        }
        s.push('\n');
    }
}

fn cgroups(m: &HostModel, s: &mut String) {
    let _ = writeln!(s, "CGROUPS (ls /sys/fs/cgroup/…; cat the limit files)");
    for (dir, files) in &m.cgroups {
        let _ = writeln!(s, "  /sys/fs/cgroup/{dir}");
        for (f, v) in files {
            let v = v.trim_end();
            let v = if v.contains('\n') {
                v.replace('\n', " | ")
            } else {
                v.to_string()
            };
            let _ = writeln!(s, "      {f:<24} {v}");
        }
    }
    s.push('\n');
}

fn network(m: &HostModel, s: &mut String) {
    let mut spaces: Vec<u64> = m.links.iter().map(|l| l.netns).collect();
    spaces.sort();
    spaces.dedup();
    for ns in spaces {
        let named = m
            .named_netns
            .iter()
            .find(|(_, v)| **v == ns)
            .map(|(k, _)| format!(" bound at {k}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "NETWORK {}{named} (ip addr; ip route)",
            ns_label(m, "net", ns)
        );
        for l in m.links.iter().filter(|l| l.netns == ns) {
            let peer = l
                .peer
                .and_then(|p| m.links.iter().find(|x| x.index == p))
                .map(|p| format!("@if{}", p.index))
                .unwrap_or_default();
            let master = l
                .master
                .and_then(|p| m.links.iter().find(|x| x.index == p))
                .map(|b| format!(" master {}", b.name))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {}: {}{peer}: <{}> {}{master}",
                l.index,
                l.name,
                if l.up { "UP" } else { "DOWN" },
                l.kind
            );
            let _ = writeln!(s, "      link/ether {}", l.mac);
            for a in &l.addrs {
                let _ = writeln!(s, "      inet {a}");
            }
        }
        for r in m.routes.iter().filter(|r| r.netns == ns) {
            let via = if r.via.is_empty() {
                String::new()
            } else {
                format!(" via {}", r.via)
            };
            let _ = writeln!(s, "  route: {}{via} dev {}", r.dest, r.dev);
        }
        s.push('\n');
    }
}

fn firewall(m: &HostModel, s: &mut String) {
    let _ = writeln!(s, "IPTABLES (iptables -t TABLE -S)");
    if m.iptables.is_empty() {
        let _ = writeln!(s, "  (no rules)");
    }
    for r in &m.iptables {
        let _ = writeln!(s, "  {r}");
    }
    if !m.sysctls.is_empty() {
        let _ = writeln!(s, "\nSYSCTLS");
        for (k, v) in &m.sysctls {
            let _ = writeln!(s, "  {k} = {}", v.trim());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_host_shows_its_root_mount_loopback_and_no_container() {
        let m = HostModel::default();
        let text = render(&m, Part::All);
        assert!(text.contains("(no container processes)"));
        assert!(text.contains("/sys/fs/cgroup"));
        assert!(text.contains("lo: <UP> loopback"), "{text}");
        assert!(text.contains("(no rules)"));
        assert!(Part::parse("bogus").unwrap_err().contains("use all"));
    }
}
