//! Attacks that broke runtimes before, performed against isolab from
//! inside a container and checked from the host. Each is harmless when
//! it succeeds: the binary attacked is a copy in the test's directory,
//! and success leaves a marker, never a change to the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use step01_clone::testing::{TempDir, assert_one_line, require_root};

mod common;
use common::*;

/// `bin ARGS`: exit code and stderr.
fn isolab_as(bin: &Path, dir: &TempDir, args: &[&str]) -> (i32, String) {
    let (code, _, err) = isolab_at(bin, dir, args);
    (code, err)
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
          if echo ISOLAB-ATTACK-MARKER >> /proc/self/fd/3; then echo ESCAPED; else echo BLOCKED; fi > /out/result.tmp 2>&1; \
          mv /out/result.tmp /out/result; \
        } 3< /proc/$t/exe || echo \"open-refused ($t)\" > /out/opened; \
        sleep 60";
    let a = bundle_named(&dir, "a", attack, |spec| {
        add_caps(spec, &["CAP_SYS_PTRACE"]);
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
    assert_eq!(
        opened, "opened\n",
        "the attack never reached the runtime's exe"
    );
    let (code, err) = isolab_as(&copy, &dir, &["--root", root, "start", "b"]);
    assert_eq!(code, 0, "{err}");
    // B's init has exec'd `true` (and exited): no process runs the
    // runtime's code any more, so a write is not stopped by ETXTBSY.
    for _ in 0..500 {
        if state(&dir, root, "b")["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(state(&dir, root, "b")["status"], "stopped");
    std::fs::write(out.join("started"), "").unwrap();
    let result = wait_for(&out.join("result"));
    eprintln!("the attack's write: {result}");
    let after = std::fs::read(&copy).unwrap();
    assert!(
        after == before,
        "ESCAPED: the runtime's binary changed on the host: {result}"
    );
    assert!(result.ends_with("BLOCKED\n"), "{result}");
    assert!(
        !result.contains("busy"),
        "blocked only while in use: {result}"
    );
}
// ANCHOR_END: cve_2019_5736

/// The fds above stderr in an `ls -l /proc/self/fd/` listing whose
/// targets are none of `allowed`, nor `ls`'s own directory, nor /dev/null
/// (dash keeps one at fd 10).
fn leaked(listing: &str, allowed: &[&str]) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| {
            l.split_once(" -> ")
                .map(|(a, t)| (a.rsplit(' ').next().unwrap_or(""), t))
        })
        .filter(|(fd, _)| fd.parse::<u32>().is_ok_and(|n| n > 2))
        .filter(|(_, t)| {
            !(allowed.contains(t)
                || *t == "/dev/null"
                || (t.starts_with("/proc/") && t.ends_with("/fd")))
        })
        .map(|(fd, t)| format!("{fd} -> {t}"))
        .collect()
}

// ANCHOR: cve_2024_21626
/// CVE-2024-21626: a runtime fd on a host directory that is still open
/// when the runtime chdirs to `process.cwd` (or `exec --cwd`) lets a cwd
/// of /proc/self/fd/N start the command in the host's file system, and a
/// leaked fd lets the command walk there itself. Here the engine's own
/// preserved fd 3 is a host directory, the most an engine could hand in:
/// the cwd through it is refused, and no other fd reaches the command,
/// its exec'd processes or its hooks.
#[test]
fn no_host_directory_reaches_the_container_through_fds_or_cwd() {
    use std::os::unix::process::CommandExt;
    require_root();
    be_subreaper();
    let dir = TempDir::new("cve-2024-21626");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let host = dir.0.join("host-dir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("HOST-MARKER"), "").unwrap();
    let out = dir.0.join("out");
    let o = out.display().to_string();
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("ls -l /proc/self/fd/ > {o}/{name}.tmp; mv {o}/{name}.tmp {o}/{name}")]});
    let b = bundle(
        &dir,
        "ls -l /proc/self/fd/ > /out/fds.tmp; mv /out/fds.tmp /out/fds; ls -a . .. > /out/cwd-listing 2>&1; sleep 60",
        |spec| {
            spec["hooks"] =
                json!({"createRuntime": [hook("hook-fds")], "poststart": [hook("poststart-fds")]});
        },
    );
    // `run -d --preserve-fds 1`, fd 3 a host directory, and `cwd`.
    let run = |id: &str, cwd: &str| {
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(b.join("config.json")).unwrap()).unwrap();
        config["process"]["cwd"] = json!(cwd);
        std::fs::write(b.join("config.json"), config.to_string()).unwrap();
        let fd = std::fs::File::open(&host).unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let err = dir.0.join(format!("{id}.err"));
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--root",
            root,
            "run",
            "-d",
            "--preserve-fds",
            "1",
            "--bundle",
        ])
        .arg(&b)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.0.join(format!("{id}.out"))).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
        // SAFETY: dup2 in the child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let rc = if raw == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(raw, 3)
                };
                if rc < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        let code = cmd.status().unwrap().code().unwrap_or(-1);
        (code, std::fs::read_to_string(err).unwrap_or_default())
    };

    // 1. cwd through the preserved host directory: refused in one line.
    let _escape = DeleteOnDrop { root, id: "escape" };
    let (code, err) = run("escape", "/proc/self/fd/3");
    let listing = std::fs::read_to_string(out.join("cwd-listing")).unwrap_or_default();
    assert!(
        !listing.contains("HOST-MARKER"),
        "ESCAPED: the command started in the host's directory"
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("outside the container's root"), "{err}");
    let _ = std::fs::remove_file(out.join("hook-fds"));

    // 2. A container with cwd "/": the command, its hooks, and exec'd
    //    processes hold stdio and the engine's fd 3, nothing else.
    let _c = DeleteOnDrop { root, id: "c" };
    let (code, err) = run("c", "/");
    assert_eq!(code, 0, "{err}");
    // the command: the engine's fd 3 (the host directory, asked for)
    let host_dir = host.display().to_string();
    let fds = wait_for(&out.join("fds"));
    assert_eq!(
        leaked(&fds, &[&host_dir]),
        Vec::<String>::new(),
        "the command: {fds}"
    );
    // hooks: only stdio, not even the engine's fds
    for hook in ["hook-fds", "poststart-fds"] {
        let fds = wait_for(&out.join(hook));
        assert_eq!(leaked(&fds, &[]), Vec::<String>::new(), "{hook}: {fds}");
    }
    // exec with the host directory at fd 7 of the runtime (an engine that
    // leaks one), and --cwd through it, or through fds it never had
    for n in [3, 7, 12] {
        let cwd = format!("/proc/self/fd/{n}");
        let fd = std::fs::File::open(&host).unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let out = dir.0.join("exec.out");
        let err = dir.0.join("exec.err");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--root", root, "exec", "--cwd", &cwd, "c", "ls", "-a", ".", "..",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
        // SAFETY: dup2 in the child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || match libc::dup2(raw, 7) {
                7 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        let code = cmd.status().unwrap().code().unwrap_or(-1);
        let (text, err) = (
            std::fs::read_to_string(out).unwrap(),
            std::fs::read_to_string(err).unwrap(),
        );
        assert!(
            !text.contains("HOST-MARKER"),
            "ESCAPED through exec --cwd {cwd}: {text}"
        );
        assert_ne!(code, 0, "exec --cwd {cwd}: {text} {err}");
        assert_one_line(&err);
    }
    // an exec'd process: stdio only
    let (code, text, err) = isolab(
        &dir,
        &["--root", root, "exec", "c", "ls", "-l", "/proc/self/fd/"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        leaked(&text, &[]),
        Vec::<String>::new(),
        "an exec'd process: {text}"
    );
}
// ANCHOR_END: cve_2024_21626

