//! `ctrace book build`: the mdBook source tree of the course, generated from the lessons and the
//! reference traces in `traces/`.
//!
//! The chapters come from `traces/manifest` and the catalog's stages ([`manifest`]): each has its
//! lessons in flow order and, per reference trace, a timeline, a flamegraph and a sequence
//! diagram of the processes involved ([`sequence`]), and a step-through player ([`player`]). Output is deterministic (same lessons,
//! manifest and traces → same bytes), so the committed `book/` can be regenerated and compared. The templates are embedded in the binary. Not here: running
//! `mdbook` itself, or recording the traces (`scripts/record-traces.sh`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::lessons::{self, catalog};
use crate::trace::format::{SpanRecord, TraceFile};
use crate::trace::{folded, store};

mod manifest;
mod player;
mod sequence;

const CHAPTER: &str = include_str!("book/chapter.md.tera");
const SUMMARY: &str = include_str!("book/SUMMARY.md.tera");
const APPENDIX: &str = include_str!("book/appendix.md.tera");
const EXPORTERS: &str = include_str!("book/exporters.md.tera");
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
    #[error("cannot read {path}: {source}; it lists the book's chapters (see traces/README.md)")]
    ManifestRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
}

/// The manifest's place in the traces directory.
const MANIFEST: &str = "manifest";

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
    /// The span name, linked to its lesson when it is a catalog phase.
    name: String,
    /// Indentation by depth in the trace (a `·` per level).
    indent: String,
    process: String,
    at_ms: String,
    ms: String,
    share: String,
    /// This chapter's own phase (shown in bold).
    own: bool,
}

#[derive(Serialize)]
struct TraceCtx {
    file: String,
    argv: String,
    total_ms: String,
    rows: Vec<Row>,
    svg: String,
    diagram: String,
    /// The step-through player's HTML block.
    player: String,
}

#[derive(Serialize)]
struct ChapterCtx {
    slug: String,
    title: String,
    lang: String,
    traces: Vec<TraceCtx>,
    missing: Vec<String>,
    lessons: Vec<LessonCtx>,
    /// The book's first chapter, which also says how to follow without root.
    first: bool,
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

/// A front matter value as Markdown text: its `<id>`-style placeholders are not HTML tags (the
/// terminal shows these values as they are, so the lesson files do not escape them).
fn plain(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

/// Where each phase's lesson is: `chapter.md#phase`.
fn lesson_links(chapters: &[manifest::Chapter]) -> HashMap<&'static str, String> {
    chapters
        .iter()
        .flat_map(|c| {
            c.phases
                .iter()
                .map(|p| (*p, format!("{}.md#{p}", c.def.slug)))
        })
        .collect()
}

/// The spans of `trace` this chapter is about: its own phases and their ancestors (for context).
fn chapter_spans<'t>(trace: &'t TraceFile, own: &[&str]) -> Vec<&'t SpanRecord> {
    let by_id: HashMap<&str, &SpanRecord> = trace
        .spans
        .iter()
        .map(|s| (s.span_id.as_str(), s))
        .collect();
    let mut keep: HashSet<&str> = HashSet::new();
    for s in trace
        .spans
        .iter()
        .filter(|s| own.contains(&s.name.as_str()))
    {
        let mut cur = Some(s);
        while let Some(c) = cur {
            if !keep.insert(c.span_id.as_str()) {
                break;
            }
            cur = c.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
        }
    }
    let mut spans: Vec<&SpanRecord> = trace
        .spans
        .iter()
        .filter(|s| keep.contains(s.span_id.as_str()))
        .collect();
    let depth = sequence::depths(trace);
    spans.sort_by_key(|s| {
        (
            s.start_unix_ns,
            depth.get(s.span_id.as_str()).copied().unwrap_or(0),
            s.name.clone(),
            s.span_id.clone(),
        )
    });
    spans
}

/// The timeline rows of `spans`, durations and share of the whole trace.
fn timeline(
    trace: &TraceFile,
    spans: &[&SpanRecord],
    own: &[&str],
    links: &HashMap<&'static str, String>,
) -> Vec<Row> {
    let total = trace.duration_ns.max(1) as f64;
    let depth = sequence::depths(trace);
    spans
        .iter()
        .map(|s| Row {
            name: match links.get(s.name.as_str()) {
                Some(link) => format!("[`{}`]({link})", s.name),
                None => format!("`{}`", s.name),
            },
            indent: "· ".repeat(depth.get(s.span_id.as_str()).copied().unwrap_or(0)),
            process: s.process.clone(),
            at_ms: format!(
                "{:.3}",
                s.start_unix_ns.saturating_sub(trace.started_unix_ns) as f64 / 1e6
            ),
            ms: format!("{:.3}", s.duration_ns as f64 / 1e6),
            share: format!("{:.1}%", s.duration_ns as f64 * 100.0 / total),
            own: own.contains(&s.name.as_str()),
        })
        .collect()
}

