//! The flags of `isolab run -- CMD`, the docker-style front end: docker's
//! everyday spellings and meanings, plus the groups the steps introduced
//! (limits from step 5, privileges from step 6, id maps from step 7,
//! `--security-opt` from step 8). `front_end` turns them into an OCI
//! config; nothing here touches the kernel.

use std::path::PathBuf;

use crate::limit_args::LimitArgs;
use crate::map_args::MapArgs;
use crate::privilege_args::PrivilegeArgs;
use crate::security_opt::SecurityOpts;

/// docker's flags for `run`, in docker's spelling.
#[derive(Debug, clap::Args)]
pub struct RunFlags {
    /// The root filesystem: a directory, or the NAME of an imported image
    /// (default: the small rootfs step 3 builds from the host)
    #[arg(long, value_name = "DIR|NAME", help_heading = "Front end (run -- CMD)")]
    pub rootfs: Option<String>,

    /// Keep images and the container's writable layer (and -d's log) under
    /// DIR instead of /var/lib/isolab (a normal user's: ~/.local/share/isolab)
    #[arg(long, value_name = "DIR", help_heading = "Front end (run -- CMD)")]
    pub state_dir: Option<PathBuf>,

    /// Set KEY=VALUE in the container (KEY alone passes your value); the
    /// container gets none of the caller's environment otherwise
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = crate::environ::parse_entry, help_heading = "Front end (run -- CMD)")]
    pub env: Vec<String>,

    /// Read KEY=VALUE lines from FILE (# comments and blank lines skipped)
    #[arg(long, value_name = "FILE", help_heading = "Front end (run -- CMD)")]
    pub env_file: Vec<PathBuf>,

    /// Working directory inside the container (absolute)
    #[arg(
        short = 'w',
        long,
        value_name = "DIR",
        help_heading = "Front end (run -- CMD)"
    )]
    pub workdir: Option<String>,

    /// Bind a host path: SRC:DST[:ro|rw] (SRC absolute; named volumes are
    /// docker's)
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "SRC:DST[:ro]",
        help_heading = "Front end (run -- CMD)"
    )]
    pub volumes: Vec<String>,

    /// type=bind|tmpfs,source=SRC,target=DST[,readonly][,tmpfs-size=N]
    #[arg(
        long = "mount",
        value_name = "SPEC",
        help_heading = "Front end (run -- CMD)"
    )]
    pub mounts: Vec<String>,

    /// Mount an empty tmpfs at DST[:OPTIONS] (e.g. /run:size=64m,mode=755)
    #[arg(
        long = "tmpfs",
        value_name = "DST[:OPTS]",
        help_heading = "Front end (run -- CMD)"
    )]
    pub tmpfs: Vec<String>,

    /// Give the command a terminal (a pty; this runtime relays it)
    #[arg(short = 't', long, help_heading = "Front end (run -- CMD)")]
    pub tty: bool,

    /// Keep stdin open (without it the command reads /dev/null)
    #[arg(short = 'i', long, help_heading = "Front end (run -- CMD)")]
    pub interactive: bool,

    /// The container's ID (default: run-<random>)
    #[arg(long, value_name = "NAME", help_heading = "Front end (run -- CMD)")]
    pub name: Option<String>,

    /// Remove the container when it exits (what the foreground always does)
    #[arg(long, help_heading = "Front end (run -- CMD)")]
    pub rm: bool,

    /// Mount the root filesystem read-only (default: a writable overlay
    /// layer of its own, removed with the container)
    #[arg(long, help_heading = "Front end (run -- CMD)")]
    pub read_only: bool,

    /// none (own namespace, loopback only), host, bridge (root), or
    /// container:NAME
    #[arg(
        long,
        value_name = "MODE",
        default_value = "none",
        help_heading = "Front end (run -- CMD)"
    )]
    pub network: String,

    /// Publish a container port: [IP:]HOST:CONTAINER[/tcp|/udp] (bridge)
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "SPEC",
        help_heading = "Front end (run -- CMD)"
    )]
    pub publish: Vec<String>,

    /// IPC namespace: private (default), shareable, host or container:NAME
    #[arg(long, value_name = "MODE", help_heading = "Front end (run -- CMD)")]
    pub ipc: Option<String>,

    /// UTS namespace: private (default) or host
    #[arg(long, value_name = "MODE", help_heading = "Front end (run -- CMD)")]
    pub uts: Option<String>,

    /// PID namespace: private (default), host or container:NAME
    #[arg(long, value_name = "MODE", help_heading = "Front end (run -- CMD)")]
    pub pid: Option<String>,

    /// Hostname inside the container (default: the ID's first 12 letters)
    #[arg(long, value_name = "NAME", value_parser = crate::uts::validate_hostname, help_heading = "Front end (run -- CMD)")]
    pub hostname: Option<String>,

    /// An init as PID 1 (step 2's: it forwards signals and reaps), the
    /// command its child
    #[arg(long, help_heading = "Front end (run -- CMD)")]
    pub init: bool,

    /// The command is PID 1 itself (the default, as docker's)
    #[arg(long, conflicts_with = "init", help_heading = "Front end (run -- CMD)")]
    pub no_init: bool,

    /// A resource limit: NAME=SOFT[:HARD] (nofile=1024:2048, nproc=64)
    #[arg(
        long,
        value_name = "NAME=SOFT[:HARD]",
        help_heading = "Front end (run -- CMD)"
    )]
    pub ulimit: Vec<String>,

    /// A namespaced sysctl: KEY=VALUE (net.ipv4.ip_forward=1)
    #[arg(
        long,
        value_name = "KEY=VALUE",
        help_heading = "Front end (run -- CMD)"
    )]
    pub sysctl: Vec<String>,

    /// A host device: HOST[:CONTAINER[:PERMISSIONS]] (/dev/fuse, /dev/sda:/dev/xvda:r)
    #[arg(long, value_name = "DEVICE", help_heading = "Front end (run -- CMD)")]
    pub device: Vec<String>,

    /// Offsets of a time namespace of its own: boottime=SECS and/or
    /// monotonic=SECS (isolab's; /proc/uptime moves by the boottime one)
    #[arg(
        long,
        value_name = "CLOCK=SECS",
        help_heading = "Front end (run -- CMD)"
    )]
    pub time_offset: Vec<String>,

    /// Print the config.json this command would run, and run nothing
    #[arg(long, help_heading = "Front end (run -- CMD)")]
    pub print_spec: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub privileges: PrivilegeArgs,

    #[command(flatten)]
    pub maps: MapArgs,

    #[command(flatten)]
    pub security: SecurityOpts,
}

