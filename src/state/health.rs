//! Health checks as docker records them: the configuration (`Config.Healthcheck`, from
//! `--health-*` or the image's `HEALTHCHECK`) and the state (`State.Health`: `Status`,
//! `FailingStreak`, the last five probe results in `Log`).
//!
//! The rules of [`Health::record`] are moby's `handleProbeResult`: a success makes the container
//! `healthy`; a failure during the start period does not count while it is still `starting`;
//! otherwise `Retries` failures in a row make it `unhealthy`.
//!
//! Not here: running the probes (the shim, `shim::health`).

use serde::{Deserialize, Serialize};

/// Docker's defaults when a duration or the retries are not set (0).
pub const DEFAULT_INTERVAL_NS: i64 = 30_000_000_000;
pub const DEFAULT_TIMEOUT_NS: i64 = 30_000_000_000;
pub const DEFAULT_RETRIES: i64 = 3;
/// Docker keeps this many probe results.
pub const MAX_LOG: usize = 5;
/// And this much of each probe's output.
pub const MAX_OUTPUT: usize = 4096;

/// docker's `HealthConfig`; durations in nanoseconds, 0 for the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", arg…]`, `["CMD-SHELL", command]` or `["NONE"]`.
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    #[serde(default)]
    pub start_period: i64,
    #[serde(default)]
    pub retries: i64,
}

impl HealthConfig {
    /// The command to run, or None when checks are disabled (`NONE`, or no test).
    pub fn command(&self) -> Option<Vec<String>> {
        match self.test.first().map(String::as_str) {
            Some("CMD") if self.test.len() > 1 => Some(self.test[1..].to_vec()),
            Some("CMD-SHELL") if self.test.len() > 1 => Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                self.test[1..].join(" "),
            ]),
            _ => None,
        }
    }

    fn or(v: i64, default: i64) -> std::time::Duration {
        std::time::Duration::from_nanos(if v > 0 { v } else { default } as u64)
    }

    pub fn interval(&self) -> std::time::Duration {
        Self::or(self.interval, DEFAULT_INTERVAL_NS)
    }

    pub fn timeout(&self) -> std::time::Duration {
        Self::or(self.timeout, DEFAULT_TIMEOUT_NS)
    }

    pub fn start_period(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.start_period.max(0) as u64)
    }

    pub fn retries(&self) -> i64 {
        if self.retries > 0 {
            self.retries
        } else {
            DEFAULT_RETRIES
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    #[serde(default)]
    pub log: Vec<HealthLog>,
}

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

impl Health {
    pub fn starting() -> Health {
        Health {
            status: STARTING.into(),
            ..Health::default()
        }
    }

    /// Records one probe (exit code 0 is a success); returns the new status when it changed.
    pub fn record(
        &mut self,
        cfg: &HealthConfig,
        result: HealthLog,
        in_start_period: bool,
    ) -> Option<String> {
        let before = self.status.clone();
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HEALTHY.into();
        } else if in_start_period && self.status == STARTING {
            // Failures while the container is still starting up do not count.
        } else {
            self.failing_streak += 1;
            if self.failing_streak >= cfg.retries() {
                self.status = UNHEALTHY.into();
            }
        }
        self.log.push(result);
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
        (self.status != before).then(|| self.status.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(code: i32) -> HealthLog {
        HealthLog {
            exit_code: code,
            ..HealthLog::default()
        }
    }

    #[test]
    fn commands_follow_dockers_test_forms() {
        let c = |t: &[&str]| HealthConfig {
            test: t.iter().map(|s| s.to_string()).collect(),
            ..HealthConfig::default()
        };
        assert_eq!(
            c(&["CMD-SHELL", "test -f /tmp/ok"]).command().unwrap(),
            ["/bin/sh", "-c", "test -f /tmp/ok"]
        );
        assert_eq!(c(&["CMD", "true"]).command().unwrap(), ["true"]);
        assert_eq!(c(&["NONE"]).command(), None);
        assert_eq!(c(&[]).command(), None);
        assert_eq!(c(&[]).interval().as_secs(), 30);
        assert_eq!(c(&[]).retries(), 3);
    }

    #[test]
    fn transitions_follow_retries_and_the_start_period() {
        let cfg = HealthConfig {
            test: vec!["CMD".into(), "x".into()],
            retries: 2,
            ..HealthConfig::default()
        };
        let mut h = Health::starting();
        // In the start period a failure does not count.
        assert_eq!(h.record(&cfg, probe(1), true), None);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        assert_eq!(h.record(&cfg, probe(1), false), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(h.record(&cfg, probe(1), false), Some(UNHEALTHY.into()));
        assert_eq!(h.record(&cfg, probe(0), false), Some(HEALTHY.into()));
        assert_eq!(h.failing_streak, 0);
        // Once healthy, the start period no longer shields failures.
        h.record(&cfg, probe(1), true);
        assert_eq!(h.failing_streak, 1);
        for _ in 0..10 {
            h.record(&cfg, probe(1), false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
    }
}
