//! The `run` flags step 8 adds: which syscall filter.

use std::collections::BTreeSet;

use crate::bpf::Program;
use crate::error::{Error, Result};
use crate::profile;

/// `--security-opt seccomp=…`.
#[derive(Debug, clap::Args)]
pub struct SeccompArgs {
    /// seccomp=unconfined runs without a filter; seccomp=default (the
    /// default) filters with isolab's profile
    #[arg(long = "security-opt", value_name = "seccomp=default|unconfined", value_parser = parse_security_opt)]
    pub security_opt: Vec<String>,
}

/// clap's check of one `--security-opt`: `seccomp=` something.
pub fn parse_security_opt(text: &str) -> std::result::Result<String, String> {
    match text.split_once('=') {
        Some(("seccomp", value)) if !value.is_empty() => Ok(value.to_string()),
        _ => Err(format!(
            "{text:?}: use seccomp=default or seccomp=unconfined (the only options of step 8)"
        )),
    }
}

impl SeccompArgs {
    // ANCHOR: filter
    /// The filter for a container whose bounding set is `caps`, compiled
    /// here in the runtime, once: the child only loads it. `None` for
    /// seccomp=unconfined.
    pub fn filter(&self, caps: &BTreeSet<u32>, no_new_privs: bool) -> Result<Option<Program>> {
        match self.security_opt.last().map(String::as_str) {
            Some("unconfined") => Ok(None),
            None | Some("default") => {
                if !no_new_privs {
                    // Without no_new_privs, seccomp(2) needs CAP_SYS_ADMIN,
                    // which the drop before exec has taken away; installed
                    // earlier, the filter would have to allow the rest of
                    // the setup too. runc does the latter; we refuse.
                    return Err(Error::BadFlag(
                        "--allow-new-privs and a seccomp filter don't go together in step 8: add --security-opt seccomp=unconfined, or drop --allow-new-privs".into(),
                    ));
                }
                let ctx = profile::default_profile(caps)?;
                Ok(Some(Program::new(
                    profile::compile(&ctx)?,
                    "isolab default profile",
                )))
            }
            Some(path) => Err(Error::Unsupported(format!(
                "seccomp={path}: profiles from files are not supported yet: use seccomp=default or seccomp=unconfined"
            ))),
        }
    }
    // ANCHOR_END: filter
}
