//! config.json's fields beyond the lifecycle, each checked from inside the
//! container (what the command prints) and, where the host can see it,
//! from the host's /proc: mounts with propagation and file binds,
//! sysctl, domainname, umask, personality, rootfsPropagation, the time
//! namespace and its offsets.

use serde_json::json;
use step01_clone::testing::{TempDir, require_root};

mod common;
use common::*;

#[test]
fn sysctl_domainname_umask_personality_and_a_file_bind() {
    require_root();
    let dir = TempDir::new("oci-fields");
    let hosts = dir.0.join("hosts");
    std::fs::write(&hosts, "10.0.0.1 bound\n").unwrap();
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let flip = if host_forward.trim() == "1" { "0" } else { "1" };
    let (code, out, err) = run_script(
        &dir,
        "fields",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname; umask; uname -m; \
         cat /etc/hosts; grep ' /etc/hosts ' /proc/self/mountinfo",
        |spec| {
            spec["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": flip});
            spec["domainname"] = json!("isolab.test");
            spec["process"]["user"]["umask"] = json!(0o027);
            spec["linux"]["personality"] = json!({"domain": "LINUX32"});
            spec["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/etc/hosts", "type": "bind", "source": hosts,
                "options": ["bind", "ro", "rprivate"]
            }));
        },
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], flip,
        "the sysctl, in the container's netns: {out}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward,
        "the host's value is untouched"
    );
    assert_eq!(lines[1], "isolab.test");
    assert_eq!(lines[2], "0027");
    let host_machine = nix::sys::utsname::uname().unwrap();
    let host_machine = host_machine.machine().to_string_lossy();
    if host_machine == "x86_64" {
        assert_eq!(lines[3], "i686", "PER_LINUX32");
    } else {
        assert_ne!(lines[3], host_machine, "PER_LINUX32");
    }
    assert_eq!(lines[4], "10.0.0.1 bound", "a file bound on a file");
    // read-only, and private: no shared:/master: tag among its fields
    let mountinfo = lines[5];
    assert!(mountinfo.contains(" ro,"), "{mountinfo}");
    assert!(
        !mountinfo.contains("shared:") && !mountinfo.contains("master:"),
        "{mountinfo}"
    );
}

#[test]
fn host_wide_sysctls_are_refused_before_anything_runs() {
    require_root();
    let dir = TempDir::new("oci-sysctl");
    for (key, spec_edit) in [
        ("kernel.core_pattern", None),
        ("net.ipv4.ip_forward", Some("network")), // without a netns of its own
        ("net/../kernel/core_pattern", None),
    ] {
        let (code, _, err) = run_script(&dir, "sysctl", "true", |spec| {
            spec["linux"]["sysctl"] = json!({key: "1"});
            if let Some(ns) = spec_edit {
                let list = spec["linux"]["namespaces"].as_array_mut().unwrap();
                list.retain(|n| n["type"] != ns);
            }
        });
        assert_eq!(code, 1, "{key}: {err}");
        assert!(
            err.starts_with(&format!("isolab: config.json: linux.sysctl.{key}:")),
            "{key}: {err}"
        );
        step01_clone::testing::assert_one_line(&err);
    }
}

#[test]
fn a_new_time_namespace_has_its_offsets_before_the_command_starts() {
    require_root();
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("NOTE: this kernel has no time namespaces (CONFIG_TIME_NS): skipped");
        return;
    }
    let dir = TempDir::new("oci-time");
    let year = 365 * 24 * 3600;
    let (code, out, err) = run_script(
        &dir,
        "time",
        "read up idle < /proc/uptime; echo ${up%.*}; cat /proc/self/timens_offsets; readlink /proc/self/ns/time",
        |spec| {
            spec["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            spec["linux"]["timeOffsets"] = json!({
                "boottime": {"secs": year, "nanosecs": 0},
                "monotonic": {"secs": 7, "nanosecs": 5}
            });
        },
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let uptime: u64 = lines[0].parse().unwrap_or_else(|_| panic!("{out}"));
    let host_uptime: u64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime >= year && uptime <= year + host_uptime + 5,
        "boottime shifted by a year: {uptime} (host {host_uptime})"
    );
    assert!(out.contains("monotonic") && out.contains("7"), "{out}");
    let ours = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(
        lines.last().unwrap(),
        &ours.to_string_lossy(),
        "a new time namespace"
    );
}

