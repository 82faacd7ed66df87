//! The `run` flags step 6 adds. Later steps flatten this group into their
//! own `run`.

use crate::capabilities;
use crate::user::{self, User};

/// `--cap-add`, `--cap-drop`, `--user`, `--allow-new-privs`.
#[derive(Debug, clap::Args)]
pub struct PrivilegeArgs {
    /// Add capabilities to docker's default set (NET_ADMIN, cap_sys_admin, ALL)
    #[arg(long, value_name = "CAP", value_parser = capabilities::parse_flag)]
    pub cap_add: Vec<String>,

    /// Remove capabilities from the default set (ALL removes every one)
    #[arg(long, value_name = "CAP", value_parser = capabilities::parse_flag)]
    pub cap_drop: Vec<String>,

    /// Run the command as UID[:GID], with no supplementary groups
    #[arg(long, value_name = "UID[:GID]", value_parser = user::parse)]
    pub user: Option<User>,

    /// Let set-uid programs and file capabilities raise privileges
    /// (no_new_privs is on by default)
    #[arg(long)]
    pub allow_new_privs: bool,
}

impl PrivilegeArgs {
    /// The user to run as: `--user`, or root.
    pub fn user(&self) -> User {
        self.user.unwrap_or(User { uid: 0, gid: 0 })
    }
}
