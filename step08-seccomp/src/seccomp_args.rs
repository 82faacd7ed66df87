//! The `run` flags step 8 adds: which syscall filter.

use std::collections::BTreeSet;

use crate::bpf::Program;
use crate::error::{Error, Result};
use crate::state::State;
use crate::{cache, learn, profile, profile_file};

/// `--seccomp-learn` (the profile itself is `--security-opt seccomp=…`,
/// see [`crate::security_opt`]).
#[derive(Debug, clap::Args)]
pub struct SeccompArgs {
    /// Record every syscall CMD makes and write the smallest OCI profile
    /// that lets it do the same again to FILE (the run itself is not
    /// filtered)
    #[arg(long, value_name = "FILE")]
    pub seccomp_learn: Option<std::path::PathBuf>,
}

impl SeccompArgs {
    // ANCHOR: filter
    /// The filter for a container whose bounding set is `caps`, compiled
    /// here in the runtime, once: the child only loads it. `profile` is the
    /// value of `--security-opt seccomp=`; `None` for seccomp=unconfined.
    pub fn filter(
        &self,
        profile: Option<&str>,
        caps: &BTreeSet<u32>,
        no_new_privs: bool,
        state: &State,
    ) -> Result<Option<Program>> {
        if self.seccomp_learn.is_some() {
            if !no_new_privs {
                return Err(Error::BadFlag(
                    "--seccomp-learn needs no_new_privs: drop --allow-new-privs".into(),
                ));
            }
            let ctx = learn::learning_filter()?;
            let mut program = Program::new(profile::compile(&ctx)?, "learning: every call asks");
            program.notify = true;
            return Ok(Some(program));
        }
        match profile {
            Some("unconfined") => Ok(None),
            None | Some("default") => {
                // With --explain, refusals are named (see `notify`); not for
                // a filter the init installs early (without no_new_privs).
                let notify = crate::explain::enabled() && no_new_privs;
                let key = cache::key(&[&profile::fingerprint(), &format!("{caps:?} {notify}")]);
                let instructions = cache::get_or_compile(state, key, || {
                    profile::compile(&profile::default_profile(caps, notify)?)
                })?;
                let mut program = Program::new(instructions, "isolab default profile");
                program.notify = notify;
                checked(program, no_new_privs)
            }
            Some(path) => {
                let container = profile_file::Container {
                    caps,
                    kernel: profile_file::kernel_version(),
                };
                let bytes = std::fs::read(path)
                    .map_err(|e| Error::io(format!("reading seccomp profile {path}"), e))?;
                let key = cache::key(&[
                    &String::from_utf8_lossy(&bytes),
                    &format!("{caps:?} {:?}", container.kernel),
                ]);
                let instructions = cache::get_or_compile(state, key, || {
                    profile::compile(&profile_file::load(std::path::Path::new(path), &container)?)
                })?;
                checked(Program::new(instructions, path), no_new_privs)
            }
        }
    }
    // ANCHOR_END: filter
}

/// The calls made after the filter is installed: by the command's process
/// before its execve(2) (handing over the listener, narrating, resetting
/// SIGPIPE) and the execve itself. A profile that refuses one of them would
/// leave only a bare EPERM from exec; say so before anything starts.
const NEEDED_AFTER_INSTALL: [(&str, libc::c_long); 3] = [
    ("execve", libc::SYS_execve),
    ("rt_sigaction", libc::SYS_rt_sigaction),
    ("write", libc::SYS_write),
];

/// Without no_new_privs the init installs the filter before it drops its
/// capabilities, so the rest of its setup and its supervising loop must
/// pass too: the drop, the user switch and its checks, the sync socket,
/// the fork of the command, waiting and forwarding signals.
#[cfg(target_arch = "x86_64")]
const NEEDED_BY_THE_INIT: [(&str, libc::c_long); 12] = [
    ("prctl", libc::SYS_prctl),
    ("capset", libc::SYS_capset),
    ("setgroups", libc::SYS_setgroups),
    ("setresuid", libc::SYS_setresuid),
    ("setresgid", libc::SYS_setresgid),
    ("openat", libc::SYS_openat),
    ("read", libc::SYS_read),
    ("clone", libc::SYS_clone),
    ("wait4", libc::SYS_wait4),
    ("kill", libc::SYS_kill),
    ("rt_sigprocmask", libc::SYS_rt_sigprocmask),
    ("rt_sigtimedwait", libc::SYS_rt_sigtimedwait),
];
#[cfg(not(target_arch = "x86_64"))]
const NEEDED_BY_THE_INIT: [(&str, libc::c_long); 0] = [];

// ANCHOR: checked
/// `program`, if it lets through what the runtime needs after installing
/// it (`no_new_privs` false: installed early, by the init).
fn checked(program: Program, no_new_privs: bool) -> Result<Option<Program>> {
    let early: &[(&str, libc::c_long)] = if no_new_privs {
        &[]
    } else {
        &NEEDED_BY_THE_INIT
    };
    for &(name, nr) in NEEDED_AFTER_INSTALL.iter().chain(early) {
        match crate::bpf::evaluate(&program.instructions, nr as u32) {
            Some(libc::SECCOMP_RET_ALLOW) | None => {}
            Some(action) => {
                return Err(Error::Request(format!(
                    "seccomp profile {} answers {name}(2) with {}: the runtime calls it after installing the filter, so the command could never start: allow {name}",
                    program.name,
                    crate::bpf::action_name(action)
                )));
            }
        }
    }
    Ok(Some(program))
}
// ANCHOR_END: checked
