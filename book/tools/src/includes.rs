//! Checking `{{#include}}` directives: mdBook includes nothing, silently,
//! when a file or anchor is missing, so the book would lose its code
//! without anyone noticing. [`problems`] finds every such directive.

use std::path::Path;

use regex::Regex;

/// Every broken include in the book's chapters, one line each.
pub fn problems(book_src: &Path) -> Vec<String> {
    let directive =
        Regex::new(r"\{\{#(include|rustdoc_include)\s+([^}\s]+)\s*\}\}").expect("regex");
    let mut out = Vec::new();
    for md in crate::files_with_suffix(book_src, ".md") {
        let Ok(text) = std::fs::read_to_string(&md) else {
            continue;
        };
        let base = md.parent().unwrap_or(book_src);
        for cap in directive.captures_iter(&text) {
            let spec = &cap[2];
            if let Some(problem) = check_one(base, spec) {
                out.push(format!(
                    "{}: {{{{#include {spec}}}}}: {problem}",
                    md.display()
                ));
            }
        }
    }
    out
}

/// What is wrong with one `path[:anchor|:from:to]` spec, if anything.
pub fn check_one(base: &Path, spec: &str) -> Option<String> {
    let (file, selector) = match spec.split_once(':') {
        Some((f, s)) => (f, Some(s)),
        None => (spec, None),
    };
    let path = base.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Some(format!("no file {}", path.display()));
    };
    let Some(selector) = selector else {
        return text.trim().is_empty().then(|| "the file is empty".into());
    };
    // Line ranges (`:10`, `:10:20`, `:10:`) are not anchors.
    if selector
        .split(':')
        .all(|part| part.is_empty() || part.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let begin = format!("ANCHOR: {selector}");
    let end = format!("ANCHOR_END: {selector}");
    let lines: Vec<&str> = text.lines().collect();
    let is = |l: &str, marker: &str| l.trim_end().ends_with(marker);
    let Some(b) = lines.iter().position(|l| is(l, &begin)) else {
        return Some(format!("no `ANCHOR: {selector}` in {}", path.display()));
    };
    let Some(e) = lines.iter().position(|l| is(l, &end)) else {
        return Some(format!("no `ANCHOR_END: {selector}` in {}", path.display()));
    };
    if e <= b + 1 {
        return Some(format!("anchor {selector} in {} is empty", path.display()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_missing_files_and_anchors() {
        let dir = std::env::temp_dir().join(format!("isolab-includes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("code.rs"), "// ANCHOR: good\nfn f() {}\n// ANCHOR_END: good\n// ANCHOR: empty\n// ANCHOR_END: empty\n").unwrap();
        std::fs::write(
            dir.join("ch.md"),
            "{{#include code.rs:good}}\n{{#include code.rs:missing}}\n{{#include nope.rs}}\n{{#include code.rs:empty}}\n{{#include code.rs:2:3}}\n",
        )
        .unwrap();
        let found = problems(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].contains("no `ANCHOR: missing`"));
        assert!(found[1].contains("no file"));
        assert!(found[2].contains("empty"));
    }
}
