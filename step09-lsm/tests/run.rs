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
    let script = "touch /etc/planted 2>/dev/null && echo ETC; mkdir /usr/planted 2>/dev/null && echo USR; \
                  sh -c 'touch /bin/planted 2>/dev/null && echo BIN'; \
                  touch /tmp/ok && echo TMP; head -c 4 /etc/passwd; echo; echo x > /dev/null && echo DEVNULL";
    // Root with every capability the runtime may grant: still refused.
    let out = sh(&state, &["--cap-add", "ALL"], script);
    assert_eq!(out.stdout, "TMP\nroot\nDEVNULL\n", "{out:?}");
    // The same without the ruleset: step 8's exposure.
    let out = sh(
        &state,
        &["--cap-add", "ALL", "--landlock", "unconfined"],
        script,
    );
    assert!(out.stdout.starts_with("ETC\nUSR\nBIN\nTMP\n"), "{out:?}");
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
        probe(&["--landlock", "unconfined"]),
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
