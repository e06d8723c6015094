//! The core's module graph stays a DAG: no module reaches, through its `use`s and paths,
//! back to itself. A parent counts as depending on its children (it declares them), so a
//! child that reaches into its parent's own items is a loop too. Test modules (from a
//! file's first `#[cfg(test)]` on) are left out: they may use anything.
//!
//! The graph this checks is drawn in the crate's README.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every module's path (`signature::configured::template`) and its production source.
fn modules() -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![Path::new(SRC).to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(SRC).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|last| last == "mod" || last == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("source");
            let production = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: String = production
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .map(|line| format!("{line}\n"))
                .collect();
            modules.insert(parts.join("::"), code);
        }
    }
    modules
}

/// `a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.replace(" ::", "::").replace(":: ", "::");
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        return vec![path.trim_end_matches("::self").to_owned()];
    };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|&close| close > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            expand(item).into_iter().map(move |path| match path.as_str() {
                "self" => prefix.trim_end_matches("::").to_owned(),
                _ => format!("{prefix}{path}"),
            })
        })
        .collect()
}

/// The paths a module's code names: its `use` trees expanded, and every inline
/// `crate::…` or `super::…` path.
fn paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let lines: Vec<&str> = code.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        let line = line.trim_start();
        let line = ["pub(crate) ", "pub(super) ", "pub "].iter().find_map(|p| line.strip_prefix(p)).unwrap_or(line);
        let Some(tree) = line.strip_prefix("use ") else { continue };
        // A use statement may run over several lines, up to its `;`.
        let mut statement = tree.to_owned();
        for more in &lines[at + 1..] {
            if statement.contains(';') {
                break;
            }
            statement.push_str(more);
        }
        paths.extend(expand(statement.split(';').next().unwrap_or_default()));
    }
    for anchor in ["crate::", "super::"] {
        for (i, _) in code.match_indices(anchor) {
            let rest = &code[i..];
            let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push(rest[..len].trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The module a path names from `module`: the deepest known module it runs through.
fn resolve(module: &str, path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if module.is_empty() { Vec::new() } else { module.split("::").collect() };
    match segments.first().copied() {
        Some("crate") => {
            base.clear();
            segments.remove(0);
        }
        Some("super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        Some("self") => {
            segments.remove(0);
        }
        // `use child::…`: a declared child module; anything else is another crate.
        Some(first) if known.contains_key(&join(&base, &[first])) => {}
        _ => return None,
    }
    let mut found = None;
    for n in 1..=segments.len() {
        let candidate = join(&base, &segments[..n]);
        if known.contains_key(&candidate) {
            found = Some(candidate);
        }
    }
    found
}

fn join(base: &[&str], more: &[&str]) -> String {
    base.iter().chain(more).copied().collect::<Vec<_>>().join("::")
}

/// Each module's dependencies, with each parent depending on its children.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let known = modules();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &known {
        let deps = graph.entry(module.clone()).or_default();
        for path in paths(code) {
            if let Some(dep) = resolve(module, &path, &known).filter(|dep| dep != module) {
                deps.insert(dep);
            }
        }
        if let Some((parent, _)) = module.rsplit_once("::") {
            graph.entry(parent.to_owned()).or_default().insert(module.clone());
        } else if !module.is_empty() {
            graph.entry(String::new()).or_default().insert(module.clone());
        }
    }
    graph
}

/// A loop in `graph`, if there is one, as the modules along it.
fn find_loop(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_core_module_graph_has_no_loop() {
    let graph = graph();
    assert!(graph.len() > 30, "only {} modules found under src/", graph.len());
    // The checker sees the edges it must: a scheme reads its body layout, delivery reads
    // the sources, and the registry declares every scheme.
    for (from, to) in
        [("signature::percify", "signature::body"), ("delivery", "source"), ("signature", "signature::github")]
    {
        assert!(graph[from].contains(to), "{from} → {to} not seen: the checker is blind");
    }
    if let Some(cycle) = find_loop(&graph) {
        panic!("the core's modules import each other in a loop: {}", cycle.join(" → "));
    }
}

#[test]
fn the_checker_finds_a_loop_when_there_is_one() {
    let mut graph = graph();
    graph.get_mut("time").expect("time").insert("delivery".to_owned());
    assert!(find_loop(&graph).is_some(), "a loop through time → delivery → … → time went unseen");
}

#[test]
fn use_trees_expand_to_every_path() {
    assert_eq!(
        expand("crate::signature::{content::{Headers, Tags}, error::SignatureError as E, self}"),
        [
            "crate::signature::content::Headers",
            "crate::signature::content::Tags",
            "crate::signature::error::SignatureError",
            "crate::signature"
        ]
    );
}
