//! The modelled host: what the kernel would hold after the effects a simulated run asked for —
//! processes and their namespaces (with inode numbers), the mount table of each mount namespace,
//! the cgroup tree with its files, network namespaces, links (bridge, veth, lo), addresses,
//! routes, iptables rules and sysctls.
//!
//! It is kept as one JSON file in the simulator's directory, read and written under a lock, so
//! every process of a simulated session (the CLI, later CLIs, the shims, the inits) sees one host,
//! and `ctrace sim host` can show it at any time. Like the kernel, it forgets what nobody holds
//! any more: a namespace lives while a live process is in it (or, for a network namespace, while
//! it is bind-mounted), and its mounts and links go with it ([`HostModel::collect`]).
//!
//! Not here: deciding what to mount or create (the engine's phases do, through the `Host` seam),
//! or showing the model ([`super::view`]).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The inode of the first namespace the model hands out (the kernel's start at 0xF0000000).
const FIRST_NS_INODE: u64 = 4_026_531_840;

/// The range of modelled pids (the kernel's defaults: `RESERVED_PIDS` and `pid_max`).
const PID_MIN: i32 = 300;
const PID_MAX: i32 = 32_768;

/// The kinds of namespace, by their `/proc/<pid>/ns/` names.
pub const NS_KINDS: [&str; 7] = ["mnt", "uts", "ipc", "pid", "net", "cgroup", "user"];

/// One mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// The mount namespace it is in.
    pub ns: u64,
    pub target: String,
    pub fstype: String,
    pub source: String,
    /// Flags as `mount -o` would show them (`ro,nosuid,bind`) plus the filesystem data.
    pub options: String,
}

/// One process the simulator knows about. The simulated host has its own pid space: `pid` and
/// `ppid` are the modelled numbers every output shows; `real` is the operating system's process
/// that plays it (0 while it is being born: registered before the fork that makes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    #[serde(default)]
    pub real: i32,
    /// What it is: `shim`, `init`, or the command it runs.
    pub command: String,
    /// Namespace kind → inode.
    pub ns: BTreeMap<String, u64>,
    /// The cgroup it was moved into (a path under the cgroup root), if any.
    #[serde(default)]
    pub cgroup: String,
    /// Its root after `pivot_root` (empty: the host's).
    #[serde(default)]
    pub root: String,
    /// Instructions of the seccomp filter it loaded (0: none, `Seccomp: 0` in its status).
    #[serde(default)]
    pub seccomp: usize,
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub index: i32,
    pub name: String,
    /// `bridge`, `veth`, `loopback`.
    pub kind: String,
    /// The network namespace it lives in.
    pub netns: u64,
    pub up: bool,
    #[serde(default)]
    pub mac: String,
    /// The other end of a veth (its index).
    #[serde(default)]
    pub peer: Option<i32>,
    /// The bridge it is attached to (its index).
    #[serde(default)]
    pub master: Option<i32>,
    /// `10.88.0.2/16`, …
    #[serde(default)]
    pub addrs: Vec<String>,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub netns: u64,
    /// `default` or a prefix.
    pub dest: String,
    pub via: String,
    pub dev: String,
}

/// The whole modelled host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostModel {
    next_inode: u64,
    /// The next modelled pid to hand out (0: none handed out yet).
    #[serde(default)]
    next_pid: i32,
    /// The latest modelled time a process of this host has reached (ns since the epoch): a
    /// seeded command continues from it, as the next command a student types does.
    #[serde(default)]
    pub clock_ns: u64,
    next_index: i32,
    /// The host's own namespaces (what pid 1 has).
    pub host_ns: BTreeMap<String, u64>,
    pub processes: BTreeMap<i32, Process>,
    pub mounts: Vec<Mount>,
    /// Network namespaces kept alive by a bind mount: path → inode.
    pub named_netns: BTreeMap<String, u64>,
    /// Cgroup directory (relative to the cgroup root) → file → content.
    pub cgroups: BTreeMap<String, BTreeMap<String, String>>,
    pub links: Vec<Link>,
    pub routes: Vec<Route>,
    /// iptables rules as `iptables -S` prints them, with their table: `nat -A POSTROUTING …`.
    pub iptables: Vec<String>,
    /// `/proc/sys/...` path → value.
    pub sysctls: BTreeMap<String, String>,
    /// UTS namespace inode → hostname.
    pub hostnames: BTreeMap<u64, String>,
    /// Listening TCP sockets: `(network namespace, port)` → the listening process.
    #[serde(default)]
    pub listeners: Vec<(u64, u16, i32)>,
}

