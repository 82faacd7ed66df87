//! Turning a [`Comparison`] into a table for people or JSON for programs.
//!
//! Rows that differ are marked with `*` in the first column, and also
//! colored on a terminal (never when NO_COLOR is set or output is piped).

use colored::Colorize;

use super::capability::{cap_last_cap, full_mask, summary};
use super::{Comparison, Snapshot};

/// One line of the comparison: a stable key (used in JSON's `differs`), a
/// label for people, and both values as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub container: String,
    pub host: String,
    pub differs: bool,
}

fn row(key: &str, label: &str, container: String, host: String) -> Row {
    let differs = container != host;
    Row {
        key: key.into(),
        label: label.into(),
        container,
        host,
        differs,
    }
}

/// A row that names the process rather than describing its isolation (two
/// processes always have different PIDs): never marked.
fn identity(key: &str, label: &str, container: String, host: String) -> Row {
    Row {
        differs: false,
        ..row(key, label, container, host)
    }
}

fn join<T: ToString>(items: &[T], sep: &str) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(sep)
}

/// The rows of the comparison, in the order the book explains them.
pub fn rows(c: &Snapshot, h: &Snapshot) -> Vec<Row> {
    let full = full_mask(cap_last_cap());
    let ids = |i: &super::Ids| format!("{} {} {} {}", i.real, i.effective, i.saved, i.fs);
    let mut rows = vec![
        identity("pid", "PID", c.pid.to_string(), h.pid.to_string()),
        identity("comm", "comm", c.comm.clone(), h.comm.clone()),
        identity("ppid", "PPid", c.ppid.to_string(), h.ppid.to_string()),
        Row {
            // Nested PID namespaces show as more NSpid entries.
            differs: c.nspid.len() != h.nspid.len(),
            ..row("nspid", "NSpid", join(&c.nspid, " "), join(&h.nspid, " "))
        },
        row("uid", "Uid r/e/s/fs", ids(&c.uid), ids(&h.uid)),
        row("gid", "Gid r/e/s/fs", ids(&c.gid), ids(&h.gid)),
        row(
            "groups",
            "Groups",
            join(&c.groups, " "),
            join(&h.groups, " "),
        ),
    ];
    let caps = [
        (
            "inheritable",
            "CapInh",
            &c.capabilities.inheritable,
            &h.capabilities.inheritable,
        ),
        (
            "permitted",
            "CapPrm",
            &c.capabilities.permitted,
            &h.capabilities.permitted,
        ),
        (
            "effective",
            "CapEff",
            &c.capabilities.effective,
            &h.capabilities.effective,
        ),
        (
            "bounding",
            "CapBnd",
            &c.capabilities.bounding,
            &h.capabilities.bounding,
        ),
        (
            "ambient",
            "CapAmb",
            &c.capabilities.ambient,
            &h.capabilities.ambient,
        ),
    ];
    for (key, label, cs, hs) in caps {
        let show = |set: &super::CapSet| {
            let mask = u64::from_str_radix(&set.hex, 16).unwrap_or(0);
            format!("{} {}", set.hex, summary(mask, full))
        };
        rows.push(row(&format!("cap.{key}"), label, show(cs), show(hs)));
    }
    rows.push(row(
        "no_new_privs",
        "NoNewPrivs",
        u8::from(c.no_new_privs).to_string(),
        u8::from(h.no_new_privs).to_string(),
    ));
    let seccomp = |s: &Snapshot| format!("{} ({} filters)", s.seccomp.mode, s.seccomp.filters);
    rows.push(row("seccomp", "Seccomp", seccomp(c), seccomp(h)));
    for kind in super::ns::TYPES {
        // A link we may not read (another user's process, or PID 1 in some
        // sandboxes) is shown as such, never compared.
        let (c_ino, h_ino) = (c.namespaces.get(kind), h.namespaces.get(kind));
        let show = |ino: Option<&u64>| ino.map_or("unreadable".to_string(), u64::to_string);
        let (container, differs) = match (c_ino, h_ino) {
            (Some(ci), Some(hi)) => {
                let mark = if ci == hi { "host" } else { "new" };
                (format!("{ci} {mark}"), ci != hi)
            }
            _ => (show(c_ino), false),
        };
        rows.push(Row {
            differs,
            ..row(
                &format!("ns.{kind}"),
                &format!("ns/{kind}"),
                container,
                show(h_ino),
            )
        });
    }
    rows.push(row(
        "cgroup",
        "cgroup",
        c.cgroups.join("\n"),
        h.cgroups.join("\n"),
    ));
    rows.push(row(
        "uid_map",
        "uid_map",
        c.uid_map.join("\n"),
        h.uid_map.join("\n"),
    ));
    rows.push(row(
        "gid_map",
        "gid_map",
        c.gid_map.join("\n"),
        h.gid_map.join("\n"),
    ));
    let root = |s: &Snapshot| match &s.root_mount {
        Some(m) => format!("#{} {} {} {}", m.mount_id, m.source, m.fstype, m.root),
        None => "unreadable".into(),
    };
    rows.push(row("root_mount", "root mount", root(c), root(h)));
    let lsm = |s: &Snapshot| s.lsm_label.clone().unwrap_or_else(|| "none".into());
    rows.push(row("lsm", "LSM label", lsm(c), lsm(h)));
    rows
}

