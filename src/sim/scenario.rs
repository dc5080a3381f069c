//! Guided failure scenarios for teaching: `ctrace sim scenarios` lists them, `ctrace sim
//! scenario NAME` plays one — narration, the real `ctrace` commands run against the simulated
//! host (their output as they print it, their exit code checked against what the scenario
//! expects), the lessons of the phases involved, and what the student should check at the end.
//!
//! Scenarios are data, in `scenarios/<lang>/<name>.md` (embedded in the binary): front matter
//! (`title`, `summary`, `lessons`, `cleanup`, and `host` for a condition of the simulated host
//! such as `full-disk`), then text in which a line `$ ctrace ARGS` is a command and a line `! N`
//! right after it the exit code it should end with; `## Check` starts the closing list. As in a
//! shell, a command may be preceded by `NAME=value` (for that command only: a host condition
//! such as `CTRACE_SIM_HOST=registry-unreachable`) and followed by `&` to run in the background
//! (a daemon: the player goes on once it has printed its first line); `$ kill [-9] %N` signals the
//! Nth background command and `$ wait %N` waits for it, its exit code checked like any other
//! (128 + the signal when a signal ended it). Background commands still running at the end are
//! stopped (SIGTERM, then SIGKILL).
//!
//! Not here: the commands themselves (the ordinary CLI, in a child process).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));
}

/// The environment variable through which a scenario sets a condition of the simulated host.
pub const HOST_FAULT_ENV: &str = "CTRACE_SIM_HOST";

/// One scenario, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub lessons: Vec<String>,
    pub cleanup: Vec<String>,
    pub host: Option<String>,
    pub steps: Vec<Step>,
    pub check: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Say(String),
    /// `$ [NAME=value …] ctrace ARGS [&]`.
    Run {
        env: Vec<(String, String)>,
        args: Vec<String>,
        expect: i32,
        background: bool,
    },
    /// `$ kill [-SIGNAL] %N`: a signal (a number) to the Nth background command.
    Kill {
        job: usize,
        signal: i32,
    },
    /// `$ wait %N`: the Nth background command's end.
    Wait {
        job: usize,
        expect: i32,
    },
}

/// `%N` → N.
fn job_of(word: Option<&String>) -> Option<usize> {
    word?.strip_prefix('%')?.parse().ok().filter(|n| *n > 0)
}

/// One `$ …` line as a step.
fn command(line: &str) -> Result<Step, String> {
    let mut words = split(line);
    let shape = "a '$' line is `[NAME=value …] ctrace ARGS [&]`, `kill [-N] %JOB` or `wait %JOB`";
    match words.first().map(String::as_str) {
        Some("kill") => {
            let (signal, job) = match words.get(1).and_then(|w| w.strip_prefix('-')) {
                Some(n) => (n.parse().map_err(|_| shape.to_string())?, words.get(2)),
                None => (libc::SIGTERM, words.get(1)),
            };
            let job = job_of(job).ok_or(shape)?;
            return Ok(Step::Kill { job, signal });
        }
        Some("wait") => {
            let job = job_of(words.get(1)).ok_or(shape)?;
            return Ok(Step::Wait { job, expect: 0 });
        }
        _ => {}
    }
    let background = words.last().is_some_and(|w| w == "&");
    if background {
        words.pop();
    }
    let at = words.iter().position(|w| w == "ctrace").ok_or(shape)?;
    let env = words[..at]
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(shape.to_string()),
        })
        .collect::<Result<_, _>>()?;
    Ok(Step::Run {
        env,
        args: words[at + 1..].to_vec(),
        expect: 0,
        background,
    })
}

