//! Control groups for a container: find the hierarchy, create the container's cgroup with its
//! limits, move processes into it, freeze it, and take it down again.
//!
//! What this module is for:
//!
//! - [`Hierarchy::detect`] reads the mount table and decides between **cgroup v1** (one mount per
//!   controller: `/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids`, …) and **cgroup v2** (one
//!   unified tree, `/sys/fs/cgroup` itself is `cgroup2`). A *hybrid* host — v1 controllers plus
//!   an (empty) `cgroup2` mount at `/sys/fs/cgroup/unified`, as systemd sets up in hybrid mode —
//!   counts as v1: a controller can be attached to only one hierarchy at a time, and here they
//!   are all on the v1 side.
//! - [`Hierarchy::verify`] answers docker's `verifyContainerSettings` question for cgroups: can
//!   this host honour the limits at all (is the controller there, are the numbers sane)?
//! - [`Cgroup::create`] makes the directories and writes the limits — docker's `--memory`,
//!   `--memory-swap`, `--pids-limit`, `--cpus`, `--cpuset-cpus`, and the device allow-list —
//!   and undoes its own work when anything fails. [`Cgroup::remove`] is the inverse and is
//!   idempotent, so `rm`, the exit path and a rollback may all call it.
//!
//! The files, as youki's `libcgroups` splits them: [`hierarchy`] (detect and verify), [`v1`] and
//! [`v2`] (each version's layout and create, behind the one [`Driver`] trait chosen in
//! [`driver`]), one file per controller ([`memory`], [`pids`], [`cpu`], [`devices`]),
//! [`freezer`] (pause), [`remove`] (kill and rmdir), [`files`] (the cgroupfs reads, writes and
//! mkdir walk, all through [`crate::host::current`]), [`path`] (the `cgroupsPath` rules),
//! [`unsupported`] (settings ctrace does not apply) and [`error`].
//!
//! Not here: deciding *where* a container's cgroup lives (the engine passes an OCI
//! `cgroupsPath` like `/ctrace/<id>`), systemd-managed cgroups (`slice:prefix:name` paths are
//! refused), and cgroup v2 device rules, which need an eBPF program attached to the cgroup: they
//! are skipped with a warning (the container's `/dev` then only holds the devices its mounts
//! create). It also does not read statistics beyond what the engine needs (`oom_killed`,
//! `pids`), and it does not touch the kernel itself: every effect goes through the host seam.
//!
//! On a hybrid host the container is not placed in the `unified` or `name=systemd` trees: they
//! carry no controllers, so there is nothing to limit or count there.
//!
//! Two containers may create and remove `ctrace/<a>` and `ctrace/<b>` at the same moment, so
//! every step tolerates the other: `create` starts its walk over when a parent vanishes under it
//! (ENOENT, or ENODEV from a cgroup being removed), and `remove` takes parents away only when the
//! kernel agrees they are empty (EBUSY/ENOTEMPTY means another container lives there).
//!
//! Every change to the kernel's state — each `mkdir`, each control-file write, each `rmdir`,
//! each `kill` — is a `tracing` event in the current span, so a trace shows exactly which files
//! `docker run --memory 64m` ends up touching.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

mod cpu;
mod devices;
mod error;
mod files;
mod freezer;
mod hierarchy;
mod memory;
mod path;
mod pids;
mod remove;
mod unsupported;
mod v1;
mod v2;

pub use error::CgroupError;
pub use hierarchy::Hierarchy;

/// Moves the calling process into the cgroup directory `dir` by writing `0` (the caller) to its
/// v1 `tasks` file, or to v2's `cgroup.procs` where there is no `tasks`.
///
/// Why not the pid into `cgroup.procs`, as runc does from the outside: moving a whole thread
/// group takes the kernel's global `cgroup_threadgroup_rwsem` for writing, and the first writer
/// after a quiet spell waits for an RCU grace period (about 10 ms on an idle machine, measured in
/// `bench/results/`). A single thread moving itself through `tasks` needs no such lock. The
/// caller must be single-threaded, or only the calling thread moves (v1). On v2 `cgroup.procs`
/// still takes the lock (`CLONE_INTO_CGROUP` is v2's way around it).
/// Returns the file written.
pub fn join_self(dir: &Path) -> Result<&'static str, CgroupError> {
    let file = if files::exists(&dir.join("tasks")) {
        "tasks"
    } else {
        "cgroup.procs"
    };
    files::write(&dir.join(file), "0")?;
    Ok(file)
}

/// Which cgroup interface the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    V1,
    V2,
}

