//! Namespace links: /proc/PID/ns/<type> -> `<type>:[<inode>]`.
//!
//! Each namespace is a kernel object; the inode number in the link names it.
//! Two processes are in the same namespace exactly when their links show the
//! same inode (on the same nsfs device).

use std::path::Path;

/// The eight namespace types, in the order `ls /proc/self/ns` shows them.
pub const TYPES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Parse a link target such as `uts:[4026531838]` into its type and inode.
pub fn parse_link(target: &str) -> Option<(&str, u64)> {
    let (kind, rest) = target.split_once(":[")?;
    let inode = rest.strip_suffix(']')?.parse().ok()?;
    if kind.is_empty() {
        return None;
    }
    Some((kind, inode))
}

// ANCHOR: inode
/// Read the inode of one namespace of a process from its /proc link.
pub fn inode(proc_dir: &Path, kind: &str) -> std::io::Result<u64> {
    let target = std::fs::read_link(proc_dir.join("ns").join(kind))?;
    let text = target.to_string_lossy();
    parse_link(&text).map(|(_, ino)| ino).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected namespace link {text:?}"),
        )
    })
}
// ANCHOR_END: inode

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links() {
        assert_eq!(parse_link("uts:[4026531838]"), Some(("uts", 4026531838)));
        assert_eq!(
            parse_link("pid_for_children:[4026532290]"),
            Some(("pid_for_children", 4026532290))
        );
        assert_eq!(parse_link("uts:4026531838"), None);
        assert_eq!(parse_link(":[1]"), None);
        assert_eq!(parse_link("net:[x]"), None);
    }

    #[test]
    fn reads_our_own_links() {
        let me = Path::new("/proc/self");
        for kind in TYPES {
            assert!(inode(me, kind).unwrap() > 0, "{kind}");
        }
    }
}
