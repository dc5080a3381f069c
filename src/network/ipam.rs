//! IP address management for a bridge: one lease file per address,
//! `<root>/network/<bridge>/leases/<ip>` holding the container id.
//!
//! A lease is taken by hard-linking a file that already holds the id to the address's name: the
//! kernel makes `link` atomic and refuses an existing name, so two starts racing for the same
//! address cannot both win, across processes and without a lock file, and a process killed at any
//! point leaves either no lease or a lease naming its owner (never an empty one that nobody can
//! release — `O_CREAT|O_EXCL` and then a write left exactly that when the daemon was killed in
//! between). The staging file, `.<id>.lease`, holds the id too, so whoever releases by owner
//! removes it as well. Leases survive engine restarts. Released by the exit phases, `rm` and a failed start's rollback.
//! Not here: the subnet's gateway address on the bridge ([`super::bridge`]).

use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::NetworkError;

/// An IPv4 subnet, `a.b.c.d/p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(s: &str) -> Result<Subnet, NetworkError> {
        let bad = || NetworkError::InvalidSubnet(s.to_string());
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Subnet {
            base: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }

    /// The first host address, given to the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }

    /// Addresses containers may get: after the gateway, before the broadcast address.
    fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let base = u32::from(self.base);
        let size = 1u32 << (32 - self.prefix);
        (base + 2..base + size - 1).map(Ipv4Addr::from)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Takes the lowest free address of `subnet` for `id`; returns it and its lease file.
pub fn allocate(
    dir: &Path,
    subnet: &Subnet,
    id: &str,
) -> Result<(Ipv4Addr, PathBuf), NetworkError> {
    let io_err = |source| NetworkError::Lease {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let staged = dir.join(format!(".{id}.lease"));
    std::fs::File::create(&staged)
        .and_then(|mut f| f.write_all(id.as_bytes()))
        .map_err(io_err)?;
    let taken: std::collections::HashSet<String> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut result = Err(NetworkError::Exhausted(subnet.to_string()));
    for ip in subnet.hosts() {
        let name = ip.to_string();
        if taken.contains(&name) {
            continue;
        }
        let path = dir.join(&name);
        match std::fs::hard_link(&staged, &path) {
            Ok(()) => {
                result = Ok((ip, path));
                break;
            }
            // Someone else won this one between our listing and now.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                result = Err(io_err(e));
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&staged);
    result
}

/// Gives a lease back, if it is still `id`'s.
pub fn release(lease: &Path, id: &str) -> bool {
    match std::fs::read_to_string(lease) {
        Ok(owner) if owner == id => std::fs::remove_file(lease).is_ok(),
        _ => false,
    }
}

/// How many leases are held in `dir` (not counting a start's staging file).
pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_mask() {
        let s = Subnet::parse("10.89.3.7/16").unwrap();
        assert_eq!(s.to_string(), "10.89.0.0/16");
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 89, 0, 1));
        assert!(Subnet::parse("10.89.0.0").is_err());
        assert!(Subnet::parse("10.89.0.0/31").is_err());
        assert!(Subnet::parse("nope/16").is_err());
    }

    #[test]
    fn leases_are_distinct_and_released() {
        let dir = std::env::temp_dir().join(format!("ctrace-ipam-{}", std::process::id()));
        let s = Subnet::parse("10.1.2.0/30").unwrap();
        let (a, la) = allocate(&dir, &s, "a").unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 2, 2));
        assert!(matches!(
            allocate(&dir, &s, "b"),
            Err(NetworkError::Exhausted(_))
        ));
        assert!(!release(&la, "b"));
        assert!(release(&la, "a"));
        let (b, lb) = allocate(&dir, &s, "b").unwrap();
        assert_eq!(b, a);
        release(&lb, "b");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_lease_names_its_owner_and_no_staging_file_outlives_the_allocation() {
        let dir = std::env::temp_dir().join(format!("ctrace-ipam-owner-{}", std::process::id()));
        let s = Subnet::parse("10.1.3.0/28").unwrap();
        for id in ["a", "b", "c"] {
            allocate(&dir, &s, id).unwrap();
        }
        let mut names: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let owner = std::fs::read_to_string(e.path()).unwrap();
                (e.file_name().to_string_lossy().into_owned(), owner)
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [("10.1.3.2", "a"), ("10.1.3.3", "b"), ("10.1.3.4", "c")]
                .map(|(n, o)| (n.to_string(), o.to_string()))
        );
        // A start killed between staging and linking leaves a file that names its owner and is
        // nobody's address.
        std::fs::write(dir.join(".d.lease"), "d").unwrap();
        assert_eq!(count(&dir), 3);
        let (ip, _) = allocate(&dir, &s, "d").unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 1, 3, 5));
        assert!(!dir.join(".d.lease").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
