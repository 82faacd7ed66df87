//! `transcripts record|check [--new-host] [FILE...]`: regenerate or verify
//! the book's transcripts by running the real step binaries (as root:
//! cargo's runner, .cargo/as-root, uses sudo when needed). `render FILE`
//! prints one fresh, for the VM guest.
//!
//! Regenerate all: `cargo build --workspace && cargo run -p isolab-book --bin transcripts -- record`
//!
//! Recording writes this machine's facts to `transcripts/recorded-on.txt`
//! (see `profile.rs`); on a machine with other facts it refuses, unless
//! `--new-host` says the book should now show this machine.

use std::path::PathBuf;

use isolab_book::profile::{self, Profile};
use isolab_book::transcript;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    let new_host = args.iter().any(|a| a == "--new-host");
    let files: Vec<PathBuf> = args
        .iter()
        .filter(|a| *a != "--new-host")
        .map(PathBuf::from)
        .collect();
    let all = files.is_empty();
    let files = if all { transcript::all() } else { files };
    if mode != "record" && mode != "check" && mode != "render" {
        eprintln!(
            "usage: transcripts record|check [--new-host] [FILE.console...] | render FILE.console"
        );
        std::process::exit(2);
    }
    let bin_dir = match transcript::bin_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("transcripts: {e}");
            std::process::exit(1);
        }
    };
    if mode == "render" {
        // The fresh transcript on stdout, whatever the machine: the VM
        // guest renders its transcripts so (see transcript::vm).
        for file in &files {
            let stored = std::fs::read_to_string(file).unwrap_or_default();
            match transcript::render(&stored, &bin_dir) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("transcripts: {}: {e}", file.display());
                    std::process::exit(1);
                }
            }
        }
        return;
    }
    let here = Profile::this_host();
    let differences = Profile::stored()
        .map(|stored| here.differences(&stored))
        .unwrap_or_default();
    if mode == "check" {
        let (problems, differences) = transcript::check_all(&files, &bin_dir);
        if !differences.is_empty() {
            eprintln!(
                "transcripts: this machine differs from the recording one ({}): only checked that every command runs",
                differences.join("; ")
            );
        }
        for p in &problems {
            eprintln!("{p}");
        }
        std::process::exit(i32::from(!problems.is_empty()));
    }
    if !differences.is_empty() && !new_host {
        eprintln!(
            "transcripts: refusing to record: this machine differs from the one the book was recorded on ({}); pass --new-host to put this machine's output in the book",
            differences.join("; ")
        );
        std::process::exit(1);
    }
    let mut failed = 0;
    for file in &files {
        match transcript::record(file, &bin_dir) {
            Ok(()) => println!("recorded {}", file.display()),
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    if all || !differences.is_empty() {
        if let Err(e) = std::fs::write(profile::stored_path(), here.render()) {
            eprintln!(
                "transcripts: writing {}: {e}",
                profile::stored_path().display()
            );
            failed += 1;
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
