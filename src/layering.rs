//! The crate's modules in layers: each may use only the modules listed before it, so no import
//! circle can form and a reader can start at the bottom. `cargo test` checks the source.

/// From the bottom: leaves first, the napi layer last.
const LAYERS: &[&str] = &[
    "place",
    "held",
    "handoff",
    "sql",
    "retry",
    "breaker",
    "outages",
    "trim",
    "logging",
    "utilization",
    "fleet",
    "events",
    "cancel",
    "error",
    "defaults",
    "config",
    "convert",
    "completion",
    "hosts",
    "stats",
    "scope",
    "tls",
    "connection",
    "reset",
    "statement",
    "pool",
    "replicas",
    "metrics",
    "binding",
];

/// The crate modules a source text names (`crate::name`, `crate::{a, b}`), outside comments
/// and its `#[cfg(test)]` part.
fn uses(source: &str) -> Vec<String> {
    let code: String = source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            names.extend(group.split(',').filter_map(|p| p.trim().split("::").next()).map(str::to_string));
        } else {
            names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Every `.rs` file under `dir`, with the top-level module it belongs to.
fn files(dir: &std::path::Path, module: Option<&str>, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let owner = module.map(str::to_string).unwrap_or_else(|| stem.clone());
        if path.is_dir() {
            files(&path, Some(&owner), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((owner, path));
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, None, &mut all);
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (module, path) in &all {
        if matches!(module.as_str(), "lib" | "layering") {
            continue;
        }
        let Some(own) = rank(module) else {
            wrong.push(format!("{module} is not in LAYERS"));
            continue;
        };
        for used in uses(&std::fs::read_to_string(path).unwrap()) {
            match rank(&used) {
                Some(r) if r < own || used == *module => {}
                _ => wrong.push(format!("{} uses {used}", path.strip_prefix(&src).unwrap().display())),
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn uses_reads_paths_and_groups_but_not_comments() {
    let source = "use crate::error::Error;\nuse crate::{sql, pool::Lease};\n// crate::binding\nlet x = crate::stats::cut_sql(s);\n#[cfg(test)]\nuse crate::binding;";
    assert_eq!(uses(source), ["error", "sql", "pool", "stats"]);
}
