//! The root filesystem: which one to use, and the default one built from
//! the host.
//!
//! With no `--rootfs`, isolab builds a small rootfs once and caches it, so
//! `run -- /bin/sh` works on a fresh machine without a network: a fixed
//! list of host programs, each with the loader and libraries its ELF file
//! names, or, on a host whose basic programs are busybox applets (Alpine, an
//! initramfs), busybox and its applets. A host that has both gets the host
//! programs, so installing busybox changes nothing. The
//! cache is built in a temporary directory and renamed into place, so a
//! half-built rootfs is never used; one without the completion marker is
//! rebuilt.

use std::path::{Component, Path, PathBuf};

use crate::elf;
use crate::error::{Error, Result};
use crate::explain;
use crate::state::State;

/// Programs copied from the host when there is no busybox.
pub const HOST_PROGRAMS: [&str; 41] = [
    "sh", "ls", "cat", "ps", "id", "hostname", "mount", "umount", "sleep", "echo", "env", "mkdir",
    "rm", "touch", "grep", "head", "tail", "wc", "uname", "stat", "readlink", "ln", "cp", "mv",
    "chmod", "kill", "true", "false", "test", "df", "pwd", "sed", "tr", "findmnt", "find",
    "chroot", "timeout", "seq", "chown", "date", "mknod",
];

/// Written last into a finished rootfs.
pub const COMPLETE: &str = ".isolab-complete";

/// The builder's version, written into [`COMPLETE`]: a cache built by an
/// older builder (other programs, other directories) is rebuilt.
pub const BUILD_VERSION: &str = "isolab default rootfs 5";

const SEARCH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Pick the rootfs: a path, a name of an imported image, or the default.
pub fn choose(arg: Option<&str>, state: &State) -> Result<PathBuf> {
    let path = match arg {
        None => return default_rootfs(state),
        Some(a) if a.contains('/') || a == "." => PathBuf::from(a),
        Some(name) => state.images().join(name),
    };
    let meta = std::fs::metadata(&path).map_err(|_| match arg {
        // A bare name is an image name; the user may have meant a folder.
        Some(name) if !name.contains('/') && Path::new(name).is_dir() => Error::Request(format!(
            "there is no image named {name:?} (`rootfs list` names them): for the directory {name} here, write ./{name}"
        )),
        _ => Error::Request(format!(
            "rootfs {} does not exist: give a directory, or a name from `rootfs list`",
            path.display()
        )),
    })?;
    if !meta.is_dir() {
        return Err(Error::Request(format!(
            "rootfs {} is not a directory: unpack a tarball with `rootfs import`",
            path.display()
        )));
    }
    std::fs::canonicalize(&path).map_err(|e| Error::io(format!("resolving {}", path.display()), e))
}

/// Step 3's rootfs: a path or image name as [`choose`] takes it, or by
/// default an image of its own, `step03`, built like the default one. Step 3
/// mounts its rootfs writable (a per-container layer comes in step 4), so a
/// container there changes the image itself; the default image that steps 4
/// and later start from must never be that one.
pub fn choose_writable(arg: Option<&str>, state: &State) -> Result<PathBuf> {
    match arg {
        Some(_) => choose(arg, state),
        None => built_image(state, "step03"),
    }
}

// ANCHOR: cache
/// The default rootfs, built on first use.
pub fn default_rootfs(state: &State) -> Result<PathBuf> {
    built_image(state, "default")
}

