//! `escapes record|check|print`: run every attack of the attack program
//! on the host, in every step and in `isolab` (as root and as a normal
//! user), and write the book's escape-matrix appendix (and the paragraph
//! each chapter includes), check them for drift, or print the appendix. As root, after `cargo build --workspace`:
//!
//!   sudo target/debug/escapes record

use isolab_book::escapes::{self, render};
use isolab_book::profile::Profile;
use isolab_book::{book_dir, transcript};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if !["record", "check", "print"].contains(&mode.as_str()) {
        eprintln!("usage: escapes record|check|print");
        std::process::exit(2);
    }
    let result = transcript::bin_dir().and_then(|bin| escapes::record(&bin));
    let matrix = match result {
        Ok(m) => m,
        Err(e) => {
            eprintln!("escapes: {e}");
            std::process::exit(1);
        }
    };
    let files = render::files(&matrix, &Profile::this_host());
    let src = book_dir().join("src");
    let problems = matrix.problems();
    match mode.as_str() {
        "print" => print!("{}", files[0].1),
        "record" => {
            for (rel, text) in &files {
                let path = src.join(rel);
                let written = std::fs::create_dir_all(path.parent().unwrap_or(&src))
                    .and_then(|()| std::fs::write(&path, text));
                if let Err(e) = written {
                    eprintln!("escapes: {}: {e}", path.display());
                    std::process::exit(1);
                }
                println!("wrote {}", path.display());
            }
        }
        _ => {
            for (rel, text) in &files {
                if std::fs::read_to_string(src.join(rel)).unwrap_or_default() != *text {
                    eprintln!("escapes: book/src/{rel} has drifted: re-record it");
                    std::process::exit(1);
                }
            }
        }
    }
    for p in &problems {
        eprintln!("escapes: {p}");
    }
    if !problems.is_empty() {
        std::process::exit(1);
    }
}
