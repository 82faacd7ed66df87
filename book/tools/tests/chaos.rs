//! A short chaos run (book/tools/src/chaos): 60 `isolab run`s, 10 at a
//! time, a third of the runtimes SIGKILLed at random moments; nothing of
//! ours may be left after `isolab cleanup`, and the next run must work.

#[test]
fn killed_runtimes_leave_nothing_behind_after_cleanup() {
    step01_clone::testing::require_root();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["-n", "60", "-c", "10", "--kill", "35"])
        .output()
        .expect("chaos runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Left after it: nothing."), "{stdout}");
    assert!(stdout.contains("The next run: exit 0."), "{stdout}");
}