/// The directories of cgroup `rel` (below each hierarchy's root) that
/// exist, read from the host's /proc/self/mountinfo.
fn cgroup_dirs(rel: &str) -> Vec<std::path::PathBuf> {
    let layout = isolab::cgroup::Layout::detect().unwrap();
    layout
        .v2
        .iter()
        .cloned()
        .chain(layout.v1.iter().map(|h| h.mount.clone()))
        .map(|root| root.join(rel))
        .filter(|d| d.is_dir())
        .collect()
}

#[test]
fn cgroups_path_places_the_container_and_its_limits_both_forms() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-cgpath");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    // Parents of our own, removed at the end: the host's layout is not ours.
    let parent = format!("isolab-test-{}", std::process::id());
    let slice = format!("isolabtest{}.slice", std::process::id());
    struct Parents(Vec<String>);
    impl Drop for Parents {
        fn drop(&mut self) {
            for p in &self.0 {
                for d in cgroup_dirs(p) {
                    let _ = std::fs::remove_dir(d);
                }
            }
        }
    }
    let _parents = Parents(vec![parent.clone(), slice.clone()]);
    for (flags, path, rel) in [
        (vec![], format!("/{parent}/cg1"), format!("{parent}/cg1")),
        (
            vec!["--systemd-cgroup"],
            format!("{slice}:isolab:cg2"),
            format!("{slice}/isolab-cg2.scope"),
        ),
    ] {
        let id = rel.rsplit('/').next().unwrap().to_string();
        let b = bundle(&dir, "sleep 60", |spec| {
            spec["linux"]["cgroupsPath"] = json!(path);
            spec["linux"]["resources"] =
                json!({"pids": {"limit": 42}, "memory": {"limit": 64 << 20}});
        });
        let mut args = vec!["--root", root];
        args.extend(flags.iter().copied());
        args.extend(["create", "--bundle", b.to_str().unwrap(), &id]);
        let _gone = DeleteOnDrop { root, id: &id };
        let (code, _, err) = isolab(&dir, &args);
        assert_eq!(code, 0, "{err}");
        if flags.is_empty() {
            assert!(err.is_empty(), "{err}");
        } else {
            assert!(
                err.contains(&format!("makes the cgroup {rel} itself")),
                "{err}"
            );
        }
        let pid = state(&dir, root, &id)["pid"].as_i64().unwrap();
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(
            cgroup.lines().any(|l| l.ends_with(&format!("/{rel}"))),
            "{rel}:\n{cgroup}"
        );
        let dirs = cgroup_dirs(&rel);
        let pids_max: Vec<String> = dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("pids.max")).ok())
            .collect();
        assert_eq!(pids_max, ["42\n"], "{dirs:?}");
        let memory: Vec<String> = dirs
            .iter()
            .filter_map(|d| {
                std::fs::read_to_string(d.join("memory.max"))
                    .or_else(|_| std::fs::read_to_string(d.join("memory.limit_in_bytes")))
                    .ok()
            })
            .collect();
        assert_eq!(memory, [format!("{}\n", 64 << 20)], "{dirs:?}");
        let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", &id]);
        assert_eq!(code, 0, "{err}");
        assert!(cgroup_dirs(&rel).is_empty(), "delete removed {rel}");
    }
}

