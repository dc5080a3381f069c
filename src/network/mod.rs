//! Container networking: the modes, the sandbox each gets (`start.network.init`), the interface
//! wired into it (`start.network.attach`), its teardown (`exit.network`, `rm`, rollback), and the
//! files a container needs to resolve names (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`).
//!
//! Modes, as `--network` takes them:
//! - `bridge` (default): a named network namespace (a bind mount under the exec root, made before
//!   the spec so the init can join it by path), an address leased from the bridge's subnet
//!   ([`ipam`]), and at attach a veth pair whose container end is born inside the namespace as
//!   `eth0`, its address, the default route via the bridge, and published ports ([`ports`],
//!   [`firewall`]). Links, addresses, routes, the netns and iptables go through the host seam
//!   (`crate::host::current()`).
//! - `host`: no namespace of its own, the host's stack and files.
//! - `none`: a fresh namespace from the runtime's `clone(CLONE_NEWNET)`, loopback only.
//! - `container:<name|id>`: the init joins `/proc/<pid>/ns/net` of that running container and
//!   gets its hostname, hosts and resolv.conf.
//!
//! Where ctrace differs from moby v28: the address is leased in `start.network.init`, not at
//! attach, because `/etc/hosts` (written in `start.mounts.setup`) names it. What is done for a
//! container is recorded in `<root>/containers/<id>/network.json` ([`Endpoint`]), so whoever
//! tears it down — the shim's exit phases, `rm`, a failed start's rollback — undoes exactly that.
//! Not here: the bridge's lifetime ([`bridge`]), joining a namespace (the init's job).

pub mod bridge;
pub mod firewall;
pub mod ipam;
pub mod netns;
pub mod ports;
#[cfg(test)]
mod props;

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use bridge::BridgeConfig;
pub use ports::{parse as parse_port, PortBinding};

use crate::host;
use crate::kernel_event;
use crate::state::NetworkNs;

/// A network mode as `--network` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Bridge,
    None,
    Host,
    /// Share the network namespace of this container (name or id).
    Container(String),
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network mode {0:?}: expected bridge, none, host or container:<name|id>")]
    Invalid(String),
    #[error(
        "invalid subnet {0:?}: expected an IPv4 network such as 10.89.0.0/16 (prefix 8 to 30)"
    )]
    InvalidSubnet(String),
    #[error("invalid bridge name {0:?}: use 1 to 15 letters, digits, '-', '_' or '.'")]
    InvalidBridge(String),
    #[error("invalid publish spec {0:?}: {1}")]
    InvalidPort(String, String),
    #[error(
        "invalid argument {0:?} for \"--add-host\" flag: bad format for add-host: expected host:ip"
    )]
    InvalidHost(String),
    #[error("invalid argument {0:?} for \"--dns\" flag: not an IP address")]
    InvalidDns(String),
    #[error("conflicting options: {0} and the network mode")]
    Conflict(&'static str),
    #[error("cannot join network of a non running container: {0}")]
    NotRunning(String),
    #[error("cannot join the network of container {0}: it is this container")]
    JoinSelf(String),
    #[error("Bind for {0} failed: port is already allocated")]
    PortTaken(String),
    #[error(
        "no free address left in subnet {0}: remove containers or use a larger --bridge-subnet"
    )]
    Exhausted(String),
    #[error("bridge {bridge} exists but was not made by ctrace with root {} (another root made it, or one since deleted): choose another --bridge, or if no container uses it any more remove it with `ctrace --bridge {bridge} network prune --force`", root.display())]
    ForeignBridge { bridge: String, root: PathBuf },
    #[error("bridge {bridge} was made with subnet {subnet}: use --bridge-subnet {subnet}, or remove its containers and run `ctrace network prune` first")]
    SubnetMismatch { bridge: String, subnet: String },
    #[error("bridge {0} is in use by {1} container(s): remove them first")]
    InUse(String, usize),
    #[error("cannot {op} {dev}: {source}")]
    Link {
        op: &'static str,
        dev: String,
        source: std::io::Error,
    },
    #[error("cannot create network namespace {path}: {source}")]
    Netns {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write sysctl {path}: {source}")]
    Sysctl {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot update leases in {path}: {source}")]
    Lease {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Firewall(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The default mode, as docker's.
pub const DEFAULT_MODE: &str = "bridge";

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, NetworkError> {
        match s {
            "" | "bridge" | "default" => Ok(Mode::Bridge),
            "none" => Ok(Mode::None),
            "host" => Ok(Mode::Host),
            s => match s.strip_prefix("container:") {
                Some(t) if !t.is_empty() => Ok(Mode::Container(t.to_string())),
                _ => Err(NetworkError::Invalid(s.into())),
            },
        }
    }

    /// The kind of mode, without a container's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Bridge => "bridge",
            Mode::None => "none",
            Mode::Host => "host",
            Mode::Container(_) => "container",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Container(t) => write!(f, "container:{t}"),
            m => f.write_str(m.as_str()),
        }
    }
}

/// What was done for one container's network, persisted as `network.json` in its directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub mode: String,
    #[serde(default)]
    pub bridge: String,
    /// The namespace ctrace bind-mounted (bridge mode only; a joined one is not ours).
    #[serde(default)]
    pub netns: Option<PathBuf>,
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub ip_prefix_len: u8,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub lease: Option<PathBuf>,
    /// Host end of the veth pair.
    #[serde(default)]
    pub veth: String,
    /// Published ports, with the host ports actually used.
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    #[serde(default)]
    pub reservations: Vec<PathBuf>,
    #[serde(default)]
    pub rules: Vec<firewall::Rule>,
    /// `container:` mode: our marker in the joined container's `joined/` directory, which tells
    /// its teardown that its namespace outlives it.
    #[serde(default)]
    pub joined_marker: Option<PathBuf>,
}

