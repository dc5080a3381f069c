//! The daemon's unix socket: created mode 0660 and owned by the `ctrace` group when that group
//! exists (root only otherwise, like docker's `docker` group); a stale socket left by a dead
//! daemon is replaced, a live one is never taken over.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("another daemon is already listening on {0}: stop it first, or give this one another --socket")]
    InUse(String),
    #[error("cannot listen on {path}: {source}")]
    Bind { path: String, source: io::Error },
}

/// Binds `path`, replacing a stale socket; sets its mode and group.
pub fn bind(path: &Path, group: &str) -> Result<UnixListener, SocketError> {
    let shown = path.display().to_string();
    let err = |source| SocketError::Bind {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(SocketError::InUse(shown));
        }
        // Nobody answers: a daemon died without cleaning up.
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
    if let Ok(Some(g)) = nix::unistd::Group::from_name(group) {
        nix::unistd::chown(path, None, Some(g.gid)).map_err(|e| err(e.into()))?;
    }
    Ok(listener)
}

/// The listening socket systemd passed (socket activation: `LISTEN_PID` is us, `LISTEN_FDS`
/// ≥ 1, the socket is fd 3), if any.
pub fn from_systemd() -> Option<UnixListener> {
    use std::os::fd::FromRawFd;
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: i32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: systemd hands us fd 3 as the listening socket; nothing else in this process
    // owns it. Close-on-exec, so the shims we start do not inherit it.
    unsafe {
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        Some(UnixListener::from_raw_fd(3))
    }
}

/// The socket a client uses: `-H`/`CTRACE_HOST` (`unix:///path` or a path), else `default`.
pub fn client_path(host: Option<&str>, default: &Path) -> Result<std::path::PathBuf, String> {
    match host {
        None | Some("") => Ok(default.to_path_buf()),
        Some(h) => match h.strip_prefix("unix://") {
            Some(p) => Ok(p.into()),
            None if h.starts_with('/') => Ok(h.into()),
            None => Err(format!(
                "invalid host {h:?}: only unix sockets are supported (unix:///path/to/ctrace.sock)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_socket_is_replaced_live_one_is_not() {
        let dir = std::env::temp_dir().join(format!("ctrace-sock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("d.sock");
        let first = bind(&path, "no-such-group-here").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        assert!(matches!(bind(&path, "x"), Err(SocketError::InUse(_))));
        drop(first);
        // The file is still there, but nobody listens: stale. (Another test of this binary may
        // be forking at this moment; its child holds a copy of the listener until it execs, so
        // wait until the socket refuses, as it does once the last copy is gone.)
        assert!(path.exists());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while UnixStream::connect(&path).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the listener never went away"
            );
            std::thread::yield_now();
        }
        bind(&path, "x").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hosts_are_unix_sockets() {
        let d = Path::new("/run/ctrace/ctrace.sock");
        assert_eq!(client_path(None, d).unwrap(), d);
        assert_eq!(
            client_path(Some("unix:///tmp/x.sock"), d).unwrap(),
            Path::new("/tmp/x.sock")
        );
        assert!(client_path(Some("tcp://1.2.3.4:2375"), d).is_err());
    }
}
