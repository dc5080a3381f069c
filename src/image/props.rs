//! Property tests of the image parsers that read outside input: references, layer tars,
//! `docker save` archives and OCI layouts (their manifests and indexes), and the replay of the
//! committed hostile corpus (`tests/fixtures/hostile/`).
//!
//! The properties: nothing panics; a reference that parses prints back to itself; a refusal is
//! one line; an import either registers an image whose every entry is inside its layer
//! directory, or registers nothing and leaves nothing behind.
//!
//! Not here: the example-based tests of the same code (`tests.rs`), the registry client (`pull`).

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::reference::{familiar, normalize, parse_normalized};
use super::testutil::*;
use super::{ImageError, ImageStore, RootfsConfig};

/// A name no real file has: a layer entry that escapes is found by looking for it.
const CANARY: &str = "ctrace-prop-canary";

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn one_line(e: &impl std::fmt::Display) -> Result<(), TestCaseError> {
    let s = e.to_string();
    prop_assert!(!s.is_empty() && !s.contains('\n'), "not one line: {s:?}");
    Ok(())
}

/// Every path below `root`, relative, sorted.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// Nothing was registered and nothing was left: no blob, layer or staging directory.
fn pristine(root: &Path, s: &ImageStore) -> Result<(), TestCaseError> {
    prop_assert!(s.list().unwrap().is_empty(), "an image was registered");
    for d in ["images/blobs/sha256", "layers", "tmp"] {
        let left = walk(&root.join(d));
        prop_assert!(left.is_empty(), "{d} holds {left:?}");
    }
    Ok(())
}

/// No entry named [`CANARY`] outside the store's layers, nor in any directory above the store.
fn nothing_escaped(root: &Path) -> Result<(), TestCaseError> {
    for p in walk(root) {
        let inside_layer = p.starts_with("layers");
        let named = p.iter().any(|c| c.to_string_lossy().contains(CANARY));
        prop_assert!(inside_layer || !named, "{} escaped", p.display());
    }
    for dir in root.ancestors().skip(1) {
        let found = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(CANARY));
        prop_assert!(!found, "an entry escaped into {}", dir.display());
    }
    Ok(())
}

/// A path as a hostile layer might name it: `..`, `.`, empty components, a leading `/`, the
/// canary, names other entries use.
fn hostile_path() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just("a".to_string()),
        Just("l".to_string()),
        Just(CANARY.to_string()),
    ];
    (any::<bool>(), prop::collection::vec(part, 1..5)).prop_map(|(abs, parts)| {
        let p = parts.join("/");
        if abs {
            format!("/{p}")
        } else {
            p
        }
    })
}

#[derive(Debug, Clone)]
enum Entry {
    Dir(String),
    File(String, Vec<u8>),
    Symlink(String, String),
    Hardlink(String, String),
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        hostile_path().prop_map(Entry::Dir),
        (hostile_path(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(p, d)| Entry::File(p, d)),
        (hostile_path(), hostile_path()).prop_map(|(p, t)| Entry::Symlink(p, t)),
        (hostile_path(), hostile_path()).prop_map(|(p, t)| Entry::Hardlink(p, t)),
    ]
}

fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut t = TarBuilder::new();
    for e in entries {
        match e {
            Entry::Dir(p) => t.dir(p, 0o755),
            Entry::File(p, d) => t.file_raw_name(p, d),
            Entry::Symlink(p, l) => t.symlink(p, l),
            Entry::Hardlink(p, l) => t.hardlink_raw(p, l),
        }
    }
    t.finish()
}

fn store() -> (TestDir, ImageStore) {
    let dir = tempdir();
    let s = ImageStore::open(dir.path()).unwrap();
    (dir, s)
}

/// Imports `bytes` as a rootfs tar and checks the outcome: registered with nothing outside its
/// layer, or refused in one line with nothing left.
fn import_rootfs(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (dir, s) = store();
    let input = dir.path().join("input");
    fs::create_dir(&input).unwrap();
    let path = input.join("layer.tar");
    fs::write(&path, bytes).unwrap();
    match s.import_rootfs_tar(&path, "prop:1", &RootfsConfig::default()) {
        Ok(_) => {}
        Err(e) => {
            one_line(&e)?;
            pristine(dir.path(), &s)?;
        }
    }
    nothing_escaped(dir.path())
}

/// Imports `bytes` as an archive (docker save or OCI layout tar) and checks the outcome.
fn import_archive(bytes: &[u8]) -> Result<Option<ImageError>, TestCaseError> {
    let (dir, s) = store();
    let input = dir.path().join("input");
    fs::create_dir(&input).unwrap();
    let path = input.join("archive.tar");
    fs::write(&path, bytes).unwrap();
    let outcome = s.import_archive(&path, None);
    if let Err(e) = &outcome {
        one_line(e)?;
        pristine(dir.path(), &s)?;
    }
    nothing_escaped(dir.path())?;
    Ok(outcome.err())
}

