//! `isolab`: the OCI runtime. Its command line follows runc's, which is
//! what engines (containerd, podman, docker through containerd) speak:
//! global flags first, then `create`, `start`, `state`, `kill`, `delete`,
//! `run`, `list`, `spec`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use isolab::error::{EXIT_USAGE, Error, Result};
use isolab::lifecycle::{self, CreateOpts};

/// isolab: an OCI runtime built from the steps' mechanisms (namespaces,
/// pivot_root, cgroups, capabilities, no_new_privs), driven like runc.
#[derive(Debug, Parser)]
#[command(name = "isolab", version)]
struct Cli {
    /// Where containers' state lives
    #[arg(long, global = true, value_name = "DIR", default_value_os_t = default_root())]
    root: PathBuf,

    /// Also write errors to FILE (engines read it)
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<PathBuf>,

    /// Format of --log: text, or one JSON object a line (level, msg, time)
    #[arg(long, global = true, value_name = "text|json", default_value = "text")]
    log_format: String,

    /// Narrate every syscall of the setup to stderr
    #[arg(long, global = true)]
    debug: bool,

    /// Read cgroupsPath as systemd's slice:prefix:name (made as
    /// slice/prefix-name.scope in the cgroup file system: isolab does not
    /// ask systemd for a unit)
    #[arg(long, global = true)]
    systemd_cgroup: bool,

