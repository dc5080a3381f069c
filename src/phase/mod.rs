//! What makes a piece of work a *phase*: [`phase()`] runs it inside its catalog span, fails it
//! when `--fail-at` names it ([`fault`]) and pauses after it when `--step` is on ([`step`] in the
//! engine's process, [`gate`] in the shim and the container's init, which talk to the engine over
//! the fds of [`fds`]).
//!
//! Every layer that runs phases (the runtime's init, the engine, the shim, the daemon's start-up)
//! shares this one home, below all of them, so none of them imports another for it.
//!
//! Not here: the catalog of phase names (`crate::lessons::catalog`, which `phase_span!` checks),
//! recording spans (`crate::trace`), the rollback stack (the engine's: its undos are engine
//! work), showing a `--step` pause to the user (the CLI's `Stepper`).

pub mod fault;
pub mod fds;
pub mod gate;
pub mod step;

use std::fmt::Display;

/// Why a phase stopped although its work did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// `--fail-at` named this phase; the message says so.
    Injected(String),
    /// The user quit at the `--step` pause after this phase (its name).
    Aborted(String),
}

/// Runs `f` as the phase `span`: inside the span, failing it first when `--fail-at` names it,
/// recording its error on the span, and pausing after it (its span closed) when `--step` is on.
pub fn phase<T, E>(
    span: tracing::Span,
    f: impl FnOnce(&tracing::Span) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<Interrupted> + Display,
{
    let name = span.metadata().map(|m| m.name());
    let value = {
        let _e = span.enter();
        if let Some(name) = name {
            fault::check(name)
                .map_err(|m| E::from(Interrupted::Injected(m)))
                .inspect_err(|e| crate::trace::fail(&span, e))?;
        }
        f(&span).inspect_err(|e| crate::trace::fail(&span, e))?
    };
    drop(span);
    if let Some(name) = name {
        step::pause(name).map_err(E::from)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failed(String);

    impl From<Interrupted> for Failed {
        fn from(i: Interrupted) -> Failed {
            Failed(format!("{i:?}"))
        }
    }

    impl Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    #[test]
    fn a_phase_returns_what_its_work_returns_and_passes_its_error_on() {
        let ok: Result<i32, Failed> = phase(tracing::info_span!("phase.ok"), |_| Ok(7));
        assert_eq!(ok.unwrap(), 7);
        let err: Result<(), Failed> = phase(tracing::info_span!("phase.err"), |_| {
            Err(Failed("no".into()))
        });
        assert_eq!(err.unwrap_err().0, "no");
    }
}
