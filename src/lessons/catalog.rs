//! The phase catalog: every span name the engine may emit, in the order a learner meets them.
//!
//! This is the one list in code. What each phase *means* (the Docker function, the seed step, the
//! one-sentence explanation) lives in the lesson files under `lessons/`, keyed by these ids; a test
//! checks both directions (every phase has a lesson, every lesson names a phase). Span names are
//! checked against this list at compile time by [`phase_span!`](crate::phase_span), so a typo in a
//! span name does not build.

/// Which part of the flow a phase belongs to; used to group the timeline and the book (whose
/// chapters name stages by their lower-case variant name, see `traces/manifest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The CLI: argument parsing and reaching the engine.
    Client,
    /// The daemon: its own start-up, and the API side of each request.
    Daemon,
    /// `docker create`: from a request to a registered container.
    Create,
    /// `docker start`: from a registered container to a running process.
    Start,
    /// The runtime underneath `start`: shim, cgroup, clone (recorded in the shim).
    Runtime,
    /// The container's init before it execs the user's command (recorded inside the container).
    Init,
    /// Waiting on a running container (attached `run`).
    Wait,
    /// The container's process has exited: reap and clean up (recorded in the shim).
    Exit,
    /// The lifecycle commands after start: `docker stop`, `kill`, `pause`, `unpause`, `restart`.
    Stop,
    /// `docker rm`.
    Remove,
    /// `docker exec`: one more process in a running container.
    Exec,
    /// Image store operations.
    Image,
    /// Undoing a failed operation.
    Rollback,
}

/// One entry of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    /// Stable span name, e.g. `start.mount`.
    pub id: &'static str,
    pub stage: Stage,
    /// True for the root span of an operation (`create`, `start`, …): shown as a heading.
    pub operation: bool,
}

const fn op(id: &'static str, stage: Stage) -> Phase {
    Phase {
        id,
        stage,
        operation: true,
    }
}

const fn ph(id: &'static str, stage: Stage) -> Phase {
    Phase {
        id,
        stage,
        operation: false,
    }
}

use Stage::*;

/// Every phase, in flow order.
pub const PHASES: &[Phase] = &[
    op("run", Client),
    op("bench", Client),
    ph("client.command", Client),
    ph("client.connect", Client),
    ph("client.request", Client),
    op("daemon", Daemon),
    ph("daemon.config", Daemon),
    ph("daemon.root", Daemon),
    ph("daemon.stores", Daemon),
    ph("daemon.network", Daemon),
    ph("daemon.restore", Daemon),
    ph("daemon.listen", Daemon),
    ph("api.request", Daemon),
    op("create", Create),
    ph("create.validate", Create),
    ph("create.image.lookup", Create),
    ph("create.image.pull", Create),
    ph("create.config", Create),
    ph("create.id", Create),
    ph("create.network", Create),
    ph("create.mounts", Create),
    ph("create.rwlayer", Create),
    ph("create.register", Create),
    op("start", Start),
    ph("start.lookup", Start),
    ph("start.validate", Start),
    ph("start.verify", Start),
    ph("start.lock", Start),
    ph("start.mount", Start),
    ph("start.network.init", Start),
    ph("start.mounts.setup", Start),
    ph("start.spec", Start),
    ph("start.runtime.options", Start),
    ph("start.runtime.create", Start),
    ph("runtime.shim", Runtime),
    ph("runtime.shim.start", Runtime),
    ph("runtime.cgroup", Runtime),
    ph("runtime.clone", Runtime),
    ph("init.cgroup", Init),
    ph("init.namespaces", Init),
    ph("init.mounts", Init),
    ph("init.pivot_root", Init),
    ph("init.process", Init),
    ph("init.seccomp", Init),
    ph("runtime.report", Runtime),
    ph("start.network.attach", Start),
    ph("start.runtime.start", Start),
    ph("start.set_running", Start),
    ph("start.state_counter", Start),
    ph("start.health", Start),
    ph("start.checkpoint", Start),
    ph("start.event", Start),
    ph("run.wait", Wait),
    op("exit", Exit),
    ph("exit.reap", Exit),
    ph("exit.runtime", Exit),
    ph("exit.cgroup", Exit),
    ph("exit.unmount", Exit),
    ph("exit.network", Exit),
    ph("exit.state", Exit),
    ph("exit.event", Exit),
    ph("exit.autoremove", Exit),
    ph("exit.restart", Exit),
    op("stop", Stop),
    ph("stop.lookup", Stop),
    ph("stop.signal", Stop),
    ph("stop.wait", Stop),
    ph("stop.kill", Stop),
    op("kill", Stop),
    ph("kill.lookup", Stop),
    ph("kill.signal", Stop),
    op("pause", Stop),
    ph("pause.lookup", Stop),
    ph("pause.freeze", Stop),
    ph("pause.checkpoint", Stop),
    op("unpause", Stop),
    ph("unpause.lookup", Stop),
    ph("unpause.thaw", Stop),
    ph("unpause.checkpoint", Stop),
    op("restart", Stop),
    ph("restart.lookup", Stop),
    ph("restart.event", Stop),
    op("exec", Exec),
    ph("exec.lookup", Exec),
    ph("exec.create", Exec),
    ph("exec.join", Exec),
    ph("exec.start", Exec),
    ph("exec.wait", Exec),
    op("rm", Remove),
    ph("rm.lookup", Remove),
    ph("rm.kill", Remove),
    ph("rm.cleanup", Remove),
    ph("rm.delete", Remove),
    op("pull", Image),
    ph("pull.resolve", Image),
    ph("pull.auth", Image),
    ph("pull.manifest", Image),
    ph("pull.blob", Image),
    ph("pull.verify", Image),
    ph("pull.unpack", Image),
    ph("pull.register", Image),
    op("image.import", Image),
    ph("image.bootstrap", Image),
    op("rollback", Rollback),
    ph("rollback.undo", Rollback),
];

