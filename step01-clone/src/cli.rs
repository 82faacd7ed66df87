//! Command-line pieces every step shares: the demo flags of `run`, the
//! `inspect` subcommand, and how errors and exit codes reach the shell.
//!
//! Each step's `main.rs` flattens [`Common`] into its own `run` arguments
//! and adds the flags of its mechanism.

use clap::{Args, ValueEnum};
use nix::unistd::Pid;

use crate::error::Result;
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

/// Flags of `run` that every step has.
#[derive(Debug, Args)]
pub struct Common {
    /// Narrate each syscall, its arguments and result to stderr as it happens
    #[arg(long)]
    pub explain: bool,

    /// Stop before exec, print the host PID and commands to try in a second
    /// terminal, continue on Enter
    #[arg(long)]
    pub pause: bool,

    /// Just before exec, print the container's process next to the
    /// runtime's own (to stderr), marking what differs
    #[arg(long)]
    pub inspect: bool,

    /// Format of --inspect's output
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// The command to run in the container, and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// `inspect PID [--vs PID]`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The process to inspect (a container's host PID, as --pause prints it)
    pub pid: i32,

    /// The process to compare it with
    #[arg(long, default_value_t = 1, value_name = "PID")]
    pub vs: i32,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl Common {
    /// Checks that need no syscall, done before anything is cloned.
    pub fn check(&self) -> Result<()> {
        explain::enable(self.explain);
        if self.pause {
            crate::pause::check_terminal()?;
        }
        Ok(())
    }

    /// What the instructor asked to see at the door, before exec:
    /// the inspector's comparison, then the pause.
    pub fn before_exec(&self, child: Pid, pause_hints: &[String]) -> Result<()> {
        if self.inspect {
            let cmp = inspect::compare(child.as_raw(), std::process::id() as i32)?;
            let text = match self.format {
                Format::Table => render::table(&cmp, explain::use_color(&std::io::stderr())),
                Format::Json => render::json(&cmp) + "\n",
            };
            eprint!("{text}");
        }
        if self.pause {
            crate::pause::pause(child, pause_hints)?;
        }
        Ok(())
    }
}

/// `inspect`: compare two processes and print the result on stdout.
pub fn inspect_command(args: &InspectArgs) -> Result<i32> {
    let cmp = inspect::compare(args.pid, args.vs)?;
    let stdout = std::io::stdout();
    match args.format {
        Format::Table => print!("{}", render::table(&cmp, explain::use_color(&stdout))),
        Format::Json => println!("{}", render::json(&cmp)),
    }
    Ok(0)
}

/// Leave the process: print an error as one line, exit with its code.
pub fn exit(program: &str, result: Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(e.exit_code())
        }
    }
}
