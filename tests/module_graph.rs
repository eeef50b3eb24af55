//! The module graph of `src/` has no cycle (issue 11): every file's `use crate::...` (plain and
//! grouped), `super::`/`self::` paths and `crate::x::y` paths in code make an arrow to the file
//! of the module they name; the arrows must allow a top-to-bottom order. Test code
//! (`#[cfg(test)]` items) is left out, and so is a file's use of its own parent module (a file
//! of a module directory, like `jail/temp.rs`, is part of that module).
//!
//! `cargo test --test module_graph -- --nocapture` prints the arrows and that order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A token of Rust source, as much as the graph needs: comments, strings and chars are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Split source into tokens, dropping comments, string, byte-string and char literals.
fn tokens(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&s, i) {
            i = end;
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            i += if c == 'b' { 2 } else { 1 };
            while i < s.len() && s[i] != '"' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' || (c == 'b' && next == Some('\'')) {
            let start = if c == 'b' { i + 1 } else { i };
            if s.get(start + 1) == Some(&'\\') {
                // An escaped char literal: up to the closing quote.
                i = start + 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if s.get(start + 2) == Some(&'\'') {
                i = start + 3;
            } else {
                // A lifetime: drop the quote, the name follows as an identifier.
                i = start + 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].iter().collect()));
        } else if c == ':' && next == Some(':') {
            out.push(Tok::Path);
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// Where a raw string literal (`r"..."`, `r#"..."#`, `br"..."`) starting at `i` ends.
fn raw_string_end(s: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if s.get(j) == Some(&'b') {
        j += 1;
    }
    if s.get(j) != Some(&'r') || (i > 0 && (s[i - 1].is_alphanumeric() || s[i - 1] == '_')) {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while s.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if s.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < s.len() {
        if s[j] == '"' && (1..=hashes).all(|k| s.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(s.len())
}

/// The module a file under `src/` defines (`commands/mod.rs` -> `commands`); `None` for the
/// crate root.
fn module_of(rel: &str) -> Option<String> {
    let rel = rel.strip_suffix(".rs")?;
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    (rel != "lib").then(|| rel.replace('/', "::"))
}

/// Parse one use tree at `t[*i]`, pushing every full path it names.
fn use_tree(t: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match t.get(*i) {
            Some(Tok::Ident(name)) if name == "as" => {
                *i += 2;
                break;
            }
            Some(Tok::Ident(name)) => {
                if name != "self" || path.is_empty() {
                    path.push(name.clone());
                }
                *i += 1;
            }
            Some(Tok::Path) => *i += 1,
            Some(Tok::Punct('*')) => {
                *i += 1;
                break;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                while !matches!(t.get(*i), None | Some(Tok::Punct('}'))) {
                    use_tree(t, i, &path, out);
                    if t.get(*i) == Some(&Tok::Punct(',')) {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            _ => break,
        }
    }
    out.push(path);
}

/// Whether `t` starts with `#[cfg(test)]`.
fn is_cfg_test(t: &[Tok]) -> bool {
    let want = ["#", "[", "cfg", "(", "test", ")", "]"];
    t.len() >= want.len()
        && t.iter().zip(want).all(|(tok, w)| match tok {
            Tok::Ident(s) => s == w,
            Tok::Punct(c) => c.to_string() == w,
            Tok::Path => false,
        })
}

/// The index after the item starting at `i`: its `;`, or the `}` closing its first block.
fn skip_item(t: &[Tok], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < t.len() {
        match t[i] {
            Tok::Punct(';') if depth == 0 => return i + 1,
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// The paths a file names that may lead into the crate, each made absolute (`crate` first).
fn crate_paths(module: &str, src: &str, crate_name: Option<&str>) -> Vec<Vec<String>> {
    let t = tokens(src);
    let own: Vec<String> = module.split("::").map(str::to_string).collect();
    // Child modules declared here with `mod x;` are named by their bare name.
    let children: BTreeSet<String> = t
        .windows(3)
        .filter_map(|w| match w {
            [Tok::Ident(m), Tok::Ident(name), Tok::Punct(';')] if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect();
    let mut raw = Vec::new();
    // The inline modules (`mod tests { .. }`) around the current token, for `super::`.
    let mut braces: Vec<Option<String>> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if is_cfg_test(&t[i..]) {
            i = skip_item(&t, i + 7);
            continue;
        }
        let mut here = own.clone();
        here.extend(braces.iter().flatten().cloned());
        match &t[i] {
            Tok::Punct('{') => {
                let inline = match (
                    i.checked_sub(2).map(|j| &t[j]),
                    i.checked_sub(1).map(|j| &t[j]),
                ) {
                    (Some(Tok::Ident(m)), Some(Tok::Ident(name))) if m == "mod" => {
                        Some(name.clone())
                    }
                    _ => None,
                };
                braces.push(inline);
                i += 1;
            }
            Tok::Punct('}') => {
                braces.pop();
                i += 1;
            }
            Tok::Ident(kw) if kw == "use" => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(&t, &mut i, &[], &mut paths);
                raw.extend(paths.into_iter().map(|p| (here.clone(), p)));
            }
            Tok::Ident(first) if t.get(i + 1) == Some(&Tok::Path) => {
                let preceded_by_path = i > 0 && t[i - 1] == Tok::Path;
                let mut path = vec![first.clone()];
                i += 1;
                while t.get(i) == Some(&Tok::Path) {
                    match t.get(i + 1) {
                        Some(Tok::Ident(seg)) => path.push(seg.clone()),
                        _ => break,
                    }
                    i += 2;
                }
                if !preceded_by_path {
                    raw.push((here.clone(), path));
                }
            }
            _ => i += 1,
        }
    }
    let mut out = Vec::new();
    for (here, path) in raw {
        let Some(first) = path.first() else { continue };
        let mut abs: Vec<String> = vec!["crate".into()];
        let rest = if first == "crate" || Some(first.as_str()) == crate_name {
            &path[1..]
        } else if first == "super" || first == "self" {
            let mut base = here.clone();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super" || s == "self") {
                if path[k] == "super" {
                    base.pop();
                }
                k += 1;
            }
            abs.extend(base);
            &path[k..]
        } else if children.contains(first) && here == own {
            abs.extend(own.clone());
            &path[..]
        } else {
            continue;
        };
        abs.extend(rest.iter().cloned());
        out.push(abs);
    }
    out
}

/// The arrows between the modules of `files` (path under `src/`, source).
fn graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, src) in files {
        let Some(module) = module_of(rel) else {
            continue;
        };
        // The binary names the library by its crate name.
        let crate_name = (module == "main").then_some("ferroftpd");
        let targets = edges.entry(module.clone()).or_default();
        for path in crate_paths(&module, src, crate_name) {
            // The longest prefix that is a module file.
            let target = (2..=path.len())
                .rev()
                .map(|n| path[1..n].join("::"))
                .find(|m| modules.contains(m));
            // A file of a module directory may use its parent's items: it is part of it.
            let inward = |t: &String| module.starts_with(&format!("{t}::"));
            if let Some(target) = target.filter(|t| *t != module && !inward(t)) {
                targets.insert(target);
            }
        }
    }
    edges
}

/// A cycle of the graph, if there is one (as the list of modules along it).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(node, edges, &mut done, &mut stack) {
            return Some(c);
        }
    }
    None
}

/// Modules from the top (nothing depends on them) down, each after everything that uses it.
fn layers(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut left: BTreeMap<&str, BTreeSet<&str>> = edges
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    let mut out = Vec::new();
    // Bottom up: a module whose arrows all lead to modules already placed.
    while !left.is_empty() {
        let ready: Vec<&str> = left
            .iter()
            .filter(|(_, to)| to.iter().all(|t| !left.contains_key(t)))
            .map(|(k, _)| *k)
            .collect();
        if ready.is_empty() {
            break;
        }
        for r in &ready {
            left.remove(r);
        }
        out.push(ready.iter().map(|s| s.to_string()).collect());
    }
    out.reverse();
    out
}

fn read_src(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_src(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).expect("read source")));
        }
    }
}

