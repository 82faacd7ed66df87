//! `isolab run [FLAGS] -- CMD`: the front end's sequence. The config comes
//! from `front_end::build`; everything else is the OCI lifecycle an engine
//! drives (`create`, `start`, wait, `delete`), with the two things an
//! engine would do around it done here: the container's writable layer
//! (an overlay of the image, as docker's overlay2 driver makes one) before
//! `create`, and its network between `create` and `start`.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::front_end::{self, Plan};
use crate::lifecycle::{self, CreateOpts, command_bundle};
use crate::network_mode::NetworkMode;
use crate::overlay::Layers;
use crate::run_flags::RunFlags;
use crate::tty_relay;

// ANCHOR: run
pub fn run(
    root: &Path,
    flags: &RunFlags,
    command: &[String],
    opts: &CreateOpts,
    detach: bool,
) -> Result<i32> {
    let id = match &flags.name {
        Some(name) => name.clone(),
        None => format!("run-{}", crate::container::new_id()),
    };
    let bundle = command_bundle(root, &id);
    let plan = front_end::build(flags, command, root, &bundle, &id, opts.rootless)?;
    if flags.print_spec {
        let text = serde_json::to_string_pretty(&plan.spec).unwrap_or_default();
        crate::cli::outln(&text);
        return Ok(0);
    }
    if flags.tty && detach {
        return Err(Error::BadFlag(
            "-t with -d: isolab has no `attach` to reach that terminal later; drop -t".into(),
        ));
    }
    if lifecycle::dir_of(root, &id)?.exists() || bundle.exists() {
        return Err(Error::Request(format!(
            "container {id} exists: pick another --name, or isolab delete {id}"
        )));
    }
    sweep(root);
    if detach && crate::explain::enabled() && crate::explain::log_fd().is_none() {
        // --debug's narration stays on this terminal when the container's
        // stderr becomes its log (its own copy of the fd: see explain)
        if let Ok(fd) =
            nix::fcntl::fcntl(std::io::stderr(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        {
            // SAFETY: fcntl just made this fd, and nothing else owns it.
            let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            crate::explain::log_to(file, false);
        }
    }
    let mut relay = None;
    let result = set_up(root, &plan, &bundle, detach).and_then(|ip| {
        if !flags.interactive && !flags.tty {
            stdin_from_null()?;
        }

        let console = bundle.join("console.sock");
        let listener = flags.tty.then(|| tty_relay::listen(&console)).transpose()?;
        let opts = CreateOpts {
            bundle: bundle.clone(),
            console_socket: flags.tty.then_some(console),
            // -d: the container writes to a log of its own (`isolab
            // logs`), not to the terminal it was started from
            output: detach.then(|| plan.layer_dir.join("log")),
            ..opts.clone()
        };
        // 1. create: namespaces, mounts, cgroup; the process waits.
        // 2. the network, into its namespace; the terminal's master end.
        // 3. start; 4. wait, delete.
        lifecycle::run_with(root, &id, &opts, detach, |pid| {
            if let Some(ip) = ip {
                crate::bridge::attach(ip, pid.as_raw())?;
            }
            if let Some(listener) = &listener {
                relay = Some(tty_relay::start(
                    tty_relay::receive(listener)?,
                    flags.interactive,
                )?);
            }
            Ok(())
        })
    });
    if let Some(relay) = relay {
        relay.finish();
    }
    match &result {
        Ok(_) if detach => crate::cli::outln(&id), // for state, exec, kill, delete
        Ok(_) => {}
        Err(_) => teardown(root, &id),
    }
    result
}
// ANCHOR_END: run

/// Before `create`: the bundle, the writable layer, the network's lease.
fn set_up(
    root: &Path,
    plan: &Plan,
    bundle: &Path,
    detach: bool,
) -> Result<Option<std::net::Ipv4Addr>> {
    let io = |e| Error::io(format!("writing {}", bundle.display()), e);
    // who made it, so that a start after this runtime was killed can
    // sweep what it left. The bundle appears with its owner already in it
    // (made under a name of this runtime's, then renamed): another run's
    // sweep must never see a bundle without one, or it takes the bundle
    // for a killed runtime's and removes it (the chaos run found that).
    let me = std::process::id() as i32;
    let started = crate::container::start_time(me).unwrap_or(0);
    let making = root.join(format!(".new-{me}-{started}"));
    let owner = format!(
        "{me} {started} {}",
        if detach { "detached" } else { "foreground" }
    );
    let made = std::fs::create_dir_all(&making)
        .and_then(|()| std::fs::write(making.join("owner"), owner))
        .and_then(|()| {
            let layer = plan.layer_dir.as_os_str().as_encoded_bytes();
            std::fs::write(making.join(LAYER), layer)
        })
        .and_then(|()| std::fs::rename(&making, bundle));
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&making); // a full disk, say
        return Err(io(e));
    }
    std::fs::write(bundle.join("config.json"), plan.spec.to_string()).map_err(io)?;
    std::fs::create_dir_all(&plan.layer_dir)
        .map_err(|e| Error::io(format!("creating {}", plan.layer_dir.display()), e))?;
    if let Some(image) = &plan.overlay_of {
        let layers = Layers {
            merged: bundle.join("merged"),
            ..Layers::under(&plan.layer_dir)
        };
        layers.create()?;
        crate::overlay::mount_overlay(image, &layers)?;
    }
    if plan.network != NetworkMode::Bridge {
        return Ok(None);
    }
    let hostname = plan.spec["hostname"].as_str().unwrap_or("isolab");
    crate::bridge::prepare(root, &plan.id, hostname, bundle, &plan.publish).map(Some)
}

