//! step09-lsm on the real kernel: a Landlock ruleset keeps even root with
//! every capability from writing the image, where step 8 did not.

use step09_lsm::testing::{
    TempDir, assert_one_line, check_the_basics, probe_image, require_root, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step09-lsm");

/// `sh -c script` in a container with `flags`; its output.
fn sh(state: &TempDir, flags: &[&str], script: &str) -> step09_lsm::testing::Output {
    let mut args = flags.to_vec();
    args.extend_from_slice(&["--", "sh", "-c", script]);
    run_in(BIN, state, &args)
}

#[test]
fn the_default_ruleset_keeps_root_from_writing_the_image() {
    require_root();
    if step09_lsm::ruleset::kernel_abi() == 0 {
        eprintln!("NOTE: this kernel has no Landlock (Linux 5.13+, lsm=landlock): not tested here");
        return;
    }
    let state = TempDir::new("s9-landlock");
    let script = "touch /etc/planted 2>/dev/null && echo ETC; mkdir /etc/planted.d 2>/dev/null && echo MKDIR; \
                  sh -c 'touch /bin/planted 2>/dev/null && echo BIN'; \
                  touch /tmp/ok && echo TMP; head -c 4 /etc/passwd; echo; echo x > /dev/null && echo DEVNULL";
    // Root with every capability the runtime may grant: still refused.
    let out = sh(&state, &["--cap-add", "ALL"], script);
    assert_eq!(out.stdout, "TMP\nroot\nDEVNULL\n", "{out:?}");
    // The same without the ruleset: step 8's exposure.
    let out = sh(
        &state,
        &["--cap-add", "ALL", "--security-opt", "landlock=unconfined"],
        script,
    );
    assert!(out.stdout.starts_with("ETC\nMKDIR\nBIN\nTMP\n"), "{out:?}");
}

#[test]
fn more_paths_can_be_opened_and_missing_ones_are_one_line() {
    require_root();
    if step09_lsm::ruleset::kernel_abi() == 0 {
        eprintln!("NOTE: this kernel has no Landlock: not tested here");
        return;
    }
    let state = TempDir::new("s9-rw");
    let out = sh(
        &state,
        &["--landlock-rw", "/etc"],
        "touch /etc/planted && echo ETC",
    );
    assert_eq!(out.stdout, "ETC\n", "{out:?}");
    let out = sh(&state, &["--landlock-rw", "/no/such"], "true");
    assert_eq!(out.code, 125, "{out:?}");
    assert_one_line(&out.stderr);
    assert!(out.stderr.contains("/no/such does not exist"), "{out:?}");
    assert_eq!(
        std::fs::read_dir(state.0.join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing left behind"
    );
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    check_the_basics(BIN, &["uts", "pid", "mnt", "cgroup", "user"]);
}

#[test]
fn host_abstract_sockets_and_tcp_ports_are_out_of_reach() {
    require_root();
    if step09_lsm::ruleset::kernel_abi() < 6 {
        eprintln!("NOTE: Landlock ABI below 6 here: scopes and TCP rules not tested");
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    // A host service on an abstract UNIX socket (D-Bus and X11 use them),
    // reachable while the network namespace is the host's; and a TCP one.
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"isolab-probe").unwrap();
    let _unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    let state = TempDir::new("s9-scopes");
    let image = probe_image(BIN, &state);
    let call = format!("tcp-connect:{port}");
    let probe = |flags: &[&str]| {
        let mut args = vec!["--rootfs", image.as_str()];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", BIN, "probe", "abstract-connect", &call]);
        run_in(BIN, &state, &args).stdout
    };
    let ok = format!("abstract-connect: EPERM\n{call}: ok\n");
    assert_eq!(probe(&[]), ok, "scoped: no host abstract sockets");
    assert_eq!(
        probe(&["--security-opt", "landlock=unconfined"]),
        format!("abstract-connect: ok\n{call}: ok\n"),
        "step 8's exposure"
    );
    assert_eq!(
        probe(&["--landlock-tcp-bind", "1"]),
        format!("abstract-connect: EPERM\n{call}: EACCES\n"),
        "TCP rules on: no port but the ones given"
    );
    assert_eq!(probe(&["--landlock-tcp-connect", &port]), ok);
}

#[test]
fn bad_security_options_are_one_line_and_leave_nothing() {
    require_root();
    let state = TempDir::new("s9-bad");
    let aa_note = if step09_lsm::apparmor::active() {
        "is not loaded"
    } else {
        "not active on this host"
    };
    for (opt, code, text) in [
        ("bogus=1", 2, "apparmor=PROFILE|unconfined"),
        ("landlock=maybe", 2, "landlock=default|unconfined"),
        ("apparmor=two words", 2, "no spaces"),
        ("apparmor=isolab-no-such-profile", 125, aa_note),
        ("label=container_t", 2, "no part"),
        ("label=type:a;b", 2, "not a valid SELinux name"),
    ] {
        let out = run_in(BIN, &state, &["--security-opt", opt, "--", "true"]);
        assert_eq!(out.code, code, "{opt}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{opt}: {out:?}");
    }
    assert_eq!(
        std::fs::read_dir(state.0.join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing left behind"
    );
}

#[test]
fn without_apparmor_the_default_is_quietly_no_profile() {
    require_root();
    if step09_lsm::apparmor::active() {
        eprintln!("NOTE: AppArmor is active here: tests/apparmor.rs covers it");
        return;
    }
    let state = TempDir::new("s9-noaa");
    let out = sh(
        &state,
        &[],
        "cat /proc/self/attr/current 2>/dev/null; echo ran",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.ends_with("ran\n"), "{out:?}");
    assert!(!out.stderr.contains("apparmor"), "{out:?}");
    let out = sh(&state, &["--security-opt", "apparmor=unconfined"], "true");
    assert_eq!(out.code, 0, "unconfined asks nothing of the host: {out:?}");
}

#[test]
fn what_this_kernels_abi_cannot_enforce_is_named_and_stays_open() {
    require_root();
    let abi = step09_lsm::ruleset::kernel_abi();
    if abi == 0 {
        eprintln!("NOTE: this kernel has no Landlock: not tested here");
        return;
    }
    let state = TempDir::new("s9-abi");
    let image = probe_image(BIN, &state);
    // truncate(2) of a file of the image, to its own length: Landlock
    // refuses it from ABI 3 (Linux 6.2) on; before, nothing can.
    let call = "truncate:/etc/passwd".to_string();
    let probe = |flags: &[&str]| {
        let mut args = vec!["--rootfs", image.as_str()];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", BIN, "probe", &call]);
        run_in(BIN, &state, &args)
    };
    let out = probe(&[]);
    let missing = step09_lsm::ruleset::unenforced(abi);
    if abi >= 3 {
        assert_eq!(out.stdout, format!("{call}: EACCES\n"), "{out:?}");
    } else {
        assert_eq!(out.stdout, format!("{call}: ok\n"), "{out:?}");
    }
    if missing.is_empty() {
        assert!(!out.stderr.contains("landlock"), "{out:?}");
    } else {
        // one line, naming each right this kernel leaves open
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("landlock"))
            .collect();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert!(lines[0].starts_with("note: landlock: "), "{out:?}");
        for what in &missing {
            assert!(lines[0].contains(what), "{what}: {out:?}");
        }
    }
    let out = probe(&["--security-opt", "landlock=unconfined"]);
    assert_eq!(out.stdout, format!("{call}: ok\n"), "{out:?}");
    assert!(!out.stderr.contains("landlock"), "{out:?}");
}

#[test]
fn a_symlink_in_the_image_does_not_move_a_writable_path() {
    require_root();
    if step09_lsm::ruleset::kernel_abi() == 0 {
        eprintln!("NOTE: this kernel has no Landlock: not tested here");
        return;
    }
    let state = TempDir::new("s9-symlink");
    // An image whose /var is a link to /etc: a rule opened through it
    // would make /etc writable.
    let image = probe_image(BIN, &state);
    let var = state.0.join("rootfs").join(&image).join("var");
    let _ = std::fs::remove_dir_all(&var);
    let _ = std::fs::remove_file(&var);
    std::os::unix::fs::symlink("etc", &var).unwrap();
    std::os::unix::fs::symlink("/etc", var.with_file_name("data")).unwrap();
    let out = sh(
        &state,
        &["--rootfs", &image, "--cap-add", "ALL"],
        "touch /var/planted 2>/dev/null && echo VIA_VAR; touch /etc/planted 2>/dev/null && echo ETC; touch /tmp/ok && echo TMP",
    );
    assert_eq!(out.stdout, "TMP\n", "{out:?}");
    // A path the user names is refused when it is a link.
    let out = sh(
        &state,
        &["--rootfs", &image, "--landlock-rw", "/data"],
        "true",
    );
    assert_eq!(out.code, 125, "{out:?}");
    assert_one_line(&out.stderr);
    assert!(out.stderr.contains("symlink"), "{out:?}");
}
