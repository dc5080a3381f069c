//! Lessons: what each phase means, in words a learner can read on a projector.
//!
//! A lesson is a Markdown file `lessons/<lang>/<phase>.md` with a small front matter block of
//! `key: value` lines between `---` fences (see `lessons/README.md` for the keys). The files are
//! embedded at build time, so the binary carries its own lessons. This module parses them; it does
//! not decide which phases exist — that is [`catalog`].

pub mod catalog;

use std::collections::HashMap;
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
}

/// One parsed lesson.
#[derive(Debug, Clone, Default)]
pub struct Lesson {
    pub lang: String,
    pub phase: String,
    pub title: String,
    /// The Docker (moby) function(s) this phase corresponds to, e.g. `daemon.conditionalMountOnStart`.
    pub docker: String,
    /// Where that function lives in moby today, e.g. `daemon/start.go`.
    pub docker_file: String,
    /// Seed steps, e.g. `000#2.3.2, 004#2.2.1`.
    pub seed: String,
    /// One sentence: what happens and why (the `--explain` line).
    pub summary: String,
    /// Syscalls ctrace makes in this phase.
    pub syscalls: String,
    /// The Markdown body after the front matter (the book prints it; the timeline does not).
    #[allow(dead_code)]
    pub body: String,
}

/// Parses a lesson file. Returns `None` when the front matter is missing or has no `phase`.
pub fn parse(lang: &str, text: &str) -> Option<Lesson> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---")?;
    let (front, body) = rest.split_at(end);
    let body = body.trim_start_matches("\n---").trim_start_matches('\n');
    let mut lesson = Lesson {
        lang: lang.to_string(),
        body: body.to_string(),
        ..Lesson::default()
    };
    for line in front.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "phase" => lesson.phase = value,
            "title" => lesson.title = value,
            "docker" => lesson.docker = value,
            "docker_file" => lesson.docker_file = value,
            "seed" => lesson.seed = value,
            "summary" => lesson.summary = value,
            "syscalls" => lesson.syscalls = value,
            _ => {}
        }
    }
    (!lesson.phase.is_empty()).then_some(lesson)
}

/// All embedded lessons, by (lang, phase).
pub fn all() -> &'static HashMap<(String, String), Lesson> {
    static ALL: OnceLock<HashMap<(String, String), Lesson>> = OnceLock::new();
    ALL.get_or_init(|| {
        embedded::EMBEDDED
            .iter()
            .filter_map(|(lang, _stem, text)| parse(lang, text))
            .map(|l| ((l.lang.clone(), l.phase.clone()), l))
            .collect()
    })
}

/// The lesson for `phase` in `lang`, falling back to English.
pub fn get(lang: &str, phase: &str) -> Option<&'static Lesson> {
    let all = all();
    all.get(&(lang.to_string(), phase.to_string()))
        .or_else(|| all.get(&("en".to_string(), phase.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter_and_body() {
        let l = parse(
            "en",
            "---\nphase: start.mount\ntitle: Mount\ndocker: daemon.Mount\nseed: \"000#2.3.2\"\nsummary: Mounts it.\n---\n\nBody here.\n",
        )
        .unwrap();
        assert_eq!(l.phase, "start.mount");
        assert_eq!(l.seed, "000#2.3.2");
        assert_eq!(l.body.trim(), "Body here.");
    }

    /// The languages the lessons are written in; every phase needs a lesson in each.
    const LANGS: &[&str] = &["en", "zh"];

    #[test]
    fn every_phase_has_a_lesson_in_every_language_and_every_lesson_names_a_phase() {
        for lang in LANGS {
            for phase in catalog::PHASES {
                assert!(
                    all().contains_key(&(lang.to_string(), phase.id.to_string())),
                    "phase {} has no lesson in lessons/{lang}",
                    phase.id
                );
            }
        }
        for (lang, stem, text) in embedded::EMBEDDED.iter() {
            assert!(
                LANGS.contains(lang),
                "lessons/{lang}/ is not a language the book and --explain know"
            );
            let lesson = parse(lang, text)
                .unwrap_or_else(|| panic!("lessons/{lang}/{stem}.md has no front matter"));
            assert_eq!(
                &lesson.phase, stem,
                "lessons/{lang}/{stem}.md says it is about phase {}",
                lesson.phase
            );
            assert!(
                catalog::find(&lesson.phase).is_some(),
                "lessons/{lang}/{stem}.md names a phase the catalog does not have"
            );
        }
    }

    #[test]
    fn every_lesson_has_a_complete_front_matter_and_a_body() {
        for l in all().values() {
            let name = format!("lessons/{}/{}.md", l.lang, l.phase);
            for (key, value) in [
                ("title", &l.title),
                ("docker", &l.docker),
                ("docker_file", &l.docker_file),
                ("seed", &l.seed),
                ("summary", &l.summary),
                ("syscalls", &l.syscalls),
            ] {
                assert!(!value.is_empty(), "{name} has no {key}");
            }
            assert!(!l.body.trim().is_empty(), "{name} has no body");
        }
    }

    #[test]
    fn chinese_lessons_are_written_in_chinese() {
        let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for l in all().values().filter(|l| l.lang == "zh") {
            let name = format!("lessons/zh/{}.md", l.phase);
            assert!(han(&l.title), "{name}: the title is not in Chinese");
            assert!(han(&l.summary), "{name}: the summary is not in Chinese");
            assert!(han(&l.body), "{name}: the body is not in Chinese");
        }
    }

    #[test]
    fn every_lesson_has_what_explain_needs() {
        for lesson in all().values() {
            assert!(
                !lesson.summary.is_empty(),
                "{} has no summary",
                lesson.phase
            );
            assert!(!lesson.docker.is_empty(), "{} has no docker", lesson.phase);
            assert!(!lesson.seed.is_empty(), "{} has no seed", lesson.phase);
        }
    }
}
