//! `--explain`: the narrated timeline, one line per phase as it completes.
//!
//! Each line says when the phase started (ms since the operation began), how long it took (a bar
//! and a number), what happened to *this* container (the span's `note`), and underneath, what the
//! phase is for and which Docker function and seed step it corresponds to — from the lessons, never
//! from strings in code. The same renderer replays a trace file (`ctrace trace show --explain`).
//!
//! It writes to stderr so that the container's own output on stdout stays clean and pipeable.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use super::format::{SpanRecord, TraceFile};
use super::recorder::LiveView;
use crate::lessons::{self, catalog};

/// How to render.
#[derive(Debug, Clone)]
pub struct Style {
    pub color: bool,
    pub lang: String,
}

impl Style {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset (<https://no-color.org>).
    pub fn for_stderr(lang: &str) -> Style {
        Style {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            lang: lang.to_string(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The live timeline: a [`LiveView`] printing to stderr.
pub struct Explain {
    style: Style,
    origin: Mutex<Option<u64>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Explain {
    pub fn to_stderr(style: Style) -> Explain {
        Explain::new(style, Box::new(std::io::stderr()))
    }

    pub fn new(style: Style, out: Box<dyn Write + Send>) -> Explain {
        Explain {
            style,
            origin: Mutex::new(None),
            out: Mutex::new(out),
        }
    }

    /// Sets time zero for the offsets (the operation's start).
    pub fn set_origin(&self, unix_ns: u64) {
        *self.origin.lock().unwrap() = Some(unix_ns);
    }

    fn origin(&self, at: u64) -> u64 {
        *self.origin.lock().unwrap().get_or_insert(at)
    }

    fn emit(&self, text: &str) {
        let mut out = self.out.lock().unwrap();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A heading for an operation (`CREATE`, `START`, …).
    fn heading(&self, span: &SpanRecord) -> String {
        let lesson = lessons::get(&self.style.lang, &span.name);
        let mut s = format!("\n{}", self.style.paint("1", &span.name.to_uppercase()));
        if let Some(l) = lesson {
            // The file only: the lesson's parenthesised or `;`-separated detail is for the book.
            let file = l.docker_file.split(['(', ';']).next().unwrap_or("").trim();
            s += &format!(
                "  {}",
                self.style.paint("2", &format!("{file} · seed {}", l.seed))
            );
        }
        s + "\n"
    }

    /// The two lines of a finished phase.
    fn phase_line(&self, span: &SpanRecord) -> String {
        let origin = self.origin(span.start_unix_ns);
        let offset = span.start_unix_ns.saturating_sub(origin) as f64 / 1e6;
        let dur = span.duration_ns as f64 / 1e6;
        let phase = catalog::find(&span.name);
        let indent = match phase.map(|p| p.stage) {
            Some(catalog::Stage::Runtime) => "  ",
            Some(catalog::Stage::Init) => "    ",
            _ => "",
        };
        let name = format!("{indent}{}", span.name);
        let failed = span.status == "error";
        let note = if failed {
            format!("FAILED: {}", span.attr_str("error").unwrap_or("error"))
        } else {
            span.attr_str("note").unwrap_or("").to_string()
        };
        let mut s = format!(
            "{:>9}  {}  {} {:>7}  {}\n",
            format!("{offset:.2} ms"),
            self.style
                .paint(if failed { "31;1" } else { "36" }, &format!("{name:<24}")),
            self.style.paint("33", &format!("{:<12}", bar(dur))),
            format!("{dur:.2}"),
            if failed {
                self.style.paint("31", &note)
            } else {
                note
            },
        );
        if let Some(l) = lessons::get(&self.style.lang, &span.name) {
            let why = format!("{indent}└ {}", l.summary);
            // The function names only: the lesson's parenthesised detail is for the book.
            let docker = l.docker.split(" (").next().unwrap_or(&l.docker);
            let map = format!("{} · {}", short(docker, 56), l.seed);
            s += &format!(
                "{:>11}{}  {}\n",
                "",
                self.style.paint("2", &why),
                self.style.paint("2;3", &format!("[{map}]"))
            );
        }
        s
    }

    /// Replays a whole trace file through the same renderer.
    pub fn replay(&self, trace: &TraceFile) {
        self.set_origin(trace.started_unix_ns);
        let mut spans: Vec<&SpanRecord> = trace.spans.iter().collect();
        spans.sort_by_key(|s| (s.start_unix_ns, catalog::order(&s.name)));
        for span in spans {
            match catalog::find(&span.name) {
                Some(p) if p.operation => self.emit(&self.heading(span)),
                Some(_) => self.emit(&self.phase_line(span)),
                None => {}
            }
        }
        self.emit(&summary_line(&self.style, trace));
    }
}

impl LiveView for Explain {
    fn opened(&self, span: &SpanRecord) {
        self.origin(span.start_unix_ns);
        if catalog::find(&span.name).is_some_and(|p| p.operation && span.name != "run") {
            self.emit(&self.heading(span));
        }
    }

    fn closed(&self, span: &SpanRecord) {
        if catalog::find(&span.name).is_some_and(|p| !p.operation) {
            self.emit(&self.phase_line(span));
        }
    }
}

/// A bar of eighth-blocks: one full block per millisecond, at most 10.
pub fn bar(ms: f64) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = ((ms * 8.0).round() as usize).clamp(1, 80);
    let mut s = "█".repeat(eighths / 8);
    s += PARTS[eighths % 8];
    s
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        cut + "…"
    }
}

/// The closing line: total, the slowest phase, and where to dig deeper.
pub fn summary_line(style: &Style, trace: &TraceFile) -> String {
    let total = trace.duration_ns as f64 / 1e6;
    let slowest = trace
        .spans
        .iter()
        .filter(|s| catalog::find(&s.name).is_some_and(|p| !p.operation) && s.name != "run.wait")
        .max_by_key(|s| s.duration_ns);
    let mut s = format!("\ntotal {total:.1} ms");
    if let Some(sl) = slowest {
        let ms = sl.duration_ns as f64 / 1e6;
        let pct = if trace.duration_ns > 0 {
            100.0 * sl.duration_ns as f64 / trace.duration_ns as f64
        } else {
            0.0
        };
        s += &format!(" · slowest {} {ms:.1} ms ({pct:.0}%)", sl.name);
    }
    s += &format!(
        " · details: ctrace trace show {}\n",
        style.paint("1", &trace.trace_id[..8.min(trace.trace_id.len())])
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_grows_with_duration_and_is_never_empty() {
        assert_eq!(bar(0.0), "▏");
        assert_eq!(bar(1.0), "█");
        assert_eq!(bar(2.5), "██▌");
        assert_eq!(bar(1000.0).chars().count(), 10);
    }
}