/// `isolab logs ID`: what a container of `run -d -- CMD` wrote.
pub fn logs(root: &Path, id: &str) -> Result<()> {
    lifecycle::load(root, id)?;
    let log = layer_of(&command_bundle(root, id))
        .unwrap_or_default()
        .join("log");
    let mut file = std::fs::File::open(&log).map_err(|_| {
        Error::Request(format!(
            "container {id} has no log: only `isolab run -d -- CMD` keeps one (an engine's container writes where its engine says)"
        ))
    })?;
    std::io::copy(&mut file, &mut std::io::stdout())
        .map(drop)
        .map_err(|e| Error::io("printing the log", e))
}

/// Without -i the command reads /dev/null, as docker's does: a container
/// in the background must not take the terminal's input.
fn stdin_from_null() -> Result<()> {
    let null = std::fs::File::open("/dev/null").map_err(|e| Error::io("opening /dev/null", e))?;
    nix::unistd::dup2_stdin(null).map_err(|e| Error::syscall("dup2(/dev/null, 0)", e))
}

// ANCHOR: teardown
/// What `delete` removes besides the OCI state, for a front-end
/// container: its network lease (and the bridge with the last one), its
/// writable layer, its bundle. Nothing to do for an engine's container.
pub fn teardown(root: &Path, id: &str) {
    let bundle = command_bundle(root, id);
    if let Err(e) = crate::bridge::release(root, id) {
        crate::cli::warn(&format!("isolab: releasing {id}'s network: {e}"));
    }
    if !bundle.exists() {
        return;
    }
    let merged = bundle.join("merged");
    // MNT_DETACH: a process of the container that is still exiting may
    // hold the mount; the kernel lets go of it when it is done.
    match nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {
            if let Some(layer) = layer_of(&bundle) {
                let _ = std::fs::remove_dir_all(layer);
            }
            let _ = std::fs::remove_dir_all(&bundle);
        }
        Err(e) => crate::cli::warn(&format!(
            "isolab: umount {}: {e}: left in place",
            merged.display()
        )),
    }
}
// ANCHOR_END: teardown

/// The bundle's file that names its layer directory.
const LAYER: &str = "layer";

/// The layer directory a bundle names: only a `<lib>/layers/<name>` one
/// (the file is ours, but a path is checked before a recursive remove).
fn layer_of(bundle: &Path) -> Option<std::path::PathBuf> {
    let text = std::fs::read(bundle.join(LAYER)).ok()?;
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&text));
    let in_layers = path.parent().and_then(|p| p.file_name()) == Some("layers".as_ref());
    (path.is_absolute() && in_layers && !text.contains(&b'\n')).then_some(path)
}

/// The cgroup a container of `bundle`'s config.json would have (with the
/// processes in it, killed: an init whose runtime died mid-create).
fn remove_cgroup(bundle: &Path, id: &str) {
    let config: serde_json::Value = std::fs::read_to_string(bundle.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let path = config["linux"]["cgroupsPath"].as_str();
    if let (Ok(name), Ok(layout)) = (
        crate::cgroups_path::resolve(path, false, id),
        crate::cgroup::Layout::detect(),
    ) {
        crate::cgroup_sweep::remove_named(&layout, &name);
    }
}

/// What front-end runs left when their runtime was killed: a bundle whose
/// container was never created (and its cgroup), a foreground container
/// (its runtime would have deleted it) that has stopped or was never
/// started, a state file half written. A detached one stays until
/// `isolab delete`, as docker's stays until `docker rm`. Every `run`
/// sweeps first, and so does `isolab cleanup`.
pub fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name
            .strip_suffix(".tmp")
            .and_then(|n| n.rsplit('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        {
            // a state file a killed runtime was writing (lifecycle's
            // `.ID.PID.tmp`): kill(pid, 0) says whether it still may be
            if name.starts_with('.')
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    == Err(nix::errno::Errno::ESRCH)
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
            continue;
        }
        if let Some(making) = name.strip_prefix(".new-") {
            // a runtime killed between making its bundle and naming it
            let (pid, started) = making.split_once('-').unwrap_or_default();
            if let (Ok(pid), Ok(started)) = (pid.parse(), started.parse())
                && !crate::oci_state::alive(pid, started)
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
            continue;
        }
        let Some(id) = name.strip_prefix(".bundle-") else {
            continue;
        };
        let owner = std::fs::read_to_string(entry.path().join("owner")).unwrap_or_default();
        let words: Vec<&str> = owner.split_whitespace().collect();
        let num = |i: usize| {
            words
                .get(i)
                .and_then(|w| w.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if num(0) > 0 && crate::oci_state::alive(num(0) as i32, num(1)) {
            continue; // its runtime is at work
        }
        match lifecycle::load(root, id) {
            Err(_) if !root.join(id).exists() => {
                // killed before the container's state was written: the
                // cgroup `create` may have made goes too (its undo never
                // ran; the chaos run found such cgroups left)
                remove_cgroup(&entry.path(), id);
                teardown(root, id)
            }
            // stopped, or created and never started (its init waits on
            // exec.fifo for a `start` no one will send)
            Ok((_, record))
                if words.get(2) == Some(&"foreground")
                    && matches!(
                        record.status,
                        crate::oci_state::Status::Stopped | crate::oci_state::Status::Created
                    ) =>
            {
                crate::explain::note(&format!("sweeping {id}: its runtime was killed"));
                let _ = lifecycle::delete(root, id, true);
            }
            _ => {}
        }
    }
}