impl Default for HostModel {
    fn default() -> HostModel {
        let mut m = HostModel {
            next_inode: FIRST_NS_INODE,
            next_pid: 0,
            clock_ns: 0,
            next_index: 1,
            host_ns: BTreeMap::new(),
            processes: BTreeMap::new(),
            mounts: Vec::new(),
            named_netns: BTreeMap::new(),
            cgroups: BTreeMap::new(),
            links: Vec::new(),
            routes: Vec::new(),
            iptables: Vec::new(),
            sysctls: BTreeMap::new(),
            hostnames: BTreeMap::new(),
            listeners: Vec::new(),
        };
        for kind in NS_KINDS {
            let ino = m.inode();
            m.host_ns.insert(kind.to_string(), ino);
        }
        let (mnt, net, uts) = (m.host_ns["mnt"], m.host_ns["net"], m.host_ns["uts"]);
        for (target, fstype, source, options) in [
            ("/", "ext4", "/dev/sda1", "rw,relatime"),
            ("/proc", "proc", "proc", "rw,nosuid,nodev,noexec"),
            ("/sys", "sysfs", "sysfs", "rw,nosuid,nodev,noexec"),
            (
                "/sys/fs/cgroup",
                "cgroup2",
                "cgroup2",
                "rw,nosuid,nodev,noexec",
            ),
            ("/dev", "devtmpfs", "udev", "rw,nosuid"),
            ("/run", "tmpfs", "tmpfs", "rw,nosuid,nodev,mode=755"),
        ] {
            m.mounts.push(Mount {
                ns: mnt,
                target: target.into(),
                fstype: fstype.into(),
                source: source.into(),
                options: options.into(),
            });
        }
        m.add_link("lo", "loopback", net);
        m.set_up(net, "lo");
        m.add_addr(net, "lo", "127.0.0.1/8");
        m.add_link("eth0", "ethernet", net);
        m.set_up(net, "eth0");
        m.add_addr(net, "eth0", "192.0.2.10/24");
        m.routes.push(Route {
            netns: net,
            dest: "default".into(),
            via: "192.0.2.1".into(),
            dev: "eth0".into(),
        });
        m.hostnames.insert(uts, "classroom".into());
        let root = m.cgroups.entry(String::new()).or_default();
        root.insert(
            "cgroup.controllers".into(),
            "cpuset cpu io memory hugetlb pids rdma misc".into(),
        );
        root.insert("cgroup.subtree_control".into(), "cpu memory pids".into());
        m
    }
}

/// What `curl` of a simulated host gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// A process listens there: the container (netns) and the port it listens on.
    Listener {
        netns: u64,
        port: u16,
        pid: i32,
    },
    Refused,
}

impl HostModel {
    /// Where a TCP connection from the host to `ip:port` lands: through a published port's DNAT
    /// rule (`localhost:8080` → `10.89.0.2:80`), or to a container's address directly.
    pub fn connect(&self, ip: &str, port: u16) -> Reached {
        let (mut ip, mut port) = (ip.to_string(), port);
        if matches!(ip.as_str(), "localhost" | "127.0.0.1" | "0.0.0.0") {
            let dport = format!("--dport {port} ");
            let dnat = self.iptables.iter().find_map(|r| {
                r.contains("DNAT")
                    .then_some(())
                    .filter(|_| r.contains(&dport))
                    .and_then(|_| r.split("--to-destination ").nth(1))
                    .and_then(|t| t.split_whitespace().next())
                    .and_then(|t| t.split_once(':'))
                    .and_then(|(i, p)| Some((i.to_string(), p.parse::<u16>().ok()?)))
            });
            match dnat {
                Some((i, p)) => (ip, port) = (i, p),
                None => return Reached::Refused,
            }
        }
        let Some(netns) = self.links.iter().find_map(|l| {
            l.addrs
                .iter()
                .any(|a| a.split('/').next() == Some(ip.as_str()))
                .then_some(l.netns)
        }) else {
            return Reached::Refused;
        };
        self.listeners
            .iter()
            .find(|(ns, p, _)| *ns == netns && *p == port)
            .map_or(Reached::Refused, |(_, _, pid)| Reached::Listener {
                netns,
                port,
                pid: *pid,
            })
    }

