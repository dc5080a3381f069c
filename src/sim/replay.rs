//! A recorded trace replayed into the host model: every kernel event of every span (`clone`,
//! `mount(overlay)`, `pivot_root`, `mkdir` and `write` in cgroupfs, `ip link add veth …`,
//! `iptables add`, `waitpid`, `rmdir`, …) is applied to a [`HostModel`] in the order it happened,
//! and each phase gets the change it made to the host, in the words of `ctrace sim host`. The
//! book's step-through player shows these changes phase by phase, so a reader sees the mounts,
//! namespaces, cgroups, links and processes appear and go as the trace goes.
//!
//! Not here: recording (the engine's phases emit the events), showing (the book's player).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::model::{HostModel, Mount};
use super::view;
use crate::trace::format::{EventRecord, SpanRecord, TraceFile};

/// The stand-in pid of the ctrace process itself (the trace does not record it).
const CTRACE_PID: i32 = -1;

/// One phase of the trace and what it changed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub process: String,
    /// Offset from the trace's start and duration, in milliseconds.
    pub start_ms: f64,
    pub duration_ms: f64,
    pub note: String,
    pub status: String,
    /// The kernel events of the span, in order (their names).
    pub events: Vec<String>,
    /// Section (`processes`, `mounts`, `cgroups`, `network`, `iptables`) → lines added/removed.
    pub added: BTreeMap<String, Vec<String>>,
    pub removed: BTreeMap<String, Vec<String>>,
}

/// Replays `trace` and returns its steps in start order.
pub fn replay(trace: &TraceFile) -> Vec<Step> {
    let mut spans: Vec<&SpanRecord> = trace.spans.iter().collect();
    spans.sort_by_key(|s| (s.start_unix_ns, crate::lessons::catalog::order(&s.name)));
    let mut r = Replayer::default();
    r.m.process(CTRACE_PID, 0, "ctrace (engine)");
    r.live.insert(CTRACE_PID);
    let origin = trace.started_unix_ns;
    let mut steps = Vec::new();
    for span in spans {
        let before = sections(&r.m);
        for e in &span.events {
            r.apply(span, e);
        }
        // A replayed process plays itself: its pid is the trace's.
        for p in r.m.processes.values_mut() {
            p.real = p.pid;
        }
        r.m.collect(|pid| r.live.contains(&pid));
        let after = sections(&r.m);
        let (added, removed) = diff(&before, &after);
        steps.push(Step {
            name: span.name.clone(),
            process: span.process.clone(),
            start_ms: span.start_unix_ns.saturating_sub(origin) as f64 / 1e6,
            duration_ms: span.duration_ns as f64 / 1e6,
            note: span.attr_str("note").unwrap_or_default().to_string(),
            status: span.status.clone(),
            events: span.events.iter().map(|e| e.name.clone()).collect(),
            added,
            removed,
        });
    }
    steps
}

/// The model as sets of lines per section.
fn sections(m: &HostModel) -> BTreeMap<String, BTreeSet<String>> {
    use view::Part::*;
    [
        ("processes", Processes),
        ("mounts", Mounts),
        ("cgroups", Cgroups),
        ("network", Network),
        ("iptables", Firewall),
    ]
    .into_iter()
    .map(|(name, part)| {
        let lines = view::render(m, part)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(char::is_uppercase))
            .map(|l| shorten_ids(l.trim()))
            .collect();
        (name.to_string(), lines)
    })
    .collect()
}