impl Endpoint {
    pub fn path(container_dir: &Path) -> PathBuf {
        container_dir.join("network.json")
    }

    pub fn load(container_dir: &Path) -> Option<Endpoint> {
        crate::sys::atomic::read_json(&Endpoint::path(container_dir)).ok()
    }

    /// Written with a rename (never torn) but not fsynced, unlike the state files: it describes
    /// kernel objects a reboot destroys anyway, and two fsyncs were the largest part of the
    /// bridge's start cost on a busy disk (5–10 ms).
    fn save(&self, container_dir: &Path) -> Result<(), NetworkError> {
        let path = Endpoint::path(container_dir);
        let tmp = container_dir.join(".network.json.tmp");
        serde_json::to_vec_pretty(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| fs::write(&tmp, bytes))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|source| NetworkError::Write { path, source })
    }
}

/// The sandbox `start.network.init` made: what the spec needs, and for bridge mode the handles
/// `attach` uses.
pub struct Sandbox {
    pub ns: NetworkNs,
    pub endpoint: Endpoint,
    bridge: Option<Wiring>,
}

struct Wiring {
    bridge_index: i32,
    netns: PathBuf,
}

/// The host end of a container's veth pair: `ctr` + the id's first 11 hex digits.
pub fn veth_name(id: &str) -> String {
    format!("ctr{}", &id[..11.min(id.len())])
}

/// `start.network.init` for bridge mode: the bridge (created on first use), the netns, the lease.
/// On error nothing of it is left. Returns the sandbox and a note.
pub fn init_bridge(
    cfg: &BridgeConfig,
    root: &Path,
    netns_path: &Path,
    container_dir: &Path,
    id: &str,
) -> Result<(Sandbox, String), NetworkError> {
    let (bridge_index, created) = bridge::ensure(cfg, root)?;
    let (ip, lease) = ipam::allocate(&cfg.dir(root).join("leases"), &cfg.subnet, id)?;
    kernel_event!(ip = %ip, lease = %lease.display(), "ipam lease");
    if let Err(source) = netns::create(netns_path) {
        ipam::release(&lease, id);
        return Err(NetworkError::Netns {
            path: netns_path.to_path_buf(),
            source,
        });
    }
    let endpoint = Endpoint {
        mode: "bridge".into(),
        bridge: cfg.name.clone(),
        netns: Some(netns_path.to_path_buf()),
        ip_address: ip.to_string(),
        ip_prefix_len: cfg.subnet.prefix,
        gateway: cfg.subnet.gateway().to_string(),
        lease: Some(lease),
        ..Default::default()
    };
    if let Err(e) = endpoint.save(container_dir) {
        teardown_endpoint(&endpoint, id, container_dir);
        return Err(e);
    }
    let note = format!(
        "netns {} (mode bridge), {ip}/{} leased on {}{}",
        netns_path.display(),
        cfg.subnet.prefix,
        cfg.name,
        if created {
            format!(" (bridge created, gateway {})", cfg.subnet.gateway())
        } else {
            String::new()
        }
    );
    Ok((
        Sandbox {
            ns: NetworkNs::Path(netns_path.to_path_buf()),
            endpoint,
            bridge: Some(Wiring {
                bridge_index,
                netns: netns_path.to_path_buf(),
            }),
        },
        note,
    ))
}