#[test]
fn device_rules_stop_a_node_made_with_cap_mknod() {
    require_root();
    let dir = TempDir::new("oci-devices");
    // /dev/kmsg's numbers (c 1:11): the host's kernel log, which no
    // container should read, and not among the default devices.
    let script = "mknod /dev/hostlog c 1 11 2>&1 | sed 's/.*: //'; \
         if true < /dev/hostlog 2>/dev/null; then echo read-ok; else echo read-refused; fi; \
         echo x > /dev/null && echo null-ok; stat -c '%t:%T %a %u' /dev/extra";
    let with_mknod = |spec: &mut serde_json::Value| {
        add_caps(spec, &["CAP_MKNOD", "CAP_SYSLOG"]);
        spec["linux"]["devices"] = json!([{"path": "/dev/extra", "type": "c", "major": 1,
            "minor": 7, "fileMode": 0o640, "uid": 7, "gid": 0}]);
    };
    // The step before: no rules, and root with CAP_MKNOD (and CAP_SYSLOG,
    // which kmsg asks for under kernel.dmesg_restrict) opens the node.
    let (code, out, err) = run_script(&dir, "dev0", script, |spec| {
        with_mknod(spec);
        spec["linux"].as_object_mut().unwrap().remove("resources");
    });
    assert_eq!(code, 0, "{err}");
    // linux.devices' node, made with its numbers, mode and owner
    assert_eq!(out, "read-ok\nnull-ok\n1:7 640 7\n", "no rules");
    // The default spec's deny-all: mknod refused; /dev/null still works.
    let (code, out, err) = run_script(&dir, "dev1", script, with_mknod);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "Operation not permitted\nread-refused\nnull-ok\n1:7 640 7\n",
        "deny-all"
    );
    // A rule allowing mknod only: the node is made, opening it refused.
    let (code, out, err) = run_script(&dir, "dev2", script, |spec| {
        with_mknod(spec);
        spec["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "m"}));
    });
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "read-refused\nnull-ok\n1:7 640 7\n", "m only");
}

#[test]
fn update_changes_a_running_containers_limits() {
    use std::io::Write;
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-update");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, "sleep 60", |spec| {
        spec["linux"]["resources"]["pids"] = json!({"limit": 42});
    });
    let _gone = DeleteOnDrop { root, id: "upd" };
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            b.to_str().unwrap(),
            "upd",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pids_max = || -> Vec<String> {
        cgroup_dirs("isolab-upd")
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("pids.max")).ok())
            .collect()
    };
    assert_eq!(pids_max(), ["42\n"]);
    // From a file, and from stdin as engines pipe it.
    let file = dir.0.join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": 17}}"#).unwrap();
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "update",
            "--resources",
            file.to_str().unwrap(),
            "upd",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(pids_max(), ["17\n"]);
    let mut child = std::process::Command::new(BIN)
        .args(["--root", root, "update", "--resources", "-", "upd"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let unified = r#"{"pids": {"limit": 9}, "unified": {"memory.high": "52428800"}}"#;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(unified.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let layout = isolab::cgroup::Layout::detect().unwrap();
    if layout.version() == isolab::cgroup::Version::V2 {
        assert!(out.status.success(), "{err}");
        let dir = layout.v2.unwrap().join("isolab-upd");
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.high")).unwrap(),
            "52428800\n"
        );
        assert_eq!(pids_max(), ["9\n"]);
    } else {
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("needs a pure cgroup v2 host"), "{err}");
        assert_eq!(pids_max(), ["17\n"], "nothing changed");
    }
    // A value of the wrong type is refused, not taken as absent.
    std::fs::write(&file, r#"{"pids": {"limit": "17"}}"#).unwrap();
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "update",
            "--resources",
            file.to_str().unwrap(),
            "upd",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(err, "isolab: --resources: pids.limit: must be an integer\n");
    // What it doesn't change is refused by name.
    std::fs::write(&file, r#"{"blockIO": {"weight": 10}}"#).unwrap();
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "update",
            "--resources",
            file.to_str().unwrap(),
            "upd",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "isolab: --resources: blockIO.weight: an I/O weight is not supported by isolab yet\n"
    );
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "upd"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn an_idmapped_bind_shows_host_root_files_as_container_roots() {
    require_root();
    let dir = TempDir::new("oci-idmap");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("file"), "host root's\n").unwrap();
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let script = "stat -c %u:%g /mnt/file; touch /mnt/new 2>/dev/null && stat -c %u /mnt/new || echo refused";
    let with_userns = |spec: &mut serde_json::Value, idmapped: bool| {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        spec["linux"]["uidMappings"] = map.clone();
        spec["linux"]["gidMappings"] = map.clone();
        // no /out: container root may not make a mount point in the image
        // (/mnt is there)
        let mounts = spec["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/out");
        let mut m = json!({"destination": "/mnt", "type": "bind", "source": data,
                           "options": ["bind", "rw"]});
        if idmapped {
            m["uidMappings"] = map.clone();
            m["gidMappings"] = map.clone();
        }
        spec["mounts"].as_array_mut().unwrap().push(m);
    };
    // The step before: a plain bind shows host root's files as nobody's,
    // and container root may not write there.
    let (code, out, err) = run_script(&dir, "plain", script, |s| with_userns(s, false));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "65534:65534\nrefused\n");
    let (code, out, err) = run_script(&dir, "idmapped", script, |s| with_userns(s, true));
    if code != 0 && err.contains("mount_setattr") {
        eprintln!("NOTE: {} can't be idmapped here: {err}", data.display());
        return;
    }
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0:0\n0\n", "root's inside, through the mount");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(data.join("new")).unwrap().uid(),
        0,
        "written as host root's on disk"
    );
    // The option alone idmaps with the container's maps.
    let (code, out, err) = run_script(&dir, "option", script, |s| {
        with_userns(s, false);
        let last = s["mounts"].as_array().unwrap().len() - 1;
        s["mounts"][last]["options"] = json!(["bind", "rw", "idmap"]);
    });
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0:0\n0\n");
    // Maps other than the container's are refused by path.
    let (code, _, err) = run_script(&dir, "other", script, |s| {
        with_userns(s, true);
        let last = s["mounts"].as_array().unwrap().len() - 1;
        s["mounts"][last]["uidMappings"] = json!([{"containerID": 0, "hostID": 5, "size": 1}]);
    });
    assert_eq!(code, 1);
    assert!(
        err.contains("uidMappings: isolab idmaps binds with the container's own"),
        "{err}"
    );
}

