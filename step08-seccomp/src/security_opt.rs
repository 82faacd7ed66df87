//! `--security-opt KEY=VALUE`, docker's flag for the security modules.
//!
//! Step 8 brings the flag with one key (`seccomp`); step 9 adds `landlock`,
//! `apparmor` and `label`. The flag is defined once, here: clap checks
//! only the `KEY=VALUE` shape, and each step's `run` checks the keys it
//! knows before anything is created, so step 8 refuses `apparmor=` instead
//! of ignoring it.

use crate::error::{Error, Result};

/// One key a step understands, with the values it takes (for the error).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub usage: &'static str,
}

/// Step 8's key.
pub const SECCOMP: Key = Key {
    name: "seccomp",
    usage: "seccomp=default|unconfined|PATH",
};

/// Every `--security-opt` given, in order.
#[derive(Debug, Default, clap::Args)]
pub struct SecurityOpts {
    /// A security module's setting, as docker's: seccomp=default (the
    /// default), seccomp=unconfined or seccomp=PATH (an OCI `linux.seccomp`
    /// object or a docker profile); later steps add keys (see their --help)
    #[arg(long = "security-opt", value_name = "KEY=VALUE", value_parser = parse)]
    pub security_opt: Vec<(String, String)>,
}

/// clap's check of one `--security-opt`: a key, `=`, a value.
pub fn parse(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() && !value.is_empty() => {
            Ok((key.to_string(), value.to_string()))
        }
        _ => Err(format!(
            "{text:?}: the form is KEY=VALUE, as in seccomp=unconfined"
        )),
    }
}

impl SecurityOpts {
    /// The value of `key`: the last one given wins, as in docker.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.security_opt
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order (docker takes several `label=`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.security_opt
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Refuse a key this step does not know (a usage error, exit 2).
    pub fn check(&self, known: &[Key]) -> Result<()> {
        match self
            .security_opt
            .iter()
            .find(|(k, _)| !known.iter().any(|key| key.name == k))
        {
            None => Ok(()),
            Some((k, v)) => {
                let usage: Vec<&str> = known.iter().map(|key| key.usage).collect();
                Err(Error::BadFlag(format!(
                    "--security-opt {k}={v}: unknown key here; this step takes {}",
                    usage.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> SecurityOpts {
        SecurityOpts {
            security_opt: list.iter().map(|t| parse(t).unwrap()).collect(),
        }
    }

    #[test]
    fn the_last_value_of_a_key_wins() {
        let o = opts(&["seccomp=a", "landlock=unconfined", "seccomp=b"]);
        assert_eq!(o.get("seccomp"), Some("b"));
        assert_eq!(o.get("landlock"), Some("unconfined"));
        assert_eq!(o.get("apparmor"), None);
    }

    #[test]
    fn values_may_hold_equals_and_colons() {
        assert_eq!(
            parse("label=type:container_t").unwrap(),
            ("label".into(), "type:container_t".into())
        );
        assert_eq!(parse("seccomp=/a=b").unwrap().1, "/a=b");
        for bad in ["seccomp", "=x", "seccomp=", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_the_known_ones_named() {
        let o = opts(&["seccomp=unconfined", "apparmor=x"]);
        let err = o.check(&[SECCOMP]).unwrap_err().to_string();
        assert!(
            err.contains("apparmor=x") && err.contains(SECCOMP.usage),
            "{err}"
        );
        assert!(opts(&["seccomp=unconfined"]).check(&[SECCOMP]).is_ok());
    }
}