/// `start.network.init` for `container:<target>`: join the netns of `target`'s init `pid`, and
/// leave a marker in `target`'s directory (`target_dir`) while we use its namespace.
pub fn init_joined(
    target: &str,
    pid: i32,
    target_dir: &Path,
    container_dir: &Path,
    id: &str,
) -> Result<(Sandbox, String), NetworkError> {
    let dir = target_dir.join("joined");
    let marker = dir.join(id);
    fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&marker, id))
        .map_err(|source| NetworkError::Write {
            path: marker.clone(),
            source,
        })?;
    let endpoint = Endpoint {
        mode: "container".into(),
        joined_marker: Some(marker.clone()),
        ..Default::default()
    };
    if let Err(e) = endpoint.save(container_dir) {
        let _ = fs::remove_file(&marker);
        return Err(e);
    }
    let netns = format!("/proc/{pid}/ns/net");
    Ok((
        Sandbox {
            ns: NetworkNs::Path(netns.clone().into()),
            endpoint,
            bridge: None,
        },
        format!("mode container: join {netns} of {target}"),
    ))
}

/// The sandbox of `host` and `none` (nothing to undo).
pub fn init_other(mode: &Mode) -> (Sandbox, String) {
    let (ns, note) = match mode {
        Mode::Host => (
            NetworkNs::Host,
            "mode host: no new netns, the host's network stack".to_string(),
        ),
        _ => (
            NetworkNs::New,
            "mode none: the runtime creates an empty netns (CLONE_NEWNET)".to_string(),
        ),
    };
    (
        Sandbox {
            ns,
            endpoint: Endpoint {
                mode: mode.as_str().into(),
                ..Default::default()
            },
            bridge: None,
        },
        note,
    )
}

/// `start.network.attach`: the veth pair, `eth0`'s address and default route, published ports.
/// Everything done is recorded in `network.json` even on failure, for the rollback.
pub fn attach(
    sandbox: &mut Sandbox,
    id: &str,
    bindings: &[PortBinding],
    ports_dir: &Path,
    container_dir: &Path,
) -> Result<String, NetworkError> {
    let Some(w) = sandbox.bridge.as_mut() else {
        return Ok(format!(
            "network {}: no interface to attach",
            sandbox.endpoint.mode
        ));
    };
    let ep = &mut sandbox.endpoint;
    let result = wire(w, ep, id, bindings, ports_dir);
    ep.save(container_dir)?;
    result
}

fn wire(
    w: &mut Wiring,
    ep: &mut Endpoint,
    id: &str,
    bindings: &[PortBinding],
    ports_dir: &Path,
) -> Result<String, NetworkError> {
    let veth = veth_name(id);
    let link = |op: &'static str, dev: &str| {
        let dev = dev.to_string();
        move |source| NetworkError::Link { op, dev, source }
    };
    let host = host::current();
    let inside = Some(w.netns.as_path());
    ep.veth = veth.clone();
    let mut added = host.link_add_veth(&veth, w.bridge_index, "eth0", &w.netns);
    if added
        .as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
    {
        // The kernel destroys an exited container's veth with its netns, asynchronously: a quick
        // restart can find the old one (its name comes from this container's id). Remove it.
        if let Ok(stale) = host.link_index(&veth, None) {
            let _ = host.link_del(stale);
            kernel_event!(dev = %veth, "ip link del (stale veth of this container's previous run)");
        }
        added = host.link_add_veth(&veth, w.bridge_index, "eth0", &w.netns);
    }
    added.map_err(link("create veth", &veth))?;
    kernel_event!(dev = %veth, peer = "eth0", master = %ep.bridge, "ip link add veth peer eth0 netns");
    let host_index = host.link_index(&veth, None).map_err(link("find", &veth))?;
    host.link_set_up(host_index, None)
        .map_err(link("set up", &veth))?;
    kernel_event!(dev = %veth, "ip link set up");
    let eth0 = host
        .link_index("eth0", inside)
        .map_err(link("find", "eth0"))?;
    let ip: Ipv4Addr = ep.ip_address.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let gw: Ipv4Addr = ep.gateway.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    host.addr_add(eth0, ip, ep.ip_prefix_len, inside)
        .map_err(link("add an address to", "eth0"))?;
    kernel_event!(dev = "eth0", addr = %format!("{ip}/{}", ep.ip_prefix_len), "ip addr add");
    host.link_set_up(eth0, inside)
        .map_err(link("set up", "eth0"))?;
    kernel_event!(dev = "eth0", "ip link set up");
    host.route_add_default(eth0, gw, inside)
        .map_err(link("add the default route on", "eth0"))?;
    kernel_event!(via = %gw, dev = "eth0", "ip route add default");
    let mut published = Vec::new();
    let mut rules = Vec::new();
    for b in bindings {
        let (port, reservation) = ports::reserve(ports_dir, b, id)?;
        ep.reservations.push(reservation);
        let b = PortBinding {
            host_port: port,
            ..b.clone()
        };
        let to = format!("{ip}:{}", b.container_port);
        rules.extend(firewall::port_rules(
            &ep.bridge, id, &b.host_ip, port, &b.proto, &to,
        ));
        published.push(b.describe());
        ep.ports.push(b);
    }
    if !rules.is_empty() {
        firewall::add_all(&rules)?;
        ep.rules = rules;
    }
    Ok(format!(
        "veth {veth}@{host_index} ↔ eth0, {ip}/{} via {gw}{}",
        ep.ip_prefix_len,
        if published.is_empty() {
            String::new()
        } else {
            format!(", DNAT {}", published.join(", "))
        }
    ))
}

