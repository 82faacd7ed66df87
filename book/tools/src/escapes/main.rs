//! `escapes record|check|print`: run every attack of the attack program
//! on the host, in every step and in `isolab` (as root and as a normal
//! user), and write the book's escape-matrix appendix, check it for
//! drift, or print it. As root, after `cargo build --workspace`:
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
    let text = render::markdown(&matrix, &Profile::this_host());
    let path = book_dir().join("src/appendix/escape-matrix.md");
    let problems = matrix.problems();
    match mode.as_str() {
        "print" => print!("{text}"),
        "record" => {
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("escapes: {}: {e}", path.display());
                std::process::exit(1);
            }
            println!("wrote {}", path.display());
        }
        _ => {
            if std::fs::read_to_string(&path).unwrap_or_default() != text {
                eprintln!("escapes: {} has drifted: re-record it", path.display());
                std::process::exit(1);
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
