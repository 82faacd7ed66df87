//! The escape matrix as a test: every attack is re-run in every column.
//! `isolab` must hold every one; every attack must get through somewhere
//! before it (else the row is a test that can't fail), unless the host
//! itself holds it; and on a machine like the recording one, the appendix
//! must not have drifted.

use isolab_book::escapes::{self, render};
use isolab_book::profile::Profile;
use isolab_book::{book_dir, transcript};

#[test]
fn isolab_holds_every_attack_that_gets_through_somewhere_before_it() {
    step01_clone::testing::require_root();
    let bin = transcript::bin_dir().expect("step binaries built");
    let matrix = escapes::record(&bin).expect("the matrix records");
    assert!(matrix.rows.len() >= 30, "{} attacks", matrix.rows.len());
    let problems = matrix.problems();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let host_held: Vec<&str> = matrix
        .held_by_host()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    if !host_held.is_empty() {
        eprintln!(
            "NOTE: this host holds {} itself (they escape in no column here)",
            host_held.join(", ")
        );
    }
    let through = matrix.rows.len() - host_held.len();
    assert!(
        through >= 30,
        "only {through} attacks get through anywhere here: {host_held:?}"
    );

    let src = book_dir().join("src");
    match Profile::stored() {
        Some(p) if p == Profile::this_host() => {
            for (rel, text) in render::files(&matrix, &p) {
                let stored = std::fs::read_to_string(src.join(&rel)).unwrap_or_default();
                assert!(
                    stored == text,
                    "book/src/{rel} has drifted: re-record with `sudo target/debug/escapes record`\n--- fresh:\n{text}"
                );
            }
        }
        _ => eprintln!("NOTE: the matrix was recorded on another kind of machine: not compared"),
    }
}
