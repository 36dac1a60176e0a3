//! The module graph of `src/` has no cycle: layers depend one way. Every `crate::…` and
//! `super::…` path in the sources (comments left out) is an arrow from the module that writes it
//! to the module it names. Arrows are compared where the two paths part: between top-level
//! modules (`view` → `dns`), and between siblings inside one (`load::checks` → `load::build`).
//! A child naming its parent, or a parent its child, is one module talking to itself and is not
//! an arrow. `lib.rs` (which declares everything) and `main.rs` (outside the crate) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModulePath = Vec<String>;

/// Where an arrow was seen, to say so when it closes a cycle.
type Arrows = BTreeMap<ModulePath, BTreeMap<ModulePath, (PathBuf, usize)>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir` with its module path (`load/checks/mod.rs` → `load::checks`).
fn modules(dir: &Path, prefix: &[String], out: &mut Vec<(PathBuf, ModulePath)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut module = prefix.to_vec();
        if path.is_dir() {
            module.push(stem);
            modules(&path, &module, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            if stem != "mod" {
                module.push(stem);
            }
            out.push((path, module));
        }
    }
}

/// The module paths a line names: `crate::a::b` and `super::c` (relative to `module`), with
/// `crate::a::{b, c::d}` expanded.
fn named_paths(line: &str, module: &[String]) -> Vec<ModulePath> {
    let mut found = Vec::new();
    // `super` of `a::b` (the file a/b.rs, or a/b/mod.rs) is `a`.
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    for (root, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = line;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().last();
            rest = &rest[at + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            expand(rest, base.clone(), &mut found);
        }
    }
    found
}

/// Reads `a::b::{c, d::e}` (or `a::b`) from the start of `text` onto `base`.
fn expand(text: &str, base: ModulePath, found: &mut Vec<ModulePath>) {
    let mut path = base;
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let mut depth = 0usize;
                let mut item_start = 0usize;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            expand(inner[item_start..i].trim(), path.clone(), found);
                            return;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            expand(inner[item_start..i].trim(), path.clone(), found);
                            item_start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            break;
        }
        rest = &rest[ident.len()..];
        if ident != "self" {
            path.push(ident);
        }
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    if !path.is_empty() {
        found.push(path);
    }
}

/// The arrow a reference makes: from and to the modules where the two paths part, when both
/// are modules (files) of the tree.
fn arrow(
    from: &[String],
    to: &[String],
    known: &BTreeSet<ModulePath>,
) -> Option<(ModulePath, ModulePath)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common >= from.len() || common >= to.len() {
        return None;
    }
    let (from, to) = (from[..=common].to_vec(), to[..=common].to_vec());
    (known.contains(&from) && known.contains(&to)).then_some((from, to))
}

fn arrows() -> Arrows {
    let mut files = Vec::new();
    modules(&src(), &[], &mut files);
    let known: BTreeSet<ModulePath> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut arrows = Arrows::new();
    for (file, module) in &files {
        if module == &["lib"] || module == &["main"] {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for target in named_paths(code, module) {
                if let Some((from, to)) = arrow(module, &target, &known) {
                    arrows
                        .entry(from)
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| (file.clone(), index + 1));
                }
            }
        }
    }
    arrows
}

/// Every path that the files of `module` (and below) name, in full (`health::prober::Prober`).
fn named_by(module: &[&str]) -> BTreeSet<String> {
    let mut files = Vec::new();
    modules(&src(), &[], &mut files);
    let mut named = BTreeSet::new();
    for (file, path) in &files {
        if !path.starts_with(&module.iter().map(|s| s.to_string()).collect::<Vec<_>>()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            named.extend(named_paths(code, path).iter().map(|p| p.join("::")));
        }
    }
    named
}

/// A cycle, if there is one, as the modules on it.
fn find_cycle(arrows: &Arrows) -> Option<Vec<ModulePath>> {
    fn visit(
        node: &ModulePath,
        arrows: &Arrows,
        done: &mut BTreeSet<ModulePath>,
        stack: &mut Vec<ModulePath>,
    ) -> Option<Vec<ModulePath>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in arrows.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, arrows, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    for node in arrows.keys() {
        if let Some(cycle) = visit(node, arrows, &mut done, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_module_graph_of_src_has_no_cycle() {
    let arrows = arrows();
    if let Some(cycle) = find_cycle(&arrows) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let (file, line) = &arrows[&pair[0]][&pair[1]];
                format!(
                    "  {} -> {}  ({}:{line})",
                    pair[0].join("::"),
                    pair[1].join("::"),
                    file.strip_prefix(src()).unwrap_or(file).display()
                )
            })
            .collect();
        panic!("module cycle in src/:\n{}", steps.join("\n"));
    }
}

/// The check sees the arrows that matter: the base layer stands on nothing, the request path
/// runs listen → answer → view, and sibling arrows inside a folder are seen too.
#[test]
fn the_module_graph_has_the_expected_layers() {
    let arrows = arrows();
    let to = |from: &[&str]| -> BTreeSet<String> {
        let from: ModulePath = from.iter().map(|s| s.to_string()).collect();
        arrows
            .get(&from)
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|m| m.join("::"))
            .collect()
    };
    assert_eq!(
        to(&["dns"]),
        BTreeSet::new(),
        "dns/ imports nothing of ours"
    );
    assert_eq!(to(&["located"]), BTreeSet::new());
    assert!(to(&["server"]).contains("answer"));
    assert!(to(&["answer"]).contains("view"));
    assert!(!to(&["wire"]).contains("zonefile"));
    assert!(!to(&["zonefile"]).contains("wire"));
    assert!(to(&["load", "checks"]).contains("load::build"));
    // The forwarder stands on the base and the codec alone; the server hands it queries.
    let allowed: BTreeSet<String> = ["dns", "wire"].iter().map(|s| s.to_string()).collect();
    assert!(
        to(&["resolve"]).is_subset(&allowed),
        "{:?}",
        to(&["resolve"])
    );
    assert!(to(&["server"]).contains("resolve"));
}

/// The loader is pure: config and files in, snapshot and findings out. It imports nothing of the
/// runtime (listeners, counters, resolvers, NOTIFY, the health prober), so that `check` runs it
/// alone; and neither it nor the config knows the server.
#[test]
fn the_loader_imports_no_runtime() {
    let arrows = arrows();
    let to = |from: &str| -> BTreeSet<String> {
        arrows
            .get(&vec![from.to_string()])
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|m| m.join("::"))
            .collect()
    };
    for runtime in [
        "server", "observe", "resolve", "transfer", "reload", "control",
    ] {
        assert!(!to("load").contains(runtime), "load -> {runtime}");
    }
    assert!(!to("config").contains("server"), "config -> server");
    // `health`'s plan is data the loader builds; its prober is the runtime.
    let prober: Vec<String> = named_by(&["load"])
        .into_iter()
        .filter(|path| path.starts_with("health::prober") || path.starts_with("health::Prober"))
        .collect();
    assert!(prober.is_empty(), "load names {prober:?}");
    // The check sees the arrows it forbids: publishing stands on the loader and the server.
    assert!(to("reload").contains("load") && to("reload").contains("server"));
}