impl RunFlags {
    /// The first front-end flag given, for the bundle form's refusal
    /// ("--env is for run -- CMD: a bundle's config.json says that").
    pub fn given(&self) -> Option<&'static str> {
        let l = &self.limits;
        let p = &self.privileges;
        let flags: [(&'static str, bool); 32] = [
            ("--rootfs", self.rootfs.is_some()),
            ("--env", !self.env.is_empty()),
            ("--env-file", !self.env_file.is_empty()),
            ("--workdir", self.workdir.is_some()),
            ("--volume", !self.volumes.is_empty()),
            ("--mount", !self.mounts.is_empty()),
            ("--tmpfs", !self.tmpfs.is_empty()),
            ("--tty", self.tty),
            ("--interactive", self.interactive),
            ("--name", self.name.is_some()),
            ("--rm", self.rm),
            ("--read-only", self.read_only),
            ("--network", self.network != "none"),
            ("--publish", !self.publish.is_empty()),
            ("--ipc", self.ipc.is_some()),
            ("--uts", self.uts.is_some()),
            ("--pid", self.pid.is_some()),
            ("--hostname", self.hostname.is_some()),
            ("--init", self.init || self.no_init),
            ("--ulimit", !self.ulimit.is_empty()),
            ("--sysctl", !self.sysctl.is_empty()),
            ("--device", !self.device.is_empty()),
            ("--time-offset", !self.time_offset.is_empty()),
            ("--print-spec", self.print_spec),
            ("--memory", l.memory.is_some()),
            ("--pids-limit", l.pids_limit.is_some()),
            (
                "--cpus",
                l.cpus.is_some() || l.cpu_shares.is_some() || l.stats,
            ),
            ("--cap-add", !p.cap_add.is_empty() || !p.cap_drop.is_empty()),
            ("--user", p.user.is_some()),
            ("--allow-new-privs", p.allow_new_privs),
            (
                "--uid-map",
                self.maps.uid_map.is_some() || self.maps.gid_map.is_some(),
            ),
            ("--security-opt", !self.security.security_opt.is_empty()),
        ];
        flags
            .iter()
            .find(|(_, given)| *given)
            .map(|(name, _)| *name)
    }
}
