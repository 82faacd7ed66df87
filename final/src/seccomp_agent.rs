//! `linux.seccomp.listenerPath`: a seccomp agent, a program of the
//! engine's that answers the calls the filter hands over with
//! SCMP_ACT_NOTIFY (step 8's supervisor, outside the runtime: it can
//! emulate mknod of a few devices, or a mount, for a container that may
//! not make them itself). The container's process installs its filter
//! with SECCOMP_FILTER_FLAG_NEW_LISTENER and sends the listener fd over
//! the agent's Unix socket with SCM_RIGHTS, beside the "container process
//! state" JSON the runtime spec defines (config-linux.md).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::explain;

/// Connect to the agent, from the host (before pivot_root).
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        Error::io(
            format!(
                "connecting to linux.seccomp.listenerPath {}",
                path.display()
            ),
            e,
        )
    })?;
    Ok(OwnedFd::from(stream))
}

// ANCHOR: send
/// Send `listener` with the container process state: the container's
/// state (as hooks get it), its process's host PID, the metadata.
pub fn send(socket: &OwnedFd, listener: &OwnedFd, state: &Value, metadata: &str) -> Result<()> {
    let message = json!({
        "ociVersion": crate::oci_state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": state["pid"],
        "metadata": metadata,
        "state": state,
    })
    .to_string();
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(message.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::syscall("sendmsg(listenerPath, SCM_RIGHTS [seccomp listener])", e))?;
    explain::syscall(
        "sendmsg(listenerPath, SCM_RIGHTS [seccomp listener])",
        message.len(),
    );
    Ok(())
}
// ANCHOR_END: send