// ANCHOR: symlinks
/// CVE-2021-30465 and CVE-2025-31133: the image (or a volume another
/// container writes) redirects a mount with symlinks. A symlink in the
/// middle of a destination is followed inside the root (openat2 with
/// RESOLVE_IN_ROOT), one at its end is refused, the mount is made on the
/// fd that resolution opened (never on a path looked up again), and the
/// /dev/null that masks a file must be the null device.
#[test]
fn symlinks_in_the_image_and_a_false_dev_null_redirect_no_mount() {
    require_root();
    let dir = TempDir::new("cve-symlinks");
    let image = default_image(&dir);
    // The host paths the image's symlinks aim at.
    let target = dir.0.join("host-target");
    std::fs::create_dir_all(&target).unwrap();
    let victim = dir.0.join("host-victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let source = dir.0.join("volume");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("VOLUME-MARKER"), "").unwrap();
    std::os::unix::fs::symlink(&target, image.join("data")).unwrap();
    // the same path inside the image, where the symlink leads in the root
    let inside = image.join(target.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    let hosts = image.join("etc/hosts");
    let _ = std::fs::remove_file(&hosts);
    std::os::unix::fs::symlink(&victim, &hosts).unwrap();
    let volume = |dest: &str| json!({"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rw"]});

    // 1. Through /data, a symlink to the host's directory: the volume
    //    lands in the image, where the container finds it; nothing is
    //    made in the host's directory.
    let (code, out, err) = run_script(&dir, "mid", "ls /data/sub", |spec| {
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(volume("/data/sub"));
    });
    assert_eq!((code, out.as_str()), (0, "VOLUME-MARKER\n"), "{err}");
    assert!(
        !target.join("sub").exists(),
        "ESCAPED: a mount point made on the host"
    );
    assert!(
        image
            .join(target.strip_prefix("/").unwrap())
            .join("sub")
            .is_dir()
    );

    // 2. /etc/hosts, a symlink to a host file: an engine's file bind is
    //    refused, in one line, and the host's file is as it was.
    let hosts_file = dir.0.join("engine-hosts");
    std::fs::write(&hosts_file, "10.0.0.1 engine\n").unwrap();
    let (code, _, err) = run_script(&dir, "end", "cat /etc/hosts", |spec| {
        spec["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/etc/hosts", "type": "bind", "source": hosts_file, "options": ["bind", "ro"]
        }));
    });
    assert_eq!(code, 1, "{err}");
    assert_one_line(&err);
    assert!(err.contains("/etc/hosts is a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");

    // 3. A /dev/null that is a plain file (bound there, as a swapped node
    //    would be): masking /proc/interrupts with it is refused. Without the
    //    check the container read the file through /proc/interrupts.
    let fake = dir.0.join("fake-null");
    std::fs::write(&fake, "NOT-NULL\n").unwrap();
    let (code, out, err) = run_script(&dir, "null", "cat /proc/interrupts", |spec| {
        spec["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/dev/null", "type": "bind", "source": fake, "options": ["bind"]
        }));
        spec["linux"]["maskedPaths"] = json!(["/proc/interrupts"]);
    });
    assert!(
        !out.contains("NOT-NULL"),
        "ESCAPED: a masked path shows another file"
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not the null device"), "{err}");
}
// ANCHOR_END: symlinks

