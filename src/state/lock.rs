//! The per-container lock (docker's `container.Lock`): an exclusive `flock` on
//! `<root>/containers/<id>/lock`, held for a whole start, stop or rm, and across processes — the
//! CLI, a later CLI, and the shim recording an exit all take the same lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held while alive; dropping it (or the process dying) releases the lock.
#[derive(Debug)]
pub struct ContainerLock {
    _file: File,
}

impl ContainerLock {
    /// Blocks until the lock is ours.
    pub fn acquire(path: &Path) -> io::Result<ContainerLock> {
        // O_CLOEXEC (Rust's default) matters: a shim spawned while we hold the lock must not
        // inherit it, or the lock would outlive this operation.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(ContainerLock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