/// What differs between cgroup v1 and v2, in one place: every other file asks the driver of
/// the hierarchy's version instead of matching on [`Version`].
trait Driver: Sync {
    /// The controllers a container can use.
    fn controllers(&self, h: &Hierarchy) -> Vec<String>;
    /// True when `controller` can be used here.
    fn has(&self, h: &Hierarchy, controller: &str) -> bool;
    /// The one human line [`Hierarchy::describe`] gives.
    fn describe(&self, h: &Hierarchy) -> String;
    /// How to say that `controller` is missing, and what to do about it.
    fn missing(&self, h: &Hierarchy, controller: &str) -> String;
    /// The directories of the cgroup at `rel`: those a container joins, and those in the
    /// hierarchies it does not join (which only [`Cgroup::remove`] clears).
    fn layout(&self, h: &Hierarchy, rel: &Path) -> (Vec<Dir>, Vec<Dir>);
    /// The directory holding `controller`'s files.
    fn dir<'a>(&self, cg: &'a Cgroup, controller: &str) -> Option<&'a Dir>;
    /// Makes the directories and writes the limits; records every directory made in `created`.
    fn create(
        &self,
        cg: &Cgroup,
        h: &Hierarchy,
        resources: &LinuxResources,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError>;
    /// The freezer's files and values (`op` names the operation for the error).
    fn freezer(&self, cg: &Cgroup, op: &'static str) -> Result<freezer::Freezer, CgroupError>;
    /// The file whose `oom_kill` counts the tasks the kernel OOM-killed.
    fn oom_file(&self) -> &'static str;
    /// A file whose one write kills the whole cgroup (v2 `cgroup.kill`), when there is one.
    fn kill_file(&self, cg: &Cgroup) -> Option<PathBuf>;
}

/// The driver of `version`.
fn driver(version: Version) -> &'static dyn Driver {
    match version {
        Version::V1 => &v1::V1,
        Version::V2 => &v2::V2,
    }
}

/// One directory of the container's cgroup: per v1 hierarchy, or the single v2 one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dir {
    /// `memory`, `cpu,cpuacct` (co-mounted) or `unified`.
    controllers: Vec<String>,
    mount: PathBuf,
    path: PathBuf,
}

impl Dir {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// A container's cgroup: one directory per v1 hierarchy it joins, or one v2 directory.
#[derive(Debug, Clone)]
pub struct Cgroup {
    version: Version,
    /// The `cgroupsPath` as given.
    given: String,
    /// Relative to every mount: `ctrace/<id>`.
    rel: PathBuf,
    dirs: Vec<Dir>,
    /// The same path in the hierarchies ctrace does not join (`blkio`, `name=systemd`, the hybrid
    /// `unified` tree): only `remove` looks there, because runc — the other runtime — does put
    /// its containers there, and `runc delete` leaves their parent (`ctrace/`) behind.
    others: Vec<Dir>,
    /// Why `given` is unusable; every operation then fails instead of touching the root cgroup.
    invalid: Option<&'static str>,
}

impl Cgroup {
    /// Creates the cgroup for `rel` (an OCI `cgroupsPath` like `/ctrace/<id>`) and applies
    /// `resources`. On any failure everything created here is removed again.
    ///
    /// An existing, empty leaf (left by a crash) is reused; one with processes is refused.
    pub fn create(
        h: &Hierarchy,
        rel: &str,
        resources: &LinuxResources,
    ) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup::open(h, rel);
        cg.check()?;
        if cg.dirs.is_empty() {
            return Err(CgroupError::NotMounted);
        }
        // Checked again here (the engine checks in start.verify) so that a limit is either
        // applied or refused, never dropped because its controller went missing.
        h.verify(resources)?;
        unsupported::warn(resources);

        let mut created = Vec::new();
        if let Err(e) = cg.driver().create(&cg, h, resources, &mut created) {
            remove::rollback(&created);
            return Err(e);
        }
        Ok(cg)
    }

    /// An existing cgroup (to remove it later from another process). Nothing is checked here: a
    /// path that can never be a container's cgroup (the root, `..`) makes every later call fail.
    pub fn open(h: &Hierarchy, rel: &str) -> Cgroup {
        let (relp, invalid) = match path::relative(rel) {
            Ok(p) => (p, None),
            Err(reason) => (PathBuf::new(), Some(reason)),
        };
        let (dirs, others) = match invalid {
            None => driver(h.version()).layout(h, &relp),
            Some(_) => (Vec::new(), Vec::new()),
        };
        Cgroup {
            version: h.version(),
            given: rel.to_string(),
            rel: relp,
            dirs,
            others,
            invalid,
        }
    }

