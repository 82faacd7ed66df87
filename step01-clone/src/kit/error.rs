//! The runtime's error type, and the exit codes it maps to.
//!
//! A user sees one line: what failed, the syscall and errno where one failed,
//! and what to do about it. Exit codes follow docker's convention:
//! 125 the runtime itself failed, 126 the command can't be executed,
//! 127 the command was not found.

use nix::errno::Errno;

/// Exit status of a usage error (clap's, and [`Error::BadFlag`]).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when the runtime itself failed.
pub const EXIT_RUNTIME: i32 = 125;
/// Exit status when the command exists but can't be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// Everything the runtime can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A syscall failed. `call` is written the way the narrator shows it.
    #[error("{call} failed: {errno}{}", hint_suffix(.hint))]
    Syscall {
        call: String,
        errno: Errno,
        hint: Option<String>,
    },
    /// exec of the user's command failed (exit 126 or 127).
    #[error("{reason}")]
    Exec { reason: String, code: i32 },
    /// The child failed before exec and told the parent why, with the exit
    /// status it asked for.
    #[error("{reason}")]
    Child { reason: String, code: i32 },
    /// The runtime and its child disagree about where they are in the sync
    /// protocol, or one of them went away: a bug or a killed process, never
    /// the user's doing.
    #[error("{0}")]
    Protocol(String),
    /// A read-back of what the kernel now holds (/proc/self/status) does
    /// not show what was set: the mechanism did not take.
    #[error("{0}")]
    Verify(String),
    /// This machine lacks something the run needs (a controller, a cgroup
    /// filesystem, a shell to build an image from); the message names the
    /// fix.
    #[error("{0}")]
    Unsupported(String),
    /// Reading /proc failed (the inspector).
    #[error("{0}")]
    Proc(String),
    /// A command line that can never work (a value out of range, flags that
    /// contradict each other), found after clap parsed it: exit 2, like
    /// clap's own usage errors.
    #[error("{0}")]
    BadFlag(String),
    /// A well-formed request that can't be done as asked (a rootfs that
    /// does not exist, a symlinked mount point, an image name taken): exit
    /// 125. A command line that can never work is [`Error::BadFlag`].
    #[error("{0}")]
    Request(String),
    /// A signal ended the runtime's wait (Ctrl-C while paused): exit 128+N,
    /// after the container is cleaned up.
    #[error("interrupted by {0} before the command ran: the container was removed")]
    Interrupted(nix::sys::signal::Signal),
    /// A read or write that is not a syscall of interest.
    #[error("{what}: {source}{}", full_hint(source))]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// ENOSPC's fix, said once for every write that meets it.
fn full_hint(e: &std::io::Error) -> &'static str {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        ": that file system is full: free space on it, or keep state elsewhere (--root, --state-dir)"
    } else {
        ""
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(": {h}"),
        None => String::new(),
    }
}

impl Error {
    /// A failed syscall, with the usual fix for its errno when we know one.
    pub fn syscall(call: impl Into<String>, errno: Errno) -> Self {
        let call = call.into();
        let hint = hint_for(&call, errno);
        Error::Syscall { call, errno, hint }
    }

    /// The same error with `hint` as its fix (a failed syscall only: the
    /// other kinds carry their whole message already).
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        match self {
            Error::Syscall { call, errno, .. } => Error::Syscall {
                call,
                errno,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }

    /// exec of the command failed: `reason` for the user, `code` for the shell.
    pub fn exec(reason: impl Into<String>, code: i32) -> Self {
        Error::Exec {
            reason: reason.into(),
            code,
        }
    }

    /// The child reported a failure before exec.
    pub fn child(reason: impl Into<String>, code: i32) -> Self {
        Error::Child {
            reason: reason.into(),
            code,
        }
    }

    /// A failed read or write of a file.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// The process exit status this error stands for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { code, .. } | Error::Child { code, .. } => *code,
            // `inspect` of a process that is gone or unreadable.
            Error::Proc(_) => 1,
            Error::Interrupted(signal) => 128 + *signal as i32,
            Error::BadFlag(_) => EXIT_USAGE,
            _ => EXIT_RUNTIME,
        }
    }
}

/// The fix for the errors workshop machines actually produce.
fn hint_for(call: &str, errno: Errno) -> Option<String> {
    let creates_namespace = call.starts_with("clone") || call.starts_with("unshare");
    match errno {
        Errno::EPERM if creates_namespace => Some(
            "creating namespaces needs CAP_SYS_ADMIN: run with sudo \
             (rootless containers arrive with user namespaces in step07)"
                .into(),
        ),
        Errno::EPERM | Errno::EACCES => {
            Some("needs privileges this process lacks: run with sudo".into())
        }
        Errno::EINVAL if creates_namespace => Some(
            "this kernel lacks one of the namespace types asked for \
             (see /proc/self/ns for the ones it has)"
                .into(),
        ),
        Errno::ENOSPC if creates_namespace => Some(
            "the per-user namespace limit is reached: see /proc/sys/user/max_*_namespaces".into(),
        ),
        _ => None,
    }
}

/// Shorthand used by every module.
pub type Result<T> = std::result::Result<T, Error>;

/// Turns a nix result into ours, naming the call as the narrator would.
pub trait SyscallResult<T> {
    /// Attach the call's description to a failed syscall.
    fn or_syscall(self, call: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SyscallResult<T> for nix::Result<T> {
    fn or_syscall(self, call: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::syscall(call(), errno))
    }
}

/// One string for a call that returns nothing but success: narrated as
/// `call = 0` when it worked, named in the error when it did not. So what
/// `--explain` shows and what an error says can't drift apart.
pub trait Traced {
    /// Narrate or report `call`.
    fn traced(self, call: &str) -> Result<()>;
}

impl Traced for nix::Result<()> {
    fn traced(self, call: &str) -> Result<()> {
        match self {
            Ok(()) => {
                crate::explain::syscall(call, 0);
                Ok(())
            }
            Err(errno) => Err(Error::syscall(call, errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_on_clone_suggests_sudo() {
        let e = Error::syscall("clone(CLONE_NEWUTS|SIGCHLD)", Errno::EPERM);
        let line = e.to_string();
        assert!(
            line.starts_with("clone(CLONE_NEWUTS|SIGCHLD) failed: EPERM"),
            "{line}"
        );
        assert!(
            line.contains("CAP_SYS_ADMIN") && line.contains("sudo"),
            "{line}"
        );
        assert!(!line.contains('\n'));
        assert_eq!(e.exit_code(), EXIT_RUNTIME);
    }

    #[test]
    fn exec_errors_keep_their_code() {
        assert_eq!(Error::exec("x", EXIT_NOT_FOUND).exit_code(), 127);
        assert_eq!(Error::child("x", 126).exit_code(), 126);
    }
}
