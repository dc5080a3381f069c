//! The simulator's promises about `--seed` and `bench`:
//!
//! - A seeded session is reproducible byte for byte: the same commands with the same seed, each
//!   time in a fresh simulator directory, leave the same trace files (ids, modelled pids,
//!   addresses, durations) and print the same `ps -a` and `inspect`; the directory's own path is
//!   the one thing that differs, and is substituted before comparing. Another seed differs.
//! - `bench --sim` reproduces the latency model: with a fixed seed and enough runs, each phase's
//!   median over the runs is within 10% of the model's median for that phase (as `ctrace sim
//!   model` reports it, from the model the simulator draws from).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Run;

const BIN: &str = env!("CARGO_BIN_EXE_ctrace");

/// A simulated session in a fresh directory of its own, every command with `--seed`.
struct Session {
    dir: PathBuf,
    seed: u64,
}

impl Session {
    fn new(tag: &str, seed: u64) -> Session {
        let dir = std::env::temp_dir().join(format!("ctrace-seed-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Session { dir, seed }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["--sim", "--seed", &self.seed.to_string()])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.dir)
            .env("CTRACE_SIM_DIR", &self.dir)
            .env("NO_COLOR", "1")
            .env("CTRACE_PULL", "never")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("spawn ctrace").into()
    }

    /// `text` with this session's directory replaced by a placeholder.
    fn portable(&self, text: &str) -> String {
        text.replace(&self.dir.display().to_string(), "<sim-dir>")
    }

    /// Every trace file: its name → its bytes (made portable).
    fn traces(&self) -> BTreeMap<String, String> {
        std::fs::read_dir(self.dir.join("root/traces"))
            .unwrap()
            .flatten()
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    self.portable(&text),
                )
            })
            .collect()
    }

    /// The walkthrough's commands: a removed run, a detached one stopped and removed, a failing
    /// and a missing command. What they printed (made portable), in order.
    fn walkthrough(&self) -> Vec<String> {
        let mut shown = Vec::new();
        let mut show =
            |what: &str, r: Run| shown.push(format!("{what}: {}", self.portable(&r.stdout)));
        let hi = self.run(&["run", "--rm", "busybox", "echo", "hi"]);
        assert_eq!(hi.ok().stdout, "hi\n");
        self.run(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"])
            .ok();
        show("inspect web", self.run(&["inspect", "web"]));
        show("ps -a", self.run(&["ps", "-a"]));
        self.run(&["stop", "-t", "1", "web"]).ok();
        self.run(&["rm", "web"]).ok();
        let failed = self.run(&["run", "--name", "failed", "busybox", "sh", "-c", "exit 3"]);
        assert_eq!(failed.code, 3, "{}", failed.stderr);
        let missing = self.run(&["run", "--rm", "busybox", "nosuchcommand"]);
        assert_eq!(missing.code, 127, "{}", missing.stderr);
        show("inspect failed", self.run(&["inspect", "failed"]));
        show("ps -a", self.run(&["ps", "-a"]));
        shown
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-f", "web", "failed"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_seeded_session_leaves_the_same_traces_and_prints_the_same_in_any_fresh_directory() {
    let (a, b, other) = (
        Session::new("a", 7),
        Session::new("b", 7),
        Session::new("c", 8),
    );
    let shown = [a.walkthrough(), b.walkthrough(), other.walkthrough()];
    let traces = [a.traces(), b.traces(), other.traces()];
    assert!(
        traces[0].len() >= 5,
        "one trace per command: {:?}",
        traces[0].keys()
    );
    assert!(
        shown[0][0].contains("\"Pid\""),
        "inspect shows the pid: {}",
        shown[0][0]
    );
    for (what, x, y) in [("printed", &shown[0], &shown[1])] {
        for (l, r) in x.iter().zip(y) {
            assert_eq!(l, r, "the same seed {what} something else");
        }
    }
    assert_eq!(
        traces[0].keys().collect::<Vec<_>>(),
        traces[1].keys().collect::<Vec<_>>(),
        "the same seed gives the same trace ids"
    );
    for (name, text) in &traces[0] {
        let other = &traces[1][name];
        if let Some(at) = text.bytes().zip(other.bytes()).position(|(l, r)| l != r) {
            let around = |t: &str| {
                t.get(at.saturating_sub(80)..(at + 80).min(t.len()))
                    .unwrap_or("")
                    .to_string()
            };
            panic!(
                "trace {name} differs with the same seed at byte {at}:\n{}\n{}",
                around(text),
                around(other)
            );
        }
        assert_eq!(text.len(), other.len(), "trace {name} differs in length");
    }
    assert_ne!(shown[0], shown[2], "another seed prints something else");
    assert!(
        traces[0].keys().all(|k| !traces[2].contains_key(k)),
        "another seed gives other trace ids"
    );
}

#[test]
fn a_simulated_bench_reproduces_the_models_median_of_every_phase_within_ten_percent() {
    let s = Session::new("bench", 11);
    let model: serde_json::Value =
        serde_json::from_str(&s.run(&["sim", "model", "--format", "json"]).ok().stdout).unwrap();
    let medians: BTreeMap<String, f64> = model["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["phase"].as_str().unwrap().to_string(),
                p["median_ms"].as_f64().unwrap(),
            )
        })
        .collect();
    // The image first (from the host's busybox, `CTRACE_PULL=never`): a bench that pulled it
    // would time one pull among its runs, a phase of one sample.
    s.run(&["run", "--rm", "busybox", "true"]).ok();
    let bench = s.run(&["bench", "-n", "300", "--format", "json", "busybox", "true"]);
    let bench: serde_json::Value = serde_json::from_str(&bench.ok().stdout).unwrap();
    assert_eq!(bench["failed"], 0);
    let mut compared = 0;
    let mut misses = Vec::new();
    for p in bench["phases"].as_array().unwrap() {
        let phase = p["phase"].as_str().unwrap();
        let Some(want) = medians.get(phase) else {
            continue;
        };
        compared += 1;
        let got = p["p50_ms"].as_f64().unwrap();
        let off = got / want - 1.0;
        if off.abs() > 0.10 {
            misses.push(format!(
                "{phase}: {got:.4} ms, the model's {want:.4} ms ({:+.1}%)",
                off * 100.0
            ));
        }
    }
    assert!(
        compared >= 30,
        "only {compared} phases of the bench are in the model"
    );
    assert!(
        misses.is_empty(),
        "{} of {compared} phases off the model's median by more than 10%:\n{}",
        misses.len(),
        misses.join("\n")
    );
}