    /// Run as a normal user: the config's user namespace maps your own id
    /// (or newuidmap maps a range), and no cgroup is needed (auto: when
    /// not root). Before the subcommand (`spec --rootless` is spec's own)
    #[arg(long, value_name = "auto|true|false", default_value = "auto",
          value_parser = ["auto", "true", "false"])]
    rootless: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a default config.json into the bundle
    Spec {
        /// A config for a normal user: a user namespace, no network one
        #[arg(long)]
        rootless: bool,
        #[arg(long, short, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
    },
    /// Set a container up from a bundle and leave it waiting for `start`
    Create {
        #[command(flatten)]
        opts: CreateArgs,
        id: String,
    },
    /// Let a created container's process run
    Start { id: String },
    /// Print a container's state as JSON (runtime spec)
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's process
    Kill {
        /// Signal every process of the container's cgroup
        #[arg(long, short)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Remove a stopped container (a running one only with --force)
    Delete {
        #[arg(long, short)]
        force: bool,
        id: String,
    },
    /// Create and start a container; without --detach wait for it and
    /// exit with its status
    #[command(
        after_help = "Two forms: `isolab run [--bundle B] ID` runs a bundle, as runc does;\n\
                  `isolab run [FLAGS] -- CMD [ARG...]` runs CMD docker's way: the flags\n\
                  under \"Front end\" and the steps' (limits, capabilities, id maps,\n\
                  --security-opt) become a config (see it with --print-spec), run by the\n\
                  same create and start. Example:\n\
                  isolab run --network bridge -p 8080:80 -v /srv:/srv:ro -- httpd -f -p 80"
    )]
    Run {
        #[command(flatten)]
        opts: CreateArgs,
        #[arg(long, short)]
        detach: bool,
        #[command(flatten)]
        front: Box<isolab::run_flags::RunFlags>,
        /// The container's ID (the bundle form)
        id: Option<String>,
        /// After --: a command for the default image (the steps' form)
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// List the containers under --root
    List {
        #[arg(long, short, value_name = "table|json", default_value = "table")]
        format: String,
        /// Only the IDs
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run another process in a running container
    #[command(after_help = "Example: isolab exec demo sh -c 'ps; hostname'")]
    Exec {
        /// The process as a runtime-spec process object in FILE (engines)
        #[arg(long, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Return once it runs (a subreaper, or the host's init, adopts it)
        #[arg(long, short)]
        detach: bool,
        /// Write its host PID to FILE
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Working directory inside the container
        #[arg(long)]
        cwd: Option<String>,
        /// KEY=VALUE, added to the container's environment
        #[arg(long, short)]
        env: Vec<String>,
        /// UID[:GID] to run as
        #[arg(long, short)]
        user: Option<String>,
        /// A capability to add (to bounding, effective and permitted)
        #[arg(long = "cap", short = 'c', value_name = "CAP")]
        caps: Vec<String>,
        /// Set no_new_privs even if the container's process has it off
        #[arg(long)]
        no_new_privs: bool,
        /// Give the process a terminal, its master sent to --console-socket
        #[arg(long, short)]
        tty: bool,
        /// A Unix socket to send the pty's master to (with --tty)
        #[arg(long, value_name = "SOCKET")]
        console_socket: Option<PathBuf>,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print what a container of `run -d -- CMD` wrote (stdout and stderr)
    Logs { id: String },
    /// docker's stop: SIGTERM, then SIGKILL after --time seconds
    Stop {
        /// Seconds to wait after SIGTERM
        #[arg(long, short, default_value_t = 10)]
        time: u64,
        id: String,
    },
    /// docker's rm: delete stopped containers (running ones with --force)
    Rm {
        #[arg(long, short)]
        force: bool,
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Freeze every process of a running container (cgroup freezer)
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// List the processes of a container (host PIDs)
    Ps {
        #[arg(long, short, value_name = "table|json", default_value = "table")]
        format: String,
        id: String,
    },
    /// Change a container's resource limits
    Update {
        /// linux.resources as JSON, in FILE or on stdin (-)
        #[arg(long, short, value_name = "FILE")]
        resources: PathBuf,
        id: String,
    },
    /// Print what this runtime supports, as JSON (runtime spec features.md)
    Features,
    /// The steps' tools: rootfs (images for bundles), inspect, probe, ...
    #[command(flatten)]
    Tools(isolab::filter_tools::Tools),
}

/// `create`'s and `run`'s flags.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The bundle: a directory with config.json
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    bundle: PathBuf,
    /// Write the container process's PID to FILE
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Keep the caller's session keyring (default: a new one)
    #[arg(long)]
    no_new_keyring: bool,
    /// A Unix socket to send the pty's master to (process.terminal true)
    #[arg(long, value_name = "SOCKET")]
    console_socket: Option<PathBuf>,
    /// Pass N more fds, from 3 up, to the container's process
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u16,
}

impl CreateArgs {
    fn opts(&self, cli: &Cli) -> CreateOpts {
        CreateOpts {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            no_new_keyring: self.no_new_keyring,
            systemd_cgroup: cli.systemd_cgroup,
            rootless: match cli.rootless.as_str() {
                "true" => true,
                "false" => false,
                _ => !isolab::pseudofs::real_root(),
            },
            console_socket: self.console_socket.clone(),
            preserve_fds: i32::from(self.preserve_fds),
            output: None,
        }
    }
}

/// runc's default is /run/runc; ours /run/isolab, or for a normal user
/// $XDG_RUNTIME_DIR/isolab. Root in a user namespace is a normal user to
/// the host's /run: rootless podman runs its runtime so, and gives it its
/// XDG_RUNTIME_DIR (runc decides the same way).
fn default_root() -> PathBuf {
    if isolab::pseudofs::real_root()
        || (nix::unistd::geteuid().is_root() && std::env::var_os("XDG_RUNTIME_DIR").is_none())
    {
        return PathBuf::from("/run/isolab");
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("isolab"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/isolab-{}", nix::unistd::geteuid())))
}

fn main() {
    // One line and exit status 2 for a usage error, as every step.
    let cli: Cli = isolab::cli::parse();
    if cli.debug {
        isolab::explain::enable(true);
    }
    // The commands whose processes a container can see run from a sealed
    // copy of this binary (CVE-2019-5736; see sealed_exe.rs).
    let result = match cli.command {
        Command::Create { .. } | Command::Run { .. } | Command::Exec { .. } => {
            isolab::sealed_exe::ensure()
        }
        _ => Ok(()),
    }
    .and_then(|()| dispatch(&cli));
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            isolab::cli::warn(&format!("isolab: {e}"));
            log_error(&cli, &e.to_string());
            // runc's convention: 1 for any failure, 2 for usage.
            std::process::exit(if matches!(e, Error::BadFlag(_)) {
                EXIT_USAGE
            } else {
                1
            });
        }
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Spec { rootless, bundle } => {
            let ids = rootless.then(|| {
                (
                    nix::unistd::geteuid().as_raw(),
                    nix::unistd::getegid().as_raw(),
                )
            });
            let file = bundle.join("config.json");
            if file.exists() {
                return Err(Error::Request(format!(
                    "{} exists: remove it first",
                    file.display()
                )));
            }
            let text = serde_json::to_string_pretty(&isolab::default_spec::default_spec(ids))
                .unwrap_or_default();
            std::fs::write(&file, text + "\n")
                .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
            Ok(0)
        }
        Command::Create { opts, id } => {
            lifecycle::create(&cli.root, id, &opts.opts(cli)).map(|_| 0)
        }
        Command::Start { id } => lifecycle::start(&cli.root, id).map(|()| 0),
        Command::State { id } => {
            isolab::cli::outln(&lifecycle::state(&cli.root, id)?);
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            lifecycle::kill(&cli.root, id, parse_signal(signal)?, *all).map(|()| 0)
        }
        Command::Delete { force, id } => lifecycle::delete(&cli.root, id, *force).map(|()| 0),
        Command::Run {
            opts,
            detach,
            front,
            id,
            command,
        } => match (id, command.is_empty()) {
            (Some(_), true) if front.given().is_some() => Err(Error::BadFlag(format!(
                "{} is for `run -- CMD`: with a bundle, its config.json says that",
                front.given().unwrap_or_default()
            ))),
            (Some(id), true) => lifecycle::run(&cli.root, id, &opts.opts(cli), *detach),
            (None, false) if opts.bundle.as_os_str() == "." => {
                isolab::run_command::run(&cli.root, front, command, &opts.opts(cli), *detach)
            }
            (None, true) => Err(Error::BadFlag(
                "run needs an ID (with --bundle), or -- CMD for the default image".into(),
            )),
            _ => Err(Error::BadFlag(
                "run takes an ID and a bundle, or -- CMD, not both".into(),
            )),
        },
        Command::List { format, quiet } => {
            let records = lifecycle::list(&cli.root);
            let text = match (format.as_str(), quiet) {
                (_, true) => records.iter().map(|r| format!("{}\n", r.id)).collect(),
                ("json", _) => {
                    let printed: Vec<_> = records.iter().map(|r| r.printed()).collect();
                    serde_json::to_string(&printed).unwrap_or_default() + "\n"
                }
                ("table", _) => {
                    let mut t = format!(
                        "{:<12} {:<8} {:<8} {:<40} {}\n",
                        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                    );
                    for r in &records {
                        t.push_str(&format!(
                            "{:<12} {:<8} {:<8} {:<40} {}\n",
                            r.id,
                            r.pid,
                            r.status,
                            r.bundle.display(),
                            r.created
                        ));
                    }
                    t
                }
                (other, _) => {
                    return Err(Error::BadFlag(format!(
                        "--format {other}: use table or json"
                    )));
                }
            };
            isolab::cli::out(&text);
            Ok(0)
        }
        Command::Exec {
            process,
            detach,
            pid_file,
            cwd,
            env,
            user,
            caps,
            no_new_privs,
            tty,
            console_socket,
            id,
            command,
        } => {
            let opts = isolab::exec_process::ExecOpts {
                process: process.clone(),
                args: command.clone(),
                cwd: cwd.clone(),
                env: env.clone(),
                user: user.clone(),
                caps: caps.clone(),
                no_new_privs: *no_new_privs,
                detach: *detach,
                pid_file: pid_file.clone(),
                tty: *tty,
                console_socket: console_socket.clone(),
            };
            isolab::exec_process::exec(&cli.root, id, &opts)
        }
        Command::Update { resources, id } => {
            let text = if resources.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(resources)
            }
            .map_err(|e| Error::Request(format!("--resources {}: {e}", resources.display())))?;
            isolab::resources::update(&cli.root, id, &text).map(|()| 0)
        }
        Command::Logs { id } => isolab::run_command::logs(&cli.root, id).map(|()| 0),
        Command::Stop { time, id } => {
            lifecycle::stop(&cli.root, id, std::time::Duration::from_secs(*time)).map(|()| 0)
        }
        Command::Rm { force, ids } => {
            for id in ids {
                lifecycle::delete(&cli.root, id, *force)?;
            }
            Ok(0)
        }
        Command::Pause { id } => lifecycle::pause(&cli.root, id, true).map(|()| 0),
        Command::Resume { id } => lifecycle::pause(&cli.root, id, false).map(|()| 0),
        Command::Ps { format, id } => {
            let pids = lifecycle::ps(&cli.root, id)?;
            let text = match format.as_str() {
                "json" => serde_json::to_string(&pids).unwrap_or_default() + "\n",
                "table" => {
                    let mut t = format!("{:<8} {}\n", "PID", "CMD");
                    for pid in pids {
                        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                            .map(|b| {
                                String::from_utf8_lossy(&b)
                                    .replace('\0', " ")
                                    .trim_end()
                                    .to_string()
                            })
                            .unwrap_or_default();
                        t.push_str(&format!("{pid:<8} {cmd}\n"));
                    }
                    t
                }
                other => {
                    return Err(Error::BadFlag(format!(
                        "--format {other}: use table or json"
                    )));
                }
            };
            isolab::cli::out(&text);
            Ok(0)
        }
        Command::Features => {
            let text =
                serde_json::to_string_pretty(&isolab::features::features()).unwrap_or_default();
            isolab::cli::outln(&text);
            Ok(0)
        }
        Command::Tools(tools) => {
            use isolab::filter_tools::Tools as Filter;
            use isolab::layer_tools::Tools as Layer;
            use isolab::privilege_tools::Tools as Privilege;
            if let Filter::Base(Privilege::Base(Layer::Cleanup { .. })) = tools {
                // the front end's bundles under --root whose runtime was
                // killed, before the steps' cleanup of layers and cgroups
                isolab::run_command::sweep(&cli.root);
            }
            tools.run()
        }
    }
}

/// `KILL`, `SIGKILL` or `9`, as runc takes them.
fn parse_signal(text: &str) -> Result<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = text.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| Error::BadFlag(format!("{text}: no such signal")));
    }
    let name = text.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map_err(|_| Error::BadFlag(format!("{text}: no such signal")))
}

/// With --log, the error as a line of the log too (JSON with
/// --log-format json: level, msg, time).
fn log_error(cli: &Cli, msg: &str) {
    let Some(file) = &cli.log else { return };
    let line = if cli.log_format == "json" {
        serde_json::json!({"level": "error", "msg": msg, "time": isolab::oci_state::now_rfc3339()})
            .to_string()
    } else {
        format!("{} error: {msg}", isolab::oci_state::now_rfc3339())
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{line}");
    }
}