    /// A fresh namespace inode.
    pub fn inode(&mut self) -> u64 {
        let i = self.next_inode;
        self.next_inode += 1;
        i
    }

    /// A fresh modelled pid, as the kernel hands them out: one after the last, skipping those in
    /// use, wrapping at `pid_max`. The first one of a host is drawn from `first` (a seeded
    /// session's draw, so the same session numbers its processes the same way).
    pub fn new_pid(&mut self, first: impl FnOnce() -> u64) -> i32 {
        if self.next_pid < PID_MIN {
            self.next_pid = PID_MIN + (first() % (PID_MAX - PID_MIN) as u64) as i32;
        }
        loop {
            let pid = self.next_pid;
            self.next_pid = if pid + 1 >= PID_MAX { PID_MIN } else { pid + 1 };
            if !self.processes.contains_key(&pid) {
                return pid;
            }
        }
    }

    /// Registers a process about to be born to `ppid` (before the fork or spawn that makes it,
    /// so the child finds itself in the model from its first instruction); its pid.
    pub fn birth(&mut self, ppid: i32, command: &str, first: impl FnOnce() -> u64) -> i32 {
        let pid = self.new_pid(first);
        self.process(pid, ppid, command);
        pid
    }

    /// The modelled pid the operating system's process `real` plays.
    pub fn pid_of_real(&self, real: i32) -> Option<i32> {
        self.processes
            .values()
            .find(|p| p.real == real && real > 0)
            .map(|p| p.pid)
    }

    /// The namespaces of `pid` (a process the model does not know is in the host's).
    pub fn ns_of(&self, pid: i32) -> BTreeMap<String, u64> {
        self.processes
            .get(&pid)
            .map_or_else(|| self.host_ns.clone(), |p| p.ns.clone())
    }

    /// Makes sure `pid` is known, with its parent's namespaces.
    pub fn process(&mut self, pid: i32, ppid: i32, command: &str) -> &mut Process {
        if !self.processes.contains_key(&pid) {
            let ns = self.ns_of(ppid);
            let cgroup = self
                .processes
                .get(&ppid)
                .map(|p| p.cgroup.clone())
                .unwrap_or_default();
            let root = self
                .processes
                .get(&ppid)
                .map(|p| p.root.clone())
                .unwrap_or_default();
            // A filter is inherited across fork and exec, as the kernel's.
            let seccomp = self.processes.get(&ppid).map_or(0, |p| p.seccomp);
            self.processes.insert(
                pid,
                Process {
                    pid,
                    ppid,
                    real: 0,
                    command: command.into(),
                    ns,
                    cgroup,
                    root,
                    seccomp,
                },
            );
        }
        self.processes.get_mut(&pid).expect("just inserted")
    }

    /// `unshare(kinds)` by `pid`: fresh namespaces of those kinds; a new mount namespace starts
    /// as a copy of the old one's table, a new UTS one with the old hostname.
    pub fn unshare(&mut self, pid: i32, kinds: &[&str]) {
        let old = self.ns_of(pid);
        self.process(pid, 0, "");
        for kind in kinds {
            let ino = self.inode();
            if *kind == "mnt" {
                let copies: Vec<Mount> = self
                    .mounts
                    .iter()
                    .filter(|m| m.ns == old["mnt"])
                    .map(|m| Mount {
                        ns: ino,
                        ..m.clone()
                    })
                    .collect();
                self.mounts.extend(copies);
            }
            if *kind == "uts" {
                let name = self.hostnames.get(&old["uts"]).cloned().unwrap_or_default();
                self.hostnames.insert(ino, name);
            }
            if *kind == "net" {
                self.add_link("lo", "loopback", ino);
            }
            if let Some(p) = self.processes.get_mut(&pid) {
                p.ns.insert(kind.to_string(), ino);
            }
        }
    }

