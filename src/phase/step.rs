//! Step mode (`--step`): the engine pauses after each phase it runs in this process, so a learner
//! can look at what the phase changed before the next one runs.
//!
//! This module is only the engine's side: the hook [`pause`] that [`super::phase()`] calls
//! once a phase has finished (its span closed, its undo registered), and the few facts a viewer
//! needs to find the container on the host (its id, the shim's and the init's pids). How the pause
//! is shown and answered — a terminal, a key — is the CLI's business ([`Stepper`]).
//!
//! Aborting is an error like any other ([`Interrupted::Aborted`], the engine's
//! `EngineError::Aborted`), so it unwinds the same rollback stack a failure does.
//!
//! Not here: the pauses of the shim and the init ([`super::gate`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use super::Interrupted;

/// What the user decided at a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the next phase.
    Continue,
    /// Stop here and roll back.
    Abort,
}

/// What the engine knows about the container being stepped through.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The full container id, once `create.id` or `start.lookup` has run.
    pub id: Option<String>,
    /// The shim's pid, once `start.runtime.create` has run.
    pub shim_pid: Option<i32>,
    /// The container's init (its pid 1, as seen from the host).
    pub init_pid: Option<i32>,
}

/// Shows a pause and waits for the user's decision.
pub trait Stepper: Send + Sync {
    fn pause(&self, phase: &'static str, facts: &Facts) -> Decision;
}

static STEPPER: OnceLock<Box<dyn Stepper>> = OnceLock::new();
/// Set once the user quit: the clean-up that follows (rollback, `run`'s removal of the container
/// it created) runs through phases too, and must not stop to ask again.
static QUIT: AtomicBool = AtomicBool::new(false);
static FACTS: Mutex<Facts> = Mutex::new(Facts {
    id: None,
    shim_pid: None,
    init_pid: None,
});

/// Turns step mode on for this process.
pub fn arm(stepper: Box<dyn Stepper>) {
    let _ = STEPPER.set(stepper);
}

/// Whether step mode is on.
pub fn armed() -> bool {
    STEPPER.get().is_some()
}

/// Records the container the current operation works on.
pub fn learn_container(id: &str) {
    if armed() {
        let mut f = FACTS.lock().unwrap();
        if f.id.as_deref() != Some(id) {
            *f = Facts {
                id: Some(id.to_string()),
                ..Facts::default()
            };
        }
    }
}

/// Records the processes `start.runtime.create` made.
pub fn learn_processes(shim_pid: i32, init_pid: i32) {
    if armed() {
        let mut f = FACTS.lock().unwrap();
        f.shim_pid = Some(shim_pid);
        f.init_pid = Some(init_pid);
    }
}

/// Called after each phase: waits for the user when step mode is on.
pub fn pause(phase: &'static str) -> Result<(), Interrupted> {
    let Some(stepper) = STEPPER.get() else {
        return Ok(());
    };
    if QUIT.load(Ordering::Relaxed) {
        return Ok(());
    }
    let facts = FACTS.lock().unwrap().clone();
    match stepper.pause(phase, &facts) {
        Decision::Continue => Ok(()),
        Decision::Abort => {
            QUIT.store(true, Ordering::Relaxed);
            Err(Interrupted::Aborted(phase.to_string()))
        }
    }
}
