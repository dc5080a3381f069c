//! The freezer: `docker pause`/`unpause` as v1 `freezer.state` or v2 `cgroup.freeze`, waiting
//! until the kernel reports the state reached.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{files, Cgroup, CgroupError};

/// How long `freeze` waits for every task to reach the freezer.
pub(super) const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

/// One version's freezer: where to write, what, and how to tell the state is reached.
pub(super) struct Freezer {
    /// The file to write (`freezer.state`, `cgroup.freeze`).
    pub(super) control: PathBuf,
    /// The file that tells the state (`freezer.state`, `cgroup.events`).
    pub(super) status: PathBuf,
    /// What to write for (frozen, thawed).
    pub(super) values: (&'static str, &'static str),
    /// True when `status`'s text says frozen (`true`) or thawed (`false`).
    pub(super) reached: fn(&str, bool) -> bool,
    /// Write the value again while waiting (v1 freezes one pass at a time).
    pub(super) rewrite: bool,
}

impl Cgroup {
    /// Freezes every task (docker pause): v1 `freezer.state` FROZEN, v2 `cgroup.freeze` 1.
    /// Returns once the kernel reports the cgroup frozen.
    // Part of the engine's contract (pause): allowed to be unused until that caller lands.
    #[allow(dead_code)]
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.check()?;
        self.set_frozen(true, FREEZE_TIMEOUT, "freeze")
    }

    /// Thaws a frozen cgroup (docker unpause).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.check()?;
        self.set_frozen(false, FREEZE_TIMEOUT, "thaw")
    }

    pub(super) fn set_frozen(
        &self,
        frozen: bool,
        timeout: Duration,
        op: &'static str,
    ) -> Result<(), CgroupError> {
        let f = self.driver().freezer(self, op)?;
        let value = if frozen { f.values.0 } else { f.values.1 };
        let started = Instant::now();
        files::write(&f.control, value)?;
        let mut round = 0;
        let mut last_write = Instant::now();
        loop {
            if (f.reached)(&files::read(&f.status)?, frozen) {
                tracing::info!(
                    path = %f.status.display(),
                    waited_us = started.elapsed().as_micros() as u64,
                    "{}",
                    if frozen { "frozen" } else { "thawed" }
                );
                return Ok(());
            }
            if started.elapsed() >= timeout {
                if frozen {
                    // Do not leave a half-frozen container behind.
                    let _ = self.set_frozen(false, timeout, "thaw");
                }
                return Err(CgroupError::Timeout {
                    path: f.status,
                    state: if frozen { "frozen" } else { "thawed" },
                    waited: timeout,
                });
            }
            if f.rewrite && frozen && last_write.elapsed() >= Duration::from_millis(50) {
                files::write(&f.control, value)?;
                last_write = Instant::now();
            }
            files::backoff(&mut round);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{files::keyed, Hierarchy, Version};
    use super::*;
    use oci_spec::runtime::LinuxResources;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn freeze_stops_and_thaw_resumes() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        let (mut child, stdin) = gated("while true; do echo tick; usleep 20000; done");
        cg.add_pid(child.id() as i32).unwrap();
        let ticks = lines(&mut child);
        release(stdin);
        ticks
            .recv_timeout(Duration::from_secs(5))
            .expect("no tick before freeze");

        cg.freeze().unwrap();
        match h.version() {
            Version::V1 => assert_eq!(read(&dir_of(&cg, "freezer"), "freezer.state"), "FROZEN"),
            Version::V2 => assert_eq!(
                keyed(&read(&dir_of(&cg, "x"), "cgroup.events"), "frozen"),
                Some(1)
            ),
        }
        while ticks.recv_timeout(Duration::from_millis(50)).is_ok() {} // lines already in the pipe
        assert!(
            ticks.recv_timeout(Duration::from_millis(300)).is_err(),
            "ticked while frozen"
        );
        assert!(!cg.pids().unwrap().is_empty());

        cg.thaw().unwrap();
        ticks
            .recv_timeout(Duration::from_secs(5))
            .expect("no tick after thaw");

        // Removing a paused container works too: remove thaws after SIGKILL.
        cg.freeze().unwrap();
        cg.remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_gone(&cg);
    }
}
