//! Noticing a container whose shim died: docker's daemon restore (`daemon.restore`, seed 002)
//! without a daemon. The shim runs the exit phases; when it is killed (SIGKILL, OOM killer, a
//! crash) nobody does, and the state would say `running` forever while mounts, the netns, the IP
//! lease and the cgroup stay taken.
//!
//! So the commands that look at a container (`ps`, `inspect`, `stop`, `rm`, `pause`) first ask
//! [`Engine::reconcile`]: a container that says `running`, `paused` or `restarting` whose shim is
//! gone and whose init is gone too gets the exit phases run here, with exit code 255 (the status
//! was lost with the shim) and `State.Error` saying why. A container whose init still runs
//! without its shim is left alone: it is running; `stop` or `rm -f` end it, then this applies.

use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::state::Status;

use super::{Engine, EngineError};

impl Engine {
    /// Brings the container `id`'s state in line with its processes; true when it changed it.
    pub fn reconcile(&self, id: &str) -> Result<bool, EngineError> {
        let st = self.store.load_state(id)?;
        if !matches!(
            st.status,
            Status::Running | Status::Paused | Status::Restarting
        ) || crate::host::current().alive(st.shim_pid)
            || crate::host::current().alive(st.pid)
        {
            return Ok(false);
        }
        self.collect_lost(id, crate::sys::exit::LOST)
    }

    /// Runs what the dead shim of `id` would have run on the container's exit, recording
    /// `code`: the exit phases (a paused cgroup thawed first so it can be removed), or only the
    /// state change for a `restarting` container whose exit phases ran already. The caller has
    /// checked that the shim is gone and ended the init. Used by [`Engine::reconcile`] and by
    /// the daemon's restore.
    pub fn collect_lost(&self, id: &str, code: i32) -> Result<bool, EngineError> {
        let st = self.store.load_state(id)?;
        if st.status == Status::Restarting {
            // Its exit phases ran already; only the shim waiting for the backoff is gone.
            let _lock = self.store.lock(id)?;
            let mut st = self.store.load_state(id)?;
            if st.status == Status::Restarting && !crate::host::current().alive(st.shim_pid) {
                st.status = Status::Exited;
                st.shim_pid = 0;
                self.store.save_state(id, &st)?;
                return Ok(true);
            }
            return Ok(false);
        }
        let cfg = self.store.load_config(id)?;
        if st.status == Status::Paused {
            // A frozen cgroup cannot be removed: thaw what is left of it first.
            if let Ok(h) = Hierarchy::detect() {
                let _ = Cgroup::open(&h, &st.cgroup).thaw();
            }
        }
        let kind = cfg.host_config.runtime;
        let shim = st.shim_pid;
        super::exit::finish(self, &cfg, kind, code, false);
        if let Ok(_lock) = self.store.lock(id) {
            if let Ok(mut st) = self.store.load_state(id) {
                st.error = format!(
                    "the container's shim (pid {shim}) died before the container's exit could be collected"
                );
                self.store.save_state(id, &st)?;
            }
        }
        Ok(true)
    }
}