/// The image `name`, built from the host on first use (or rebuilt when an
/// older isolab built it).
fn built_image(state: &State, name: &str) -> Result<PathBuf> {
    let dir = state.images().join(name);
    let marker = std::fs::read_to_string(dir.join(COMPLETE)).unwrap_or_default();
    if marker.trim() == BUILD_VERSION {
        return Ok(dir);
    }
    if dir.exists() {
        explain::note(&format!(
            "{} is incomplete or from an older isolab: rebuilding it",
            dir.display()
        ));
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
    }
    let tmp = state
        .images()
        .join(format!(".{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
    if let Err(e) = build(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // rename(2) is atomic: others see no rootfs or a complete one. If
    // another run finished first, use theirs.
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join(COMPLETE).exists() {
            return Err(Error::io(
                format!("renaming the new rootfs to {}", dir.display()),
                e,
            ));
        }
    }
    Ok(dir)
}
// ANCHOR_END: cache

/// Build a rootfs from the host into `dir`.
pub fn build(dir: &Path) -> Result<()> {
    let fail = |what: String| move |e: std::io::Error| Error::io(what.clone(), e);
    for d in ["proc", "sys", "dev", "etc", "root", "tmp", "mnt", "run"] {
        std::fs::create_dir_all(dir.join(d)).map_err(fail(format!("creating {d}")))?;
    }
    set_mode(&dir.join("tmp"), 0o1777)?;
    set_mode(&dir.join("root"), 0o700)?;
    // Merged-/usr hosts have /bin -> usr/bin and so on: keep that shape, so
    // programs are found at the paths their scripts and loaders expect.
    for top in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
        if std::fs::symlink_metadata(top)
            .map(|m| m.is_symlink())
            .unwrap_or(false)
        {
            copy_path(Path::new(top), dir, 0)?;
        }
    }
    let programs: Vec<PathBuf> = match pick_source(find) {
        Source::Busybox(busybox) => {
            explain::note(&format!(
                "building the default rootfs from {} (the host's basic programs are busybox applets)",
                busybox.display()
            ));
            install_busybox(&busybox, dir)?;
            vec![busybox]
        }
        Source::HostPrograms => {
            explain::note("building the default rootfs from host programs");
            HOST_PROGRAMS.iter().filter_map(|p| find(p)).collect()
        }
    };
    if !programs
        .iter()
        .any(|p| p.ends_with("sh") || p.ends_with("busybox"))
    {
        return Err(Error::Unsupported(
            "the host has no /bin/sh to build a default rootfs from: pass --rootfs".into(),
        ));
    }
    for program in &programs {
        copy_path(program, dir, 0)?;
        for needed in elf::closure(program).map_err(Error::Request)? {
            copy_path(&needed, dir, 0)?;
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .map_err(fail("writing etc/passwd".into()))?;
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )
    .map_err(fail("writing etc/group".into()))?;
    std::fs::write(dir.join(COMPLETE), format!("{BUILD_VERSION}\n"))
        .map_err(fail("writing the marker".into()))
}

/// Where the default rootfs comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// [`HOST_PROGRAMS`], as the host has them.
    HostPrograms,
    /// busybox at this path, and its applets.
    Busybox(PathBuf),
}

// ANCHOR: pick_source
/// Host programs when the host has its own (not busybox applets) sh, ls,
/// cat and id; busybox only where those are busybox or missing. So the
/// default image, and every test and transcript that runs in it, does not
/// change when someone installs busybox next to coreutils. `find` looks a
/// program up (the real one is [`find`]).
pub fn pick_source(find: impl Fn(&str) -> Option<PathBuf>) -> Source {
    let is_busybox = |p: &Path| {
        std::fs::canonicalize(p)
            .ok()
            .and_then(|c| {
                c.file_name()
                    .map(|n| n.to_string_lossy().starts_with("busybox"))
            })
            .unwrap_or(false)
    };
    let own = ["sh", "ls", "cat", "id"]
        .iter()
        .all(|name| find(name).is_some_and(|p| !is_busybox(&p)));
    match find("busybox") {
        Some(busybox) if !own => Source::Busybox(busybox),
        _ => Source::HostPrograms,
    }
}
// ANCHOR_END: pick_source

fn install_busybox(busybox: &Path, dir: &Path) -> Result<()> {
    let target = dir.join("bin/busybox");
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| Error::io("creating bin", e))?;
    std::fs::copy(busybox, &target).map_err(|e| Error::io("copying busybox", e))?;
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| Error::io("running busybox --list", e))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = dir.join("bin").join(applet);
        if applet != "busybox" && std::fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink("busybox", link);
        }
    }
    Ok(())
}

