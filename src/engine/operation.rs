//! The skeleton every engine operation shares: its phases run inside the operation's root span,
//! a failure marks that span failed, and the first phase looks the container up.
//!
//! Not here: the rollback of an operation that changes the host ([`super::rollback`]; create and
//! start unwind it around the same skeleton), the phases themselves (one file per operation).

use crate::state::ContainerConfig;

use super::{Engine, EngineError};

/// Runs `phases` inside the operation's root `span`; their failure is recorded on it.
pub(crate) fn operation<T>(
    span: &tracing::Span,
    phases: impl FnOnce() -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let _e = span.enter();
    let result = phases();
    if let Err(e) = &result {
        crate::trace::fail(span, e);
    }
    result
}

/// The lookup of an `<operation>.lookup` phase: the container `query` names, its id recorded on
/// the operation's root span.
pub(crate) fn find(
    engine: &Engine,
    query: &str,
    root: &tracing::Span,
) -> Result<ContainerConfig, EngineError> {
    let id = engine.store.lookup(query)?;
    let cfg = engine.store.load_config(&id)?;
    root.record("container.id", cfg.id.as_str());
    Ok(cfg)
}

/// `query` as a note shows it: an id longer than docker's short form is cut to 12 characters.
pub(crate) fn asked(query: &str) -> &str {
    query
        .get(..12)
        .filter(|_| query.len() > 12)
        .unwrap_or(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_id_is_shown_short_and_a_name_as_given() {
        assert_eq!(asked("0123456789abcdef"), "0123456789ab");
        assert_eq!(asked("web"), "web");
    }

    #[test]
    fn a_failed_operation_returns_its_error() {
        let span = tracing::info_span!("op");
        let r: Result<(), EngineError> =
            operation(&span, || Err(EngineError::Invalid("bad".into())));
        assert_eq!(r.unwrap_err().to_string(), "bad");
    }
}