    /// `setns` by `pid` into namespace `ino` of `kind`.
    pub fn setns(&mut self, pid: i32, kind: &str, ino: u64) {
        self.process(pid, 0, "").ns.insert(kind.to_string(), ino);
    }

    /// The network namespace bound at `path`, if any.
    pub fn netns_at(&self, path: &str) -> Option<u64> {
        self.named_netns.get(path).copied()
    }

    /// A mount in `pid`'s mount namespace.
    pub fn mount(&mut self, pid: i32, m: Mount) {
        let ns = self.ns_of(pid)["mnt"];
        let target = clean(&m.target);
        // A remount changes the options of what is there.
        if m.options.split(',').any(|o| o == "remount") {
            if let Some(e) = self
                .mounts
                .iter_mut()
                .rev()
                .find(|e| e.ns == ns && e.target == target)
            {
                e.options = m.options.replace("remount,", "").replace(",remount", "");
            }
            return;
        }
        self.mounts.push(Mount { ns, target, ..m });
    }

    /// `umount` in `pid`'s mount namespace; with `detach`, everything below goes too.
    pub fn umount(&mut self, pid: i32, target: &str, detach: bool) -> io::Result<()> {
        let ns = self.ns_of(pid)["mnt"];
        let target = clean(target);
        let Some(i) = self
            .mounts
            .iter()
            .rposition(|e| e.ns == ns && e.target == target)
        else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        self.mounts.remove(i);
        if detach {
            let below = format!("{}/", target.trim_end_matches('/'));
            self.mounts
                .retain(|e| !(e.ns == ns && e.target.starts_with(&below)));
        }
        // Unmounting a netns bind mount lets the namespace go once nobody is in it.
        self.named_netns.remove(&target);
        Ok(())
    }

    /// `pivot_root(new_root, put_old)` by `pid`: the mounts under `new_root` become the new
    /// tree, the old root moves under `put_old`.
    pub fn pivot_root(&mut self, pid: i32, new_root: &str, put_old: &str) {
        let ns = self.ns_of(pid)["mnt"];
        let new_root = new_root.trim_end_matches('/').to_string();
        let put_old_rel = put_old
            .strip_prefix(&new_root)
            .unwrap_or(put_old)
            .to_string();
        for e in self.mounts.iter_mut().filter(|e| e.ns == ns) {
            if e.target == new_root {
                e.target = "/".into();
            } else if let Some(rest) = e.target.strip_prefix(&format!("{new_root}/")) {
                e.target = format!("/{rest}");
            } else {
                e.target = format!(
                    "{}{}",
                    put_old_rel.trim_end_matches('/'),
                    if e.target == "/" { "" } else { &e.target }
                );
                if e.target.is_empty() {
                    e.target = "/".into();
                }
            }
        }
        self.process(pid, 0, "").root = new_root;
    }

    /// Adds a link in `netns`; returns its index.
    pub fn add_link(&mut self, name: &str, kind: &str, netns: u64) -> i32 {
        // Every network namespace's loopback is index 1, as the kernel numbers it.
        let index = if kind == "loopback" {
            1
        } else {
            self.next_index = self.next_index.max(2);
            self.next_index += 1;
            self.next_index - 1
        };
        let mac = format!(
            "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
            (index >> 24) & 0xff,
            (index >> 16) & 0xff,
            (index >> 8) & 0xff,
            index & 0xff
        );
        self.links.push(Link {
            index,
            name: name.into(),
            kind: kind.into(),
            netns,
            up: false,
            mac,
            peer: None,
            master: None,
            addrs: Vec::new(),
        });
        index
    }

    /// The link `name` in `netns`.
    pub fn link(&mut self, netns: u64, name: &str) -> Option<&mut Link> {
        self.links
            .iter_mut()
            .find(|l| l.netns == netns && l.name == name)
    }

    pub fn set_up(&mut self, netns: u64, name: &str) -> bool {
        self.link(netns, name).map(|l| l.up = true).is_some()
    }

    pub fn add_addr(&mut self, netns: u64, name: &str, cidr: &str) -> bool {
        self.link(netns, name)
            .map(|l| l.addrs.push(cidr.into()))
            .is_some()
    }