#[test]
fn a_seccomp_agent_gets_the_listener_and_answers_the_calls() {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use std::os::fd::AsRawFd;
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-agent");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let sock = dir.0.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let b = bundle(
        &dir,
        "mkdir /tmp/x 2>&1 | sed 's/.*: //'; echo done > /out/done; sleep 60",
        |spec| {
            spec["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
                "listenerPath": sock,
                "listenerMetadata": "agent-test"
            });
        },
    );
    let _gone = DeleteOnDrop { root, id: "agent" };
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            b.to_str().unwrap(),
            "agent",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // The agent's side: the container process state and the listener.
    let (message, fd) = isolab::console::receive_message(&listener).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "agent-test");
    assert_eq!(state["state"]["id"], "agent");
    assert!(state["pid"].as_i64().unwrap() > 1, "the host PID: {state}");
    // Answer the container's mkdir with EACCES, as an agent decides.
    let req = ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
    let name = req.data.syscall.get_name().unwrap();
    assert!(name.starts_with("mkdir"), "{name}");
    ScmpNotifResp::new_error(req.id, -libc::EACCES, ScmpNotifRespFlags::empty())
        .respond(fd.as_raw_fd())
        .unwrap();
    wait_for(&dir.0.join("out/done"));
    // the container's stdout is the one `run -d` was given
    assert_eq!(
        std::fs::read_to_string(dir.0.join(".stdout")).unwrap(),
        "Permission denied\n",
        "the agent's answer, as the container saw it"
    );
    // An exec'd process's filter goes to the agent too.
    // (the agent answers in a thread: exec waits for its process, which
    // waits for the answer)
    let answer = std::thread::spawn(move || {
        let (_, fd) = isolab::console::receive_message(&listener).unwrap();
        let req = ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
        ScmpNotifResp::new_error(req.id, -libc::EROFS, ScmpNotifRespFlags::empty())
            .respond(fd.as_raw_fd())
            .unwrap();
    });
    let out = std::process::Command::new(BIN)
        .args(["--root", root, "exec", "agent", "sh", "-c"])
        .arg("mkdir /tmp/y 2>&1 | sed 's/.*: //'")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // (a failed exec never connects: don't wait for the agent then)
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    answer.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Read-only file system\n"
    );
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "agent"]);
    assert_eq!(code, 0, "{err}");
}