// ANCHOR: proc_writes
/// CVE-2019-16884 and CVE-2025-52881: a mount over a /proc file the runtime
/// writes for the container takes the write. Here config.json binds a
/// host file over /proc/self/oom_score_adj, and another over the sysctl's
/// file: isolab refuses to write through either, and the host files keep
/// their contents. (Before the checked handle, the runtime wrote the
/// container's oom_score_adj and the sysctl into the host files.)
#[test]
fn writes_meant_for_proc_are_not_redirected_by_a_mount() {
    require_root();
    let dir = TempDir::new("cve-proc-writes");
    let victim = dir.0.join("victim");
    let bind_over = |dest: &str| json!({"destination": dest, "type": "bind", "source": victim, "options": ["bind"]});
    for (id, dest, edit) in [
        (
            "oom",
            "/proc/self/oom_score_adj",
            (|spec: &mut Value| spec["process"]["oomScoreAdj"] = json!(500)) as fn(&mut Value),
        ),
        (
            "sysctl",
            "/proc/sys/net/ipv4/ip_forward",
            |spec: &mut Value| spec["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"}),
        ),
    ] {
        std::fs::write(&victim, "host file\n").unwrap();
        let (code, _, err) = run_script(&dir, id, "true", |spec| {
            spec["mounts"].as_array_mut().unwrap().push(bind_over(dest));
            edit(spec);
        });
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "host file\n",
            "ESCAPED: the write for {dest} went to the host file"
        );
        assert_eq!(code, 1, "{id}: {err}");
        assert_one_line(&err);
        assert!(err.contains("something is mounted over it"), "{id}: {err}");
    }
}
// ANCHOR_END: proc_writes