    /// Forgets what no live process holds: dead processes (`alive` is asked about the operating
    /// system's pid; one being born lives while its parent does), then namespaces nobody is in
    /// (or, for a network namespace, that is not bind-mounted), with their mounts, links and
    /// routes.
    pub fn collect(&mut self, alive: impl Fn(i32) -> bool) {
        let mut live: std::collections::BTreeSet<i32> = self
            .processes
            .values()
            .filter(|p| p.real != 0 && alive(p.real))
            .map(|p| p.pid)
            .collect();
        // A child being born lives with its parent, who may be being born too (a shim that
        // forks its init before its own parent has recorded which process it is).
        loop {
            let born: Vec<i32> = self
                .processes
                .values()
                .filter(|p| p.real == 0 && !live.contains(&p.pid) && live.contains(&p.ppid))
                .map(|p| p.pid)
                .collect();
            if born.is_empty() {
                break;
            }
            live.extend(born);
        }
        self.processes.retain(|pid, _| live.contains(pid));
        let mut held: std::collections::BTreeSet<u64> = self.host_ns.values().copied().collect();
        for p in self.processes.values() {
            held.extend(p.ns.values().copied());
        }
        held.extend(self.named_netns.values().copied());
        self.mounts.retain(|m| held.contains(&m.ns));
        let dead_links: Vec<i32> = self
            .links
            .iter()
            .filter(|l| !held.contains(&l.netns))
            .map(|l| l.index)
            .collect();
        // A veth dies with its peer.
        self.links.retain(|l| {
            !dead_links.contains(&l.index) && !l.peer.is_some_and(|p| dead_links.contains(&p))
        });
        self.routes.retain(|r| held.contains(&r.netns));
        // A sysctl of a network namespace (`key (net:[ino])`) goes with it.
        self.sysctls.retain(|k, _| {
            k.rsplit_once("(net:[")
                .and_then(|(_, ino)| ino.trim_end_matches("])").parse::<u64>().ok())
                .is_none_or(|ino| held.contains(&ino))
        });
        self.hostnames.retain(|ns, _| held.contains(ns));
        let live: std::collections::BTreeSet<i32> = self.processes.keys().copied().collect();
        self.listeners.retain(|(_, _, pid)| live.contains(pid));
    }
}

/// A path as the model stores it: without a trailing slash, `/` for the root.
fn clean(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        "/".into()
    } else {
        p.into()
    }
}

/// The model on disk: `<dir>/host.json`, changed under an exclusive `flock` of `<dir>/host.lock`.
///
/// Every host call of every process of a session is a change, so a change is kept cheap: the
/// lock file also holds a generation number that each write increments, and a process that
/// still holds the model of the current generation does not read or parse the file again; the
/// file is rewritten in place (no new inode per change, no truncation: a shorter model is padded
/// with spaces, which JSON ignores, to the length the lock file records) and only when the model
/// changed. Not fsynced: the model is a teaching aid, and one torn by a crash is started afresh.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    cache: std::sync::Arc<std::sync::Mutex<Cache>>,
}

/// What a process remembers of the store between changes.
#[derive(Debug, Default)]
struct Cache {
    /// The lock file and `host.json`, opened by this process (`pid`): a forked child opens its
    /// own, since a `flock` is held by an open file, which a child shares with its parent.
    files: Option<(u32, std::fs::File, std::fs::File)>,
    /// The generation and the model (and its bytes) this process last read or wrote.
    generation: u64,
    model: Option<(HostModel, Vec<u8>)>,
}

