//! Guided failure scenarios for teaching: `ctrace sim scenarios` lists them, `ctrace sim
//! scenario NAME` plays one — narration, the real `ctrace` commands run against the simulated
//! host (their output as they print it, their exit code checked against what the scenario
//! expects), the lessons of the phases involved, and what the student should check at the end.
//!
//! Scenarios are data, in `scenarios/<lang>/<name>.md` (embedded in the binary): front matter
//! (`title`, `summary`, `lessons`, `cleanup`, and `host` for a condition of the simulated host
//! such as `full-disk`), then text in which a line `$ ctrace ARGS` is a command and a line `! N`
//! right after it the exit code it should end with; `## Check` starts the closing list.
//!
//! Not here: the commands themselves (the ordinary CLI, in a child process).

use std::io::Write;
use std::process::Command;

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
    Run { args: Vec<String>, expect: i32 },
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
        if let Some(cmd) = line.strip_prefix("$ ctrace ") {
            flush(&mut para, &mut s.steps);
            s.steps.push(Step::Run {
                args: split(cmd),
                expect: 0,
            });
        } else if let Some(code) = line.strip_prefix("! ") {
            let Some(Step::Run { expect, .. }) = s.steps.last_mut() else {
                return Err(bad("'! N' must follow a '$ ctrace' line"));
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

/// Plays `s`: narration, each command run by `exe` (this ctrace) against the simulated host,
/// the lessons, what to check. Returns how many commands ended otherwise than expected.
pub fn play(s: &Scenario, lang: &str, exe: &std::path::Path, out: &mut dyn Write) -> usize {
    let zh = lang == "zh";
    let _ = writeln!(out, "== {} ==\n{}\n", s.title, s.summary);
    let mut surprises = 0;
    let run = |args: &[String]| {
        let mut c = Command::new(exe);
        c.args(args).env(super::mode::SIM_ENV, "1");
        if let Some(h) = &s.host {
            c.env(HOST_FAULT_ENV, h);
        }
        c.status().map(|st| st.code().unwrap_or(-1)).unwrap_or(-1)
    };
    for step in &s.steps {
        match step {
            Step::Say(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Step::Run { args, expect } => {
                let _ = writeln!(out, "$ ctrace {}", args.join(" "));
                let _ = out.flush();
                let code = run(args);
                if code == *expect {
                    let _ = writeln!(out, "  → exit {code}\n");
                } else {
                    surprises += 1;
                    let _ = writeln!(
                        out,
                        "  → exit {code} ({} {expect})\n",
                        if zh {
                            "预期为"
                        } else {
                            "the scenario expected"
                        }
                    );
                }
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
        let mut c = Command::new(exe);
        c.args(&args)
            .env(super::mode::SIM_ENV, "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = c.status();
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
                    .filter(|st| matches!(st, Step::Run { .. }))
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
}
