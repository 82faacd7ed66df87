//! Attacks that broke runtimes before, performed against isolab from
//! inside a container and checked from the host. Each is harmless when
//! it succeeds: the binary attacked is a copy in the test's directory,
//! and success leaves a marker, never a change to the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use step01_clone::testing::{TempDir, require_root};

mod common;
use common::*;

/// `bin ARGS` with stdio to files (a detached container keeps them).
fn isolab_as(bin: &Path, dir: &TempDir, args: &[&str]) -> (i32, String) {
    let err = dir.0.join(".err");
    let status = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.0.join(".out")).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

/// `bundle`, kept under its own name so a second one can be made.
fn bundle_named(dir: &TempDir, name: &str, script: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let b = bundle(dir, script, edit);
    let to = dir.0.join(name);
    std::fs::rename(&b, &to).unwrap();
    to
}

// ANCHOR: cve_2019_5736
/// CVE-2019-5736: a container process opens /proc/PID/exe of a runtime
/// process that shares its PID namespace, keeps the fd, and once the
/// runtime has exec'd the container's command, reopens it for writing and
/// overwrites the runtime's binary on the host. Here container A has
/// CAP_SYS_PTRACE (so non-dumpable alone doesn't stop it) and container B
/// joins A's PID namespace: B's init waits for `start` running the
/// runtime's code, in A's view. The runtime attacked is a copy.
#[test]
fn the_runtime_binary_cannot_be_overwritten_through_proc_pid_exe() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("cve-2019-5736");
    let copy = dir.0.join("isolab-copy");
    std::fs::copy(BIN, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let out = dir.0.join("out");
    // B's init is the process whose command line says `create` (spelt
    // apart here, so that this script's own doesn't); a failed `exec 3<`
    // would end the shell, so the redirection is on a group.
    let attack = "while [ ! -e /out/go ]; do sleep 0.05; done; \
        for p in /proc/[0-9]*; do n=${p#/proc/}; [ $n = 1 ] && continue; \
          case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in *' cr''eate '*) t=$n;; esac; done; \
        { echo opened > /out/opened; \
          while [ ! -e /out/started ]; do sleep 0.05; done; \
          if echo ISOLAB-ATTACK-MARKER >> /proc/self/fd/3; then echo ESCAPED; else echo BLOCKED; fi > /out/result 2>&1; \
        } 3< /proc/$t/exe || echo \"open-refused ($t)\" > /out/opened; \
        sleep 60";
    let a = bundle_named(&dir, "a", attack, |spec| {
        for set in ["bounding", "effective", "permitted"] {
            spec["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    let _a = DeleteOnDrop { root, id: "a" };
    let (code, err) = isolab_as(
        &copy,
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            a.to_str().unwrap(),
            "a",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid = state(&dir, root, "a")["pid"].as_i64().unwrap();
    let b = bundle_named(&dir, "b", "true", |spec| {
        for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
            }
        }
    });
    let _b = DeleteOnDrop { root, id: "b" };
    let (code, err) = isolab_as(
        &copy,
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "b",
        ],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(out.join("go"), "").unwrap();
    let opened = wait_for(&out.join("opened"));
    let (code, err) = isolab_as(&copy, &dir, &["--root", root, "start", "b"]);
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(300)); // B's init execs `true`
    std::fs::write(out.join("started"), "").unwrap();
    assert_eq!(
        opened, "opened\n",
        "the attack never reached the runtime's exe"
    );
    let result = wait_for(&out.join("result"));
    let after = std::fs::read(&copy).unwrap();
    assert!(
        after == before,
        "the runtime's binary changed on the host: {result}"
    );
    assert_eq!(
        opened, "opened\n",
        "the attack never reached the runtime's exe"
    );
    assert!(result.ends_with("BLOCKED\n"), "{result}");
}
// ANCHOR_END: cve_2019_5736
