//! Container networking: the modes, the sandbox decision, and the files a container needs to
//! resolve names (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`).
//!
//! Implemented now: `none` (a fresh network namespace with only `lo`, created by the runtime's
//! `clone(CLONE_NEWNET)`) and `host` (share the host's). The bridge (`ctrace0`, veth, IPAM, ports)
//! and `container:<id>` come with the networking issue; [`Mode`] already has room for them.

use std::fs;
use std::path::Path;

use crate::runtime::spec::NetworkNs;

/// A network mode as `--network` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    None,
    Host,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network mode {0:?} is not implemented yet: use --network none or --network host")]
    NotImplemented(String),
    #[error("invalid network mode {0:?}: expected none, host, bridge or container:<name|id>")]
    Invalid(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The default until the bridge lands.
pub const DEFAULT_MODE: &str = "none";

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, NetworkError> {
        match s {
            "" | "none" => Ok(Mode::None),
            "host" => Ok(Mode::Host),
            "bridge" | "default" => Err(NetworkError::NotImplemented(s.into())),
            s if s.starts_with("container:") => Err(NetworkError::NotImplemented(s.into())),
            s => Err(NetworkError::Invalid(s.into())),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Host => "host",
        }
    }

    /// The sandbox for this mode (docker's `initializeNetworking`).
    pub fn sandbox(&self) -> NetworkNs {
        match self {
            Mode::None => NetworkNs::New,
            Mode::Host => NetworkNs::Host,
        }
    }
}

/// Writes `hostname`, `hosts` and `resolv.conf` into `dir`; returns (file, container path) pairs
/// to bind-mount.
pub fn write_etc_files(
    dir: &Path,
    mode: &Mode,
    hostname: &str,
) -> Result<Vec<(std::path::PathBuf, String)>, NetworkError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|source| NetworkError::Write {
            path: path.clone(),
            source,
        })?;
        Ok::<_, NetworkError>(path)
    };
    let hosts = match mode {
        Mode::Host => fs::read_to_string("/etc/hosts").unwrap_or_default(),
        Mode::None => format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
        ),
    };
    let resolv = resolv_conf(&fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    Ok(vec![
        (
            write("hostname", format!("{hostname}\n"))?,
            "/etc/hostname".into(),
        ),
        (write("hosts", hosts)?, "/etc/hosts".into()),
        (write("resolv.conf", resolv)?, "/etc/resolv.conf".into()),
    ])
}

/// The host's resolv.conf without loopback resolvers (they mean nothing inside another network
/// namespace); docker's public fallback when none is left.
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out += line;
        out.push('\n');
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
        let r = resolv_conf("nameserver 127.0.0.53\noptions edns0\n");
        assert!(!r.contains("127.0.0.53"));
        assert!(r.contains("options edns0"));
        assert!(r.contains("nameserver 8.8.8.8"));
        let r = resolv_conf("nameserver 10.0.0.2\n");
        assert_eq!(r, "nameserver 10.0.0.2\n");
    }

    #[test]
    fn modes_parse_like_docker() {
        assert_eq!(Mode::parse("none").unwrap(), Mode::None);
        assert_eq!(Mode::parse("host").unwrap(), Mode::Host);
        assert!(matches!(
            Mode::parse("bridge"),
            Err(NetworkError::NotImplemented(_))
        ));
        assert!(matches!(Mode::parse("nope"), Err(NetworkError::Invalid(_))));
    }
}