    fn driver(&self) -> &'static dyn Driver {
        driver(self.version)
    }

    fn check(&self) -> Result<(), CgroupError> {
        match self.invalid {
            Some(reason) => Err(CgroupError::InvalidPath {
                path: self.given.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The directory holding `controller`'s files (v2: the one directory).
    fn dir(&self, controller: &str) -> Option<&Dir> {
        self.driver().dir(self, controller)
    }

    /// Refuses a pre-existing leaf that already has processes: it belongs to someone else.
    fn check_reused(&self, dir: &Dir, leaf_created: bool) -> Result<(), CgroupError> {
        if !leaf_created {
            if files::procs(&dir.path)?.is_empty() {
                tracing::warn!(
                    path = %dir.path.display(),
                    "cgroup already exists and is empty; reusing it"
                );
            } else {
                return Err(CgroupError::InUse {
                    path: dir.path.clone(),
                });
            }
        }
        Ok(())
    }

    /// Moves `pid` (with all its threads) into the cgroup: `cgroup.procs` in every directory.
    #[cfg(test)]
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        self.check()?;
        for dir in &self.dirs {
            files::write(&dir.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Makes the cgroup's directories, in every hierarchy (those ctrace joins and those only
    /// runc does), and writes no limit: for the external runtime, which writes its limits itself.
    /// Made before `runc create` so the shared parent (`ctrace/`) is never empty while runc walks
    /// down to its leaf: a sibling container's `remove` takes an empty parent away, and runc,
    /// unlike [`files::mkdir_levels`], does not retry its `mkdir`s. Undone on failure.
    pub fn make_dirs(&self) -> Result<(), CgroupError> {
        self.check()?;
        let mut created = Vec::new();
        for dir in self.dirs.iter().chain(&self.others) {
            let cpuset = dir.has("cpuset") && self.version == Version::V1;
            let made =
                files::mkdir_levels(dir, &self.rel, &mut created, &|_| Ok(()), &|level, _| {
                    if cpuset {
                        cpu::init_cpuset_v1(level)
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = made {
                remove::rollback(&created);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Moves the calling process into the cgroup, in every hierarchy: see [`join_self`]. The
    /// container's init calls it on itself (`init.cgroup`).
    /// Returns what was written where, for the trace.
    pub fn join_self(&self) -> Result<String, CgroupError> {
        self.check()?;
        // The version says which file; no need to look (the exec helper, with paths only, does).
        let file = match self.version {
            Version::V1 => "tasks",
            Version::V2 => "cgroup.procs",
        };
        for dir in &self.dirs {
            files::write(&dir.path.join(file), "0")?;
        }
        Ok(match self.dirs.len() {
            1 => format!("0 written to its cgroup's {file}"),
            n => format!("0 written to its cgroup's {file} in {n} hierarchies"),
        })
    }

    /// Every process in the cgroup or below it, over all its hierarchies, sorted. A cgroup that
    /// does not exist (any more) holds none.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.check()?;
        let mut all = BTreeSet::new();
        for dir in &self.dirs {
            for d in files::subtree(&dir.path) {
                all.extend(files::procs(&d)?);
            }
        }
        Ok(all.into_iter().collect())
    }

    /// True when the kernel OOM-killed a task here: v1 `memory.oom_control` `oom_kill`, v2
    /// `memory.events` `oom_kill` (counted over the whole subtree).
    pub fn oom_killed(&self) -> bool {
        self.dir("memory")
            .and_then(|d| files::read(&d.path.join(self.driver().oom_file())).ok())
            .and_then(|t| files::keyed(&t, "oom_kill"))
            .is_some_and(|n| n > 0)
    }

    /// The container's directories, one per hierarchy (for the trace and `inspect`).
    // Part of the engine's contract (inspect): allowed to be unused until that caller lands.
    #[allow(dead_code)]
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use super::files::keyed;
    use super::test_support::*;
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};
    use std::fs;
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn create_writes_the_limits() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(
            &h,
            &unique(),
            &resources(Some(64 << 20), Some(64 << 20), Some(20), Some(50_000)),
        )
        .unwrap();
        let _g = Guard(&cg);
        for p in cg.paths() {
            assert!(p.is_dir(), "{} missing", p.display());
        }
        match h.version() {
            Version::V1 => {
                assert_eq!(
                    read(&dir_of(&cg, "memory"), "memory.limit_in_bytes"),
                    "67108864"
                );
                assert_eq!(
                    read(&dir_of(&cg, "memory"), "memory.memsw.limit_in_bytes"),
                    "67108864"
                );
                assert_eq!(read(&dir_of(&cg, "pids"), "pids.max"), "20");
                assert_eq!(read(&dir_of(&cg, "cpu"), "cpu.cfs_quota_us"), "50000");
                assert_eq!(read(&dir_of(&cg, "cpu"), "cpu.cfs_period_us"), "100000");
                let cpuset = dir_of(&cg, "cpuset");
                assert_eq!(
                    read(&cpuset, "cpuset.cpus"),
                    read(h.v1_mount("cpuset").unwrap(), "cpuset.cpus")
                );
                assert!(!read(&cpuset, "cpuset.mems").is_empty());
            }
            Version::V2 => {
                let d = dir_of(&cg, "memory");
                assert_eq!(read(&d, "memory.max"), "67108864");
                assert_eq!(read(&d, "pids.max"), "20");
                assert_eq!(read(&d, "cpu.max"), "50000 100000");
            }
        }
        cg.remove().unwrap();
        assert_gone(&cg);
    }

    #[test]
    fn added_process_is_listed() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let pid = child.id() as i32;
        cg.add_pid(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        for p in cg.paths() {
            assert_eq!(read(&p, "cgroup.procs"), pid.to_string(), "{}", p.display());
        }
        // Our own /proc/<pid>/cgroup agrees (the kernel's view, not our file).
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(own.contains(cg.rel().to_str().unwrap()), "{own}");
        cg.remove().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_gone(&cg);
    }

    #[test]
    fn pids_limit_caps_a_fork_loop() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(&h, &unique(), &resources(None, None, Some(20), None)).unwrap();
        let _g = Guard(&cg);
        let (mut child, stdin) = gated(
            "i=0; while [ $i -lt 30 ]; do sleep 5 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; \
             echo all started; wait",
        );
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        // Either the shell gives up at the first failed fork, or it goes on; both are fine as long
        // as the cgroup never holds more than 20 tasks.
        let status = wait_timeout(&mut child, Duration::from_secs(2));
        let pids = cg.pids().unwrap();
        assert!(
            pids.len() <= 20,
            "{} processes in a cgroup with pids.max 20",
            pids.len()
        );
        let mut stdout = String::new();
        let mut stderr = String::new();
        if status.is_some() {
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
        }
        assert!(
            !stdout.contains("all started"),
            "all 30 sleeps started: {stdout}"
        );
        let events = read(&dir_of(&cg, "pids"), "pids.events");
        assert!(
            keyed(&events, "max").unwrap_or(0) > 0,
            "pids.events: {events}; stderr: {stderr}"
        );
        eprintln!(
            "fork loop: {} tasks, exit {status:?}, stderr {stderr:?}",
            pids.len()
        );
        cg.remove().unwrap();
        let _ = child.wait();
        assert_gone(&cg);
    }

    #[test]
    fn memory_hog_is_oom_killed() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cg = Cgroup::create(
            &h,
            &unique(),
            &resources(Some(64 << 20), Some(64 << 20), None, None),
        )
        .unwrap();
        let _g = Guard(&cg);
        assert!(!cg.oom_killed());
        let (mut child, stdin) =
            gated("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}");
        cg.add_pid(child.id() as i32).unwrap();
        release(stdin);
        let status =
            wait_timeout(&mut child, Duration::from_secs(20)).expect("memory hog still running");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert!(cg.oom_killed());
        cg.remove().unwrap();
        assert_gone(&cg);
    }

    #[test]
    fn failed_create_leaves_nothing() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let cpu = LinuxCpuBuilder::default()
            .cpus("4000-4001")
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(cpu)
            .build()
            .unwrap();
        let rel = unique();
        let err = create_err(&h, &rel, &r);
        eprintln!("{err}");
        if h.has("cpuset") {
            assert!(matches!(err, CgroupError::Write { .. }), "{err}");
            assert!(err.to_string().contains("cpuset.cpus"), "{err}");
            assert!(err.to_string().contains("subset of the parent"), "{err}");
        }
        assert_gone(&Cgroup::open(&h, &rel));
    }

    #[test]
    fn existing_leaf_is_reused_when_empty_and_refused_when_busy() {
        require_root();
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let cg = Cgroup::create(&h, &rel, &LinuxResources::default()).unwrap();
        let _g = Guard(&cg);
        Cgroup::create(&h, &rel, &resources(None, None, Some(10), None)).unwrap();
        assert_eq!(read(&dir_of(&cg, "pids"), "pids.max"), "10");
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        cg.add_pid(child.id() as i32).unwrap();
        let err = create_err(&h, &rel, &LinuxResources::default());
        assert!(matches!(err, CgroupError::InUse { .. }), "{err}");
        // The refused create removed nothing of the running one.
        assert_eq!(cg.pids().unwrap(), vec![child.id() as i32]);
        cg.remove().unwrap();
        let _ = child.wait();
        assert_gone(&cg);
    }

    #[test]
    fn concurrent_siblings_share_and_drop_the_parent() {
        require_root();
        let h = Arc::new(Hierarchy::detect().unwrap());
        let top = unique();
        let top = top.rsplit_once('/').unwrap().0.to_string();
        let workers: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|name| {
                let (h, rel) = (h.clone(), format!("{top}/{name}"));
                std::thread::spawn(move || {
                    for _ in 0..40 {
                        let cg = Cgroup::create(&h, &rel, &resources(None, None, Some(5), None))
                            .unwrap_or_else(|e| panic!("{rel}: {e}"));
                        cg.remove().unwrap_or_else(|e| panic!("{rel}: {e}"));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_gone(&Cgroup::open(&h, &format!("{top}/a")));
    }

    /// Collects `message path` of each event, as the engine's recorder would see them.
    struct Collect(Arc<Mutex<Vec<String>>>);
    struct Fields(String, String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.0 = format!("{value:?}"),
                "path" => self.1 = format!("{value:?}"),
                _ => {}
            }
        }
    }
    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut f = Fields(String::new(), String::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(format!("{} {}", f.0, f.1));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// Runs [`events_child`] in a fresh process of this test binary.
    ///
    /// Why a child: with one scoped subscriber, tracing caches a callsite's interest from
    /// whichever thread reaches it first, so a parallel test thread without the subscriber would
    /// switch these events off for good; and a global subscriber here would take the place of one
    /// another test in the crate may install.
    /// Runs [`events_child`] in a fresh process of this test binary.
    ///
    /// Why a child: with one scoped subscriber, tracing caches a callsite's interest from
    /// whichever thread reaches it first, so a parallel test thread without the subscriber would
    /// switch these events off for good; and a global subscriber here would take the place of one
    /// another test in the crate may install.
    #[test]
    fn every_kernel_action_is_an_event() {
        require_root();
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, m)| m);
        let name = format!("{module}::events_child");
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                name.as_str(),
                "--exact",
                "--ignored",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(EVENTS_CHILD, "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name}: {stdout}\n{stderr}"
        );
    }

    const EVENTS_CHILD: &str = "CTRACE_CGROUPS_EVENTS_CHILD";

    #[test]
    #[ignore = "run in a child process by every_kernel_action_is_an_event"]
    fn events_child() {
        if std::env::var_os(EVENTS_CHILD).is_none() {
            return;
        }
        let h = Hierarchy::detect().unwrap();
        let rel = unique();
        let mut child = None;
        let events = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Collect(events.clone()), || {
            let cg =
                Cgroup::create(&h, &rel, &resources(Some(64 << 20), None, Some(20), None)).unwrap();
            let _g = Guard(&cg);
            let c = child.insert(Command::new("sleep").arg("5").spawn().unwrap());
            cg.add_pid(c.id() as i32).unwrap();
            cg.remove().unwrap();
        });
        assert_eq!(child.unwrap().wait().unwrap().signal(), Some(libc::SIGKILL));
        let events = events.lock().unwrap();
        let cg = Cgroup::open(&h, &rel);
        let kills = events
            .iter()
            .filter(|e| e.starts_with("kill(SIGKILL)"))
            .count();
        let joins = events
            .iter()
            .filter(|e| e.starts_with("write cgroup.procs"))
            .count();
        assert_eq!(joins, cg.paths().len(), "{events:#?}");
        // One kill event per process however long it takes to exit (v2 with cgroup.kill: none).
        assert!(kills <= 1, "{events:#?}");
        let mkdirs = events.iter().filter(|e| e.starts_with("mkdir ")).count();
        let rmdirs = events.iter().filter(|e| e.starts_with("rmdir ")).count();
        // Every directory and its parent, in every hierarchy, made and removed.
        assert_eq!(mkdirs, 2 * cg.paths().len(), "{events:#?}");
        assert_eq!(rmdirs, mkdirs, "{events:#?}");
        let limit = match h.version() {
            Version::V1 => "write memory.limit_in_bytes",
            Version::V2 => "write memory.max",
        };
        assert!(events.iter().any(|e| e.starts_with(limit)), "{events:#?}");
        assert!(
            events.iter().any(|e| e.starts_with("write pids.max")),
            "{events:#?}"
        );
        assert_gone(&cg);
    }
}
