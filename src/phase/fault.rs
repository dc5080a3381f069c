//! Fault injection: `--fail-at PHASE` makes one phase fail, so a learner (and the test suite) can
//! watch the engine roll back — the error, the undo spans, the container's final state — and
//! prove that nothing leaks.
//!
//! The engine checks at the top of every create/start phase; the shim and the container's init
//! get the phase through the `CTRACE_FAIL_AT` environment variable and check at theirs. The
//! failure is injected *before* the phase does its work, so what is undone is exactly what the
//! earlier phases did.
//!
//! Not here: the check at the top of a phase ([`super::phase()`] makes it), undoing what the
//! earlier phases did (the engine's rollback stack).

use std::sync::OnceLock;

use crate::lessons::catalog::{self, Stage};

/// Carries the phase to the shim and, through it, to the init.
pub const ENV: &str = "CTRACE_FAIL_AT";

static FAIL_AT: OnceLock<String> = OnceLock::new();

/// The phases a failure can be injected into: the client's, create's, start's, the runtime's
/// and the init's, and the attached wait. Not `client.request`: it exists only in front of a
/// daemon, where `--fail-at` is refused (the injection arms the embedded engine).
pub fn injectable() -> impl Iterator<Item = &'static str> {
    catalog::PHASES
        .iter()
        .filter(|p| {
            !p.operation
                && p.id != "client.request"
                && matches!(
                    p.stage,
                    Stage::Client
                        | Stage::Create
                        | Stage::Start
                        | Stage::Runtime
                        | Stage::Init
                        | Stage::Wait
                )
        })
        .map(|p| p.id)
}

/// Arms the injection for this process (and, through [`ENV`], the processes it starts).
pub fn arm(phase: &str) -> Result<(), String> {
    if !injectable().any(|p| p == phase) {
        return Err(format!(
            "--fail-at {phase:?} is not a phase that can fail: choose one of {}",
            injectable().collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = FAIL_AT.set(phase.to_string());
    Ok(())
}

/// Arms the injection from the environment (in the shim and the init).
pub fn arm_from_env() {
    if let Ok(p) = std::env::var(ENV) {
        let _ = arm(&p);
    }
}

/// The armed phase, if any.
pub fn armed() -> Option<&'static str> {
    FAIL_AT.get().map(String::as_str)
}

/// `Err(message)` when `phase` is the one to fail.
pub fn check(phase: &str) -> Result<(), String> {
    match armed() {
        Some(p) if p == phase => Err(format!("injected failure at {phase} (--fail-at)")),
        _ => Ok(()),
    }
}
