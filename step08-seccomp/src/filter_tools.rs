//! Step 7's subcommands plus step 8's: the two demos of the chapter
//! (strict mode, a filter built by hand), `seccomp dump` of the default
//! profile, and `probe`, the attack helper the tests run inside containers.

use std::collections::BTreeSet;

use clap::Subcommand;

use crate::error::Result;
use crate::{bpf, explain, probe, profile, strict};

/// Step 7's tools, `demo`, `seccomp` and `probe`.
#[derive(Debug, Subcommand)]
pub enum Tools {
    #[command(flatten)]
    Base(step07_userns::privilege_tools::Tools),
    /// The chapter's demos: strict mode, and a filter written by hand
    #[command(subcommand)]
    Demo(Demo),
    /// Look at filters
    #[command(subcommand)]
    Seccomp(SeccompCommand),
    /// Try syscalls a hostile container would, and print how each fared
    /// (run it inside a container; `all` tries every one)
    Probe {
        #[arg(required = true, value_name = "CALL")]
        calls: Vec<String>,
    },
}

/// `demo strict`, `demo filter -- CMD`.
#[derive(Debug, Subcommand)]
pub enum Demo {
    /// Fork a child into SECCOMP_MODE_STRICT: its write(2) works, its next
    /// syscall kills it
    Strict,
    /// Run CMD under the filter built by hand (mkdir and mkdirat refused),
    /// here on the host, with no_new_privs
    Filter {
        /// Narrate: the program, disassembled, and the calls that install it
        #[arg(long)]
        explain: bool,
        #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

/// `seccomp dump`.
#[derive(Debug, Subcommand)]
pub enum SeccompCommand {
    /// Disassemble a filter: `default` (the profile as libseccomp compiles
    /// it for docker's default capabilities), `by-hand`, a PID (the newest
    /// filter of that process, read with ptrace), or a profile FILE (OCI or
    /// docker, for docker's default capabilities)
    Dump {
        #[arg(default_value = "default")]
        which: String,
    },
}

impl Tools {
    /// Run the subcommand; its exit status.
    pub fn run(&self) -> Result<i32> {
        match self {
            Tools::Base(tools) => tools.run(),
            Tools::Demo(Demo::Strict) => {
                let (line, status) = strict::demo()?;
                crate::cli::outln(&format!("parent: /proc/CHILD/status says {line}"));
                crate::cli::outln(&format!(
                    "parent: the child {}",
                    crate::signals::describe(status)
                ));
                Ok(0)
            }
            Tools::Demo(Demo::Filter {
                explain: on,
                command,
            }) => {
                explain::enable(*on);
                let program = bpf::mkdir_denied();
                for line in bpf::disassemble(&program) {
                    explain::note(&line);
                }
                crate::no_new_privs::set()?;
                bpf::install(&program, "mkdir refused, by hand")?;
                Err(crate::exec::execvp(command))
            }
            Tools::Seccomp(SeccompCommand::Dump { which }) => {
                let program = match which.as_str() {
                    "by-hand" => bpf::mkdir_denied(),
                    "default" => {
                        profile::compile(&profile::default_profile(&docker_default_caps(), false)?)?
                    }
                    pid if pid.parse::<i32>().is_ok() => {
                        bpf::from_process(pid.parse().unwrap_or(0))?
                    }
                    path if std::path::Path::new(path).is_file() => {
                        let caps = docker_default_caps();
                        let container = crate::profile_file::Container {
                            caps: &caps,
                            kernel: crate::profile_file::kernel_version(),
                        };
                        let path = std::path::Path::new(path);
                        profile::compile(&crate::profile_file::load(path, &container)?)?
                    }
                    other => {
                        return Err(crate::error::Error::BadFlag(format!(
                            "{other:?}: dump `default`, `by-hand`, a PID or a profile file"
                        )));
                    }
                };
                let mut text = bpf::disassemble(&program).join("\n");
                text.push_str(&format!("\n({} instructions)\n", program.len()));
                crate::cli::out(&text);
                Ok(0)
            }
            Tools::Probe { calls } => Ok(probe::run(calls)),
        }
    }
}

/// docker's 14 default capabilities, as numbers.
fn docker_default_caps() -> BTreeSet<u32> {
    crate::capabilities::DEFAULT
        .iter()
        .filter_map(|n| crate::inspect::capability::from_name(n))
        .collect()
}
