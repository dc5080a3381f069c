//! Looking at containers the way a user does, for the tests' assertions: `inspect` and the parts
//! of it tests read (state, health), the events log, and the few ways tests set a container up.
//!
//! Not here: the leak checks run when an [`Env`] is dropped (`mod.rs`), and anything that needs
//! a daemon (the daemon tests talk to theirs themselves).

use std::time::Duration;

use serde_json::Value;

use super::poll::within;
use super::Env;

/// How long a container may take to reach a state a test waits for: only a guard against a
/// hang, never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

impl Env {
    /// `ctrace ARGS`, which must succeed; its stdout without the trailing newline (an id, a
    /// name, an exit code).
    #[track_caller]
    pub fn out(&self, args: &[&str]) -> String {
        self.run(args).ok().stdout.trim_end().to_string()
    }

    /// A detached busybox container `name` running `cmd` (`run -d --name NAME busybox CMD…`);
    /// its id.
    #[track_caller]
    pub fn detached(&self, name: &str, cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--name", name, "busybox"];
        args.extend_from_slice(cmd);
        self.out(&args)
    }

    /// A created, not started, busybox container `name` without a network running `cmd`; its id.
    #[track_caller]
    pub fn created(&self, name: &str, cmd: &[&str]) -> String {
        let mut args = vec!["create", "--name", name, "--network", "none", "busybox"];
        args.extend_from_slice(cmd);
        self.out(&args)
    }

    /// `ctrace inspect NAME`'s one object.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        let out = self.run(&["inspect", name]);
        let v: Value = serde_json::from_str(&out.ok().stdout).unwrap();
        v[0].clone()
    }

    /// inspect's `State`.
    #[track_caller]
    pub fn state(&self, name: &str) -> Value {
        self.inspect(name)["State"].clone()
    }

    /// inspect's `State.Health`.
    #[track_caller]
    pub fn health(&self, name: &str) -> Value {
        self.state(name)["Health"].clone()
    }

    /// Polls `inspect` until `done` holds and returns that inspect; fails showing the last one
    /// when it does not within [`PATIENCE`].
    #[track_caller]
    pub fn until(&self, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        within(PATIENCE, || Some(self.inspect(name)).filter(&done))
            .unwrap_or_else(|| panic!("never reached: {}", self.inspect(name)))
    }

    /// Every event of the events log, oldest first.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.root.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The events' actions (`create`, `start`, `health_status: healthy`…), oldest first.
    pub fn actions(&self) -> Vec<String> {
        self.events().iter().map(action).collect()
    }

    /// The actions of the events of container `id`, oldest first.
    pub fn actions_of(&self, id: &str) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["Actor"]["ID"] == id)
            .map(action)
            .collect()
    }
}

fn action(event: &Value) -> String {
    event["Action"].as_str().unwrap_or("").to_string()
}

/// Span names of a trace file, in the order the file lists them.
pub fn span_names(trace: &Value) -> Vec<String> {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Whether process `pid` is gone (no /proc entry: exited and reaped).
pub fn gone(pid: i64) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Env {
    /// The last trace file of `operation` (`run`, `stop`, `exec`…).
    #[track_caller]
    pub fn last_trace(&self, operation: &str) -> Value {
        self.traces()
            .into_iter()
            .rev()
            .find(|t| t["operation"] == operation)
            .unwrap_or_else(|| panic!("no {operation} trace"))
    }
}
