//! Docker's words for a container's state and age, as `docker ps` and `GET /containers/json`
//! show them: "Up 3 seconds (healthy)", "Exited (0) 2 minutes ago", `units.HumanDuration`.
//!
//! Not here: the state itself ([`crate::state::container`]); the table `ctrace ps` prints.

use crate::engine::query::Entry;
use crate::state::Status;
use crate::sys::time::parse_rfc3339;

/// "5 seconds", "About a minute", "2 hours" — docker's `units.HumanDuration`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 7200 => "About an hour".into(),
        s if s < 48 * 3600 => format!("{} hours", s / 3600),
        s if s < 14 * 86400 => format!("{} days", s / 86400),
        s if s < 60 * 86400 => format!("{} weeks", s / (7 * 86400)),
        s if s < 730 * 86400 => format!("{} months", s / (30 * 86400)),
        s => format!("{} years", s / (365 * 86400)),
    }
}

pub fn since(ts: &str) -> u64 {
    parse_rfc3339(ts)
        .and_then(|t| crate::trace::clock::now().duration_since(t).ok())
        .map_or(0, |d| d.as_secs())
}

/// docker's STATUS column.
pub fn status_text(e: &Entry) -> String {
    let s = &e.state;
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!(
            "Up {}{}",
            human_duration(since(&s.started_at)),
            match s.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => " (health: starting)".to_string(),
                Some(h) => format!(" ({h})"),
                None => String::new(),
            }
        ),
        Status::Paused => format!("Up {} (Paused)", human_duration(since(&s.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => {
            if s.finished_at.is_empty() {
                format!("Exited ({})", s.exit_code)
            } else {
                format!(
                    "Exited ({}) {} ago",
                    s.exit_code,
                    human_duration(since(&s.finished_at))
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }

    #[test]
    fn an_unknown_time_is_no_time_ago() {
        assert_eq!(since(""), 0);
    }
}