/// Width of each value column before wrapping (the container's column
/// grows to fit its longest word).
const VALUE_WIDTH: usize = 38;

/// Split a value into lines no wider than `width`, at spaces where it can.
fn wrap(value: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in value.split('\n') {
        let mut current = String::new();
        // Words are never cut: a long cgroup path overflows its column
        // rather than being split mid-name.
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > width {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push(current);
    }
    out
}

/// The comparison as a table. `color` picks terminal colors over plain text.
pub fn table(cmp: &Comparison, color: bool) -> String {
    let rows = rows(&cmp.container, &cmp.host);
    let label_w = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    // Wide enough for the longest word on the container's side (a cgroup
    // path), so the host column stays aligned.
    let width = rows
        .iter()
        .flat_map(|r| r.container.split(['\n', ' ']))
        .map(str::len)
        .max()
        .unwrap_or(0)
        .max(VALUE_WIDTH);
    let mut out = String::new();
    let head_c = format!("container (PID {})", cmp.container.pid);
    let head_h = format!("host (PID {})", cmp.host.pid);
    let header = format!("  {:label_w$}  {head_c:width$}  {head_h}", "");
    out.push_str(&if color {
        header.bold().to_string()
    } else {
        header
    });
    out.push('\n');
    for r in &rows {
        let left = wrap(&r.container, width);
        let right = wrap(&r.host, VALUE_WIDTH);
        for i in 0..left.len().max(right.len()) {
            let mark = if r.differs && i == 0 { "*" } else { " " };
            let label = if i == 0 { r.label.as_str() } else { "" };
            let l = left.get(i).map(String::as_str).unwrap_or("");
            let rt = right.get(i).map(String::as_str).unwrap_or("");
            let line = format!("{mark} {label:label_w$}  {l:width$}  {rt}");
            let line = line.trim_end().to_string();
            if color && r.differs {
                out.push_str(&line.yellow().bold().to_string());
            } else {
                out.push_str(&line);
            }
            out.push('\n');
        }
    }
    out.push_str("* = differs from the host process\n");
    out
}

/// The comparison as pretty JSON (stable field names; see [`Snapshot`]).
pub fn json(cmp: &Comparison) -> String {
    serde_json::to_string_pretty(cmp).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Snapshot;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("a b c", 3), vec!["a b", "c"]);
        assert_eq!(wrap("one\ntwo", 10), vec!["one", "two"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("abcdefg x", 3), vec!["abcdefg", "x"]);
    }

    #[test]
    fn marks_a_new_namespace_and_nothing_else() {
        let me = Snapshot::read(std::process::id() as i32).unwrap();
        let mut other = me.clone();
        other.pid += 1;
        *other.namespaces.get_mut("uts").unwrap() += 1;
        let cmp = Comparison::new(other, me);
        assert_eq!(cmp.differs, vec!["ns.uts".to_string()]);
        assert_eq!(cmp.namespaces["uts"], "new");
        assert_eq!(cmp.namespaces["pid"], "host");
        let text = table(&cmp, false);
        let uts = text.lines().find(|l| l.contains("ns/uts")).unwrap();
        assert!(uts.starts_with('*') && uts.contains(" new"), "{uts}");
        let pid = text.lines().find(|l| l.contains("ns/pid")).unwrap();
        assert!(pid.starts_with(' ') && pid.contains(" host"), "{pid}");
        assert!(!text.contains('\x1b'), "plain text has no escapes");
    }
}
