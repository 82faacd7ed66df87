//! The workspace's shape, which the book's step-by-step diffs rely on:
//! each step's library re-exports the one before (`pub use stepNN::*`)
//! and adds its own modules. A module named like an earlier step's would
//! shadow it silently (a local module wins over a glob import), so a call
//! site in a later step would reach another module than the book says.

use std::collections::BTreeMap;

#[test]
fn no_step_repeats_a_module_name_of_an_earlier_step() {
    let root = isolab_book::book_dir().parent().unwrap().to_path_buf();
    let mut steps: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step"))
        .collect();
    steps.sort();
    steps.push("final".into()); // the runtime, after every step
    assert!(steps.len() >= 7, "{steps:?}");
    let mut first_seen: BTreeMap<String, String> = BTreeMap::new();
    let mut repeats = Vec::new();
    for step in &steps {
        let lib = std::fs::read_to_string(root.join(step).join("src/lib.rs")).unwrap();
        for name in lib
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';').trim().to_string())
        {
            match first_seen.get(&name) {
                Some(earlier) => repeats.push(format!("{step} repeats `{name}` of {earlier}")),
                None => {
                    first_seen.insert(name, step.clone());
                }
            }
        }
    }
    assert!(repeats.is_empty(), "{}", repeats.join("\n"));
}
