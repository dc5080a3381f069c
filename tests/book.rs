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

fn tempdir(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("ctrace-book-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}