#[test]
fn src_module_graph_has_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_src(&root, &root, &mut files);
    let edges = graph(&files);
    for (from, to) in &edges {
        let list: Vec<&str> = to.iter().map(String::as_str).collect();
        println!("{from} -> {}", list.join(", "));
    }
    let arrows: usize = edges.values().map(BTreeSet::len).sum();
    println!("{} modules, {arrows} arrows", edges.len());
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle in src/: {}", cycle.join(" -> "));
    }
    for (n, layer) in layers(&edges).iter().enumerate() {
        println!("layer {n}: {}", layer.join(" "));
    }
}

fn sources(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn checker_sees_every_kind_of_path() {
    let files = sources(&[
        (
            "a.rs",
            "use crate::{b::{self, X}, c as see};\nfn f() { crate::d::g(); }",
        ),
        (
            "b.rs",
            "// use crate::a;\nconst S: &str = \"crate::a\"; const R: &str = r#\"crate::a\"#;",
        ),
        ("c.rs", "fn f<'a>(x: &'a u8) -> char { 'x' }"),
        (
            "d.rs",
            "pub fn g() {}\n#[cfg(test)]\nmod tests { use crate::a; }",
        ),
        (
            "e.rs",
            "#[cfg(test)]\nuse crate::a;\n#[cfg(test)]\nfn t() { crate::b::f(); }",
        ),
        ("p/mod.rs", "mod q;\nfn f() { q::h(); }"),
        (
            "p/q.rs",
            "use super::super::d;\n#[cfg(test)] mod tests { use super::*; }",
        ),
        ("main.rs", "use ferroftpd::a;"),
        ("lib.rs", "pub mod a; pub mod b;"),
    ]);
    let edges = graph(&files);
    let to = |m: &str| edges[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(to("a"), ["b", "c", "d"]);
    assert!(to("b").is_empty(), "comments and strings name nothing");
    assert_eq!(to("p"), ["p::q"]);
    assert_eq!(to("p::q"), ["d"], "super in an inline module is the file");
    assert_eq!(to("main"), ["a"]);
    assert!(
        to("d").is_empty() && to("e").is_empty(),
        "test code is left out"
    );
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn checker_finds_a_cycle() {
    let files = sources(&[
        ("a.rs", "use crate::b::B;"),
        ("b.rs", "fn f() { crate::c::C; }"),
        ("c.rs", "use crate::{d, a::{A}};"),
        ("d.rs", ""),
    ]);
    let cycle = find_cycle(&graph(&files)).expect("a cycle");
    assert_eq!(cycle, ["a", "b", "c", "a"]);
    let files = sources(&[
        ("p/mod.rs", "mod q; mod r; use q::Q;"),
        ("p/q.rs", "use super::{P, r::R};"),
        ("p/r.rs", "fn f() { super::q::g(); }"),
    ]);
    assert_eq!(
        find_cycle(&graph(&files)).expect("siblings"),
        ["p::q", "p::r", "p::q"]
    );
}
