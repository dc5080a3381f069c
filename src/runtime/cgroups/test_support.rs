//! Helpers the cgroup tests share: sample mount tables, resource builders, throwaway cgroups
//! and gated child processes.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use super::{Cgroup, CgroupError, Hierarchy, Version};

/// Test-only views of the private fields.
impl Hierarchy {
    pub(super) fn v1_mount(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(PathBuf::as_path)
    }

    pub(super) fn v2_mount(&self) -> Option<&Path> {
        self.v2.as_deref()
    }
}

impl Cgroup {
    pub(super) fn version(&self) -> Version {
        self.version
    }

    pub(super) fn rel(&self) -> &Path {
        &self.rel
    }
}

/// This machine's mountinfo (hybrid: v1 controllers + an empty cgroup2 at unified).
pub(super) const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// A systemd host in unified mode (Debian 12 / Fedora), with optional fields.
pub(super) const V2_ONLY: &str = "\
21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

/// The hybrid sample, detected.
pub(super) fn hybrid() -> Hierarchy {
    Hierarchy::from_mountinfo(HYBRID, |_| None).unwrap()
}

pub(super) fn v2_reader(p: &Path) -> Option<String> {
    (p == Path::new("/sys/fs/cgroup"))
        .then(|| "cpuset cpu io memory hugetlb pids rdma misc\n".into())
}

/// These tests make real cgroups: without root they fail, saying so (they never pass untested).
pub(super) fn require_root() {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "cgroup tests need root: cgroup directories belong to root (sudo cargo test)"
    );
}

/// `/ctrace-test-<pid>-<n>-<nanos>/c<n>`: unique per test and per run.
pub(super) fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("/ctrace-test-{}-{n}-{nanos:x}/c{n}", std::process::id())
}

/// Neither the container's directories nor the test's top directory exist.
pub(super) fn assert_gone(cg: &Cgroup) {
    for p in cg.paths() {
        assert!(!p.exists(), "{} left behind", p.display());
        assert!(
            !p.parent().unwrap().exists(),
            "{} left behind",
            p.parent().unwrap().display()
        );
    }
}

pub(super) fn resources(
    memory: Option<i64>,
    swap: Option<i64>,
    pids: Option<i64>,
    quota: Option<i64>,
) -> LinuxResources {
    let mut b = LinuxResourcesBuilder::default();
    if memory.is_some() || swap.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(l) = memory {
            m = m.limit(l);
        }
        if let Some(s) = swap {
            m = m.swap(s);
        }
        b = b.memory(m.build().unwrap());
    }
    if let Some(p) = pids {
        b = b.pids(LinuxPidsBuilder::default().limit(p).build().unwrap());
    }
    if let Some(q) = quota {
        b = b.cpu(
            LinuxCpuBuilder::default()
                .quota(q)
                .period(100_000u64)
                .build()
                .unwrap(),
        );
    }
    b.build().unwrap()
}

pub(super) fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// Where `controller`'s files are for `cg`.
pub(super) fn dir_of(cg: &Cgroup, controller: &str) -> PathBuf {
    cg.dir(controller).unwrap().path.clone()
}

/// `busybox sh -c 'read x; SCRIPT'`: the script waits on stdin, so it can be moved into the
/// cgroup before it does anything.
pub(super) fn gated(script: &str) -> (Child, ChildStdin) {
    let mut child = Command::new("/usr/bin/busybox")
        .args(["sh", "-c", &format!("read x; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn busybox sh");
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

pub(super) fn release(mut stdin: ChildStdin) {
    stdin.write_all(b"go\n").unwrap();
}

/// The error of a `create` that must fail; removes the cgroup if it did not.
pub(super) fn create_err(h: &Hierarchy, rel: &str, r: &LinuxResources) -> CgroupError {
    match Cgroup::create(h, rel, r) {
        Err(e) => e,
        Ok(cg) => {
            let _ = cg.remove();
            panic!("create {rel} succeeded");
        }
    }
}

pub(super) fn wait_timeout(
    child: &mut Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        sleep(Duration::from_millis(10));
    }
    None
}

/// Lines from a child's stdout, read on a thread so the test can wait with a timeout.
pub(super) fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Removes the cgroup even when an assertion fails first.
pub(super) struct Guard<'a>(pub(super) &'a Cgroup);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}
