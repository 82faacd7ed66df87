//! `--user UID[:GID]`: who the command runs as.
//!
//! The order of the switch matters, and each step needs the privilege the
//! next one takes away:
//!
//! 1. setgroups(2) clears the supplementary groups (root's groups would
//!    otherwise ride along) — needs CAP_SETGID;
//! 2. setresgid(2) — needs CAP_SETGID, and must come before the uid
//!    changes, since a non-root uid can no longer change its gid;
//! 3. setresuid(2) last: once all three uids are non-zero the kernel
//!    empties the permitted and effective capability sets (unless
//!    PR_SET_KEEPCAPS, which we set so that `--cap-add`ed capabilities can
//!    be handed on as ambient ones).

use nix::unistd::{Gid, Uid};

use crate::error::{Error, Result, SyscallResult};
use crate::explain;

/// A numeric user and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

/// Parse `1000` or `1000:1000` (the gid defaults to the uid).
pub fn parse(text: &str) -> std::result::Result<User, String> {
    let (u, g) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let num = |s: &str, what: &str| match s.parse::<u64>() {
        // (u32)-1 is "no change" to setresuid(2): not an id.
        Ok(n) if n < u64::from(u32::MAX) => Ok(n as u32),
        Ok(_) => Err(format!(
            "{what} {s} is out of range: ids go from 0 to 4294967294"
        )),
        Err(_) => Err(format!(
            "{what} {s:?} is not a number: use --user UID[:GID], e.g. 1000:1000 (names are not looked up)"
        )),
    };
    let uid = num(u, "uid")?;
    let gid = match g {
        Some(g) => num(g, "gid")?,
        None => uid,
    };
    Ok(User { uid, gid })
}

// ANCHOR: switch
/// Switch to `user`, in the order the module docs explain.
pub fn switch(user: User) -> Result<()> {
    nix::sys::prctl::set_keepcaps(true).or_syscall(|| "prctl(PR_SET_KEEPCAPS, 1)".into())?;
    explain::syscall("prctl(PR_SET_KEEPCAPS, 1)", 0);
    // In a user namespace whose setgroups is "deny" (rootless, step 7)
    // the call is refused; there are no supplementary groups to clear.
    let denied = setgroups_denied();
    if !denied {
        nix::unistd::setgroups(&[]).or_syscall(|| "setgroups(0, [])".into())?;
        explain::syscall("setgroups(0, [])", 0);
    }
    let g = Gid::from_raw(user.gid);
    nix::unistd::setresgid(g, g, g).or_syscall(|| format!("setresgid({0}, {0}, {0})", user.gid))?;
    explain::syscall(&format!("setresgid({0}, {0}, {0})", user.gid), 0);
    let u = Uid::from_raw(user.uid);
    nix::unistd::setresuid(u, u, u).or_syscall(|| format!("setresuid({0}, {0}, {0})", user.uid))?;
    explain::syscall(&format!("setresuid({0}, {0}, {0})", user.uid), 0);
    Ok(())
}
// ANCHOR_END: switch

// ANCHOR: verify
/// Check the switch took, from /proc/self/status.
pub fn verify(user: User) -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::io("reading /proc/self/status", e))?;
    let want_u = format!("{0}\t{0}\t{0}\t{0}", user.uid);
    let want_g = format!("{0}\t{0}\t{0}\t{0}", user.gid);
    let field = |name| crate::inspect::status_field(&status, name).unwrap_or("");
    // In a user namespace whose setgroups is "deny" (rootless without a
    // subuid range, step 7) the caller's supplementary groups can't be
    // dropped: the kernel keeps them, shown inside as the overflow gid.
    let groups_ok = field("Groups").is_empty() || setgroups_denied();
    if field("Uid") == want_u && field("Gid") == want_g && groups_ok {
        if !field("Groups").is_empty() {
            explain::note(&format!(
                "supplementary groups {} stay: setgroups(2) is denied in this user namespace",
                field("Groups").trim()
            ));
        }
        Ok(())
    } else {
        Err(Error::Verify(format!(
            "switching to {}:{} did not take: Uid {:?}, Gid {:?}, Groups {:?} in /proc/self/status",
            user.uid,
            user.gid,
            field("Uid"),
            field("Gid"),
            field("Groups")
        )))
    }
}

/// Is setgroups(2) refused in this process's user namespace?
pub fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}
// ANCHOR_END: verify

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users() {
        assert_eq!(
            parse("1000"),
            Ok(User {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(parse("1000:50"), Ok(User { uid: 1000, gid: 50 }));
        assert!(parse("alice").unwrap_err().contains("not a number"));
        assert!(parse("1000:").is_err());
        assert!(parse("99999999999").unwrap_err().contains("out of range"));
    }
}
