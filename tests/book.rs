//! `ctrace book build`: the committed `book/` is exactly what the binary generates from `lessons/`
//! and `traces/`, in both languages, and generating twice gives the same bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn build(out: &Path, lang: &str) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let o = Command::new(env!("CARGO_BIN_EXE_ctrace"))
        .current_dir(repo)
        .args(["book", "build", "--lang", lang, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn committed_book_is_what_book_build_generates() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (lang, sub) in [("en", "book"), ("zh", "book/zh")] {
        let tmp = tempdir(lang);
        build(&tmp, lang);
        let generated = files(&tmp);
        let mut committed = files(&repo.join(sub));
        if lang == "en" {
            committed.retain(|k, _| !k.starts_with("zh/"));
        }
        let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&generated),
            names(&committed),
            "book/ is stale: run ctrace book build"
        );
        for (name, bytes) in &generated {
            assert!(
                committed[name] == *bytes,
                "{sub}/{name} is stale: regenerate the book"
            );
        }
        build(&tmp, lang);
        assert!(files(&tmp) == generated, "book build is not deterministic");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

#[test]
fn chinese_book_has_chinese_chapters_and_every_chapter_in_the_summary() {
    let tmp = tempdir("zh-summary");
    build(&tmp, "zh");
    let summary = std::fs::read_to_string(tmp.join("src/SUMMARY.md")).unwrap();
    assert!(summary.contains("启动容器"), "{summary}");
    for line in summary.lines().filter(|l| l.starts_with("- [")) {
        let target = line.rsplit_once("](").unwrap().1.trim_end_matches(')');
        assert!(
            tmp.join("src").join(target).is_file(),
            "missing chapter {target}"
        );
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn unknown_language_is_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_ctrace"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "book",
            "build",
            "--lang",
            "fr",
            "--out",
            "/nonexistent/book",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown language"));
}

/// Markdown link and image targets in `text`: the `(…)` after `](`, without titles.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(
                rest[..end]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    out
}

/// Every relative link and image of every page resolves to a file, and every `#anchor` to an
/// `id` on that page; every page is in the summary and every summary entry exists.
fn check_links(src: &Path) {
    let pages = files(src);
    let summary = String::from_utf8(pages["SUMMARY.md"].clone()).unwrap();
    for (name, bytes) in pages.iter().filter(|(n, _)| n.ends_with(".md")) {
        let text = String::from_utf8(bytes.clone()).unwrap();
        if name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("]({name})")),
                "{}/{name} is not in SUMMARY.md",
                src.display()
            );
        }
        for target in link_targets(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() { name.as_str() } else { file };
            let Some(page) = pages.get(file) else {
                panic!(
                    "{}/{name} links to {target}, which does not exist",
                    src.display()
                );
            };
            if !anchor.is_empty() {
                let page = String::from_utf8_lossy(page);
                assert!(
                    page.contains(&format!("id=\"{anchor}\"")),
                    "{}/{name} links to {target}: no such anchor",
                    src.display()
                );
            }
        }
    }
}

#[test]
fn every_link_and_image_of_the_committed_book_resolves() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    check_links(&repo.join("book/src"));
    check_links(&repo.join("book/zh/src"));
}

#[test]
fn every_lesson_is_taught_in_exactly_one_chapter_with_a_sequence_diagram() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (lang, book) in [("en", "book/src"), ("zh", "book/zh/src")] {
        let pages: Vec<(String, String)> = files(&repo.join(book))
            .into_iter()
            .filter(|(n, _)| n.ends_with(".md") && n != "SUMMARY.md" && !n.starts_with("appendix"))
            .map(|(n, b)| (n, String::from_utf8(b).unwrap()))
            .collect();
        for page in &pages {
            assert!(
                page.1.contains("```text\n ctrace"),
                "{book}/{} has no sequence diagram",
                page.0
            );
        }
        for lesson in std::fs::read_dir(repo.join("lessons").join(lang))
            .unwrap()
            .flatten()
        {
            let phase = lesson
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let anchor = format!("<a id=\"{phase}\"></a>");
            let n = pages.iter().filter(|(_, t)| t.contains(&anchor)).count();
            assert_eq!(n, 1, "{phase} is taught in {n} chapters of {book}");
        }
    }
    // The Chinese book prints the Chinese lessons.
    let zh = std::fs::read_to_string(repo.join("book/zh/src/lifecycle.md")).unwrap();
    assert!(
        zh.contains("发送停止信号"),
        "the zh book has no Chinese stop lesson"
    );
    let appendix = std::fs::read_to_string(repo.join("book/zh/src/appendix-seeds.md")).unwrap();
    assert!(appendix.contains("今天的 Docker 与 docker 17"));
}

