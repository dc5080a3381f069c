//! The one error the container's init reports back: docker's exit code and a message.
//!
//! Everything between `clone()` and `execve()` fails the same way to the outside world: the shim
//! (or the test harness) reads one `InitError` from a pipe and `docker run` exits with its code.
//! The codes are docker's: 125 when the runtime itself failed, 126 when the command exists but
//! cannot be invoked, 127 when it cannot be found.
//!
//! The codes themselves live in [`crate::sys::exit`].
//!
//! Not here: the detailed errors of each step (`rootfs::RootfsError`, `process::ProcessError`);
//! they convert into an `InitError` at the module boundary, keeping their wording.

use crate::sys::exit;

/// A failure of the container's init, as sent to the shim over the sync pipe.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct InitError {
    /// 125 runtime error, 126 cannot invoke, 127 not found.
    pub code: i32,
    pub message: String,
}

impl InitError {
    pub fn new(code: i32, message: impl Into<String>) -> InitError {
        InitError {
            code,
            message: message.into(),
        }
    }

    /// A runtime failure (125): `"{ctx}: {err}"`.
    pub fn runtime(ctx: impl std::fmt::Display, err: impl std::fmt::Display) -> InitError {
        InitError::new(exit::ENGINE, format!("{ctx}: {err}"))
    }

    /// The command exists but cannot be invoked (126).
    pub fn cannot_invoke(message: impl Into<String>) -> InitError {
        InitError::new(exit::CANNOT_EXEC, message)
    }

    /// The command does not exist (127).
    pub fn not_found(message: impl Into<String>) -> InitError {
        InitError::new(exit::NOT_FOUND, message)
    }
}

/// An errno as Go, and so docker, prints it: "no such file or directory", not libc's
/// capitalised "No such file or directory".
pub fn errno_text(e: nix::errno::Errno) -> String {
    let desc = e.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("{e:?}"),
    }
}

/// An I/O error in the same words ("permission denied", without "(os error 13)").
/// The errno of an `io::Error` from the host seam (EIO when it carries none).
pub fn errno_of(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_error_joins_context_and_cause() {
        let e = InitError::runtime("cannot mount proc on /proc", "operation not permitted");
        assert_eq!(e.code, exit::ENGINE);
        assert_eq!(
            e.to_string(),
            "cannot mount proc on /proc: operation not permitted"
        );
    }

    #[test]
    fn os_errors_read_like_go() {
        assert_eq!(
            errno_text(nix::errno::Errno::ENOENT),
            "no such file or directory"
        );
        assert_eq!(errno_text(nix::errno::Errno::ENOEXEC), "exec format error");
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_text(&e), "permission denied");
    }

    #[test]
    fn round_trips_through_json() {
        let e = InitError::not_found(r#"exec: "nope": executable file not found in $PATH"#);
        let back: InitError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.code, exit::NOT_FOUND);
    }
}