/// Removes what an earlier build generated in `src` (only a directory with a SUMMARY.md, so a
/// wrong `--out` never deletes anything else).
fn clean(src: &Path) -> Result<(), BookError> {
    if !src.join("SUMMARY.md").is_file() {
        return Ok(());
    }
    let rd = std::fs::read_dir(src).map_err(|source| BookError::Write {
        path: src.to_path_buf(),
        source,
    })?;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("md" | "svg")) {
            std::fs::remove_file(&p).map_err(|source| BookError::Write { path: p, source })?;
        }
    }
    Ok(())
}

/// Builds the book for `lang` (`en` or `zh`) from `traces` into `out`; returns the files written.
pub fn build(traces: &Path, out: &Path, lang: &str) -> Result<Vec<PathBuf>, BookError> {
    if lang != "en" && lang != "zh" {
        return Err(BookError::Lang(lang.to_string()));
    }
    let mpath = traces.join(MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(|source| BookError::ManifestRead {
        path: mpath.clone(),
        source,
    })?;
    let defs = manifest::parse(&text).map_err(|message| BookError::Manifest {
        path: mpath.clone(),
        message,
    })?;
    let chapters = manifest::assign(&defs);
    let links = lesson_links(&chapters);
    clean(&out.join("src"))?;
    let mut written = Vec::new();
    let mut summary = Vec::new();
    for (index, chapter) in chapters.iter().enumerate() {
        let slug = chapter.def.slug.as_str();
        let own = &chapter.phases;
        let mut traces_ctx = Vec::new();
        let mut missing = Vec::new();
        for file in &chapter.def.traces {
            let path = traces.join(file);
            if !path.exists() {
                eprintln!(
                    "ctrace: warning: chapter {slug}: no trace {}: record it with scripts/record-traces.sh",
                    path.display()
                );
                missing.push(file.clone());
                continue;
            }
            let trace = store::read(&path).map_err(|source| BookError::Trace {
                path: path.clone(),
                source,
            })?;
            let spans = chapter_spans(&trace, own);
            // The diagram also shows the operation's main steps and every hand-over between
            // processes, so each chapter's phases are seen in the whole flow.
            let depth = sequence::depths(&trace);
            let mut diagram_rows = spans.clone();
            diagram_rows.extend(sequence::entries(&trace));
            diagram_rows.extend(
                trace
                    .spans
                    .iter()
                    .filter(|s| depth.get(s.span_id.as_str()).is_some_and(|d| *d <= 1)),
            );
            let stem = file.trim_end_matches(".json");
            let svg_name = format!("{slug}-{stem}.svg");
            let mut svg = Vec::new();
            folded::flamegraph(std::slice::from_ref(&trace), false, &mut svg).map_err(
                |source| BookError::Write {
                    path: out.join("src").join(&svg_name),
                    source,
                },
            )?;
            let svg_path = out.join("src").join(&svg_name);
            write(&svg_path, &svg)?;
            written.push(svg_path);
            traces_ctx.push(TraceCtx {
                file: file.clone(),
                argv: trace.argv.join(" "),
                total_ms: format!("{:.3}", trace.duration_ns as f64 / 1e6),
                rows: timeline(&trace, &spans, own, &links),
                svg: svg_name,
                diagram: sequence::render(&trace, &diagram_rows),
                player: player::html(&trace, lang, file),
            });
        }
        let lessons = own
            .iter()
            .filter_map(|p| lessons::get(lang, p))
            .map(|l| LessonCtx {
                phase: l.phase.clone(),
                title: plain(&l.title),
                docker: l.docker.clone(),
                docker_file: plain(&l.docker_file),
                seed: plain(&l.seed),
                summary: plain(&l.summary),
                syscalls: plain(&l.syscalls),
                body: l.body.clone(),
            })
            .collect();
        let title = chapter.def.title(lang);
        let ctx = ChapterCtx {
            slug: slug.into(),
            title: title.clone(),
            lang: lang.into(),
            traces: traces_ctx,
            missing,
            lessons,
            first: index == 0,
        };
        let md = out.join("src").join(format!("{slug}.md"));
        write(&md, render("chapter", CHAPTER, &ctx)?.as_bytes())?;
        written.push(md);
        summary.push(serde_json::json!({ "slug": slug, "title": title }));
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
        .map(|(seed, phase, docker)| {
            let link = links.get(phase.as_str()).cloned().unwrap_or_default();
            serde_json::json!({ "seed": seed, "phase": phase, "docker": docker, "link": link })
        })
        .collect();
    let ctx = serde_json::json!({ "lang": lang, "chapters": summary, "seeds": seeds });
    for (name, tpl, rel) in [
        ("SUMMARY", SUMMARY, "src/SUMMARY.md"),
        ("appendix", APPENDIX, "src/appendix-seeds.md"),
        ("exporters", EXPORTERS, "src/appendix-exporters.md"),
        ("book.toml", BOOK_TOML, "book.toml"),
    ] {
        let path = out.join(rel);
        write(&path, render(name, tpl, &ctx)?.as_bytes())?;
        written.push(path);
    }
    for (rel, text) in [("player.js", player::SCRIPT), ("player.css", player::STYLE)] {
        let path = out.join(rel);
        write(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