/// The host path of a program, searched in the usual bin dirs.
pub fn find(name: &str) -> Option<PathBuf> {
    SEARCH
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

/// Lexically clean a path: drop `.`, apply `..` (system paths only).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Copy host file `host` to the same path under `root`, recreating every
/// symlink met on the way (so /lib64/ld-linux-x86-64.so.2 arrives as the
/// same chain of links and one real file).
pub fn copy_path(host: &Path, root: &Path, depth: u32) -> Result<()> {
    if depth > 16 {
        return Err(Error::Request(format!(
            "too many symlinks resolving {}",
            host.display()
        )));
    }
    let host = normalize(host);
    let parts: Vec<Component> = host.components().skip(1).collect();
    let mut cur = PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        let next = cur.join(part);
        let dst = root.join(next.strip_prefix("/").unwrap_or(&next));
        let meta = std::fs::symlink_metadata(&next)
            .map_err(|e| Error::io(format!("reading {}", next.display()), e))?;
        let last = i + 1 == parts.len();
        if meta.is_symlink() {
            let target = std::fs::read_link(&next)
                .map_err(|e| Error::io(format!("readlink {}", next.display()), e))?;
            if std::fs::symlink_metadata(&dst).is_err() {
                if let Some(parent) = dst.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
                }
                std::os::unix::fs::symlink(&target, &dst)
                    .map_err(|e| Error::io(format!("symlink {}", dst.display()), e))?;
            }
            let rest: PathBuf = parts[i + 1..].iter().collect();
            let resolved = if target.is_absolute() {
                target
            } else {
                cur.join(target)
            };
            return copy_path(&resolved.join(rest), root, depth + 1);
        }
        if last && !meta.is_dir() {
            if std::fs::symlink_metadata(&dst).is_err() {
                std::fs::copy(&next, &dst)
                    .map_err(|e| Error::io(format!("copying {}", next.display()), e))?;
            }
        } else if std::fs::symlink_metadata(&dst).is_err() {
            std::fs::create_dir_all(&dst)
                .map_err(|e| Error::io(format!("creating {}", dst.display()), e))?;
        }
        cur = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn busybox_next_to_host_programs_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("isolab-source-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("coreutils")).unwrap();
        std::fs::create_dir_all(dir.join("bb")).unwrap();
        std::fs::write(dir.join("bb/busybox"), "").unwrap();
        for name in ["sh", "ls", "cat", "id"] {
            std::fs::write(dir.join("coreutils").join(name), "").unwrap();
            std::os::unix::fs::symlink(dir.join("bb/busybox"), dir.join("bb").join(name)).unwrap();
        }
        let in_dir = |sub: &'static str| {
            let dir = dir.clone();
            move |name: &str| Some(dir.join(sub).join(name)).filter(|p| p.exists())
        };
        let busybox = dir.join("bb/busybox");
        // coreutils and busybox both installed: the host's programs.
        let both = |name: &str| in_dir("coreutils")(name).or_else(|| in_dir("bb")(name));
        let with_both = pick_source(both);
        // Only busybox (Alpine, an initramfs): busybox.
        let only = pick_source(in_dir("bb"));
        // No busybox at all: the host's programs.
        let none = pick_source(in_dir("coreutils"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(with_both, Source::HostPrograms);
        assert_eq!(only, Source::Busybox(busybox));
        assert_eq!(none, Source::HostPrograms);
    }

    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize(Path::new("/usr/bin/../lib/./x")),
            PathBuf::from("/usr/lib/x")
        );
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
    }

    #[test]
    fn builds_a_rootfs_with_a_working_shell_closure() {
        let dir = std::env::temp_dir().join(format!("isolab-rootfs-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        build(&dir).unwrap();
        assert!(dir.join(COMPLETE).exists());
        // /bin/sh is there (through relative links, as on Debian).
        assert!(std::fs::metadata(dir.join("bin/sh")).unwrap().is_file());
        assert!(
            std::fs::read_to_string(dir.join("etc/passwd"))
                .unwrap()
                .starts_with("root:")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
