//! Property tests of what the trace module reads from outside: `traceparent` values (the
//! daemon's request header, a client's `TRACEPARENT`) and trace files (`ctrace trace show FILE`
//! on a file from anywhere), and the replay of the committed hostile trace files
//! (`tests/fixtures/hostile/traces/`).
//!
//! The properties: nothing panics; what parses prints back to itself; a refusal is one line; a
//! trace id that is accepted is hex, so the file it names stays in the traces directory.
//!
//! Not here: the example-based tests of the recorder and the exporters.

use std::path::Path;

use proptest::prelude::*;

use super::recorder::parse_traceparent;
use super::store;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A reference trace recorded on a Linux host (`traces/`), as bytes.
fn sample() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/run-echo.json")).unwrap()
}

fn temp() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ctrace-trace-props-{}-{:016x}",
        std::process::id(),
        crate::sys::random::u64()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

proptest! {
    #![proptest_config(cases(4000))]

    #[test]
    fn an_accepted_traceparent_is_hex_and_prints_back_to_itself(
        s in prop_oneof![
            "[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            "[0-9a-fA-F./-]{2}-[0-9a-zA-Z./]{32}-[0-9a-zA-Z./]{16}-[0-9a-f.]{2}(-.{0,4})?",
            any::<String>(),
        ]
    ) {
        if let Some((t, p)) = parse_traceparent(&s) {
            prop_assert!(t.len() == 32 && is_hex(&t) && p.len() == 16 && is_hex(&p), "{s:?}");
            prop_assert_eq!(parse_traceparent(&format!("00-{t}-{p}-01")), Some((t, p)));
        }
    }
}

#[test]
fn a_traceparent_naming_a_path_is_refused() {
    for s in [
        "00-../../../../../../../../../tmp/x-0123456789abcdef-01",
        "00-0123456789abcdef0123456789ABCDEF-0123456789abcdef-01",
        "00-00000000000000000000000000000000-0123456789abcdef-01",
        "ff-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
        "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01-extra",
    ] {
        assert_eq!(parse_traceparent(s), None, "{s}");
    }
    assert!(parse_traceparent("00-0123456789abcdef0123456789abcdef-0123456789abcdef-01").is_some());
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn a_damaged_trace_file_is_read_or_refused_in_one_line(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        keep in any::<prop::sample::Index>(),
        id in prop_oneof![Just(None), "[a-z0-9./]{0,40}".prop_map(Some)],
    ) {
        let mut bytes = sample();
        if let Some(id) = id {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v["trace_id"] = serde_json::json!(id);
            bytes = serde_json::to_vec(&v).unwrap();
        }
        for (at, b) in edits {
            let at = at.index(bytes.len());
            bytes[at] = b;
        }
        if keep.index(4) == 0 {
            let n = keep.index(bytes.len());
            bytes.truncate(n);
        }
        let dir = temp();
        let path = dir.join("t.json");
        std::fs::write(&path, &bytes).unwrap();
        let outcome = store::read(&path);
        let _ = std::fs::remove_dir_all(&dir);
        match outcome {
            Ok(t) => prop_assert!(t.trace_id.len() == 32 && is_hex(&t.trace_id)),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n'), "{msg:?}");
            }
        }
    }
}

#[test]
fn every_reference_trace_reads_and_writes_back_the_same() {
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let dir = temp();
    let mut seen = 0;
    for e in std::fs::read_dir(&traces).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let t = store::read(&p).unwrap_or_else(|e| panic!("{e}"));
        let written = store::write(&dir, &t).unwrap();
        assert!(written.starts_with(&dir), "{}", written.display());
        let again = store::read(&written).unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::to_value(&again).unwrap(),
            "{}",
            p.display()
        );
        seen += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen >= 10, "{seen} reference traces");
}

/// The committed corpus's trace files (`tests/fixtures/hostile/traces/`): each is refused in
/// one line.
#[test]
fn every_hostile_trace_file_in_the_corpus_is_refused_in_one_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/traces");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let err = store::read(&p).expect_err(&p.display().to_string());
        assert!(!err.to_string().contains('\n'), "{err}");
        seen += 1;
    }
    assert!(seen >= 5, "{seen} hostile trace files");
}
