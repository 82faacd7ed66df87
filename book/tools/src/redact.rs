//! Redaction: replace what really varies between runs with named
//! placeholders, and nothing else.
//!
//! What varies: host PIDs, namespace inode numbers of new namespaces, mount
//! IDs, container and other random ids, measured times and sizes, the
//! host's own cgroups, hostname and init.
//! Each distinct value gets a numbered placeholder in order of appearance
//! (`[PID1]`, `[PID2]`, `[INO1]`), so a transcript still shows which numbers
//! are the same: the PID that clone returned is the PID the inspector shows.
//! Table columns stay aligned: a placeholder longer than its value eats
//! spaces that follow it.

use std::collections::HashMap;

use regex::Regex;

/// The namespace inodes the kernel gives the initial namespaces
/// (PROC_*_INIT_INO in include/linux/proc_ns.h): the same on every boot and
/// machine, so kept as they are.
const FIXED_INODES: [u64; 6] = [
    0xEFFF_FFFA, // time
    0xEFFF_FFFB, // cgroup
    0xEFFF_FFFC, // pid
    0xEFFF_FFFD, // user
    0xEFFF_FFFE, // uts
    0xEFFF_FFFF, // ipc
];

/// PIDs below this are never host PIDs of a test run: the kernel hands out
/// 300 and up once the counter wraps (RESERVED_PIDS), and a machine that
/// ran a build is far past it. Smaller numbers (exit statuses 125..143,
/// container PIDs 1 and 2) are kept.
const MIN_PID: u64 = 300;

/// Numbers that look like PIDs but are not (the overflow uid `nobody`).
const NOT_PIDS: [u64; 3] = [65534, 65535, 65536];