/// The lock file's header: the generation, then the length of `host.json` (both little-endian).
const HEADER: usize = 16;

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
            cache: Default::default(),
        }
    }

    /// Closes what this process keeps open of the store (the lock file and the model's file):
    /// before an `execve` closes its close-on-exec descriptors, so the cache never holds a closed
    /// one.
    pub fn forget(&self) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.files = None;
        cache.model = None;
    }

    /// Reads the model (a fresh host when there is none yet).
    pub fn load(&self) -> io::Result<HostModel> {
        self.read(HostModel::clone)
    }

    /// Answers `f` from the model under its lock, changing nothing (nothing is serialized or
    /// written).
    pub fn read<T>(&self, f: impl FnOnce(&HostModel) -> T) -> io::Result<T> {
        self.locked(false, |m| Ok(f(m)))
    }

    /// Changes the model under its lock; what `f` returns is handed back.
    pub fn change<T>(&self, f: impl FnOnce(&mut HostModel) -> io::Result<T>) -> io::Result<T> {
        self.locked(true, f)
    }

    /// `f` over the model under its lock; unless `changes`, `f` leaves it as it was.
    fn locked<T>(
        &self,
        changes: bool,
        f: impl FnOnce(&mut HostModel) -> io::Result<T>,
    ) -> io::Result<T> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileExt;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let me = std::process::id();
        if cache.files.as_ref().is_none_or(|(pid, _, _)| *pid != me) {
            std::fs::create_dir_all(&self.dir)?;
            let open = |name: &str| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(self.dir.join(name))
            };
            cache.files = Some((me, open("host.lock")?, open("host.json")?));
            cache.model = None;
        }
        let Cache {
            files,
            generation: held_generation,
            model: held_model,
        } = &mut *cache;
        let (_, lock, file) = files.as_ref().expect("opened above");
        let _held = Held::exclusive(lock.as_raw_fd())?;
        let mut header = [0u8; HEADER];
        let got = lock.read_at(&mut header, 0)?;
        let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().expect("8 bytes"));
        let generation = if got >= 8 { word(0) } else { 0 };
        // The file's length as the last writer left it (unknown from a lock file without it).
        let length = (got >= HEADER).then(|| word(8));
        let (mut m, old) = match held_model.take() {
            Some(held) if generation != 0 && generation == *held_generation => held,
            _ => {
                let mut bytes = std::fs::read(self.dir.join("host.json"))?;
                let trimmed = bytes.trim_ascii_end().len();
                bytes.truncate(trimmed);
                let m = if bytes.is_empty() {
                    HostModel::default()
                } else {
                    serde_json::from_slice(&bytes).unwrap_or_default()
                };
                (m, bytes)
            }
        };
        // Nothing of a failed change is kept (the cached model was taken: the next change reads
        // the file again).
        let out = f(&mut m)?;
        if !changes {
            *held_generation = generation;
            *held_model = Some((m, old));
            return Ok(out);
        }
        let bytes = serde_json::to_vec(&m).map_err(io::Error::other)?;
        let mut generation = generation;
        if bytes != old {
            let mut written = bytes.len() as u64;
            match length {
                Some(len) if len > written => {
                    let pad = vec![b' '; (len - written) as usize];
                    file.write_all_at(&bytes, 0)?;
                    file.write_all_at(&pad, written)?;
                    written = len;
                }
                Some(_) => file.write_all_at(&bytes, 0)?,
                None => {
                    file.write_all_at(&bytes, 0)?;
                    file.set_len(written)?;
                }
            }
            generation = generation.wrapping_add(1).max(1);
            header[..8].copy_from_slice(&generation.to_le_bytes());
            header[8..].copy_from_slice(&written.to_le_bytes());
            lock.write_all_at(&header, 0)?;
        }
        *held_generation = generation;
        *held_model = Some((m, bytes));
        Ok(out)
    }
}

/// An `flock` held on a descriptor that stays open, released on drop.
struct Held(i32);

