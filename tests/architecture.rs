//! The module graph has no circles: reads every `crate::` path under `src/` and fails when a
//! module reaches, directly or through others, a module that reaches it back. Checked at two
//! levels: between the crate's top-level modules, and between sibling files inside one
//! (a parent's own `mod.rs` is left out there: a parent and its children are one module).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// A source file and the module path it defines (`notify::format`).
struct File {
    module: Vec<String>,
    text: String,
}

fn files() -> Vec<File> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(Path::new(SRC), &mut paths);
    paths
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(SRC).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                return None;
            }
            Some(File {
                module,
                text: strip_comments(&std::fs::read_to_string(&p).unwrap()),
            })
        })
        .collect()
}

/// The text without `//` comments (doc comments name modules without importing them).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            let code = l.split("//").next().unwrap_or("");
            // A `//` inside a string literal ("https://") is not a comment.
            if code.matches('"').count() % 2 == 1 {
                l
            } else {
                code
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names through `crate::`, `super::` or `use crate::{a, b::c}`, as
/// absolute module paths (their leading segments only matter here).
fn references(file: &File) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let t = &file.text;
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (at, _) in t.match_indices("crate::") {
        if at > 0 && t[..at].ends_with(|c: char| is_ident(c)) {
            continue;
        }
        let rest = &t[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find('}').unwrap_or(group.len())];
            for part in body.split(',') {
                let path: Vec<String> = part
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .take_while(|s| !s.is_empty() && s.chars().all(is_ident))
                    .collect();
                if !path.is_empty() {
                    out.push(path);
                }
            }
        } else {
            out.push(segments(rest));
        }
    }
    // `super::x` inside `a::b::c` names `a::b::x` (from a mod.rs, `super` is one level up more).
    let parent = &file.module[..file.module.len().saturating_sub(1)];
    for (at, _) in t.match_indices("super::") {
        if at > 0 && t[..at].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        let rest = &t[at + "super::".len()..];
        if rest.starts_with("super::") || rest.starts_with('*') || rest.starts_with('{') {
            continue;
        }
        let mut path = parent.to_vec();
        path.extend(segments(rest));
        out.push(path);
    }
    out
}

fn segments(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = rest;
    loop {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        if end == 0 {
            break;
        }
        out.push(s[..end].to_string());
        match s[end..].strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// A circle through `start`, if there is one: `[start, ..., start]`.
fn circle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut p = path.clone();
                p.push(start.to_string());
                return Some(p);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

fn circles(graph: &Graph) -> Vec<String> {
    graph
        .keys()
        .filter_map(|m| circle_through(graph, m))
        .map(|c| c.join(" -> "))
        .collect()
}

#[test]
fn top_level_modules_form_no_circle() {
    let files = files();
    let modules: BTreeSet<String> = files.iter().map(|f| f.module[0].clone()).collect();
    let mut graph = Graph::new();
    for f in &files {
        let from = &f.module[0];
        for path in references(f) {
            if let Some(to) = path.first().filter(|t| modules.contains(*t) && *t != from) {
                graph.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    assert!(
        graph.len() > 5,
        "the reader found too few imports: {graph:?}"
    );
    let found = circles(&graph);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// Each top-level module's "May import" line in ARCHITECTURE.md.
fn allowed_imports() -> BTreeMap<String, BTreeSet<String>> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    // Paragraphs start with **`name`**; their "May import:" runs to the next full stop.
    for para in doc.split("\n\n").filter(|p| p.starts_with("**`")) {
        let name = para[3..].split('`').next().unwrap().to_string();
        let text = para.replace('\n', " ");
        let line = text
            .split("May import:")
            .nth(1)
            .unwrap_or_else(|| panic!("ARCHITECTURE.md: `{name}` has no \"May import:\""));
        let line = &line[..line.find('.').unwrap_or(line.len())];
        let allowed = line
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        out.insert(name, allowed);
    }
    out
}

#[test]
fn imports_follow_architecture_md() {
    let files = files();
    let modules: BTreeSet<String> = files.iter().map(|f| f.module[0].clone()).collect();
    let allowed = allowed_imports();
    let mut wrong = Vec::new();
    for m in &modules {
        if !allowed.contains_key(m) {
            wrong.push(format!("`{m}` has no paragraph in ARCHITECTURE.md"));
        }
    }
    for m in allowed.keys() {
        if !modules.contains(m) {
            wrong.push(format!(
                "ARCHITECTURE.md describes `{m}`, which is not under src/"
            ));
        }
    }
    for f in &files {
        let from = &f.module[0];
        for path in references(f) {
            let Some(to) = path.first().filter(|t| modules.contains(*t) && *t != from) else {
                continue;
            };
            if allowed.get(from).is_some_and(|a| !a.contains(to)) {
                wrong.push(format!(
                    "src/{} imports `{to}`, which ARCHITECTURE.md does not allow `{from}`",
                    f.module.join("/")
                ));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn sibling_files_form_no_circle() {
    let files = files();
    let names: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph = Graph::new();
    for f in files.iter().filter(|f| f.module.len() >= 2) {
        let parent = &f.module[..f.module.len() - 1];
        for path in references(f) {
            if path.len() <= parent.len() || path[..parent.len()] != *parent {
                continue;
            }
            let sibling = &path[..parent.len() + 1];
            if names.contains(sibling) && *sibling != f.module[..] {
                graph
                    .entry(f.module.join("::"))
                    .or_default()
                    .insert(sibling.join("::"));
            }
        }
    }
    let found = circles(&graph);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_reader_sees_a_circle_when_there_is_one() {
    let graph: Graph = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(circle_through(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(circle_through(&graph, "d"), None);
    let file = File {
        module: vec!["notify".into(), "format".into()],
        text: strip_comments(
            "use crate::{model::Alert, text};\nuse super::render::one_line; // crate::x\nlet u = \"https://a\"; crate::store::ms(1);",
        ),
    };
    let refs = references(&file);
    assert!(refs.contains(&vec!["model".to_string(), "Alert".into()]));
    assert!(refs.contains(&vec!["text".to_string()]));
    assert!(refs.contains(&vec![
        "notify".to_string(),
        "render".into(),
        "one_line".into()
    ]));
    assert!(refs.contains(&vec!["store".to_string(), "ms".into()]));
    assert!(!refs.iter().any(|r| r[0] == "x"));
}

#[test]
fn readme_and_architecture_name_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["README.md", "ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for path in text.split('`').skip(1).step_by(2) {
            let looks_like_path = ["src/", "tests/", "bench/", "config/", "systemd/"]
                .iter()
                .any(|p| path.starts_with(p))
                && !path.contains(' ');
            if looks_like_path {
                assert!(
                    root.join(path).exists(),
                    "{doc} names {path}, which does not exist"
                );
            }
        }
    }
}
