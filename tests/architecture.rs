//! The shape of the code, checked: imports go down the layers, never up and never in a circle;
//! no source file grows past what a reader can hold, and no engine function past a screen or two.
//! DESIGN.md's "Layers" section says why; this test keeps it true.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import only modules of a lower layer; modules of one
/// layer do not import each other.
const LAYERS: &[&[&str]] = &[
    &["sys"],
    &["host"],
    &["lessons"],
    &["trace"],
    &["phase"],
    &["state"],
    &["image", "storage", "network", "runtime"],
    &["sim"],
    &["engine"],
    &["api"],
    &["daemon", "shim", "book"],
    &["cli"],
    &["main"],
];

/// Longest source file, test modules excluded.
const MAX_FILE_LINES: usize = 900;
/// Longest function in `src/engine/`.
const MAX_ENGINE_FN_LINES: usize = 120;

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut v);
    v.sort();
    v
}

/// The file's module path below `src/`: `src/engine/start.rs` → `["engine", "start"]`,
/// `src/engine/mod.rs` → `["engine"]`, `src/main.rs` → `["main"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code without comments, string literals kept (paths in strings are not imports, but they
/// rarely look like `crate::x`).
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything before the first `#[cfg(test)]` at the start of a line: the non-test code.
fn without_tests(src: &str) -> &str {
    match src.find("\n#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    }
}

/// Every path the code names through `crate::` or `super::`, resolved to a module path.
fn imports(module: &[String], is_mod_rs: bool, code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let start_ok = i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != b':';
        let (base, skip) = if start_ok && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if start_ok && rest.starts_with("super::") {
            // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` it is `a` too.
            let mut m = module.to_vec();
            if !is_mod_rs || m.len() > 1 {
                m.pop();
            }
            let mut n = "super::".len();
            while code[i + n..].starts_with("super::") {
                m.pop();
                n += "super::".len();
            }
            (m, n)
        } else {
            i += 1;
            continue;
        };
        i += skip;
        for path in expand(&code[i..]) {
            let mut p = base.clone();
            p.extend(path);
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    out
}

/// The paths of `a::b::{c, d::e}` (stops at the first character that cannot continue a path).
fn expand(s: &str) -> Vec<Vec<String>> {
    let b = s.as_bytes();
    let mut segs = Vec::new();
    let mut i = 0;
    loop {
        let st = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i > st {
            segs.push(s[st..i].to_string());
        }
        let group = if s[i..].starts_with("::{") {
            Some(i + 3)
        } else if i == st && s[i..].starts_with('{') {
            Some(i + 1)
        } else {
            None
        };
        if let Some(open) = group {
            // A group: split its top level by commas.
            let mut depth = 0;
            let mut j = open;
            let mut item = open;
            let mut out = Vec::new();
            while j < b.len() {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' if depth == 0 => {
                        for mut p in expand(s[item..j].trim()) {
                            let mut full = segs.clone();
                            full.append(&mut p);
                            out.push(full);
                        }
                        break;
                    }
                    b'}' => depth -= 1,
                    b',' if depth == 0 => {
                        for mut p in expand(s[item..j].trim()) {
                            let mut full = segs.clone();
                            full.append(&mut p);
                            out.push(full);
                        }
                        item = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            if out.is_empty() {
                out.push(segs);
            }
            return out;
        }
        if s[i..].starts_with("::") {
            i += 2;
            continue;
        }
        return vec![segs];
    }
}

struct Tree {
    /// Module path → file, for every source file.
    files: BTreeMap<Vec<String>, PathBuf>,
}

impl Tree {
    /// The longest module path that is a file and a prefix of `path`.
    fn resolve(&self, path: &[String]) -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| self.files.contains_key(p))
    }
}

#[test]
fn imports_go_down_the_layers_and_never_in_a_circle() {
    let files: BTreeMap<Vec<String>, PathBuf> =
        sources().into_iter().map(|f| (module_of(&f), f)).collect();
    let tree = Tree { files };
    let mut problems = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &tree.files {
        let top = &module[0];
        let Some(from) = rank(top) else {
            problems.push(format!(
                "src/{top}: a module the layer table does not know: add it to LAYERS in tests/architecture.rs and to DESIGN.md"
            ));
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        let is_mod_rs = file.ends_with("mod.rs") || module.len() == 1;
        for path in imports(module, is_mod_rs, &strip_comments(without_tests(&text))) {
            let target_top = &path[0];
            if target_top != top {
                // Macros exported at the crate root (`crate::phase_span!`) are not modules.
                let Some(to) = rank(target_top) else { continue };
                if to >= from {
                    problems.push(format!(
                        "{}: imports crate::{} ({} is not below {top})",
                        file.display(),
                        path.join("::"),
                        target_top
                    ));
                }
            }
            if let Some(target) = tree.resolve(&path) {
                // A module's face (mod.rs) may use its own children; children using their
                // parent is the ordinary direction.
                let parent_to_child = target.len() > module.len() && target.starts_with(module);
                if target != *module && !parent_to_child {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    for cycle in cycles(&edges) {
        problems.push(format!(
            "import cycle: {}",
            cycle
                .iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" → ")
        ));
    }
    assert!(
        problems.is_empty(),
        "{} layering problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct S<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut S<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(ws) = s.edges.get(v) {
            for w in ws {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.reverse();
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_source_file_is_longer_than_a_reader_can_hold() {
    let long: Vec<String> = sources()
        .iter()
        .filter_map(|f| {
            let text = fs::read_to_string(f).unwrap();
            let n = without_tests(&text).lines().count();
            (n > MAX_FILE_LINES).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines (tests excluded): split them by what they do:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_engine_function_is_longer_than_two_screens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let mut long = Vec::new();
    for f in sources().iter().filter(|f| f.starts_with(&dir)) {
        let text = fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = without_tests(&text).lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            let t = l.trim_start();
            let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
                .iter()
                .any(|p| t.starts_with(p));
            if is_fn && !t.ends_with(';') {
                let indent = l.len() - t.len();
                let close = format!("{}}}", " ".repeat(indent));
                if let Some(end) = (i + 1..lines.len()).find(|&j| lines[j] == close) {
                    let n = end - i + 1;
                    if n > MAX_ENGINE_FN_LINES {
                        let name = t.split('(').next().unwrap_or(t);
                        long.push(format!("{}:{}: {name}: {n} lines", f.display(), i + 1));
                    }
                }
            }
            i += 1;
        }
    }
    assert!(
        long.is_empty(),
        "engine functions over {MAX_ENGINE_FN_LINES} lines: make the phases named functions:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_relative_imports() {
    let m = vec!["engine".to_string(), "start".to_string()];
    let got = imports(
        &m,
        false,
        "use crate::{shim::tty, state::{a, b::C}};\nuse super::create::x; fn f() { crate::cli::g() }",
    );
    let got: Vec<String> = got.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        got,
        vec![
            "shim::tty",
            "state::a",
            "state::b::C",
            "engine::create::x",
            "cli::g"
        ]
    );
}
