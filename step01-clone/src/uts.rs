//! The UTS namespace: a private hostname and NIS domain name.
//!
//! UTS is "UNIX Time-sharing System", the struct utsname that uname(2)
//! fills. It is the smallest namespace there is, which is why step01 starts
//! with it: after clone(CLONE_NEWUTS) the child may rename itself and the
//! host's hostname does not change.

use crate::error::{Result, Traced};
use crate::explain;

// ANCHOR: sethostname
/// Set the hostname of the calling process's UTS namespace.
pub fn sethostname(name: &str) -> Result<()> {
    let call = format!("sethostname({})", explain::quoted(name));
    nix::unistd::sethostname(name).traced(&call)?;
    Ok(())
}
// ANCHOR_END: sethostname

/// Set the NIS domain name, the UTS namespace's other name (`domainname`,
/// `uname -n`'s neighbour in `struct utsname`); the runtime sets it from
/// config.json.
pub fn setdomainname(name: &str) -> Result<()> {
    let call = format!("setdomainname({})", explain::quoted(name));
    // SAFETY: a pointer and length of a live byte slice.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(rc).map(drop).traced(&call)?;
    Ok(())
}

/// Check a hostname before cloning, so a bad one fails early with a clear
/// reason instead of EINVAL from inside the child. The kernel's limit is
/// HOST_NAME_MAX (64) bytes; we also keep to RFC 1123 characters.
pub fn validate_hostname(name: &str) -> std::result::Result<String, String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "hostname must be 1 to 64 bytes, got {}",
            name.len()
        ));
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !ok || name.starts_with('-') {
        return Err(format!(
            "{name:?} is not a valid hostname: use letters, digits, '-' and '.'"
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::validate_hostname;

    #[test]
    fn hostnames() {
        assert!(validate_hostname("step01").is_ok());
        assert!(validate_hostname("a.b-c").is_ok());
        assert!(validate_hostname("").is_err());
        assert!(validate_hostname(&"x".repeat(65)).is_err());
        assert!(validate_hostname("bad name").is_err());
        assert!(validate_hostname("-x").is_err());
    }
}
