//! Taking a cgroup down: kill every process in it, remove its directories (and any cgroups made
//! below them), then its parents while they are empty. Also the rollback of a failed create.

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::error::errno_of;
use super::freezer::FREEZE_TIMEOUT;
use super::{files, Cgroup, CgroupError, Dir};
use crate::host;
use crate::host::process::Signal;

/// How long `remove` waits for killed processes to leave the cgroup and for `rmdir` to stop
/// returning `EBUSY`: the kernel finishes tearing a task down (freeing its memory, uncharging
/// the memcg) a little after `kill(2)` returns.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Removes what a failed `create` made, deepest first. A parent another container started
/// using meanwhile stays (rmdir fails with EBUSY/ENOTEMPTY, which is fine).
pub(super) fn rollback(created: &[PathBuf]) {
    for path in created.iter().rev() {
        match files::rmdir(path) {
            Ok(()) => tracing::info!(path = %path.display(), "rmdir (rollback)"),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "rollback rmdir skipped")
            }
        }
    }
}

impl Cgroup {
    /// SIGKILLs every process still in the cgroup, removes every directory (and any cgroups
    /// created below them), then the parent directories when they are empty. Missing directories
    /// are fine: calling it twice, or on a cgroup that was never created, succeeds.
    ///
    /// Parents count as "created for it" all the way up to the mount: for `/ctrace/<id>`
    /// that is `ctrace`. A parent still used by another container stays (EBUSY/ENOTEMPTY).
    /// The path is also cleared in the hierarchies ctrace does not join, where runc leaves it.
    pub fn remove(&self) -> Result<(), CgroupError> {
        self.check()?;
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        let mut killed = BTreeSet::new();
        let mut first_error = self.kill_all(deadline, &mut killed).err();
        for dir in self.dirs.iter().chain(&self.others) {
            if let Err(e) = self.remove_dir(dir, deadline, &mut killed) {
                first_error.get_or_insert(e);
                continue;
            }
            self.remove_parents(dir);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Kills every process (all hierarchies), and waits until they have left the cgroup.
    fn kill_all(&self, deadline: Instant, killed: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
        if self.pids()?.is_empty() {
            return Ok(());
        }
        if let Some(file) = self.driver().kill_file(self) {
            files::write(&file, "1")?;
        } else {
            // Freeze first so nothing can fork between reading the pids and killing them; thaw
            // afterwards because a frozen task does not act on SIGKILL (this also covers
            // removing a paused container). Without a freezer the wait loop below re-kills.
            let froze = self
                .set_frozen(true, Duration::from_millis(500), "freeze")
                .is_ok();
            let result = self.signal_all(killed);
            if froze {
                let _ = self.set_frozen(false, FREEZE_TIMEOUT, "thaw");
            }
            result?;
        }
        let mut round = 0;
        let mut last_kill = Instant::now();
        loop {
            if self.pids()?.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // rmdir will fail with EBUSY and say which cgroup; no need to fail here.
                return Ok(());
            }
            if last_kill.elapsed() >= Duration::from_millis(100) {
                self.signal_all(killed)?;
                last_kill = Instant::now();
            }
            files::backoff(&mut round);
        }
    }

    /// SIGKILL to every pid listed now. `killed` keeps the trace to one event per process: a
    /// task that is still exiting stays listed and is signalled again, silently.
    fn signal_all(&self, killed: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
        let me = host::current().pid();
        for dir in self.dirs.iter().chain(&self.others) {
            for d in files::subtree(&dir.path) {
                for pid in files::procs(&d)? {
                    if pid == me {
                        // Someone moved the engine itself in here: killing it helps no one.
                        tracing::warn!(pid, path = %d.display(), "not killing ourselves");
                        continue;
                    }
                    match host::current().kill(pid, Signal::SIGKILL) {
                        Ok(()) => {
                            if killed.insert(pid) {
                                tracing::info!(pid, path = %d.display(), "kill(SIGKILL)");
                            }
                        }
                        // Already gone (or a zombie reaped in between): what we wanted.
                        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                        Err(e) => {
                            return Err(CgroupError::Kill {
                                pid,
                                path: d,
                                source: Errno::from_raw(errno_of(&e)),
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes `dir` and every cgroup below it, children first, retrying while the kernel still
    /// counts exiting tasks (EBUSY) until `deadline`.
    fn remove_dir(
        &self,
        dir: &Dir,
        deadline: Instant,
        killed: &mut BTreeSet<i32>,
    ) -> Result<(), CgroupError> {
        let mut round = 0;
        loop {
            let mut busy = None;
            for path in files::subtree(&dir.path) {
                match files::rmdir(&path) {
                    Ok(()) => tracing::info!(path = %path.display(), "rmdir"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if matches!(errno_of(&e), libc::EBUSY | libc::ENOTEMPTY) => {
                        busy = Some((path, e));
                        break;
                    }
                    Err(source) => {
                        return Err(CgroupError::Remove {
                            path,
                            hint: match errno_of(&source) {
                                libc::EACCES | libc::EPERM => "; run ctrace as root",
                                _ => "",
                            },
                            source,
                        })
                    }
                }
            }
            let Some((path, source)) = busy else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(CgroupError::Remove {
                    path,
                    source,
                    hint: "; processes are still in it (stuck in D state?) or a child cgroup \
                           was created meanwhile: check its cgroup.procs and run rm again",
                });
            }
            // A fork that raced the kill, or a task still exiting.
            let _ = self.signal_all(killed);
            files::backoff(&mut round);
        }
    }

    /// Removes `dir`'s empty parents below the mount, deepest first; stops at the first one in
    /// use (another container's cgroup is in it). A start racing with this never loses its
    /// parent: ctrace's own `mkdir`s retry, and runc's leaf is made by ctrace first
    /// ([`Cgroup::make_dirs`]).
    fn remove_parents(&self, dir: &Dir) {
        for ancestor in self.rel.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            let path = dir.mount.join(ancestor);
            match files::rmdir(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "rmdir"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) if matches!(errno_of(&e), libc::EBUSY | libc::ENOTEMPTY) => break,
                Err(e) => {
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "cannot remove parent cgroup"
                    );
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Hierarchy;
    use super::*;
    use std::fs;
    use std::os::unix::process::ExitStatusExt;
    use std::thread::sleep;

    #[test]
    fn remove_kills_and_is_idempotent() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg =
            Cgroup::create(&h, &rel, &resources(Some(64 << 20), None, Some(20), None)).unwrap();
        let _g = Guard(&cg);
        // A process tree: sh and a grandchild sleep, neither reaped by remove.
        let (mut child, stdin) = gated("sleep 100 & sleep 100; echo never");
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while cg.pids().unwrap().len() < 3 && Instant::now() < deadline {
            sleep(Duration::from_millis(5));
        }
        assert_eq!(cg.pids().unwrap().len(), 3);
        // A child cgroup made inside the container's (a nested runtime would) goes too.
        let nested = cg.paths()[0].join("nested");
        fs::create_dir(&nested).unwrap();

        // Another process's view: open by path, not the creating handle.
        Cgroup::open(&h, &rel).remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(!nested.exists());
        assert_gone(&cg);
        cg.remove().unwrap();
        Cgroup::open(&h, &rel).remove().unwrap();
        Cgroup::open(&h, &unique()).remove().unwrap(); // never created
    }

    #[test]
    fn remove_also_clears_what_runc_leaves() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg = Cgroup::open(&h, &rel);
        // What `runc delete` leaves: the parent in blkio, name=systemd, unified; and a leaf too
        // for good measure (a runc killed before its delete).
        for d in &cg.others {
            fs::create_dir_all(&d.path).unwrap();
        }
        cg.remove().unwrap();
        for d in &cg.others {
            assert!(
                !d.path.parent().unwrap().exists(),
                "{} left",
                d.path.display()
            );
        }
    }
}