fn reference_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._:/@-]{0,40}",
        "([a-z0-9]{1,8}[./:]){0,4}[a-z0-9]{1,8}(:[a-zA-Z0-9_.-]{1,10})?(@sha256:[0-9a-f]{64})?",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn a_reference_that_parses_prints_back_to_itself(s in reference_text()) {
        match parse_normalized(&s) {
            Ok(r) => {
                let full = r.to_string();
                prop_assert_eq!(parse_normalized(&full).unwrap(), r.clone());
                prop_assert_eq!(normalize(&familiar(&full)).unwrap(), full);
            }
            Err(e) => one_line(&e)?,
        }
    }
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn a_layer_of_hostile_entries_never_escapes_its_directory(
        entries in prop::collection::vec(entry(), 1..8)
    ) {
        import_rootfs(&layer(&entries))?;
    }

    #[test]
    fn a_damaged_or_truncated_layer_is_refused_cleanly(
        edits in prop::collection::vec((0usize..3072, any::<u8>()), 0..8),
        keep in 0usize..3072,
    ) {
        let mut t = TarBuilder::new();
        t.dir("bin", 0o755);
        t.file("bin/sh", b"#!fake shell");
        t.symlink("bin/ls", "sh");
        t.hardlink("bin/ln", "bin/sh");
        let mut bytes = t.finish();
        for (at, b) in edits {
            let at = at % bytes.len();
            bytes[at] = b;
        }
        bytes.truncate(keep.max(1));
        import_rootfs(&bytes)?;
    }

    #[test]
    fn a_docker_save_manifest_of_any_shape_is_read_or_refused_cleanly(
        config in hostile_path(),
        layers in prop::collection::vec(hostile_path(), 0..3),
        tags in prop::collection::vec("[a-zA-Z0-9:/@._-]{0,20}", 0..3),
        shape in 0u8..4,
    ) {
        let mut good = TarBuilder::new();
        good.file(&format!("{CANARY}-file"), b"x");
        let good = good.finish();
        let cfg = config_json(&[&good], &["sh"]);
        let mut t = TarBuilder::new();
        t.file("config.json", &cfg);
        t.dir("l", 0o755);
        t.file("l/layer.tar", &good);
        let manifest = match shape {
            0 => serde_json::json!([{"Config": config, "Layers": layers, "RepoTags": tags}]),
            1 => serde_json::json!([{"Config": "config.json", "Layers": ["l/layer.tar"], "RepoTags": tags}]),
            2 => serde_json::json!({"Config": config}),
            _ => serde_json::json!([{"Config": "config.json", "Layers": layers, "RepoTags": null}]),
        };
        t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
        import_archive(&t.finish())?;
    }

    #[test]
    fn an_oci_index_of_any_shape_is_read_or_refused_cleanly(
        digest in prop_oneof![
            "sha256:[0-9a-f]{64}",
            "sha256:[0-9a-f]{0,70}",
            "[a-z0-9]{0,8}:[./a-z0-9]{0,20}",
        ],
        media in prop_oneof![
            Just("application/vnd.oci.image.manifest.v1+json".to_string()),
            Just("application/vnd.oci.image.index.v1+json".to_string()),
            "[a-z/.+]{0,30}",
        ],
        size in prop_oneof![Just(0i64), -2i64..2, any::<i64>()],
        name in "[a-zA-Z0-9:/@._-]{0,30}",
        nested in any::<bool>(),
    ) {
        let mut t = TarBuilder::new();
        t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        t.dir("blobs", 0o755);
        t.dir("blobs/sha256", 0o755);
        let desc = serde_json::json!({
            "mediaType": media, "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        });
        if nested {
            // An index that names itself: a loop to be refused, not followed.
            let inner = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "manifests": [desc.clone()]
            })).unwrap();
            let hex = super::layout::sha256_bytes(&inner);
            t.file(&format!("blobs/sha256/{hex}"), &inner);
            let mut d = desc.clone();
            d["digest"] = serde_json::json!(format!("sha256:{hex}"));
            d["size"] = serde_json::json!(inner.len());
            d["mediaType"] = serde_json::json!("application/vnd.oci.image.index.v1+json");
            t.file("index.json", &serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "manifests": [d]
            })).unwrap());
        } else {
            t.file("index.json", &serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "manifests": [desc]
            })).unwrap());
        }
        import_archive(&t.finish())?;
    }
}

/// The committed corpus (`tests/fixtures/hostile/`): every layer in `layers/` and every archive
/// in `archives/` is refused in one line with nothing left behind.
#[test]
fn every_hostile_input_in_the_corpus_is_refused_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let mut seen = 0;
    for (kind, dir) in [("layer", "layers"), ("archive", "archives")] {
        let mut files: Vec<PathBuf> = fs::read_dir(corpus.join(dir))
            .unwrap_or_else(|e| panic!("cannot read the corpus {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let bytes = fs::read(&f).unwrap();
            let (root, s) = store();
            let path = root.path().join("input.tar");
            fs::write(&path, &bytes).unwrap();
            let outcome = match kind {
                "layer" => s
                    .import_rootfs_tar(&path, "hostile:1", &RootfsConfig::default())
                    .map(drop),
                _ => s.import_archive(&path, None).map(drop),
            };
            let e = outcome.expect_err(&format!("{} was accepted", f.display()));
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{}: {msg:?}", f.display());
            pristine(root.path(), &s).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            nothing_escaped(root.path()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            seen += 1;
        }
    }
    assert!(seen >= 10, "the corpus holds {seen} inputs");
}
