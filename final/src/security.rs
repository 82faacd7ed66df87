//! config.json's seccomp filter and LSM labels, prepared by `create` with
//! step 8's and step 9's code: the filter compiled in the runtime (once
//! per profile, capabilities and kernel: then cached), the labels checked
//! against the host before anything is made.

use std::path::Path;

use crate::bpf::Program;
use crate::bundle::Config;
use crate::error::{Error, Result};
use crate::selinux::Contexts;
use crate::{profile, profile_file};

// ANCHOR: seccomp
/// `linux.seccomp`, compiled for this container's bounding set; `None`
/// without one (runc's default config has none: engines add theirs).
pub fn seccomp(config: &Config) -> Result<Option<Program>> {
    let Some(json) = &config.seccomp else {
        return Ok(None);
    };
    let caps = crate::cap_sets::known(&config.bounding);
    let container = profile_file::Container {
        caps: &caps,
        kernel: profile_file::kernel_version(),
    };
    let name = "config.json linux.seccomp";
    // The agent's fields are the runtime's business, not the filter's.
    let mut json = json.clone();
    if let Some(fields) = json.as_object_mut() {
        fields.remove("listenerPath");
        fields.remove("listenerMetadata");
    }
    // Compiling takes milliseconds, more than the rest of a start: the
    // program is cached under everything it depends on (step 8's cache;
    // crun keeps one too). The profile's text is hashed as serde_json
    // writes it, so the same profile in another layout is the same key.
    let caps_text = format!("{caps:?}");
    let kernel = format!("{:?}", container.kernel);
    let key = crate::cache::key(&[
        &json.to_string(),
        &caps_text,
        &kernel,
        &profile::fingerprint(),
    ]);
    let state = crate::state::State::new(None);
    let filter = crate::cache::get_or_compile(&state, key, || {
        profile::compile(&profile_file::build(Path::new(name), &json, &container)?)
    })?;
    let mut program = Program::new(filter, name);
    // SCMP_ACT_NOTIFY goes to an agent: a listener fd for it
    program.notify = config.seccomp_listener.is_some();
    Ok(Some(program))
}
// ANCHOR_END: seccomp

/// `process.selinuxLabel` (a whole context) and `linux.mountLabel`, each
/// checked against the loaded policy by step 9's code.
pub fn selinux(config: &Config) -> Result<Option<Contexts>> {
    let Some(label) = &config.selinux_label else {
        return Ok(None);
    };
    if !crate::selinux::enabled() {
        return Err(Error::Request(format!(
            "config.json: process.selinuxLabel {label}: SELinux is not enabled on this host"
        )));
    }
    for context in std::iter::once(label).chain(config.mount_label.as_ref()) {
        crate::selinux::check(context)?;
    }
    // The mount label goes on the mounts themselves (`context=`), when
    // config.json gives one.
    Ok(Some(Contexts {
        process: label.clone(),
        mount: config.mount_label.clone().unwrap_or_default(),
    }))
}
