//! The bridge itself (`ctrace0` by default, dockerd's `docker0`): created on first use with the
//! subnet's gateway address, forwarding on, and the NAT/forward rules of [`super::firewall`];
//! removed by `ctrace network prune` once no container holds a lease on it.
//!
//! Bridge name and subnet come from the global `--bridge`/`--bridge-subnet` flags (dockerd's
//! `--bridge`/`--bip`), so tests and users each have their own. The default subnet,
//! 10.89.0.0/16, stays clear of Docker's 172.17.0.0/16.

use std::path::{Path, PathBuf};

use super::ipam::{self, Subnet};
use super::{firewall, NetworkError};
use crate::host;
use crate::kernel_event;
use crate::sys::flock::Flock;

pub const DEFAULT_BRIDGE: &str = "ctrace0";
pub const DEFAULT_SUBNET: &str = "10.89.0.0/16";

/// Which bridge bridge-mode containers join.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub name: String,
    pub subnet: Subnet,
}

impl Default for BridgeConfig {
    fn default() -> BridgeConfig {
        BridgeConfig {
            name: DEFAULT_BRIDGE.into(),
            subnet: Subnet::parse(DEFAULT_SUBNET).expect("default subnet parses"),
        }
    }
}

impl BridgeConfig {
    pub fn new(name: &str, subnet: &str) -> Result<BridgeConfig, NetworkError> {
        if name.is_empty()
            || name.len() > 15
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(NetworkError::InvalidBridge(name.to_string()));
        }
        Ok(BridgeConfig {
            name: name.into(),
            subnet: Subnet::parse(subnet)?,
        })
    }

    /// `<root>/network/<bridge>`: leases, port reservations, the creation lock.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join("network").join(&self.name)
    }
}

/// A bridge that exists must be one this root made, for this subnet: the leases of two roots
/// (or another program's addresses) on one bridge would collide. The subnet file is written when
/// the bridge is made and removed by prune.
fn check_owned(cfg: &BridgeConfig, root: &Path) -> Result<(), NetworkError> {
    let recorded = std::fs::read_to_string(cfg.dir(root).join("subnet")).ok();
    match recorded.as_deref().map(str::trim) {
        Some(s) if s == cfg.subnet.to_string() => Ok(()),
        Some(s) => Err(NetworkError::SubnetMismatch {
            bridge: cfg.name.clone(),
            subnet: s.to_string(),
        }),
        None => Err(NetworkError::ForeignBridge {
            bridge: cfg.name.clone(),
            root: root.to_path_buf(),
        }),
    }
}

/// The bridge's index, creating and configuring it first if it does not exist. Returns whether
/// it was created now.
pub fn ensure(cfg: &BridgeConfig, root: &Path) -> Result<(i32, bool), NetworkError> {
    let host = host::current();
    if let Ok(i) = host.link_index(&cfg.name, None) {
        // Not ours (yet)? Its maker may still be configuring it: decide under the lock.
        if check_owned(cfg, root).is_ok() {
            return Ok((i, false));
        }
    }
    let dir = cfg.dir(root);
    std::fs::create_dir_all(&dir).map_err(|source| NetworkError::Lease {
        path: dir.clone(),
        source,
    })?;
    let lock_path = dir.join("lock");
    let _lock = Flock::exclusive(&lock_path).map_err(|source| NetworkError::Lease {
        path: lock_path.clone(),
        source,
    })?;
    // Another start may have made it while we waited for the lock. A `creating` marker means
    // one of ours began making it and died before it was done (a daemon killed mid-start):
    // half a bridge is worth nothing, so it is made again.
    let creating = dir.join("creating");
    if let Ok(i) = host.link_index(&cfg.name, None) {
        if creating.exists() {
            let _ = host.link_del(i);
            firewall::delete_tagged(&cfg.name);
            kernel_event!(dev = %cfg.name, "ip link del (left half-made by a crashed start)");
        } else {
            check_owned(cfg, root)?;
            return Ok((i, false));
        }
    }
    std::fs::write(&creating, cfg.subnet.to_string()).map_err(|source| NetworkError::Write {
        path: creating.clone(),
        source,
    })?;
    let link = |op: &'static str| {
        move |source| NetworkError::Link {
            op,
            dev: cfg.name.clone(),
            source,
        }
    };
    let mut mac = [0u8; 6];
    crate::sys::random::fill(&mut mac);
    mac[0] = (mac[0] & 0xfe) | 0x02;
    host.link_add_bridge(&cfg.name, mac)
        .map_err(link("create bridge"))?;
    kernel_event!(dev = %cfg.name, "ip link add type bridge");
    let configure = || -> Result<i32, NetworkError> {
        let idx = host
            .link_index(&cfg.name, None)
            .map_err(link("find bridge"))?;
        let gw = cfg.subnet.gateway();
        host.addr_add(idx, gw, cfg.subnet.prefix, None)
            .map_err(link("add the gateway address to"))?;
        kernel_event!(dev = %cfg.name, addr = %format!("{gw}/{}", cfg.subnet.prefix), "ip addr add");
        host.link_set_up(idx, None).map_err(link("set up"))?;
        kernel_event!(dev = %cfg.name, "ip link set up");
        sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        sysctl(
            &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", cfg.name),
            "1",
        )?;
        firewall::add_all(&firewall::bridge_rules(&cfg.name, &cfg.subnet.to_string()))?;
        let path = dir.join("subnet");
        std::fs::write(&path, cfg.subnet.to_string())
            .map_err(|source| NetworkError::Write { path, source })?;
        let _ = std::fs::remove_file(&creating);
        Ok(idx)
    };
    match configure() {
        Ok(idx) => Ok((idx, true)),
        Err(e) => {
            if let Ok(i) = host.link_index(&cfg.name, None) {
                let _ = host.link_del(i);
            }
            let _ = std::fs::remove_file(&creating);
            Err(e)
        }
    }
}

fn sysctl(path: &str, value: &str) -> Result<(), NetworkError> {
    host::current()
        .kfs_write(Path::new(path), value)
        .map_err(|source| NetworkError::Sysctl {
            path: path.to_string(),
            source,
        })?;
    kernel_event!(path = path, value = value, "write sysctl");
    Ok(())
}

/// Removes the bridge, its rules and its state, unless a container still holds a lease on it.
/// A bridge this root did not make is removed only with `force` (one left by a deleted root).
/// Returns false when there was no bridge.
pub fn prune(cfg: &BridgeConfig, root: &Path, force: bool) -> Result<bool, NetworkError> {
    let dir = cfg.dir(root);
    let held = ipam::count(&dir.join("leases"));
    if held > 0 {
        return Err(NetworkError::InUse(cfg.name.clone(), held));
    }
    let host = host::current();
    let existed = match host.link_index(&cfg.name, None) {
        Ok(i) => {
            if !force && !dir.join("subnet").exists() && !dir.join("creating").exists() {
                return Err(NetworkError::ForeignBridge {
                    bridge: cfg.name.clone(),
                    root: root.to_path_buf(),
                });
            }
            host.link_del(i).map_err(|source| NetworkError::Link {
                op: "delete bridge",
                dev: cfg.name.clone(),
                source,
            })?;
            kernel_event!(dev = %cfg.name, "ip link del");
            true
        }
        Err(_) => false,
    };
    firewall::delete_tagged(&cfg.name);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(existed)
}
