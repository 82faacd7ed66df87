//! The facts of the recording machine that show in transcripts.
//!
//! A transcript is real output, and some of it is the machine's: its cgroup
//! layout (hybrid here, pure v2 on most laptops), its root filesystem, the
//! capability bounding set the runtime starts with, the shell and programs
//! the default image is built from. Redacting all of that would hide what
//! the book is about. Instead the recorder writes these facts next to the
//! transcripts (`recorded-on.txt`), and:
//!
//! - on a machine with the same facts, the check is exact;
//! - on another machine it runs every command and fails only on what can't
//!   be right anywhere (a hang, a panic), saying loudly which facts differ;
//! - recording on another kind of machine is refused unless asked for
//!   (`--new-host`), so an attendee's laptop never slips into the book.

use std::path::{Path, PathBuf};

/// `key: value` facts, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile(pub Vec<(String, String)>);

/// Where the recording machine's profile is kept.
pub fn stored_path() -> PathBuf {
    crate::book_dir().join("transcripts/recorded-on.txt")
}

impl Profile {
    /// This machine's facts.
    pub fn this_host() -> Profile {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let cap_bnd = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .unwrap_or("")
            .trim()
            .to_string();
        let sh = std::fs::canonicalize("/bin/sh")
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "none".into());
        let image = match step03_mount_pivot::rootfs::pick_source(step03_mount_pivot::rootfs::find)
        {
            step03_mount_pivot::rootfs::Source::HostPrograms => "host programs".to_string(),
            step03_mount_pivot::rootfs::Source::Busybox(_) => "busybox".to_string(),
        };
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .map(|s| s.trim() == "Y")
            .unwrap_or(false);
        Profile(vec![
            ("cgroups".into(), cgroups(&mountinfo)),
            ("root filesystem".into(), root_fs(&mountinfo)),
            ("capability bounding set".into(), cap_bnd),
            ("/bin/sh".into(), sh),
            ("default image".into(), image),
            (
                "apparmor".into(),
                if apparmor { "on" } else { "off" }.into(),
            ),
            ("landlock ABI".into(), landlock_abi().to_string()),
        ])
    }

    /// Parse `recorded-on.txt`.
    pub fn parse(text: &str) -> Profile {
        Profile(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The text of `recorded-on.txt`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# The machine the transcripts were recorded on (book/tools/src/profile.rs).\n",
        );
        for (k, v) in &self.0 {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out
    }

    /// The stored profile, if there is one.
    pub fn stored() -> Option<Profile> {
        std::fs::read_to_string(stored_path())
            .ok()
            .map(|t| Profile::parse(&t))
    }

    /// The facts where `other` differs, as "key: ours vs theirs".
    pub fn differences(&self, other: &Profile) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            let theirs = other
                .0
                .iter()
                .find(|(ok, _)| ok == k)
                .map(|(_, ov)| ov.as_str())
                .unwrap_or("(not recorded)");
            if theirs != v {
                out.push(format!("{k}: here {v:?}, recorded on {theirs:?}"));
            }
        }
        out
    }
}

/// This kernel's Landlock ABI version, 0 without Landlock (step 9's
/// transcripts say how fully the ruleset was enforced).
fn landlock_abi() -> i64 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION (1) with NULL and 0 only asks
    // for the version.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) };
    v.max(0)
}

/// "v2", "v1 (cpu memory …)" or "hybrid (v1: …; v2)": which hierarchies
/// are mounted where the inspector and step 5 look.
pub fn cgroups(mountinfo: &str) -> String {
    let mut v1: Vec<String> = Vec::new();
    let mut v2 = false;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = left.split_whitespace().nth(4).unwrap_or("");
        if !point.starts_with("/sys/fs/cgroup") {
            continue;
        }
        match right.split_whitespace().next() {
            Some("cgroup2") => v2 = true,
            Some("cgroup") => v1.push(
                Path::new(point)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => {}
        }
    }
    v1.sort();
    match (v1.is_empty(), v2) {
        (true, true) => "v2".into(),
        (false, false) => format!("v1 ({})", v1.join(" ")),
        (false, true) => format!("hybrid (v1: {}; v2)", v1.join(" ")),
        (true, false) => "none".into(),
    }
}

/// The filesystem type, source and superblock options of the mount at /.
pub fn root_fs(mountinfo: &str) -> String {
    mountinfo
        .lines()
        .filter_map(|l| l.split_once(" - "))
        .filter(|(left, _)| left.split_whitespace().nth(4) == Some("/"))
        .map(|(_, right)| right.to_string())
        .next_back()
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_root() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n\
                      32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                      25 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
        assert_eq!(cgroups(hybrid), "hybrid (v1: memory; v2)");
        assert_eq!(root_fs(hybrid), "ext4 /dev/vda rw");
        assert_eq!(
            cgroups("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"),
            "v2"
        );
    }

    #[test]
    fn round_trip_and_differences() {
        let a = Profile(vec![
            ("cgroups".into(), "v2".into()),
            ("x".into(), "1".into()),
        ]);
        assert_eq!(Profile::parse(&a.render()), a);
        let b = Profile(vec![
            ("cgroups".into(), "v2".into()),
            ("x".into(), "2".into()),
        ]);
        assert_eq!(a.differences(&b).len(), 1);
        assert!(a.differences(&a).is_empty());
    }
}
