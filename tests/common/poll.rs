//! Waiting for a condition instead of sleeping for a guess: [`eventually`] polls with a deadline.
//! The deadline only guards against a hang (a broken build fails instead of blocking CI); no test
//! asserts how long anything takes through it.
//!
//! Not here: sleeps that are the point of a test (a container that must run for a while), which
//! stay in the test with a comment saying why.

use std::time::{Duration, Instant};

/// How often a condition is looked at again.
const EVERY: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Some`, at most for `timeout`; `None` when time ran out.
pub fn within<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(EVERY);
    }
}

/// Polls `condition` until it holds; fails the test when it still does not after `timeout`.
#[track_caller]
pub fn eventually(condition: impl FnMut() -> bool, timeout: Duration) {
    let mut condition = condition;
    assert!(
        within(timeout, || condition().then_some(())).is_some(),
        "condition still false after {timeout:?}"
    );
}