/// Splits a command line as a shell would for simple quoting ('…' and "…").
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ' | '\t') => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a scenario file.
pub fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let bad = |why: &str| format!("scenario {name}: {why}");
    let rest = text
        .strip_prefix("---\n")
        .ok_or_else(|| bad("no front matter"))?;
    let (front, body) = rest
        .split_once("\n---\n")
        .ok_or_else(|| bad("front matter not closed"))?;
    let mut s = Scenario {
        name: name.to_string(),
        title: String::new(),
        summary: String::new(),
        lessons: Vec::new(),
        cleanup: Vec::new(),
        host: None,
        steps: Vec::new(),
        check: Vec::new(),
    };
    for line in front.lines() {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad("front matter line without ':'"))?;
        let v = v.trim();
        let words = || v.split_whitespace().map(str::to_string).collect();
        match k.trim() {
            "title" => s.title = v.into(),
            "summary" => s.summary = v.into(),
            "lessons" => s.lessons = words(),
            "cleanup" => s.cleanup = words(),
            "host" => s.host = Some(v.into()).filter(|h: &String| !h.is_empty()),
            other => return Err(bad(&format!("unknown front matter key {other:?}"))),
        }
    }
    let (main, check) = body.split_once("## Check").unwrap_or((body, ""));
    let mut para = String::new();
    let flush = |para: &mut String, steps: &mut Vec<Step>| {
        if !para.trim().is_empty() {
            steps.push(Step::Say(para.trim().to_string()));
        }
        para.clear();
    };
    for line in main.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            flush(&mut para, &mut s.steps);
            s.steps.push(command(cmd).map_err(|e| bad(&e))?);
        } else if let Some(code) = line.strip_prefix("! ") {
            let expect = match s.steps.last_mut() {
                Some(Step::Run {
                    expect,
                    background: false,
                    ..
                })
                | Some(Step::Wait { expect, .. }) => expect,
                _ => return Err(bad("'! N' must follow a '$ ctrace' or '$ wait' line")),
            };
            *expect = code
                .trim()
                .parse()
                .map_err(|_| bad("'! N' needs a number"))?;
        } else {
            para.push_str(line);
            para.push('\n');
        }
    }
    flush(&mut para, &mut s.steps);
    let mut started = 0;
    for step in &s.steps {
        match step {
            Step::Run {
                background: true, ..
            } => started += 1,
            Step::Kill { job, .. } | Step::Wait { job, .. } if *job > started => {
                return Err(bad(&format!(
                    "%{job} names no background command started before it"
                )));
            }
            _ => {}
        }
    }
    for line in check.lines() {
        match (line.trim().strip_prefix("- "), s.check.last_mut()) {
            (Some(item), _) => s.check.push(item.to_string()),
            // An indented line continues the item above it.
            (None, Some(last)) if line.starts_with("  ") => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => {}
        }
    }
    if s.title.is_empty() || s.check.is_empty() {
        return Err(bad("a title and a ## Check list are required"));
    }
    Ok(s)
}

/// Every scenario in `lang`, by name.
pub fn all(lang: &str) -> Vec<Scenario> {
    embedded::SCENARIOS
        .iter()
        .filter(|(l, _, _)| *l == lang)
        .filter_map(|(_, name, text)| parse(name, text).ok())
        .collect()
}

/// The scenario `name` in `lang`.
pub fn find(lang: &str, name: &str) -> Result<Scenario, String> {
    all(lang)
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let names: Vec<String> = all(lang).into_iter().map(|s| s.name).collect();
            format!(
                "no scenario {name:?}: choose one of {} (ctrace sim scenarios)",
                names.join(", ")
            )
        })
}

/// How long a background command may take to print its first line, and a stopped one to end.
const PATIENCE: Duration = Duration::from_secs(30);

/// A background command: the process, and the file its output goes to.
struct Job {
    child: Child,
    log: PathBuf,
    shown: usize,
    done: Option<i32>,
}

impl Job {
    /// What it printed since last shown, each line marked with its number.
    fn show(&mut self, n: usize, out: &mut dyn Write) {
        let mut text = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        let Some(end) = text.rfind('\n').map(|i| i + 1) else {
            return;
        };
        if end > self.shown {
            for line in text[self.shown..end].lines() {
                let _ = writeln!(out, "  [{n}] {line}");
            }
            self.shown = end;
        }
    }

    /// Its exit code once it ended (128 + the signal that ended it), waiting up to `patience`.
    fn end(&mut self, patience: Duration) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + patience;
        while self.done.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.done = Some(st.code().or(st.signal().map(|s| 128 + s)).unwrap_or(-1));
            } else if Instant::now() >= deadline {
                break;
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.done
    }

    /// Waits until it has printed a line or ended.
    fn ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline
            && self.end(Duration::ZERO).is_none()
            && !std::fs::read(&self.log).is_ok_and(|b| b.contains(&b'\n'))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Plays `s`: narration, each command run by `exe` (this ctrace) against the simulated host,