/// One transcript's redactions; numbering starts afresh for each file.
#[derive(Debug)]
pub struct Redactor {
    host_lines: Vec<(String, &'static str)>,
    cgroup: Option<Regex>,
    inode: Regex,
    container: Regex,
    measure: Regex,
    pid_write: Regex,
    mount_id: Regex,
    hex_id: Regex,
    number: Regex,
    pid_row: Regex,
    any_number: Regex,
    seen: HashMap<(&'static str, String), String>,
    counts: HashMap<&'static str, usize>,
}

impl Redactor {
    /// `hostname` and `init_comm` are the host's, redacted where a whole
    /// line equals them (they differ from machine to machine).
    /// `cgroups` is the recorder's own /proc/self/cgroup: the cgroups a
    /// machine puts its processes in vary (a systemd slice, a CI job's
    /// cgroup), so each `N:controllers:path` line of it reads
    /// `N:controllers:[CGROUP]` (where the path is not the root `/`).
    pub fn new(hostname: &str, init_comm: &str, cgroups: &str) -> Self {
        // The root cgroup `/` is the same everywhere; only paths below it
        // (a systemd slice, a CI job's cgroup) are this machine's own.
        let tokens: Vec<String> = cgroups
            .lines()
            .filter(|l| !l.is_empty() && !l.ends_with(":/"))
            .map(regex::escape)
            .collect();
        let cgroup = (!tokens.is_empty()).then(|| {
            Regex::new(&format!(r"(?:^|\s)(?P<v>(?:{}))(?:\s|$)", tokens.join("|"))).expect("regex")
        });
        Redactor {
            host_lines: vec![
                (hostname.to_string(), "[HOST-HOSTNAME]"),
                (init_comm.to_string(), "[HOST-INIT]"),
            ],
            cgroup,
            inode: Regex::new(r"\b4026\d{6}\b").expect("regex"),
            container: Regex::new(r"(?:containers/|isolab-)(?P<v>[0-9a-f]{12})\b").expect("regex"),
            measure: Regex::new(r"\b(?P<v>\d+\.\d+) (?:s|MiB)\b").expect("regex"),
            // write(…, "[PID1]") = 5: the byte count is the PID's length.
            pid_write: Regex::new(r#""\[PID\d+\]"\) = (?P<v>\d+)"#).expect("regex"),
            mount_id: Regex::new(r"#\d+\b").expect("regex"),
            hex_id: Regex::new(r"\b[0-9a-f]{24,64}\b").expect("regex"),
            number: Regex::new(
                r#"(?:= |PID |PID is |kill\(|procs", "|/proc/|userns of )(?P<v>\d{3,7})\b"#,
            )
            .expect("regex"),
            pid_row: Regex::new(r"^[* ] (?:PID|PPid|NSpid) ").expect("regex"),
            any_number: Regex::new(r"\b\d{3,7}\b").expect("regex"),
            seen: HashMap::new(),
            counts: HashMap::new(),
        }
    }

    /// For this machine: its hostname and the name of its PID 1.
    pub fn for_this_host() -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        Redactor::new(
            &read("/proc/sys/kernel/hostname"),
            &read("/proc/1/comm"),
            &read("/proc/self/cgroup"),
        )
    }

    fn placeholder(&mut self, kind: &'static str, value: &str) -> String {
        if let Some(p) = self.seen.get(&(kind, value.to_string())) {
            return p.clone();
        }
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        let p = format!("[{kind}{n}]");
        self.seen.insert((kind, value.to_string()), p.clone());
        p
    }

    /// Redact one line.
    pub fn line(&mut self, line: &str) -> String {
        for (value, name) in &self.host_lines {
            if !value.is_empty() && line.trim() == value {
                return line.replace(value.as_str(), name);
            }
        }
        let line = self.apply(line, Kind::Cgroup);
        let line = self.apply(&line, Kind::Inode);
        let line = self.apply(&line, Kind::Container);
        let line = self.apply(&line, Kind::Measure);
        let line = self.apply(&line, Kind::MountId);
        let line = self.apply(&line, Kind::HexId);
        // In the inspector's PID rows every number is a PID; elsewhere only
        // numbers in a PID's context are (`= 4711`, `PID 4711`, `kill(4711`).
        let line = if self.pid_row.is_match(&line) {
            self.apply(&line, Kind::PidRow)
        } else {
            self.apply(&line, Kind::Pid)
        };
        self.apply(&line, Kind::PidWrite)
    }

    /// Redact a whole text, line by line.
    pub fn text(&mut self, text: &str) -> String {
        let mut out: Vec<String> = text.split('\n').map(|l| self.line(l)).collect();
        if text.ends_with('\n') {
            out.pop();
            out.push(String::new());
        }
        out.join("\n")
    }

    fn apply(&mut self, line: &str, kind: Kind) -> String {
        let re = match kind {
            Kind::Cgroup => match &self.cgroup {
                Some(re) => re,
                None => return line.to_string(),
            },
            Kind::Inode => &self.inode,
            Kind::Container => &self.container,
            Kind::Measure => &self.measure,
            Kind::PidWrite => &self.pid_write,
            Kind::MountId => &self.mount_id,
            Kind::HexId => &self.hex_id,
            Kind::Pid => &self.number,
            Kind::PidRow => &self.any_number,
        };
        // The named group `v`, where the pattern has one, is what is replaced.
        let matches: Vec<(usize, usize, String)> = re
            .captures_iter(line)
            .filter_map(|c| c.name("v").or_else(|| c.get(0)))
            .map(|m| (m.start(), m.end(), m.as_str().to_string()))
            .collect();
        let mut out = String::with_capacity(line.len() + 16);
        let mut pos = 0;
        // Characters to take back from (or give to) the next run of spaces.
        let mut debt = 0isize;
        for (start, end, value) in matches {
            let replacement = match kind {
                Kind::Cgroup => {
                    let prefix_end = value.rfind(':').map_or(0, |i| i + 1);
                    format!("{}[CGROUP]", &value[..prefix_end])
                }
                Kind::Inode => {
                    let n: u64 = value.parse().unwrap_or(0);
                    if FIXED_INODES.contains(&n) {
                        continue;
                    }
                    self.placeholder("INO", &value)
                }
                Kind::Container => self.placeholder("CTR", &value),
                // Measured amounts (CPU seconds, MiB) vary from run to run.
                Kind::Measure | Kind::PidWrite => "[N]".to_string(),
                Kind::MountId => format!("#{}", self.placeholder("MNT", &value[1..])),
                Kind::HexId => "[ID]".to_string(),
                Kind::Pid | Kind::PidRow => {
                    let n: u64 = value.parse().unwrap_or(0);
                    // File modes (`mode=755`, `0666`) are not PIDs; no PID
                    // starts with 0.
                    let is_mode = value.starts_with('0') || line[..start].ends_with("mode=");
                    if n < MIN_PID
                        || NOT_PIDS.contains(&n)
                        || is_placeholder_digit(line, start)
                        || is_mode
                    {
                        continue;
                    }
                    self.placeholder("PID", &value)
                }
            };
            push_eating_spaces(&mut out, &line[pos..start], &mut debt);
            out.push_str(&replacement);
            debt += replacement.len() as isize - value.len() as isize;
            pos = end;
        }
        push_eating_spaces(&mut out, &line[pos..], &mut debt);
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Cgroup,
    Inode,
    Container,
    Measure,
    PidWrite,
    MountId,
    HexId,
    Pid,
    PidRow,
}

/// Digits right after `[PID`, `[INO`, `[MNT` belong to a placeholder.
fn is_placeholder_digit(line: &str, start: usize) -> bool {
    start > 0 && line.as_bytes()[start - 1].is_ascii_alphabetic()
}

/// Append `text`, settling `debt` at its first run of two or more spaces
/// (a column gap): a placeholder longer than its value takes spaces from
/// it (leaving two), a shorter one gives spaces to it. Keeps columns aligned.
fn push_eating_spaces(out: &mut String, text: &str, debt: &mut isize) {
    let gap = (*debt != 0).then(|| text.find("  ")).flatten();
    let Some(at) = gap else {
        out.push_str(text);
        return;
    };
    let run = text[at..].len() - text[at..].trim_start_matches(' ').len();
    out.push_str(&text[..at]);
    if *debt > 0 {
        let eat = (*debt).min(run as isize - 2);
        *debt -= eat;
        out.push_str(&text[at + eat as usize..]);
    } else {
        out.push_str(&" ".repeat((-*debt) as usize));
        *debt = 0;
        out.push_str(&text[at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(
            "myhost",
            "systemd",
            "1:cpu:/\n0::/user.slice/session-2.scope\n",
        )
    }

    #[test]
    fn the_hosts_cgroups() {
        let mut r = r();
        assert_eq!(
            r.line("  cgroup  0::/user.slice/session-2.scope  0::/user.slice/session-2.scope"),
            "  cgroup  0::[CGROUP]                     0::[CGROUP]"
        );
        assert_eq!(r.line("1:cpu:/"), "1:cpu:/");
        // Another cgroup (a container's own, from step 5 on) is shown.
        assert_eq!(r.line("0::/isolab/abc"), "0::/isolab/abc");
    }

    #[test]
    fn same_pid_same_placeholder() {
        let mut r = r();
        assert_eq!(
            r.text("clone(CLONE_NEWUTS|SIGCHLD) = 4711\nhost PID 4711, kill(4700, SIGTERM)\n"),
            "clone(CLONE_NEWUTS|SIGCHLD) = [PID1]\nhost PID [PID1], kill([PID2], SIGTERM)\n"
        );
    }

    #[test]
    fn small_numbers_and_exit_statuses_stay() {
        let mut r = r();
        for keep in [
            "exit status 137",
            "my PID is 2",
            "NSpid 1",
            "uid 65534",
            "0 0 4294967295",
        ] {
            assert_eq!(r.line(keep), keep);
        }
    }

    #[test]
    fn initial_namespace_inodes_stay_new_ones_are_numbered() {
        let mut r = r();
        assert_eq!(
            r.line("4026531838 4026532177 4026532177"),
            "4026531838 [INO1] [INO1]"
        );
    }

    #[test]
    fn columns_stay_aligned() {
        let mut r = r();
        let line = "  PID   4711        4700        x";
        assert_eq!(
            r.line("* NSpid 4711 1      4700"),
            "* NSpid [PID1] 1    [PID2]"
        );
        let out = r.line(line);
        assert_eq!(out, "  PID   [PID1]      [PID2]      x");
        assert_eq!(out.len(), line.len());
    }

    #[test]
    fn shorter_placeholders_give_spaces_back() {
        let mut r = r();
        let line = "  ns/mnt        4026532001 host                         4026532001";
        let out = r.line(line);
        assert_eq!(
            out.find("[INO1] host").unwrap(),
            line.find("4026532001").unwrap()
        );
        assert_eq!(
            out.rfind("[INO1]").unwrap(),
            line.rfind("4026532001").unwrap()
        );
    }

    #[test]
    fn table_header_stays_aligned() {
        let mut r = r();
        let head = format!(
            "  {:12}  {:38}  {}",
            "", "container (PID 4711)", "host (PID 4700)"
        );
        let row = format!("  {:12}  {:38}  {}", "PID", "4711", "4700");
        assert!(r.line("1:cpu:/").ends_with(":/"), "the root cgroup stays");
        let (h, w) = (r.line(&head), r.line(&row));
        assert_eq!(h.find("host"), Some(56), "{h}");
        assert_eq!(w.rfind("[PID2]"), Some(56), "{w}");
    }

    #[test]
    fn host_specific_lines() {
        let mut r = r();
        assert_eq!(r.line("myhost"), "[HOST-HOSTNAME]");
        assert_eq!(r.line("systemd"), "[HOST-INIT]");
        assert_eq!(r.line("myhost is here"), "myhost is here");
    }

    #[test]
    fn pid_writes_and_proc_paths() {
        let mut r = r();
        assert_eq!(
            r.line(r#"write("/proc/4711/uid_map", "0 1000000 65536") = 16"#),
            r#"write("/proc/[PID1]/uid_map", "0 1000000 65536") = 16"#
        );
        assert_eq!(
            r.line(r#"write(".../cgroup.procs", "4711") = 4"#),
            r#"write(".../cgroup.procs", "[PID1]") = [N]"#
        );
    }

    #[test]
    fn container_ids() {
        let mut r = r();
        assert_eq!(
            r.line(
                "upperdir=/var/lib/isolab/containers/ae0c05d89627/upper x containers/ae0c05d89627"
            ),
            "upperdir=/var/lib/isolab/containers/[CTR1]/upper x containers/[CTR1]"
        );
    }

    #[test]
    fn cgroup_names_and_measurements() {
        let mut r = r();
        assert_eq!(
            r.line("mkdir(\"/sys/fs/cgroup/pids/isolab-603c90648d30\") containers/603c90648d30"),
            "mkdir(\"/sys/fs/cgroup/pids/isolab-[CTR1]\") containers/[CTR1]"
        );
        assert_eq!(
            r.line("stats: memory peak 4.4 MiB, cpu 0.02 s, memory limit 32 MiB"),
            "stats: memory peak [N] MiB, cpu [N] s, memory limit 32 MiB"
        );
    }

    #[test]
    fn mount_ids_and_hex_ids() {
        let mut r = r();
        assert_eq!(
            r.line("#27 /dev/vda ext4 / #27 x"),
            "#[MNT1] /dev/vda ext4 / #[MNT1] x"
        );
        assert_eq!(
            r.line("4:memory:/ci/aee8b44d5b32ce0de607c19a4492a88a"),
            "4:memory:/ci/[ID]"
        );
        // Capability masks are 16 hex digits and stay.
        assert_eq!(r.line("000001fffeffffff"), "000001fffeffffff");
    }
}