impl Held {
    fn exclusive(fd: i32) -> io::Result<Held> {
        loop {
            // SAFETY: flock on a descriptor the cache keeps open while this value lives.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                return Ok(Held(fd));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in `exclusive`.
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(target: &str, fstype: &str) -> Mount {
        Mount {
            ns: 0,
            target: target.into(),
            fstype: fstype.into(),
            source: fstype.into(),
            options: "rw".into(),
        }
    }

    #[test]
    fn a_new_mount_namespace_copies_the_table_and_hides_its_own_mounts_from_the_host() {
        let mut m = HostModel::default();
        m.process(100, 1, "init");
        m.unshare(100, &["mnt"]);
        m.mount(100, mount("/var/lib/c/merged", "overlay"));
        let ns = m.ns_of(100)["mnt"];
        assert_ne!(ns, m.host_ns["mnt"]);
        assert!(m.mounts.iter().any(|e| e.ns == ns && e.target == "/proc"));
        assert!(!m
            .mounts
            .iter()
            .any(|e| e.ns == m.host_ns["mnt"] && e.fstype == "overlay"));
    }

    #[test]
    fn pivot_root_makes_the_new_root_slash_and_a_detached_put_old_takes_the_old_tree() {
        let mut m = HostModel::default();
        m.process(100, 1, "init");
        m.unshare(100, &["mnt"]);
        m.mount(100, mount("/c/merged", "overlay"));
        m.mount(100, mount("/c/merged/proc", "proc"));
        m.pivot_root(100, "/c/merged", "/c/merged/.old");
        let ns = m.ns_of(100)["mnt"];
        let targets = |m: &HostModel| -> Vec<String> {
            m.mounts
                .iter()
                .filter(|e| e.ns == ns)
                .map(|e| e.target.clone())
                .collect()
        };
        assert!(targets(&m).contains(&"/".to_string()));
        assert!(targets(&m).contains(&"/proc".to_string()));
        assert!(targets(&m).contains(&"/.old/sys".to_string()));
        m.umount(100, "/.old", true).unwrap();
        assert!(!targets(&m).iter().any(|t| t.starts_with("/.old")));
    }

    #[test]
    fn namespaces_and_their_mounts_and_links_go_when_their_last_process_dies() {
        let mut m = HostModel::default();
        m.process(100, 1, "init").real = 4242;
        m.unshare(100, &["mnt", "net"]);
        m.mount(100, mount("/x", "tmpfs"));
        let net = m.ns_of(100)["net"];
        let before = m.links.len();
        assert!(m.links.iter().any(|l| l.netns == net));
        m.collect(|real| real != 4242);
        assert!(m.processes.is_empty());
        assert!(!m.mounts.iter().any(|e| e.target == "/x"));
        assert!(m.links.len() < before);
    }

    #[test]
    fn modelled_pids_follow_one_another_from_a_drawn_start_and_a_child_being_born_lives_with_its_parent(
    ) {
        let mut m = HostModel::default();
        let shim = m.birth(0, "ctrace shim", || 1234);
        assert_eq!(shim, PID_MIN + 1234);
        m.processes.get_mut(&shim).unwrap().real = 4242;
        let init = m.birth(shim, "init", || unreachable!("drawn once per host"));
        assert_eq!((init, m.processes[&init].ppid), (shim + 1, shim));
        assert_eq!(m.pid_of_real(4242), Some(shim));
        m.collect(|real| real == 4242);
        assert!(
            m.processes.contains_key(&init),
            "born while its parent lives"
        );
        m.collect(|_| false);
        assert!(m.processes.is_empty());
        m.next_pid = PID_MAX - 1;
        assert_eq!(m.new_pid(|| 0), PID_MAX - 1);
        assert_eq!(m.new_pid(|| 0), PID_MIN, "wraps at pid_max");
    }

    #[test]
    fn a_bind_mounted_network_namespace_outlives_its_processes_until_unmounted() {
        let mut m = HostModel::default();
        let ino = m.inode();
        m.named_netns.insert("/run/ctrace/netns/c1".into(), ino);
        m.add_link("lo", "loopback", ino);
        m.collect(|_| false);
        assert!(m.links.iter().any(|l| l.netns == ino));
        m.mounts.push(Mount {
            ns: m.host_ns["mnt"],
            target: "/run/ctrace/netns/c1".into(),
            fstype: "nsfs".into(),
            source: "nsfs".into(),
            options: "rw,bind".into(),
        });
        m.umount(1, "/run/ctrace/netns/c1", true).unwrap();
        m.collect(|_| false);
        assert!(!m.links.iter().any(|l| l.netns == ino));
    }

    #[test]
    fn the_store_keeps_changes_across_loads() {
        let dir = std::env::temp_dir().join(format!("ctrace-sim-model-{}", std::process::id()));
        let s = Store::new(&dir);
        s.change(|m| {
            m.iptables
                .push("nat -A POSTROUTING -s 10.0.0.0/16 -j MASQUERADE".into());
            Ok(())
        })
        .unwrap();
        assert_eq!(s.load().unwrap().iptables.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
