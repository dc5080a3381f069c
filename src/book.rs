//! `ctrace book build`: the mdBook source tree of the course, generated from the lessons and the
//! reference traces in `traces/`.
//!
//! Output is deterministic (same lessons and traces → same bytes), so the committed `book/` can
//! be regenerated and compared. The templates are embedded in the binary. Not here: running
//! `mdbook` itself, or recording the traces (`scripts/record-traces.sh`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::lessons::{self, catalog};
use crate::trace::{folded, format::TraceFile, store};

const CHAPTER: &str = include_str!("book/chapter.md.tera");
const SUMMARY: &str = include_str!("book/SUMMARY.md.tera");
const APPENDIX: &str = include_str!("book/appendix.md.tera");
const BOOK_TOML: &str = include_str!("book/book.toml.tera");

#[derive(Debug, Error)]
pub enum BookError {
    #[error("cannot read trace {path}: {source}; record the reference traces with scripts/record-traces.sh")]
    Trace {
        path: PathBuf,
        source: crate::trace::store::TraceError,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("book template {0}: {1}")]
    Template(&'static str, String),
    #[error("unknown language {0:?}: use en or zh")]
    Lang(String),
}

/// A stage of the book: a chapter, the catalog stages it covers and the trace it shows.
struct StageDef {
    slug: &'static str,
    title_en: &'static str,
    title_zh: &'static str,
    stages: &'static [catalog::Stage],
    trace: &'static str,
}

const STAGES: &[StageDef] = {
    use catalog::Stage::*;
    &[
        StageDef {
            slug: "client",
            title_en: "The client and the API",
            title_zh: "客户端与 API",
            stages: &[Client, Daemon],
            trace: "run-echo.json",
        },
        StageDef {
            slug: "create",
            title_en: "Create",
            title_zh: "创建容器",
            stages: &[Create, Image],
            trace: "create.json",
        },
        StageDef {
            slug: "start",
            title_en: "Start",
            title_zh: "启动容器",
            stages: &[Start],
            trace: "start.json",
        },
        StageDef {
            slug: "runtime",
            title_en: "The runtime: namespaces, cgroups, pivot_root, exec",
            title_zh: "运行时：命名空间、cgroup、pivot_root、exec",
            stages: &[Runtime, Init],
            trace: "run-echo.json",
        },
        StageDef {
            slug: "exit",
            title_en: "Exit and cleanup",
            title_zh: "退出与清理",
            stages: &[Wait, Exit, Remove],
            trace: "rm-force.json",
        },
        StageDef {
            slug: "rollback",
            title_en: "When a start fails: rollback",
            title_zh: "启动失败：回滚",
            stages: &[Rollback],
            trace: "failed-start.json",
        },
    ]
};

#[derive(Serialize)]
struct LessonCtx {
    phase: String,
    title: String,
    docker: String,
    docker_file: String,
    seed: String,
    summary: String,
    syscalls: String,
    body: String,
}

#[derive(Serialize)]
struct Row {
    name: String,
    ms: String,
    share: String,
}

#[derive(Serialize)]
struct ChapterCtx {
    slug: String,
    title: String,
    lang: String,
    trace: String,
    argv: String,
    total_ms: String,
    rows: Vec<Row>,
    lessons: Vec<LessonCtx>,
}

fn render(name: &'static str, tpl: &str, ctx: &impl Serialize) -> Result<String, BookError> {
    let ctx =
        tera::Context::from_serialize(ctx).map_err(|e| BookError::Template(name, e.to_string()))?;
    tera::Tera::one_off(tpl, &ctx, false).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg += &format!(": {s}");
            src = s.source();
        }
        BookError::Template(name, msg)
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BookError> {
    let err = |source| BookError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, bytes).map_err(err)
}

/// The timeline of one trace: its direct phases under the root, with durations and share.
fn timeline(trace: &TraceFile) -> Vec<Row> {
    let total = trace.duration_ns.max(1) as f64;
    let mut spans: Vec<_> = trace.spans.iter().collect();
    spans.sort_by_key(|s| (s.start_unix_ns, s.name.clone()));
    spans
        .into_iter()
        .map(|s| Row {
            name: s.name.clone(),
            ms: format!("{:.3}", s.duration_ns as f64 / 1e6),
            share: format!("{:.1}%", s.duration_ns as f64 * 100.0 / total),
        })
        .collect()
}

/// Builds the book for `lang` (`en` or `zh`) from `traces` into `out`; returns the files written.
pub fn build(traces: &Path, out: &Path, lang: &str) -> Result<Vec<PathBuf>, BookError> {
    if lang != "en" && lang != "zh" {
        return Err(BookError::Lang(lang.to_string()));
    }
    let mut written = Vec::new();
    let mut chapters = Vec::new();
    for def in STAGES {
        let path = traces.join(def.trace);
        let trace = store::read(&path).map_err(|source| BookError::Trace {
            path: path.clone(),
            source,
        })?;
        let lessons = catalog::PHASES
            .iter()
            .filter(|p| def.stages.contains(&p.stage))
            .filter_map(|p| lessons::get(lang, p.id))
            .map(|l| LessonCtx {
                phase: l.phase.clone(),
                title: l.title.clone(),
                docker: l.docker.clone(),
                docker_file: l.docker_file.clone(),
                seed: l.seed.clone(),
                summary: l.summary.clone(),
                syscalls: l.syscalls.clone(),
                body: l.body.clone(),
            })
            .collect();
        let title = if lang == "zh" {
            def.title_zh
        } else {
            def.title_en
        };
        let ctx = ChapterCtx {
            slug: def.slug.into(),
            title: title.into(),
            lang: lang.into(),
            trace: def.trace.into(),
            argv: trace.argv.join(" "),
            total_ms: format!("{:.3}", trace.duration_ns as f64 / 1e6),
            rows: timeline(&trace),
            lessons,
        };
        let md = out.join("src").join(format!("{}.md", def.slug));
        write(&md, render("chapter", CHAPTER, &ctx)?.as_bytes())?;
        written.push(md);
        let mut svg = Vec::new();
        folded::flamegraph(std::slice::from_ref(&trace), false, &mut svg).map_err(|source| {
            BookError::Write {
                path: out.join("src"),
                source,
            }
        })?;
        let svg_path = out.join("src").join(format!("{}.svg", def.slug));
        write(&svg_path, &svg)?;
        written.push(svg_path);
        chapters.push(serde_json::json!({ "slug": def.slug, "title": title }));
    }
    let mut seeds: Vec<(String, String, String)> = catalog::PHASES
        .iter()
        .filter_map(|p| lessons::get(lang, p.id))
        .filter(|l| !l.seed.is_empty())
        .map(|l| (l.seed.clone(), l.phase.clone(), l.docker.clone()))
        .collect();
    seeds.sort();
    let seeds: Vec<_> = seeds
        .into_iter()
        .map(|(seed, phase, docker)| serde_json::json!({ "seed": seed, "phase": phase, "docker": docker }))
        .collect();
    let ctx = serde_json::json!({ "lang": lang, "chapters": chapters, "seeds": seeds });
    for (name, tpl, rel) in [
        ("SUMMARY", SUMMARY, "src/SUMMARY.md"),
        ("appendix", APPENDIX, "src/appendix-seeds.md"),
        ("book.toml", BOOK_TOML, "book.toml"),
    ] {
        let path = out.join(rel);
        write(&path, render(name, tpl, &ctx)?.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
