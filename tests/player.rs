//! The book's step-through player in a real browser: `mdbook build` of the committed book, then
//! headless Chromium (Playwright) clicks and keys through a chapter's trace, checking the phase
//! names and the host-state changes shown (tests/browser/player.py), in both languages.
//! Screenshots go to `target/player-shots/<lang>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn need(cmd: &str, args: &[&str], hint: &str) {
    let ok = Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{cmd} {} failed: {hint}", args.join(" "));
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ctrace-player-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The span names of a trace in the order the player shows them (start time, then the catalog's
/// order), read from what the book embedded.
fn expected_steps(chapter_md: &Path, trace: &str) -> Vec<String> {
    let md = std::fs::read_to_string(chapter_md).unwrap();
    let line = md
        .lines()
        .find(|l| l.contains(&format!("data-trace=\"{trace}\"")))
        .unwrap_or_else(|| panic!("no player for {trace} in {}", chapter_md.display()));
    let json = line
        .split("<script type=\"application/json\">")
        .nth(1)
        .unwrap()
        .trim_end_matches("</script></div>")
        .replace("<\\/", "</");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn play(lang: &str, book: &str) {
    need(
        "mdbook",
        &["--version"],
        "install mdbook (cargo install mdbook --locked --no-default-features; scripts/deps.sh does)",
    );
    need(
        "python3",
        &["-c", "import playwright"],
        "install Playwright for Python (pip install playwright; scripts/deps.sh does)",
    );
    need(
        "chromium",
        &["--version"],
        "install Chromium (apt-get install chromium; scripts/deps.sh does)",
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let html = tempdir(lang);
    let o = Command::new("mdbook")
        .arg("build")
        .arg(repo.join(book))
        .arg("--dest-dir")
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let steps = expected_steps(&repo.join(book).join("src/start.md"), "start.json");
    assert!(steps.iter().any(|s| s == "start.mount"));
    let steps_file = html.join("steps.json");
    std::fs::write(&steps_file, serde_json::to_vec(&steps).unwrap()).unwrap();
    let shots = repo.join("target/player-shots").join(lang);
    let o = Command::new("python3")
        .arg(repo.join("tests/browser/player.py"))
        .arg(&html)
        .arg("start.html")
        .arg(&steps_file)
        .arg(&shots)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&html);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_player_steps_through_the_start_chapter_in_english() {
    play("en", "book");
}

#[test]
fn the_player_steps_through_the_start_chapter_in_chinese() {
    play("zh", "book/zh");
}
