//! `traces/manifest`: which chapters the book has, which catalog stages and phases each teaches,
//! and which reference traces each shows. A small INI-like file (`[slug]` sections of
//! `key = value` lines) read at build time, so the book follows the catalog: a stage with phases
//! and no chapter gets one of its own, a chapter whose stages have no phase yet is left out.
//!
//! This module only parses the file and assigns phases to chapters; rendering is in `book.rs`.

use std::collections::BTreeMap;

use crate::lessons::catalog::{self, Stage};

/// One `[slug]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChapterDef {
    pub slug: String,
    /// Lower-case stage names (`start`, `init`, …).
    pub stages: Vec<String>,
    /// Phase ids or `prefix.*` patterns this chapter takes from other stages' chapters.
    pub phases: Vec<String>,
    /// Trace file names, relative to the traces directory.
    pub traces: Vec<String>,
    /// Title per language.
    pub titles: BTreeMap<String, String>,
}

impl ChapterDef {
    pub fn title(&self, lang: &str) -> String {
        self.titles
            .get(lang)
            .or_else(|| self.titles.get("en"))
            .cloned()
            .unwrap_or_else(|| self.slug.clone())
    }

    fn claims(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => phase.starts_with(prefix),
            None => p == phase,
        })
    }
}

/// The name a manifest uses for a stage: its variant name in lower case.
pub fn stage_name(stage: Stage) -> String {
    format!("{stage:?}").to_lowercase()
}

/// Parses the manifest text.
pub fn parse(text: &str) -> Result<Vec<ChapterDef>, String> {
    let mut out: Vec<ChapterDef> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(slug) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let slug = slug.trim();
            if slug.is_empty()
                || !slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "line {}: chapter [{slug}]: use lower-case letters, digits and -",
                    n + 1
                ));
            }
            if out.iter().any(|c| c.slug == slug) {
                return Err(format!("line {}: chapter [{slug}] appears twice", n + 1));
            }
            out.push(ChapterDef {
                slug: slug.to_string(),
                ..ChapterDef::default()
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key = value or [chapter]", n + 1));
        };
        let Some(chapter) = out.last_mut() else {
            return Err(format!("line {}: {key} before the first [chapter]", n + 1));
        };
        let (key, value) = (key.trim(), value.trim());
        let words = || value.split_whitespace().map(str::to_string).collect();
        match key {
            "stages" => chapter.stages = words(),
            "phases" => chapter.phases = words(),
            "traces" => chapter.traces = words(),
            "en" | "zh" => {
                chapter.titles.insert(key.to_string(), value.to_string());
            }
            _ => {
                return Err(format!(
                    "line {}: unknown key {key:?}: expected stages, phases, traces, en or zh",
                    n + 1
                ))
            }
        }
    }
    Ok(out)
}

/// A chapter with the catalog's phases assigned to it, in flow order.
#[derive(Debug, Clone)]
pub struct Chapter {
    pub def: ChapterDef,
    pub phases: Vec<&'static str>,
}

/// Assigns every catalog phase to a chapter: the first whose `phases` claims it, else the first
/// whose `stages` names its stage, else a chapter of its stage's own (added after the manifest's,
/// with `traces/<stage>.json`). Chapters left without a phase are dropped.
pub fn assign(defs: &[ChapterDef]) -> Vec<Chapter> {
    let mut chapters: Vec<Chapter> = defs
        .iter()
        .map(|d| Chapter {
            def: d.clone(),
            phases: Vec::new(),
        })
        .collect();
    for phase in catalog::PHASES {
        let stage = stage_name(phase.stage);
        let i = chapters
            .iter()
            .position(|c| c.def.claims(phase.id))
            .or_else(|| chapters.iter().position(|c| c.def.stages.contains(&stage)));
        let i = match i {
            Some(i) => i,
            None => {
                chapters.push(Chapter {
                    def: ChapterDef {
                        slug: stage.clone(),
                        stages: vec![stage.clone()],
                        traces: vec![format!("{stage}.json")],
                        titles: [("en".to_string(), format!("{:?}", phase.stage))].into(),
                        ..ChapterDef::default()
                    },
                    phases: Vec::new(),
                });
                chapters.len() - 1
            }
        };
        chapters[i].phases.push(phase.id);
    }
    chapters.retain(|c| !c.phases.is_empty());
    chapters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_rejects_what_it_does_not_know() {
        let defs = parse(
            "# comment\n[start]\nstages = start\ntraces = start.json run-echo.json\nen = Start\nzh = 启动\n",
        )
        .unwrap();
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].traces, vec!["start.json", "run-echo.json"]);
        assert_eq!(defs[0].title("zh"), "启动");
        assert!(parse("stages = start\n").is_err());
        assert!(parse("[a]\ncolour = red\n").is_err());
        assert!(parse("[a]\n[a]\n").is_err());
        assert!(parse("[A b]\n").is_err());
    }

    #[test]
    fn explicit_phases_win_and_unnamed_stages_get_their_own_chapter() {
        let defs = parse(
            "[start]\nstages = start\n[network]\nphases = start.network.*\n[ghost]\nstages = no-such-stage\n",
        )
        .unwrap();
        let chapters = assign(&defs);
        let of = |slug: &str| {
            chapters
                .iter()
                .find(|c| c.def.slug == slug)
                .map(|c| c.phases.clone())
                .unwrap_or_default()
        };
        assert!(of("network").contains(&"start.network.attach"));
        assert!(!of("start").contains(&"start.network.init"));
        assert!(of("start").contains(&"start.mount"));
        // A stage with phases that no chapter names appears on its own, a chapter without
        // phases does not.
        assert!(of("exit").contains(&"exit.reap"));
        assert!(chapters.iter().all(|c| c.def.slug != "ghost"));
        // Every phase is in exactly one chapter.
        let n: usize = chapters.iter().map(|c| c.phases.len()).sum();
        assert_eq!(n, catalog::PHASES.len());
    }
}
