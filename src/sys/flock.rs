//! The one `flock(2)` helper: an exclusive (or shared) lock on a file, held while the value lives
//! and released when it is dropped or the process dies. Every lock in ctrace — per container, the
//! image store, volumes, bridges, pulls — is one of these.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct Flock {
    _file: File,
}

impl Flock {
    /// Blocks until an exclusive lock on `path` (created when missing) is ours.
    pub fn exclusive(path: &Path) -> io::Result<Flock> {
        Self::take(path, libc::LOCK_EX)
    }

    /// Whether some open file holds a lock on `path` now (false when there is no such file).
    pub fn held(path: &Path) -> io::Result<bool> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // SAFETY: flock on an fd we own; a lock we get is released when `file` closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(false);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(true)
        } else {
            Err(err)
        }
    }

    fn take(path: &Path, op: libc::c_int) -> io::Result<Flock> {
        // O_CLOEXEC (Rust's default) matters: a shim spawned while we hold the lock must not
        // inherit it, or the lock would outlive this operation.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                return Ok(Flock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether another open file description could take the lock now.
    fn free(p: &Path) -> bool {
        let f = File::open(p).unwrap();
        // SAFETY: flock on an fd we own; released when `f` closes.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    #[test]
    fn a_held_lock_is_not_taken_twice_and_is_free_after_drop() {
        let p = std::env::temp_dir().join(format!("ctrace-flock-{}", std::process::id()));
        let held = Flock::exclusive(&p).unwrap();
        assert!(!free(&p));
        drop(held);
        assert!(free(&p));
        std::fs::remove_file(&p).unwrap();
    }
}
