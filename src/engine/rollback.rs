//! The rollback stack: every phase that changes the host pushes its undo; when an operation fails,
//! the stack unwinds in reverse, each undo its own `rollback.undo` span, so a failed start is as
//! visible — and leaves the host as clean — as a good one.

use crate::{phase_span, trace};

type Undo<'a> = Box<dyn FnOnce() -> Result<(), String> + 'a>;

/// Undo steps of one operation, newest last.
#[derive(Default)]
pub struct Rollback<'a> {
    steps: Vec<(&'static str, Undo<'a>)>,
}

impl<'a> Rollback<'a> {
    pub fn new() -> Rollback<'a> {
        Rollback { steps: Vec::new() }
    }

    /// Registers how to undo what was just done.
    pub fn push(&mut self, what: &'static str, undo: impl FnOnce() -> Result<(), String> + 'a) {
        self.steps.push((what, Box::new(undo)));
    }

    /// The operation succeeded: forget the undo steps.
    pub fn disarm(mut self) {
        self.steps.clear();
    }

    /// Undoes everything, newest first. Failures of single steps are recorded and the rest still
    /// run: a partial cleanup beats none.
    pub fn unwind(mut self, reason: &dyn std::fmt::Display) {
        if self.steps.is_empty() {
            return;
        }
        let span = phase_span!("rollback", reason = %reason);
        let _e = span.enter();
        trace::note(
            &span,
            format!("undoing {} step(s) after: {reason}", self.steps.len()),
        );
        while let Some((what, undo)) = self.steps.pop() {
            let step = phase_span!("rollback.undo", step = what);
            let _s = step.enter();
            match undo() {
                Ok(()) => trace::note(&step, what),
                Err(e) => trace::fail(&step, &format!("{what}: {e}")),
            }
        }
    }
}