/// Undoes what `network.json` in `container_dir` records, then removes it: port rules and
/// reservations, the veth, the netns, the lease. Safe to call twice. Returns what was done.
pub fn teardown(container_dir: &Path, id: &str) -> String {
    let Some(ep) = Endpoint::load(container_dir) else {
        return "nothing to release".into();
    };
    let done = teardown_endpoint(&ep, id, container_dir);
    let _ = fs::remove_file(Endpoint::path(container_dir));
    done
}

fn teardown_endpoint(ep: &Endpoint, id: &str, container_dir: &Path) -> String {
    let mut done = Vec::new();
    if let Some(m) = &ep.joined_marker {
        if fs::remove_file(m).is_ok() {
            done.push("left the joined container's netns".to_string());
        }
    }
    // Containers that joined our namespace keep it alive: take our interface out of it
    // explicitly, as docker does, or its address would live on after the lease is released.
    let joined_dir = container_dir.join("joined");
    let joiners = fs::read_dir(&joined_dir).map_or(0, |rd| rd.count());
    if joiners > 0 && !ep.veth.is_empty() && delete_link(&ep.veth) {
        done.push(format!(
            "veth {} deleted ({joiners} container(s) still in the netns)",
            ep.veth
        ));
    }
    let rules = firewall::delete_all(&ep.rules);
    if rules > 0 {
        done.push(format!("{rules} port rule(s) deleted"));
    }
    for r in &ep.reservations {
        let _ = fs::remove_file(r);
    }
    // Unmounting the netns drops its last reference once the container's processes are gone:
    // the kernel then destroys it, and the veth pair with it, in its own worker. Deleting the
    // veth ourselves (RTM_DELLINK waits for an RCU grace period, ~20 ms) is only for a veth
    // whose namespace was already unmounted.
    let unmounted = ep.netns.as_deref().is_some_and(netns::remove);
    if unmounted {
        done.push(format!(
            "netns {} unmounted{}",
            ep.netns.as_deref().unwrap_or(Path::new("")).display(),
            if ep.veth.is_empty() {
                String::new()
            } else {
                format!(" (veth {} goes with it)", ep.veth)
            }
        ));
    } else if !ep.veth.is_empty() && delete_link(&ep.veth) {
        done.push(format!("veth {} deleted", ep.veth));
    }
    if let Some(lease) = &ep.lease {
        if ipam::release(lease, id) {
            kernel_event!(ip = %ep.ip_address, "ipam release");
            done.push(format!("lease {} released", ep.ip_address));
        }
    }
    if done.is_empty() {
        format!("network {}: nothing to release", ep.mode)
    } else {
        done.join(", ")
    }
}

/// `ip link del NAME` when the link exists; true when it was deleted.
fn delete_link(name: &str) -> bool {
    let host = host::current();
    let deleted = host
        .link_index(name, None)
        .is_ok_and(|i| host.link_del(i).is_ok());
    if deleted {
        kernel_event!(dev = %name, "ip link del");
    }
    deleted
}

/// What goes into a container's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`.
pub struct EtcInput<'a> {
    pub mode: &'a Mode,
    pub hostname: &'a str,
    pub name: &'a str,
    /// The container's address on the bridge.
    pub ip: Option<&'a str>,
    /// The bridge's gateway, for `--add-host NAME:host-gateway`.
    pub gateway: Option<&'a str>,
    pub dns: &'a [String],
    pub extra_hosts: &'a [String],
    /// `container:` mode: the other container's directory, whose files are copied.
    pub joined: Option<&'a Path>,
}

