//! `caps [PID]`: a process's capabilities in the shape `capsh --print`
//! uses (libcap's text form: `cap_a,cap_b=ep` for the effective and
//! permitted sets), so the two can be compared side by side.

use crate::error::Result;
use crate::inspect::Snapshot;
use crate::inspect::capability::CapSet;

fn text(set: &CapSet) -> String {
    set.names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

// ANCHOR: report
/// The capsh-like report for `pid`.
pub fn report(pid: i32) -> Result<String> {
    let s = Snapshot::read(pid)?;
    let c = &s.capabilities;
    let current = if c.effective == c.permitted {
        if c.permitted.names.is_empty() {
            "=".to_string()
        } else {
            format!("{}=ep", text(&c.permitted))
        }
    } else {
        format!("{}=p {}+e", text(&c.permitted), text(&c.effective))
    };
    let inheritable = if c.inheritable.names.is_empty() {
        String::new()
    } else {
        format!(" {}+i", text(&c.inheritable))
    };
    Ok(format!(
        "Current: {current}{inheritable}\nBounding set ={}\nAmbient set ={}\nNoNewPrivs: {}\nuid={} euid={} suid={} fsuid={}\ngid={} egid={}\ngroups={}\n",
        text(&c.bounding),
        text(&c.ambient),
        u8::from(s.no_new_privs),
        s.uid.real,
        s.uid.effective,
        s.uid.saved,
        s.uid.fs,
        s.gid.real,
        s.gid.effective,
        s.groups
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    ))
}
// ANCHOR_END: report
