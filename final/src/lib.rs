//! isolab, the runtime: an OCI runtime an engine can drive like runc, built
//! from the mechanisms of steps 1 to 9 (everything they export is
//! re-exported here). This crate adds the bundle ([`bundle`], config.json
//! read and checked), the default config ([`default_spec`]), the
//! container's state as the runtime spec defines it ([`oci_state`]), the
//! lifecycle ([`lifecycle`]: create, start, state, kill, delete) and the
//! setup the container's process runs from config.json
//! ([`container_init`]), with the network namespace's loopback
//! ([`netns`]), the five capability sets as given ([`cap_sets`]), and
//! config.json's seccomp filter and LSM labels ([`security`]). Around
//! them: mounts ([`oci_mounts`]), resources and `update` ([`resources`],
//! [`cgroups_path`]), device rules ([`device_rules`], [`device_bpf`],
//! [`device_nodes`]), the time namespace ([`timens`]), sysctls
//! ([`sysctl`]), the terminal ([`console`]) and the seccomp agent
//! ([`seccomp_agent`]). `create`, `run` and `exec` run from a sealed copy
//! of the binary ([`sealed_exe`]).

pub use step09_lsm::*;

pub mod bridge;
pub mod bundle;
pub mod cap_sets;
pub mod cgroups_path;
pub mod console;
pub mod container_init;
pub mod default_spec;
pub mod device_bpf;
pub mod device_nodes;
pub mod device_rules;
pub mod exec_process;
pub mod features;
pub mod flag_values;
pub mod freeze;
pub mod front_end;
pub mod hooks;
pub mod lease;
pub mod lifecycle;
pub mod netns;
pub mod network_mode;
pub mod nft;
pub mod oci_mounts;
pub mod oci_state;
pub mod personality;
pub mod publish;
pub mod resources;
pub mod rtnetlink;
pub mod run_command;
pub mod run_flags;
pub mod sealed_exe;
pub mod seccomp_agent;
pub mod seccomp_default;
pub mod security;
pub mod sysctl;
pub mod timens;
pub mod tty_relay;
