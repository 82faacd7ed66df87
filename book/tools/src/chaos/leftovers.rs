//! What the runs may have left: each finding is `KIND: what`, KIND one of
//! mount, cgroup, state, layer, lease, veth, nftables, process.

use std::path::Path;
use std::process::Command;

use crate::runs::Plan;

pub fn find(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let dir = plan.dir.display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        if let Some(point) = line.split(' ').nth(4)
            && point.starts_with(&dir)
        {
            out.push(format!("mount: {point}"));
        }
    }
    cgroups(Path::new("/sys/fs/cgroup"), &plan.tag, 0, &mut out);
    for e in std::fs::read_dir(&plan.root)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name != ".network" {
            out.push(format!("state: {name}"));
        }
    }
    // The containers' writable layers and logs, with the images.
    for e in std::fs::read_dir(plan.state.join("layers"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.push(format!("layer: {}", e.file_name().to_string_lossy()));
    }
    // Leases: one file per network namespace, `[]` once the last goes.
    let net = plan.root.join(".network");
    for e in std::fs::read_dir(&net).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path().join("leases")).unwrap_or_default();
        if !text.trim().is_empty() && text.trim() != "[]" {
            out.push(format!("lease: {}", text.trim()));
        }
    }
    // Links of this (the chaos's own) network namespace: /proc/self/net.
    let dev = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    for line in dev.lines().skip(2) {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.starts_with("isolab0v") {
            out.push(format!("veth: {name}"));
        }
    }
    if let Ok(o) = Command::new("nft")
        .args(["list", "table", "ip", "isolab"])
        .output()
        && o.status.success()
    {
        out.push("nftables: table ip isolab".into());
    }
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cgroup.contains(&plan.tag) || String::from_utf8_lossy(&cmdline).contains(&dir) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            out.push(format!("process: {pid} {}", comm.trim()));
        }
    }
    out
}

/// Cgroup directories whose name holds `tag`, to a depth of 6.
fn cgroups(dir: &Path, tag: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 6 {
        return;
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        if e.file_name().to_string_lossy().contains(tag) {
            out.push(format!("cgroup: {}", path.display()));
        } else {
            cgroups(&path, tag, depth + 1, out);
        }
    }
}
