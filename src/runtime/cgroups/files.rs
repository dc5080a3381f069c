//! cgroupfs as the cgroup code sees it: write a control file, read one, list a cgroup's
//! processes and sub-cgroups, and make a cgroup path one level at a time. Every effect goes
//! through [`crate::host::current`]; the `tracing` events are made here, beside each call.

use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use super::error::{errno_of, mkdir_hint, write_hint};
use super::{CgroupError, Dir};
use crate::host;

/// How often `create` starts over when a parent directory disappears under it (another
/// container's `remove` took an empty `ctrace/` away between our `mkdir`s).
const MKDIR_ATTEMPTS: usize = 20;

/// Writes `value` to the control file `path` in one `write(2)` (no create, no truncate: cgroupfs
/// files exist or the kernel lacks the feature) and records it.
pub(super) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    match host::current().kfs_write(path, value) {
        Ok(()) => {
            tracing::info!(path = %path.display(), value, "write {file}");
            Ok(())
        }
        Err(source) => {
            tracing::warn!(path = %path.display(), value, error = %source, "write {file} failed");
            Err(CgroupError::Write {
                path: path.into(),
                value: value.into(),
                hint: write_hint(&file, source.raw_os_error()),
                source,
            })
        }
    }
}

pub(super) fn read(path: &Path) -> Result<String, CgroupError> {
    host::current()
        .kfs_read(path)
        .map_err(|source| CgroupError::Read {
            path: path.into(),
            source,
        })
}

/// True when the control file exists (the kernel has the feature).
pub(super) fn exists(path: &Path) -> bool {
    host::current().kfs_exists(path)
}

/// `rmdir` of one cgroup.
pub(super) fn rmdir(path: &Path) -> io::Result<()> {
    host::current().kfs_rmdir(path)
}

/// Reads the pids in `dir`'s `cgroup.procs`; a missing directory holds none.
pub(super) fn procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let path = dir.join("cgroup.procs");
    match host::current().kfs_read(&path) {
        Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        // A cgroup removed while we read it (ENODEV from a dead kernfs node).
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(Vec::new()),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

/// `dir` and every cgroup below it, children before parents (the order `rmdir` needs).
pub(super) fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(children) = host::current().kfs_subdirs(dir) {
        for child in children {
            out.extend(subtree(&child));
        }
    }
    if host::current().kfs_exists(dir) {
        out.push(dir.to_path_buf());
    }
    out
}

/// The value of `key` in a flat-keyed file (`memory.events`, `memory.oom_control`,
/// `cgroup.events`).
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sleeps a little longer each time, from 1 ms up to 20 ms: a freeze or a task exit usually takes
/// well under a millisecond, so the first checks come quickly.
pub(super) fn backoff(round: &mut u32) {
    sleep(Duration::from_millis(u64::from((*round).clamp(1, 20))));
    *round = round.saturating_mul(2).max(1);
}

/// Creates `dir.mount/rel`, one level at a time. `before_child(parent)` runs before each `mkdir`
/// and `after(level, created)` after it (also for levels that already existed). Records every
/// directory it makes in `created`. Returns whether the leaf was made here.
///
/// A concurrent `remove` of a sibling container may rmdir an empty parent between two of our
/// steps: every `ENOENT` restarts the walk from the mount.
pub(super) fn mkdir_levels(
    dir: &Dir,
    rel: &Path,
    created: &mut Vec<PathBuf>,
    before_child: &dyn Fn(&Path) -> Result<(), CgroupError>,
    after: &dyn Fn(&Path, bool) -> Result<(), CgroupError>,
) -> Result<bool, CgroupError> {
    let mut levels: Vec<PathBuf> = rel
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .map(|a| dir.mount.join(a))
        .collect();
    levels.reverse();
    let mut attempt = 0;
    'walk: loop {
        attempt += 1;
        let mut leaf_created = false;
        let mut parent = dir.mount.clone();
        for level in &levels {
            let step = (|| {
                before_child(&parent)?;
                let made = match host::current().kfs_create_dir(level) {
                    Ok(()) => {
                        tracing::info!(path = %level.display(), "mkdir");
                        created.push(level.clone());
                        true
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                    Err(source) => {
                        return Err(CgroupError::Mkdir {
                            path: level.clone(),
                            hint: mkdir_hint(errno_of(&source)),
                            source,
                        })
                    }
                };
                after(level, made)?;
                Ok(made)
            })();
            match step {
                Ok(made) => leaf_created = made,
                Err(e) if e.is_not_found() && attempt < MKDIR_ATTEMPTS => {
                    tracing::debug!(
                        path = %level.display(),
                        attempt,
                        "parent cgroup vanished; retrying"
                    );
                    sleep(Duration::from_millis(1));
                    continue 'walk;
                }
                Err(e) => return Err(e),
            }
            parent = level.clone();
        }
        return Ok(leaf_created);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_file_gives_the_value_of_its_key() {
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(keyed("populated 1\nfrozen 0\n", "frozen"), Some(0));
        assert_eq!(keyed("populated 1\n", "frozen"), None);
    }
}
