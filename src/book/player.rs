//! The step-through player of a chapter's trace: the HTML block `ctrace book build` puts into the
//! chapter, with the trace's phases as JSON — for each, its timing, lesson, note and kernel
//! events, and the change it made to the host as the simulator replays it ([`crate::sim::replay`])
//! — and the small script and style sheet (`player.js`, `player.css`) that make it a player.
//! Everything is inside the book: it works from `file://` and offline.
//!
//! Not here: the chapter around it (`chapter.md.tera`).

use serde::Serialize;

use crate::lessons;
use crate::sim::replay::{self, Step};
use crate::trace::format::TraceFile;

/// The script, copied into the book's source as `player.js`.
pub const SCRIPT: &str = include_str!("player.js");
/// The style sheet, copied as `player.css`.
pub const STYLE: &str = include_str!("player.css");

#[derive(Serialize)]
struct PlayerStep<'a> {
    #[serde(flatten)]
    step: &'a Step,
    summary: String,
    docker: String,
}

#[derive(Serialize)]
struct Labels {
    title: String,
    prev: &'static str,
    next: &'static str,
    timeline: &'static str,
    host: &'static str,
    at: &'static str,
    failed: &'static str,
    docker: &'static str,
    note: &'static str,
    events: &'static str,
    sections: std::collections::BTreeMap<&'static str, &'static str>,
}

fn labels(lang: &str, file: &str) -> Labels {
    let zh = lang == "zh";
    let sections = if zh {
        [
            ("processes", "进程与命名空间"),
            ("mounts", "挂载表"),
            ("cgroups", "cgroup"),
            ("network", "网络"),
            ("iptables", "iptables 规则"),
        ]
    } else {
        [
            ("processes", "processes and namespaces"),
            ("mounts", "mount tables"),
            ("cgroups", "cgroups"),
            ("network", "network"),
            ("iptables", "iptables rules"),
        ]
    };
    Labels {
        title: if zh {
            format!("逐步回放 {file}")
        } else {
            format!("step through {file}")
        },
        prev: if zh { "← 上一步" } else { "← Previous" },
        next: if zh { "下一步 →" } else { "Next →" },
        timeline: if zh {
            "到此为止的时间线"
        } else {
            "timeline so far"
        },
        host: if zh {
            "主机状态（由模拟器从 trace 重放）"
        } else {
            "host state (replayed by the simulator from the trace)"
        },
        at: if zh { "开始于" } else { "at" },
        failed: if zh { "失败" } else { "failed" },
        docker: "Docker",
        note: if zh { "本次" } else { "this time" },
        events: if zh { "内核事件" } else { "kernel events" },
        sections: sections.into_iter().collect(),
    }
}

/// The player's HTML block for `trace` (recorded in `file`), in `lang`: one line, so Markdown
/// keeps it as raw HTML.
pub fn html(trace: &TraceFile, lang: &str, file: &str) -> String {
    let steps = replay::replay(trace);
    let player: Vec<PlayerStep> = steps
        .iter()
        .map(|s| {
            let l = lessons::get(lang, &s.name);
            PlayerStep {
                step: s,
                summary: l.map(|l| l.summary.clone()).unwrap_or_default(),
                docker: l
                    .map(|l| l.docker.split(" (").next().unwrap_or("").to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let data = serde_json::json!({
        "file": file,
        "total_ms": trace.duration_ns as f64 / 1e6,
        "labels": labels(lang, file),
        "steps": player,
    });
    // `</` would end the script element early.
    let json = serde_json::to_string(&data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let first = steps.first().map(|s| s.name.as_str()).unwrap_or("");
    format!(
        "<div class=\"ctrace-player\" data-phase=\"{first}\" data-trace=\"{file}\"><noscript>{}</noscript><script type=\"application/json\">{json}</script></div>",
        if lang == "zh" {
            "逐步回放需要 JavaScript。"
        } else {
            "The step-through player needs JavaScript."
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_player_block_is_one_line_of_html_with_every_phase_and_its_lesson() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/run-echo.json");
        let trace: TraceFile =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let h = html(&trace, "en", "run-echo.json");
        assert!(!h.contains('\n'));
        assert!(h.starts_with("<div class=\"ctrace-player\" data-phase=\"run\""));
        let json = h
            .split("<script type=\"application/json\">")
            .nth(1)
            .unwrap()
            .trim_end_matches("</script></div>");
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let steps = v["steps"].as_array().unwrap();
        assert_eq!(steps.len(), trace.spans.len());
        assert!(steps
            .iter()
            .all(|s| !s["summary"].as_str().unwrap().is_empty()));
        assert!(html(&trace, "zh", "run-echo.json").contains("下一步"));
    }
}
