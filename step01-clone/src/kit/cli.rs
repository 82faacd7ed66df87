//! Command-line pieces every step shares: the demo flags of `run`, the
//! `inspect` subcommand, and how errors and exit codes reach the shell.
//!
//! Each step's `main.rs` flattens [`Common`] into its own `run` arguments
//! and adds the flags of its mechanism.

use clap::{Args, ValueEnum};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::explain;
use crate::inspect::{self, render};

/// Output format of the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Side-by-side table, differences marked with `*` (and color on a terminal)
    Table,
    /// JSON with stable field names, for scripts and tests
    Json,
}

/// Format of the narration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `[role] call = result`, one line each
    Text,
    /// One JSON object per line: time, pid, role, msg
    Json,
}

/// Flags of `run` that every step has.
#[derive(Debug, Args)]
pub struct Common {
    /// Narrate each syscall, its arguments and result to stderr as it happens
    #[arg(long)]
    pub explain: bool,

    /// Write the narration to FILE (appended) instead of stderr (implies --explain)
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,

    /// Format of the narration
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Stop before exec, print the host PID and commands to try in a second
    /// terminal, continue on Enter (or a line or EOF on stdin; Ctrl-C ends
    /// the container)
    #[arg(long)]
    pub pause: bool,

    /// Just before exec, print the container's process next to the
    /// runtime's own (to stderr), marking what differs
    #[arg(long)]
    pub inspect: bool,

    /// Format of --inspect's output
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write --inspect's output to FILE instead of stderr, where the
    /// command's own stderr can't mix into it (implies --inspect)
    #[arg(long, value_name = "FILE")]
    pub inspect_to: Option<std::path::PathBuf>,

    /// The command to run in the container, and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `inspect PID [--vs PID]`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The process to inspect (a container's host PID, as --pause prints it)
    pub pid: i32,

    /// The process to compare it with [default: 1, or this process where
    /// PID 1's namespaces can't be read]
    #[arg(long, value_name = "PID")]
    pub vs: Option<i32>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl Common {
    /// Checks and settings done before anything is cloned.
    pub fn check(&self) -> Result<()> {
        if let Some(path) = &self.log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::io(format!("opening --log {}", path.display()), e))?;
            explain::log_to(file, self.log_format == LogFormat::Json);
        }
        explain::enable(self.explain || self.log.is_some());
        Ok(())
    }

    /// What the instructor asked to see at the door, before exec:
    /// the inspector's comparison, then the pause.
    pub fn before_exec(&self, child: Pid, pause_hints: &[String]) -> Result<()> {
        if self.inspect || self.inspect_to.is_some() {
            let cmp = inspect::compare(child.as_raw(), std::process::id() as i32)?;
            let color = self.inspect_to.is_none() && explain::use_color(&std::io::stderr());
            let text = match self.format {
                Format::Table => render::table(&cmp, color),
                Format::Json => render::json(&cmp) + "\n",
            };
            match &self.inspect_to {
                Some(file) => std::fs::write(file, text)
                    .map_err(|e| Error::io(format!("writing {}", file.display()), e))?,
                None => {
                    let _ =
                        std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
                }
            }
        }
        if self.pause {
            crate::pause::pause(child, pause_hints)?;
        }
        Ok(())
    }
}

/// `inspect`: compare two processes and print the result on stdout.
pub fn inspect_command(args: &InspectArgs) -> Result<i32> {
    let vs = args.vs.unwrap_or_else(|| {
        // Some sandboxes hide PID 1 even from root: then the host's side is
        // this process, which runs in the host's namespaces.
        if std::fs::read_link("/proc/1/ns/mnt").is_ok() {
            1
        } else {
            warn("note: PID 1's namespaces are not readable here: comparing with this process");
            std::process::id() as i32
        }
    });
    let cmp = inspect::compare(args.pid, vs)?;
    let stdout = std::io::stdout();
    match args.format {
        Format::Table => out(&render::table(&cmp, explain::use_color(&stdout))),
        Format::Json => out(&(render::json(&cmp) + "\n")),
    }
    Ok(0)
}

/// Parse the command line. Help and version print as clap makes them; a
/// usage error is one line, and exit status 2.
pub fn parse<T: clap::Parser>() -> T {
    use clap::error::ErrorKind;
    match T::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                let name = T::command().get_name().to_string();
                warn(&format!(
                    "{name}: {} (see {name} --help)",
                    usage_line(&e.render().to_string())
                ));
                std::process::exit(2)
            }
        },
    }
}

/// The one line that says what is wrong in clap's multi-line usage error,
/// with clap's help kept: a suggestion (`tip: a similar argument exists:
/// '--memory'`) and the possible values of an enum flag.
pub fn usage_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("bad usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let rest: Vec<&str> = lines.collect();
    // "the following required arguments were not provided:" names them on
    // the next lines, indented.
    let mut line = if first.ends_with(':') {
        let missing: Vec<&str> = rest
            .iter()
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim())
            .collect();
        format!("{first} {}", missing.join(" "))
    } else {
        first.to_string()
    };
    for extra in rest.iter().map(|l| l.trim()) {
        if extra.starts_with("tip:") || extra.starts_with("[possible values:") {
            line.push_str(&format!("; {extra}"));
        }
    }
    line
}

/// Write `text` to stdout for a subcommand (`inspect`, `cleanup`, ...). A
/// reader that went away (`| head -1`, `| true`) is no error: the rest is
/// not wanted. Any other failure (a full disk) is one line and exit 1.
/// print!() would panic on both.
pub fn out(text: &str) {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            warn(&format!("writing to stdout: {e}"));
            std::process::exit(1)
        }
    }
}

/// [`out`] and a newline.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// Write one line to stderr, ignoring failure (eprintln!() panics when
/// stderr is a closed pipe, and the runtime must still clean up).
pub fn warn(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// Leave the process: print an error as one line, exit with its code.
pub fn exit(program: &str, result: Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(e @ crate::error::Error::BadFlag(_)) => {
            warn(&format!("{program}: {e} (see {program} --help)"));
            std::process::exit(e.exit_code())
        }
        Err(e) => {
            warn(&format!("{program}: {e}"));
            std::process::exit(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::usage_line;

    #[test]
    fn usage_errors_fold_to_one_line() {
        let clap_text = "error: the following required arguments were not provided:\n  <CMD>...\n\nUsage: x run <CMD>...\n";
        assert_eq!(
            usage_line(clap_text),
            "the following required arguments were not provided: <CMD>..."
        );
    }

    /// Real clap errors, rendered by the clap this workspace builds with.
    #[test]
    fn suggestions_and_possible_values_are_kept() {
        use clap::{Arg, Command};
        let cmd = || {
            Command::new("x")
                .arg(Arg::new("memory").long("memory"))
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(["table", "json"]),
                )
        };
        let e = cmd()
            .try_get_matches_from(["x", "--memroy", "5m"])
            .unwrap_err();
        let line = usage_line(&e.render().to_string());
        assert!(
            line.contains("'--memroy'") && line.contains("'--memory'"),
            "{line}"
        );
        let e = cmd()
            .try_get_matches_from(["x", "--format", "yaml"])
            .unwrap_err();
        let line = usage_line(&e.render().to_string());
        assert!(line.contains("table") && line.contains("json"), "{line}");
        assert!(!line.contains('\n'));
    }
}