#[test]
fn a_stage_without_a_chapter_gets_one_and_a_missing_trace_is_named() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let traces = tempdir("traces");
    std::fs::create_dir_all(&traces).unwrap();
    for e in std::fs::read_dir(repo.join("traces")).unwrap().flatten() {
        std::fs::copy(e.path(), traces.join(e.file_name())).unwrap();
    }
    // No [rollback] chapter in the manifest, and one chapter's trace not recorded.
    let manifest = std::fs::read_to_string(traces.join("manifest")).unwrap();
    let at = manifest.find("[rollback]").unwrap();
    let end = manifest[at..]
        .find("\n\n")
        .map_or(manifest.len(), |e| at + e);
    let manifest = format!("{}{}", &manifest[..at], &manifest[end..]);
    std::fs::write(traces.join("manifest"), manifest).unwrap();
    std::fs::remove_file(traces.join("failed-start.json")).unwrap();
    std::fs::copy(
        repo.join("traces/failed-start.json"),
        traces.join("rollback.json"),
    )
    .unwrap();
    std::fs::remove_file(traces.join("create.json")).unwrap();
    let out = tempdir("auto");
    let o = Command::new(env!("CARGO_BIN_EXE_ctrace"))
        .args(["book", "build", "--traces"])
        .arg(&traces)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("chapter create: no trace"), "{stderr}");
    let summary = std::fs::read_to_string(out.join("src/SUMMARY.md")).unwrap();
    assert!(summary.contains("](rollback.md)"), "{summary}");
    let rollback = std::fs::read_to_string(out.join("src/rollback.md")).unwrap();
    assert!(rollback.contains("<a id=\"rollback.undo\"></a>"));
    assert!(
        rollback.contains("rollback.json"),
        "the stage's own trace is used"
    );
    let create = std::fs::read_to_string(out.join("src/create.md")).unwrap();
    assert!(create.contains("has not been recorded yet"));
    check_links(&out.join("src"));
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&traces).unwrap();
}

/// `mdbook build` of both books (create-missing = false: a chapter in the summary without its
/// file fails). Without mdbook it fails: scripts/deps.sh installs it.
#[test]
fn mdbook_builds_both_books() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mdbook = std::env::var("MDBOOK").unwrap_or_else(|_| "mdbook".into());
    assert!(
        Command::new(&mdbook).arg("--version").output().is_ok(),
        "mdbook is not installed: run scripts/deps.sh (or set MDBOOK to its path)"
    );
    for book in ["book", "book/zh"] {
        let dest = tempdir(&format!("html-{}", book.replace('/', "-")));
        let o = Command::new(&mdbook)
            .arg("build")
            .arg(repo.join(book))
            .arg("--dest-dir")
            .arg(&dest)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "mdbook build {book}: {log}");
        assert!(!log.contains("ERROR") && !log.contains("WARN"), "{log}");
        assert!(dest.join("lifecycle.html").is_file());
        std::fs::remove_dir_all(&dest).unwrap();
    }
}

/// A directory under the system's temp dir, removed when dropped: a failing assertion leaves
/// nothing behind either.
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(tag: &str) -> TempDir {
    let p = std::env::temp_dir().join(format!("ctrace-book-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    TempDir(p)
}
