//! Published ports: `-p [hostip:][hostport:]containerport[/tcp|udp]` parsed into bindings, and
//! host ports reserved so two containers cannot publish the same one.
//!
//! A reservation is a file `<root>/network/<bridge>/ports/<proto>-<port>` created with `O_EXCL`
//! (atomic across processes, like the IP leases), plus a bind test on the host so a port another
//! program listens on is refused too (docker's "port is already allocated"). The DNAT rules are in
//! [`super::firewall`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::NetworkError;

pub use crate::state::ports::PortBinding;

/// Parses one `-p` value.
pub fn parse(s: &str) -> Result<PortBinding, NetworkError> {
    let bad = |why: &str| NetworkError::InvalidPort(s.to_string(), why.to_string());
    let (rest, proto) = match s.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(bad("the protocol must be tcp or udp"));
    }
    // An IPv4 host address has no ':' of its own, so at most three parts.
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host_port, container_port) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(bad("expected [hostip:][hostport:]containerport[/proto]")),
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(bad("the host address must be an IPv4 address"));
    }
    let port = |p: &str| -> Result<u16, NetworkError> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("ports are numbers from 1 to 65535")),
        }
    };
    Ok(PortBinding {
        host_ip: host_ip.to_string(),
        host_port: if host_port.is_empty() {
            0
        } else {
            port(host_port)?
        },
        container_port: port(container_port)?,
        proto,
    })
}

/// Reserves the binding's host port (picking a free one when it is 0); returns the port and the
/// reservation file.
pub fn reserve(dir: &Path, b: &PortBinding, id: &str) -> Result<(u16, PathBuf), NetworkError> {
    let io_err = |source| NetworkError::Lease {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let ip = if b.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &b.host_ip
    };
    let port = match probe(ip, b.host_port, &b.proto) {
        Ok(p) => p,
        Err(_) => return Err(NetworkError::PortTaken(b.describe())),
    };
    let name = format!("{}-{port}", b.proto);
    let path = dir.join(&name);
    // Staged with the owner's id, then linked to its name: atomic, and a process killed at any
    // point leaves no reservation that does not name its owner (see `ipam`).
    let staged = dir.join(format!(".{id}.{name}"));
    std::fs::File::create(&staged)
        .and_then(|mut f| f.write_all(id.as_bytes()))
        .map_err(io_err)?;
    let linked = std::fs::hard_link(&staged, &path);
    let _ = std::fs::remove_file(&staged);
    match linked {
        Ok(()) => Ok((port, path)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(NetworkError::PortTaken(
            PortBinding {
                host_port: port,
                ..b.clone()
            }
            .describe(),
        )),
        Err(e) => Err(io_err(e)),
    }
}

/// Binds `ip:port` for a moment to see that no program on the host holds it; with port 0 the
/// kernel picks a free one.
fn probe(ip: &str, port: u16, proto: &str) -> io::Result<u16> {
    let addr = format!("{ip}:{port}");
    if proto == "udp" {
        Ok(std::net::UdpSocket::bind(addr)?.local_addr()?.port())
    } else {
        Ok(std::net::TcpListener::bind(addr)?.local_addr()?.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_flags_parse_like_docker() {
        let b = parse("8080:80").unwrap();
        assert_eq!(
            (b.host_port, b.container_port, b.proto.as_str()),
            (8080, 80, "tcp")
        );
        let b = parse("127.0.0.1:53:53/udp").unwrap();
        assert_eq!(b.host_ip, "127.0.0.1");
        assert_eq!(b.proto, "udp");
        assert_eq!(b.describe(), "127.0.0.1:53->53/udp");
        assert_eq!(parse("80").unwrap().host_port, 0);
        assert_eq!(parse("127.0.0.1::80").unwrap().host_port, 0);
        for bad in [
            "",
            "0:80",
            "x:80",
            "80/sctp",
            "1.2.3:80:80",
            "a:b:c:d",
            "70000:80",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