/// the lessons, what to check. Returns how many commands ended otherwise than expected.
pub fn play(s: &Scenario, lang: &str, exe: &Path, out: &mut dyn Write) -> usize {
    let zh = lang == "zh";
    let _ = writeln!(out, "== {} ==\n{}\n", s.title, s.summary);
    let mut surprises = 0;
    let mut jobs: Vec<Job> = Vec::new();
    let command = |env: &[(String, String)], args: &[String]| {
        let mut c = Command::new(exe);
        c.args(args).env(super::mode::SIM_ENV, "1");
        if let Some(h) = &s.host {
            c.env(HOST_FAULT_ENV, h);
        }
        c.envs(env.iter().map(|(k, v)| (k, v)));
        c
    };
    // Prints how a command ended; 1 when it was not as expected.
    let check = |code: i32, expect: i32, out: &mut dyn Write| -> usize {
        if code == expect {
            let _ = writeln!(out, "  → exit {code}\n");
            0
        } else {
            let _ = writeln!(
                out,
                "  → exit {code} ({} {expect})\n",
                if zh {
                    "预期为"
                } else {
                    "the scenario expected"
                }
            );
            1
        }
    };
    for step in &s.steps {
        match step {
            Step::Say(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Step::Run {
                env,
                args,
                expect,
                background,
            } => {
                let assign: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
                let amp = if *background { " &" } else { "" };
                let _ = writeln!(out, "$ {assign}ctrace {}{amp}", args.join(" "));
                let _ = out.flush();
                let mut c = command(env, args);
                if !*background {
                    let code = c.status().map(|st| st.code().unwrap_or(-1)).unwrap_or(-1);
                    surprises += check(code, *expect, out);
                    continue;
                }
                let n = jobs.len() + 1;
                let log = std::env::temp_dir()
                    .join(format!("ctrace-scenario-{}-{n}.log", std::process::id()));
                let started = std::fs::File::create(&log).and_then(|f| {
                    c.stdin(Stdio::null())
                        .stdout(f.try_clone()?)
                        .stderr(f)
                        .spawn()
                });
                match started {
                    Ok(child) => {
                        let mut job = Job {
                            child,
                            log,
                            shown: 0,
                            done: None,
                        };
                        job.ready();
                        let _ = writeln!(out, "[{n}] {}", job.child.id());
                        job.show(n, out);
                        let _ = writeln!(out);
                        jobs.push(job);
                    }
                    Err(e) => {
                        surprises += 1;
                        let _ = writeln!(out, "  → cannot start: {e}\n");
                    }
                }
            }
            Step::Kill { job, signal } => {
                let _ = writeln!(out, "$ kill -{signal} %{job}");
                match jobs.get_mut(job - 1) {
                    Some(j) if j.done.is_none() => {
                        // SAFETY: a signal to a child this player started and has not reaped.
                        unsafe { libc::kill(j.child.id() as i32, *signal) };
                        let _ = writeln!(out);
                    }
                    _ => {
                        surprises += 1;
                        let _ = writeln!(out, "  → no job %{job} running\n");
                    }
                }
            }
            Step::Wait { job, expect } => {
                let _ = writeln!(out, "$ wait %{job}");
                let code = match jobs.get_mut(job - 1) {
                    Some(j) => {
                        let code = j.end(PATIENCE).unwrap_or(-1);
                        j.show(*job, out);
                        code
                    }
                    None => -1,
                };
                surprises += check(code, *expect, out);
            }
        }
    }
    if !s.lessons.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if zh {
                "相关阶段："
            } else {
                "The phases involved:"
            }
        );
        for p in &s.lessons {
            if let Some(l) = crate::lessons::get(lang, p) {
                let _ = writeln!(out, "  {p} — {}", l.summary);
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{}", if zh { "请检查：" } else { "What to check:" });
    for c in &s.check {
        let _ = writeln!(out, "  - {c}");
    }
    if !s.cleanup.is_empty() {
        let mut args = vec!["rm".to_string(), "-f".to_string()];
        args.extend(s.cleanup.iter().cloned());
        let _ = command(&[], &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    for j in &mut jobs {
        if j.end(Duration::ZERO).is_none() {
            // SAFETY: signals to a child this player started and has not reaped.
            unsafe { libc::kill(j.child.id() as i32, libc::SIGTERM) };
            if j.end(PATIENCE).is_none() {
                unsafe { libc::kill(j.child.id() as i32, libc::SIGKILL) };
                let _ = j.child.wait();
            }
        }
        let _ = std::fs::remove_file(&j.log);
    }
    surprises
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_parses_in_both_languages_with_the_same_commands() {
        let (en, zh) = (all("en"), all("zh"));
        assert!(en.len() >= 5, "{} scenarios", en.len());
        assert_eq!(
            en.iter().map(|s| &s.name).collect::<Vec<_>>(),
            zh.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        for (e, z) in en.iter().zip(&zh) {
            let runs = |s: &Scenario| -> Vec<Step> {
                s.steps
                    .iter()
                    .filter(|st| !matches!(st, Step::Say(_)))
                    .cloned()
                    .collect()
            };
            assert_eq!(runs(e), runs(z), "{}", e.name);
            assert_eq!(
                (&e.lessons, &e.cleanup, &e.host),
                (&z.lessons, &z.cleanup, &z.host)
            );
            for l in &e.lessons {
                assert!(
                    crate::lessons::get("en", l).is_some(),
                    "{}: no lesson {l}",
                    e.name
                );
            }
        }
    }

    #[test]
    fn commands_split_like_a_shell_and_bad_files_are_refused() {
        assert_eq!(
            split("run --rm busybox sh -c 'echo a; exit 3'"),
            vec!["run", "--rm", "busybox", "sh", "-c", "echo a; exit 3"]
        );
        assert!(parse("x", "no front matter").is_err());
        assert!(parse("x", "---\ntitle: t\n---\n! 3\n## Check\n- c\n")
            .unwrap_err()
            .contains("must follow"));
        assert!(find("en", "nope").unwrap_err().contains("oom-kill"));
    }

    #[test]
    fn a_command_takes_variables_and_a_background_daemon_is_killed_and_waited_for() {
        let s = parse(
            "x",
            "---\ntitle: t\n---\n$ CTRACE_SIM_HOST=killed-mid-start ctrace daemon &\n\
             $ kill -9 %1\n$ wait %1\n! 137\n$ ctrace ps\n## Check\n- c\n",
        )
        .unwrap();
        assert_eq!(
            s.steps,
            vec![
                Step::Run {
                    env: vec![("CTRACE_SIM_HOST".into(), "killed-mid-start".into())],
                    args: vec!["daemon".into()],
                    expect: 0,
                    background: true,
                },
                Step::Kill { job: 1, signal: 9 },
                Step::Wait {
                    job: 1,
                    expect: 137
                },
                Step::Run {
                    env: Vec::new(),
                    args: vec!["ps".into()],
                    expect: 0,
                    background: false,
                },
            ]
        );
        let refused = |body: &str| {
            parse("x", &format!("---\ntitle: t\n---\n{body}\n## Check\n- c\n")).unwrap_err()
        };
        assert!(refused("$ wait %1").contains("%1 names no background command"));
        assert!(refused("$ ctrace daemon &\n! 0").contains("must follow"));
        assert!(refused("$ ls /").contains("a '$' line is"));
        assert!(refused("$ kill %x").contains("a '$' line is"));
    }

    #[test]
    fn a_background_command_is_played_until_it_is_waited_for() {
        // `sh` stands in for ctrace: it prints its first line, then waits to be killed.
        let s = parse(
            "x",
            "---\ntitle: t\n---\n$ ctrace -c 'echo ready; exec sleep 1000' &\n\
             $ kill -9 %1\n$ wait %1\n! 137\n## Check\n- c\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let surprises = play(&s, "en", Path::new("/bin/sh"), &mut out);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(surprises, 0, "{out}");
        assert!(out.contains("  [1] ready"), "{out}");
        assert!(out.contains("$ wait %1\n  → exit 137"), "{out}");
    }
}
