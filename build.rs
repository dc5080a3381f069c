//! Embeds every lesson under `lessons/<lang>/*.md` into the binary, so `--explain` and
//! `ctrace book build` work from any directory without the source tree.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=lessons");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("lessons.rs");
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap();
    let root = Path::new(&manifest).join("lessons");
    let mut entries = Vec::new();
    if let Ok(langs) = fs::read_dir(&root) {
        for lang in langs.flatten() {
            if !lang.path().is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", lang.path().display());
            for file in fs::read_dir(lang.path()).unwrap().flatten() {
                let path = file.path();
                if path.extension().and_then(|e| e.to_str()) == Some("md") {
                    entries.push((
                        lang.file_name().to_string_lossy().into_owned(),
                        path.file_stem().unwrap().to_string_lossy().into_owned(),
                        path.display().to_string(),
                    ));
                }
            }
        }
    }
    entries.sort();
    let mut code = String::from("pub static EMBEDDED: &[(&str, &str, &str)] = &[\n");
    for (lang, stem, path) in entries {
        code += &format!("    ({lang:?}, {stem:?}, include_str!({path:?})),\n");
    }
    code += "];\n";
    fs::write(out, code).unwrap();
    embed_traces(&manifest);
    embed_scenarios(&manifest);
}

/// Embeds the simulator's guided scenarios (`scenarios/<lang>/*.md`).
fn embed_scenarios(manifest: &str) {
    let dir = Path::new(manifest).join("scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for lang in ["en", "zh"] {
        println!("cargo:rerun-if-changed={}", dir.join(lang).display());
        if let Ok(rd) = fs::read_dir(dir.join(lang)) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().and_then(|x| x.to_str()) == Some("md") {
                    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                    files.push((lang.to_string(), stem, p.display().to_string()));
                }
            }
        }
    }
    files.sort();
    let mut code = String::from("pub static SCENARIOS: &[(&str, &str, &str)] = &[\n");
    for (lang, stem, path) in files {
        code += &format!("    ({lang:?}, {stem:?}, include_str!({path:?})),\n");
    }
    code += "];\n";
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("scenarios.rs");
    fs::write(out, code).unwrap();
}

/// Embeds the recorded reference traces (`traces/*.json`), from which the simulator fits its
/// latency model when no `--model DIR` is given.
fn embed_traces(manifest: &str) {
    let dir = Path::new(manifest).join("traces");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("pub static TRACES: &[(&str, &str)] = &[\n");
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        code += &format!(
            "    ({name:?}, include_str!({:?})),\n",
            p.display().to_string()
        );
    }
    code += "];\n";
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("traces.rs");
    fs::write(out, code).unwrap();
}