/// Checks an `--add-host` value (`host:ip`, or `host:host-gateway`).
pub fn parse_extra_host(s: &str) -> Result<(&str, &str), NetworkError> {
    let (h, ip) = s
        .split_once(':')
        .or_else(|| s.split_once('='))
        .ok_or_else(|| NetworkError::InvalidHost(s.into()))?;
    // The name becomes one line of the container's /etc/hosts: a blank, a `#` or a line break
    // in it would add names or lines of the caller's choosing.
    let bad_name = |c: char| c.is_whitespace() || c.is_control() || c == '#';
    if h.is_empty()
        || h.contains(bad_name)
        || (ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err())
    {
        return Err(NetworkError::InvalidHost(s.into()));
    }
    Ok((h, ip))
}

/// Writes `hostname`, `hosts` and `resolv.conf` into `dir`; returns (file, container path) pairs
/// to bind-mount.
pub fn write_etc_files(
    dir: &Path,
    input: &EtcInput<'_>,
) -> Result<Vec<(PathBuf, String)>, NetworkError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|source| NetworkError::Write {
            path: path.clone(),
            source,
        })?;
        Ok::<_, NetworkError>(path)
    };
    let from = |name: &str| {
        input
            .joined
            .and_then(|d| fs::read_to_string(d.join(name)).ok())
    };
    let hostname = from("hostname").unwrap_or_else(|| format!("{}\n", input.hostname));
    let mut hosts = match (input.mode, from("hosts")) {
        (_, Some(h)) => h,
        (Mode::Host, _) => fs::read_to_string("/etc/hosts").unwrap_or_default(),
        _ => {
            let mut h = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n"
                .to_string();
            let names = if input.name.is_empty() || input.name == input.hostname {
                input.hostname.to_string()
            } else {
                format!("{} {}", input.hostname, input.name)
            };
            h += &format!("{}\t{names}\n", input.ip.unwrap_or("127.0.0.1"));
            h
        }
    };
    for e in input.extra_hosts {
        if let Ok((h, ip)) = parse_extra_host(e) {
            let ip = if ip == "host-gateway" {
                input.gateway.unwrap_or("127.0.0.1")
            } else {
                ip
            };
            hosts += &format!("{ip}\t{h}\n");
        }
    }
    let resolv = match from("resolv.conf") {
        Some(r) => r,
        None => resolv_conf(
            &fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            input.dns,
        ),
    };
    Ok(vec![
        (write("hostname", hostname)?, "/etc/hostname".into()),
        (write("hosts", hosts)?, "/etc/hosts".into()),
        (write("resolv.conf", resolv)?, "/etc/resolv.conf".into()),
    ])
}

/// The host's resolv.conf without loopback resolvers (they mean nothing inside another network
/// namespace); docker's public fallback when none is left. `--dns` servers replace the host's.
pub fn resolv_conf(host: &str, dns: &[String]) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if !dns.is_empty() || addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out += line;
        out.push('\n');
    }
    for d in dns {
        out += &format!("nameserver {d}\n");
        servers += 1;
    }
    if servers == 0 {
        out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped_with_a_public_fallback() {
        let r = resolv_conf("nameserver 127.0.0.53\noptions edns0\n", &[]);
        assert!(!r.contains("127.0.0.53"));
        assert!(r.contains("options edns0"));
        assert!(r.contains("nameserver 8.8.8.8"));
        let r = resolv_conf("nameserver 10.0.0.2\n", &[]);
        assert_eq!(r, "nameserver 10.0.0.2\n");
        let r = resolv_conf("nameserver 10.0.0.2\nsearch lan\n", &["1.1.1.1".into()]);
        assert_eq!(r, "search lan\nnameserver 1.1.1.1\n");
    }

    #[test]
    fn modes_parse_like_docker() {
        assert_eq!(Mode::parse("none").unwrap(), Mode::None);
        assert_eq!(Mode::parse("host").unwrap(), Mode::Host);
        assert_eq!(Mode::parse("").unwrap(), Mode::Bridge);
        assert_eq!(Mode::parse("bridge").unwrap(), Mode::Bridge);
        assert_eq!(
            Mode::parse("container:web").unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(
            Mode::parse("container:web").unwrap().to_string(),
            "container:web"
        );
        assert!(matches!(
            Mode::parse("container:"),
            Err(NetworkError::Invalid(_))
        ));
        assert!(matches!(Mode::parse("nope"), Err(NetworkError::Invalid(_))));
    }

    #[test]
    fn add_host_values() {
        assert_eq!(parse_extra_host("db:10.0.0.5").unwrap(), ("db", "10.0.0.5"));
        assert!(parse_extra_host("gw:host-gateway").is_ok());
        assert!(parse_extra_host("nope").is_err());
        assert!(parse_extra_host("x:notanip").is_err());
    }
}
