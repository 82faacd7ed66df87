//! `linux.cgroupsPath`: where in the cgroup hierarchies an engine wants
//! the container (docker's cgroupfs driver says `/docker/ID`, its systemd
//! driver `system.slice:docker:ID`). isolab makes the directories itself,
//! in every hierarchy it uses (step 5), in both forms.

use crate::error::{Error, Result};

// ANCHOR: resolve
/// The cgroup of container `id`, as a path below each hierarchy's root.
/// Without cgroupsPath: `isolab-ID`, as the steps name theirs. With
/// `--systemd-cgroup` the path is `slice:prefix:name`, which systemd would
/// run as the unit `prefix-name.scope` in that slice; isolab puts the
/// cgroup where that unit's would be, without asking systemd (and says so).
pub fn resolve(path: Option<&str>, systemd: bool, id: &str) -> Result<String> {
    let bad = |why: String| Error::Request(format!("config.json: linux.cgroupsPath: {why}"));
    let Some(path) = path else {
        return Ok(crate::cgroup::name_for(id));
    };
    if !systemd {
        if path.contains(':') {
            return Err(bad(format!(
                "{path:?} is systemd's slice:prefix:name form: pass --systemd-cgroup"
            )));
        }
        // Relative or absolute, it is below the hierarchy's root: isolab
        // has no cgroup of its own to put a relative one under.
        return Ok(path.trim_matches('/').to_string());
    }
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad(format!(
            "{path:?}: with --systemd-cgroup it must be slice:prefix:name"
        )));
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    let dir = if unit.ends_with(".slice") {
        expand_slice(&unit).map_err(bad)?
    } else {
        format!("{}/{unit}", expand_slice(slice).map_err(bad)?)
    };
    crate::cli::warn(&format!(
        "note: --systemd-cgroup: isolab makes the cgroup {dir} itself; systemd is not asked for a {unit} unit"
    ));
    Ok(dir.trim_matches('/').to_string())
}
// ANCHOR_END: resolve

/// A slice's directory: systemd nests `a-b.slice` in `a.slice`
/// (systemd.slice(5)); `-.slice` is the root.
fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err(format!("{slice:?} is no slice name (NAME.slice)"));
    };
    if base == "-" {
        return Ok(String::new());
    }
    if base.is_empty() || base.starts_with('-') || base.ends_with('-') || base.contains("--") {
        return Err(format!("{slice:?}: not a valid slice name"));
    }
    if base.contains('/') {
        return Err(format!("{slice:?}: a slice name has no /"));
    }
    let mut dir = String::new();
    let mut so_far = String::new();
    for part in base.split('-') {
        if !so_far.is_empty() {
            so_far.push('-');
        }
        so_far.push_str(part);
        dir.push_str(&format!("{so_far}.slice/"));
    }
    Ok(dir.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroupfs_paths_are_below_the_root() {
        assert_eq!(resolve(None, false, "c1").unwrap(), "isolab-c1");
        assert_eq!(
            resolve(Some("/docker/c1"), false, "c1").unwrap(),
            "docker/c1"
        );
        assert_eq!(resolve(Some("pods/c1"), false, "c1").unwrap(), "pods/c1");
        let err = resolve(Some("system.slice:docker:c1"), false, "c1").unwrap_err();
        assert!(err.to_string().contains("--systemd-cgroup"), "{err}");
    }

    #[test]
    fn systemd_paths_become_the_units_directories() {
        assert_eq!(
            resolve(Some("system.slice:docker:c1"), true, "c1").unwrap(),
            "system.slice/docker-c1.scope"
        );
        assert_eq!(
            resolve(Some("machine-test.slice:libpod:c1"), true, "c1").unwrap(),
            "machine.slice/machine-test.slice/libpod-c1.scope"
        );
        assert_eq!(
            resolve(Some(":isolab:c1"), true, "c1").unwrap(),
            "system.slice/isolab-c1.scope"
        );
        assert_eq!(
            resolve(Some("-.slice::c1"), true, "c1").unwrap(),
            "c1.scope"
        );
        for bad in ["docker/c1", "a:b", "x.service:p:c1", "a--b.slice:p:c1"] {
            assert!(resolve(Some(bad), true, "c1").is_err(), "{bad}");
        }
    }
}