/// The Cap* lines of /proc/PID/status in `text`, as (set, mask).
fn cap_masks(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Cap")?.split_once(":\t"))
        .map(|(set, hex)| {
            (
                set.to_string(),
                u64::from_str_radix(hex.trim(), 16).unwrap(),
            )
        })
        .collect()
}

// ANCHOR: cve_2022_29162
/// CVE-2022-29162: `runc exec --cap` added the capability to the
/// inheritable set as well, so a program with file capabilities that the
/// exec'd process ran gained it past the bounding set the engine meant.
/// isolab's sets are config.json's, exactly: the inheritable set is empty
/// unless listed, and `exec --cap` adds to bounding, effective and
/// permitted only.
#[test]
fn inheritable_capabilities_are_exactly_the_configs_and_exec_cap_adds_none() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("cve-2022-29162");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    const CHOWN: u64 = 1 << 0;
    const SYS_ADMIN: u64 = 1 << 21;
    let b = bundle(
        &dir,
        "grep ^Cap /proc/self/status > /out/caps.tmp; mv /out/caps.tmp /out/caps; sleep 60",
        |spec| {
            // one inheritable capability, listed in the config (and so in
            // the bounding set, which the kernel keeps it within)
            let caps = &mut spec["process"]["capabilities"];
            caps["inheritable"] = json!([]);
            for set in ["bounding", "permitted", "inheritable"] {
                caps[set].as_array_mut().unwrap().push(json!("CAP_CHOWN"));
            }
        },
    );
    let _c = DeleteOnDrop { root, id: "caps" };
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            b.to_str().unwrap(),
            "caps",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let init = cap_masks(&wait_for(&dir.0.join("out/caps")));
    assert_eq!((init["Inh"], init["Amb"]), (CHOWN, 0), "{init:?}");
    let (code, text, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "exec",
            "--cap",
            "CAP_SYS_ADMIN",
            "caps",
            "grep",
            "^Cap",
            "/proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let exec = cap_masks(&text);
    assert_eq!(
        exec["Eff"] & SYS_ADMIN,
        SYS_ADMIN,
        "exec --cap gave it: {exec:?}"
    );
    assert_eq!(
        (exec["Inh"], exec["Amb"]),
        (CHOWN, 0),
        "and only where it should: {exec:?}"
    );
}
// ANCHOR_END: cve_2022_29162

// ANCHOR: keyring
/// A container joins a session keyring of its own: the keys of the
/// session that started the runtime (a login's Kerberos ticket, an
/// engine's secrets) stay behind. The container has CAP_SYS_ADMIN to
/// mount a procfs of its own, /proc/keys being masked; with
/// `--no-new-keyring` (the step before) it finds the key.
#[test]
fn a_container_gets_a_session_keyring_of_its_own() {
    require_root();
    let dir = TempDir::new("keyring");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, step01_clone::testing::LIST_KEYS, |spec| {
        add_caps(spec, &["CAP_SYS_ADMIN"]);
    });
    let count = |extra: &[&str], id: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--root", root, "run"])
            .args(extra)
            .arg("--bundle")
            .arg(&b)
            .arg(id);
        step01_clone::testing::plant_session_key(&mut cmd, None);
        let out = step01_clone::testing::output_of(cmd);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout.trim().to_string()
    };
    assert_eq!(
        count(&["--no-new-keyring"], "shared"),
        "1",
        "the step before: the key is there"
    );
    assert_eq!(count(&[], "own"), "0", "a keyring of its own");
}
// ANCHOR_END: keyring
