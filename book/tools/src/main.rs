//! `transcripts record|check [FILE...]`: regenerate or verify the book's
//! transcripts by running the real step binaries (as root: cargo's runner,
//! .cargo/as-root, uses sudo when needed).
//!
//! Regenerate all: `cargo build --workspace && cargo run -p isolab-book --bin transcripts -- record`

use std::path::PathBuf;

use isolab_book::transcript;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let files = if files.is_empty() {
        transcript::all()
    } else {
        files
    };
    if mode != "record" && mode != "check" {
        eprintln!("usage: transcripts record|check [FILE.console...]");
        std::process::exit(2);
    }
    let bin_dir = match transcript::bin_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("transcripts: {e}");
            std::process::exit(1);
        }
    };
    let mut failed = 0;
    for file in &files {
        let result = if mode == "record" {
            transcript::record(file, &bin_dir)
        } else {
            transcript::check(file, &bin_dir)
        };
        match result {
            Ok(()) => println!("{mode}ed {}", file.display()),
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
