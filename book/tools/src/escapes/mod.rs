//! The escape matrix: every attack of the `attack` program (attack/) run
//! on the host, inside every step and inside `isolab`, as root and as a
//! normal user; the answers become the book's appendix
//! (`book/src/appendix/escape-matrix.md`), checked for drift like the
//! transcripts.
//!
//! - [`world`]: what the attacks look for on the host, set up and taken down;
//! - [`columns`]: how each column runs the program;
//! - [`render`]: the appendix's text.

pub mod columns;
pub mod render;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::Command;

use columns::COLUMNS;
use world::World;

/// How a cell of a column that could not run on this machine begins.
pub const NOT_RUN: &str = "not run: ";

/// One attack's answer in one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub escaped: bool,
    pub detail: String,
}

/// One attack across the columns (in `COLUMNS`' order).
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub tries: String,
    pub cells: Vec<Cell>,
}

/// Every attack in every column.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub rows: Vec<Row>,
}

/// The column of `isolab` run as root.
pub fn isolab_column() -> usize {
    COLUMNS
        .iter()
        .position(|c| c.name == "isolab")
        .unwrap_or(COLUMNS.len() - 2)
}

impl Row {
    /// The column whose mechanism holds this attack in `isolab`: the one
    /// after the last column (host to isolab) it escaped in. `None` when
    /// it escaped nowhere (the host itself holds it); past `isolab` when
    /// `isolab` let it through (see [`Matrix::problems`]).
    pub fn held_by(&self) -> Option<usize> {
        let last = (0..=isolab_column())
            .rev()
            .find(|&c| self.cells[c].escaped)?;
        Some(last + 1)
    }
}

impl Matrix {
    /// What makes the matrix wrong as a proof: an attack `isolab` lets
    /// through, or one that escapes in no column (a test that can't fail)
    /// unless the host itself holds it.
    pub fn problems(&self) -> Vec<String> {
        let isolab = isolab_column();
        let mut out = Vec::new();
        for row in &self.rows {
            if row.cells[isolab].escaped {
                out.push(format!(
                    "{}: ESCAPED from isolab: {}",
                    row.name, row.cells[isolab].detail
                ));
            }
        }
        out
    }

    /// Attacks that escaped in no column at all: on this host, the host
    /// itself holds them (a missing file, a kernel without the call).
    pub fn held_by_host(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.held_by().is_none()).collect()
    }
}

/// The static attack program, compiled from attack/ by `rustc` (RUSTC, or
/// the one on PATH) into `bin_dir` when its sources are newer.
pub fn attack_program(bin_dir: &Path) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/escapes/attack");
    let out = bin_dir.join("attack-static");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest = std::fs::read_dir(&src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .flatten()
        .filter_map(|e| modified(&e.path()))
        .max();
    if matches!((modified(&out), newest), (Some(b), Some(s)) if b >= s) {
        return Ok(out);
    }
    // The same compile as final's tests' static helpers (tests/common),
    // which live behind step 1's test-only `testing` feature.
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let result = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-o",
        ])
        .arg(&tmp)
        .arg(src.join("main.rs"))
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    if !result.status.success() {
        return Err(format!(
            "compiling the attack program static (needs glibc's libc.a: libc6-dev): {}",
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Run every column and collect the matrix.
pub fn record(bin_dir: &Path) -> Result<Matrix, String> {
    let attack = attack_program(bin_dir)?;
    let listing = Command::new(&attack)
        .arg("list")
        .output()
        .map_err(|e| e.to_string())?;
    let mut rows: Vec<Row> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, tries)| Row {
            name: name.into(),
            tries: tries.into(),
            cells: Vec::new(),
        })
        .collect();
    let world = World::new(bin_dir, &attack)?;
    world.image_written();
    for column in COLUMNS {
        let (out, status) = match column.run(bin_dir, &world) {
            Ok(r) => r,
            // A machine may give normal users no user namespace (Ubuntu's
            // restriction, a sysctl): that column is marked, not failed.
            Err(e) if column.name == "rootless" => {
                let first = e.lines().next().unwrap_or("").to_string();
                for row in &mut rows {
                    row.cells.push(Cell {
                        escaped: false,
                        detail: format!("{NOT_RUN}{first}"),
                    });
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let written = world.image_written();
        for row in &mut rows {
            let mut cell = parse(&out, &row.name).unwrap_or_else(|| Cell {
                escaped: false,
                detail: format!("no answer: the container ended (exit status {status})"),
            });
            if row.name == "image-write" && cell.escaped && !written {
                cell = Cell {
                    escaped: false,
                    detail: "the write went to the container's own layer; the image is unchanged"
                        .into(),
                };
            }
            row.cells.push(cell);
        }
    }
    Ok(Matrix { rows })
}

/// The answer for attack `name` in the program's output.
pub fn parse(out: &str, name: &str) -> Option<Cell> {
    out.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        let (verdict, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        match verdict {
            "ESCAPED" => Some(Cell {
                escaped: true,
                detail: detail.into(),
            }),
            "BLOCKED" => Some(Cell {
                escaped: false,
                detail: detail.into(),
            }),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(escaped: &[bool]) -> Row {
        Row {
            name: "x".into(),
            tries: String::new(),
            cells: escaped
                .iter()
                .map(|&e| Cell {
                    escaped: e,
                    detail: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn an_answer_is_read_by_its_name_alone() {
        let out = "mount-proc ESCAPED made it\nmount BLOCKED EPERM\n";
        assert_eq!(
            parse(out, "mount"),
            Some(Cell {
                escaped: false,
                detail: "EPERM".into()
            })
        );
        assert!(parse(out, "mount-proc").unwrap().escaped);
        assert_eq!(parse(out, "mount-sysfs"), None);
    }

    #[test]
    fn the_holder_is_the_column_after_the_last_escape() {
        let n = COLUMNS.len();
        let mut e = vec![false; n];
        assert_eq!(row(&e).held_by(), None);
        e[0] = true;
        e[1] = true;
        e[3] = true;
        assert_eq!(row(&e).held_by(), Some(4));
        // The rootless column does not count.
        e[n - 1] = true;
        assert_eq!(row(&e).held_by(), Some(4));
    }
}