/// The phases every `create` trace shows, in order (the children of the `create` span).
#[cfg(test)]
pub fn create_phases() -> impl Iterator<Item = &'static Phase> {
    PHASES.iter().filter(|p| p.stage == Create && !p.operation)
}

/// The phases every `start` trace shows directly under the `start` span, in order.
#[cfg(test)]
pub fn start_phases() -> impl Iterator<Item = &'static Phase> {
    PHASES.iter().filter(|p| p.stage == Start && !p.operation)
}

/// Looks a phase up by its span name.
pub fn find(id: &str) -> Option<&'static Phase> {
    PHASES.iter().find(|p| p.id == id)
}

/// Position of a phase in flow order (for sorting); unknown names sort last.
pub fn order(id: &str) -> usize {
    PHASES
        .iter()
        .position(|p| p.id == id)
        .unwrap_or(PHASES.len())
}

/// Compile-time membership test used by [`phase_span!`](crate::phase_span).
pub const fn contains(id: &str) -> bool {
    let mut i = 0;
    while i < PHASES.len() {
        if str_eq(PHASES[i].id, id) {
            return true;
        }
        i += 1;
    }
    false
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        for (i, p) in PHASES.iter().enumerate() {
            assert!(
                PHASES[i + 1..].iter().all(|q| q.id != p.id),
                "duplicate phase {}",
                p.id
            );
        }
    }

    #[test]
    fn create_and_start_follow_the_design_order() {
        let create: Vec<_> = create_phases().map(|p| p.id).collect();
        assert_eq!(create.first(), Some(&"create.validate"));
        assert_eq!(create.get(1), Some(&"create.image.lookup"));
        assert_eq!(create.last(), Some(&"create.register"));
        let start: Vec<_> = start_phases().map(|p| p.id).collect();
        let pos = |id| start.iter().position(|p| *p == id).unwrap();
        assert!(pos("start.runtime.create") < pos("start.network.attach"));
        assert!(pos("start.network.attach") < pos("start.runtime.start"));
        assert!(contains("start.mount") && !contains("start.mnt"));
    }
}
