//! step09-lsm on the real kernel: a Landlock ruleset keeps even root with
//! every capability from writing the image, where step 8 did not.

use step09_lsm::testing::{TempDir, assert_one_line, check_the_basics, require_root, run_in};

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
