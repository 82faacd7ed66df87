//! isolab step 6: capabilities, no_new_privs and `--user`. Root in the
//! container keeps docker's 14 default capabilities instead of all of them,
//! set-uid programs can't raise privileges, and the command can run as
//! another user.
//!
//! Everything from steps 1 to 5 is re-exported; this step adds
//! [`capabilities`], [`user`], [`no_new_privs`] and a fresh session
//! [`keyring`].

pub use step05_cgroups::*;

pub mod capabilities;
pub mod capsh;
pub mod keyring;
pub mod no_new_privs;
pub mod privilege_args;
pub mod privilege_tools;
pub mod user;