/// 64-hex ids (containers, layers) shortened to docker's 12 characters.
fn shorten_ids(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut run = String::new();
    for c in line.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        if run.len() == 64 {
            out += &run[..12];
            out.push('…');
        } else {
            out += &run;
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

type Lines = BTreeMap<String, Vec<String>>;

fn diff(
    before: &BTreeMap<String, BTreeSet<String>>,
    after: &BTreeMap<String, BTreeSet<String>>,
) -> (Lines, Lines) {
    let mut added = BTreeMap::new();
    let mut removed = BTreeMap::new();
    for (k, a) in after {
        let b = before.get(k).cloned().unwrap_or_default();
        let plus: Vec<String> = a.difference(&b).cloned().collect();
        let minus: Vec<String> = b.difference(a).cloned().collect();
        if !plus.is_empty() {
            added.insert(k.clone(), plus);
        }
        if !minus.is_empty() {
            removed.insert(k.clone(), minus);
        }
    }
    (added, removed)
}

/// Replay state: the model, the processes still alive, who is who.
#[derive(Default)]
struct Replayer {
    m: HostModel,
    live: BTreeSet<i32>,
    shim: Option<i32>,
    init: Option<i32>,
    /// The network namespace the last `start.network.init` bound (the container's).
    netns: Option<String>,
}

/// An attribute as plain text (Debug-quoted paths lose their quotes).
fn attr(e: &EventRecord, key: &str) -> String {
    match e.attrs.get(key) {
        Some(Value::String(s)) => s.trim_matches('"').to_string(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

fn flags_to_options(flags: &str) -> String {
    let mut o = Vec::new();
    for (f, name) in [
        ("MS_RDONLY", "ro"),
        ("MS_NOSUID", "nosuid"),
        ("MS_NODEV", "nodev"),
        ("MS_NOEXEC", "noexec"),
        ("MS_BIND", "bind"),
        ("MS_REC", "rec"),
    ] {
        if flags.contains(f) {
            o.push(name);
        }
    }
    if !o.contains(&"ro") {
        o.insert(0, "rw");
    }
    o.join(",")
}

impl Replayer {
    fn pid_of(&self, span: &SpanRecord) -> i32 {
        match span.process.as_str() {
            "init" => self.init.unwrap_or(CTRACE_PID),
            "shim" => self.shim.unwrap_or(CTRACE_PID),
            _ => CTRACE_PID,
        }
    }

    fn apply(&mut self, span: &SpanRecord, e: &EventRecord) {
        let pid = self.pid_of(span);
        let pid_attr = || attr(e, "pid").parse::<i32>().ok();
        match e.name.as_str() {
            "fork+exec ctrace shim, setsid" => {
                if let Some(p) = pid_attr() {
                    self.live.insert(CTRACE_PID);
                    self.m.process(p, CTRACE_PID, "ctrace shim");
                    self.live.insert(p);
                    self.shim = Some(p);
                }
            }
            "clone" => {
                if let Some(p) = pid_attr() {
                    self.m.process(p, pid, "init (container)");
                    self.live.insert(p);
                    self.init = Some(p);
                    let flags = attr(e, "flags");
                    let kinds: Vec<&str> = [
                        ("CLONE_NEWNS", "mnt"),
                        ("CLONE_NEWPID", "pid"),
                        ("CLONE_NEWUTS", "uts"),
                        ("CLONE_NEWIPC", "ipc"),
                        ("CLONE_NEWNET", "net"),
                        ("CLONE_NEWCGROUP", "cgroup"),
                        ("CLONE_NEWUSER", "user"),
                    ]
                    .iter()
                    .filter(|(f, _)| flags.contains(f))
                    .map(|(_, k)| *k)
                    .collect();
                    self.m.unshare(p, &kinds);
                }
            }
            "unshare(CLONE_NEWNET)" => {
                self.live.insert(pid);
                self.m.unshare(pid, &["net"]);
            }
            "unshare(CLONE_NEWCGROUP)" => self.m.unshare(pid, &["cgroup"]),
            "mount(/proc/thread-self/ns/net, MS_BIND)" => {
                let path = attr(e, "path");
                let ino = self.m.ns_of(pid)["net"];
                self.m.named_netns.insert(path.clone(), ino);
                self.m.mount(
                    CTRACE_PID,
                    Mount {
                        ns: 0,
                        target: path.clone(),
                        fstype: "nsfs".into(),
                        source: format!("net:[{ino}]"),
                        options: "rw,bind".into(),
                    },
                );
                self.netns = Some(path);
            }
            "setns(host netns)" => {
                let host = self.m.host_ns["net"];
                self.m.setns(pid, "net", host);
            }
            "setns(Network)" => {
                if let Some(ino) = self.m.netns_at(&attr(e, "path")) {
                    self.m.setns(pid, "net", ino);
                }
            }
            "mount(overlay)" => self.m.mount(
                pid,
                Mount {
                    ns: 0,
                    target: attr(e, "target"),
                    fstype: "overlay".into(),
                    source: "overlay".into(),
                    options: format!("rw,{}", attr(e, "options")),
                },
            ),
            n if n.starts_with("mount(") && n != "mount(propagation)" => self.mount(pid, e),
            "pivot_root" => {
                let new_root = attr(e, "new_root");
                self.m
                    .pivot_root(pid, &new_root, &format!("{new_root}/.pivot_old"));
            }
            "umount2" if attr(e, "old_root") == "." => {
                let _ = self.m.umount(pid, "/.pivot_old", true);
            }
            "umount2(MNT_DETACH)" | "umount2(netns, MNT_DETACH)" => {
                let target = match attr(e, "target") {
                    t if t.is_empty() => attr(e, "path"),
                    t => t,
                };
                let _ = self.m.umount(pid, &target, true);
            }
            // The init moving itself in (`init.cgroup`): `0` means the writer.
            "write tasks" | "write cgroup.procs" if attr(e, "value") == "0" => {
                if let Some(rel) = Self::cgroup_rel(&attr(e, "path")) {
                    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
                    self.m.process(pid, 0, "").cgroup = dir.clone();
                    self.m
                        .cgroups
                        .entry(dir)
                        .or_default()
                        .insert("cgroup.procs".into(), pid.to_string());
                }
            }
            "mkdir" | "rmdir" | "write cgroup.procs" => self.cgroup_dir(e),
            n if n.starts_with("write ") => self.cgroup_write(e),
            "sethostname" => {
                let uts = self.m.ns_of(pid)["uts"];
                self.m.hostnames.insert(uts, attr(e, "hostname"));
            }
            "ip link add type bridge" => {
                let net = self.m.host_ns["net"];
                self.m.add_link(&attr(e, "dev"), "bridge", net);
            }
            "ip link add veth peer eth0 netns" => self.veth(e),
            "ip link set up" | "ip link set lo up" => {
                let dev = attr(e, "dev");
                let host = self.m.host_ns["net"];
                let ns = if self.m.link(host, &dev).is_some() {
                    host
                } else {
                    self.container_net()
                };
                self.m.set_up(ns, &dev);
            }
            "ip addr add" => {
                let ns = self.container_net();
                self.m.add_addr(ns, &attr(e, "dev"), &attr(e, "addr"));
            }
            "ip route add default" => {
                let netns = self.container_net();
                self.m.routes.push(super::model::Route {
                    netns,
                    dest: "default".into(),
                    via: attr(e, "via"),
                    dev: attr(e, "dev"),
                });
            }
            "iptables add" => self.m.iptables.push(attr(e, "rule")),
            "iptables delete" => {
                let rule = attr(e, "rule");
                self.m.iptables.retain(|r| *r != rule);
            }
            "waitpid" => {
                if let Some(p) = pid_attr() {
                    self.live.remove(&p);
                }
            }
            _ => {}
        }
    }

    fn container_net(&self) -> u64 {
        self.netns
            .as_deref()
            .and_then(|p| self.m.netns_at(p))
            .unwrap_or(self.m.host_ns["net"])
    }

    fn mount(&mut self, pid: i32, e: &EventRecord) {
        let kind = e
            .name
            .trim_start_matches("mount(")
            .split(')')
            .next()
            .unwrap_or("");
        let mask = e.name.ends_with(" mask");
        let flags = attr(e, "flags");
        let mut options = flags_to_options(&flags);
        let data = attr(e, "data");
        if !data.is_empty() {
            options = format!("{options},{data}");
        }
        let (fstype, source) = match kind {
            "bind" => ("none".to_string(), attr(e, "src")),
            "remount" => ("none".to_string(), String::new()),
            k => (k.to_string(), k.to_string()),
        };
        if kind == "bind" {
            options = format!("{options},bind");
        }
        if kind == "remount" {
            options = format!("{options},remount");
        }
        if mask {
            options = format!("{options},masked");
        }
        self.m.mount(
            pid,
            Mount {
                ns: 0,
                target: attr(e, "dst"),
                fstype,
                source,
                options,
            },
        );
    }

    fn veth(&mut self, e: &EventRecord) {
        let host = self.m.host_ns["net"];
        let master = attr(e, "master");
        let bridge = match self.m.link(host, &master) {
            Some(b) => b.index,
            None => self.m.add_link(&master, "bridge", host),
        };
        let dev = attr(e, "dev");
        let a = self.m.add_link(&dev, "veth", host);
        let ns = self.container_net();
        let b = self.m.add_link(&attr(e, "peer"), "veth", ns);
        for l in self.m.links.iter_mut() {
            if l.index == a {
                l.peer = Some(b);
                l.master = Some(bridge);
            } else if l.index == b {
                l.peer = Some(a);
            }
        }
    }

    fn cgroup_rel(path: &str) -> Option<String> {
        path.strip_prefix("/sys/fs/cgroup/")
            .map(|p| p.trim_end_matches('/').to_string())
    }

    fn cgroup_dir(&mut self, e: &EventRecord) {
        let path = attr(e, "path");
        match e.name.as_str() {
            "mkdir" => {
                if let Some(rel) = Self::cgroup_rel(&path) {
                    self.m.cgroups.entry(rel).or_default();
                }
            }
            "rmdir" => {
                if let Some(rel) = Self::cgroup_rel(&path) {
                    self.m.cgroups.remove(&rel);
                }
            }
            _ => {
                let rel = attr(e, "cgroup").trim_start_matches('/').to_string();
                self.m
                    .cgroups
                    .entry(rel)
                    .or_default()
                    .insert("cgroup.procs".into(), "(exec joined)".into());
            }
        }
    }

    fn cgroup_write(&mut self, e: &EventRecord) {
        let path = attr(e, "path");
        let Some(rel) = Self::cgroup_rel(&path) else {
            return;
        };
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let value = attr(e, "value");
        let files = self.m.cgroups.entry(dir.to_string()).or_default();
        match files.get_mut(file) {
            // devices.allow is a list of rules, each write adds one.
            Some(v) if file == "devices.allow" => *v = format!("{v}\n{value}"),
            _ => {
                files.insert(file.to_string(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(name: &str) -> TraceFile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("traces")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn added(steps: &[Step], phase: &str, section: &str) -> Vec<String> {
        steps
            .iter()
            .filter(|s| s.name == phase)
            .flat_map(|s| s.added.get(section).cloned().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_recorded_run_replays_into_mounts_namespaces_cgroups_and_their_removal() {
        let steps = replay(&recorded("run-echo.json"));
        let mount = added(&steps, "start.mount", "mounts");
        assert!(mount.iter().any(|l| l.contains("overlay")), "{mount:?}");
        let clone = added(&steps, "runtime.clone", "processes");
        assert!(
            clone.iter().any(|l| l.contains("init (container)")),
            "{clone:?}"
        );
        let cg = added(&steps, "runtime.cgroup", "cgroups");
        assert!(
            cg.iter()
                .any(|l| l.contains("/sys/fs/cgroup/memory/ctrace")),
            "{cg:?}"
        );
        let init = added(&steps, "init.mounts", "mounts");
        assert!(init.iter().any(|l| l.contains("proc")), "{init:?}");
        // After the exit the container's mounts and cgroups are gone again.
        let cleaned: Vec<String> = steps
            .iter()
            .filter(|s| s.name == "exit.cgroup")
            .flat_map(|s| s.removed.get("cgroups").cloned().unwrap_or_default())
            .collect();
        assert!(!cleaned.is_empty());
    }

    #[test]
    fn a_published_port_replays_into_a_veth_pair_an_address_and_a_dnat_rule() {
        let steps = replay(&recorded("run-publish.json"));
        let net = added(&steps, "start.network.attach", "network");
        assert!(net.iter().any(|l| l.contains("master")), "{net:?}");
        assert!(net.iter().any(|l| l.starts_with("inet ")), "{net:?}");
        let fw = added(&steps, "start.network.attach", "iptables");
        assert!(fw.iter().any(|l| l.contains("DNAT")), "{fw:?}");
    }
}
