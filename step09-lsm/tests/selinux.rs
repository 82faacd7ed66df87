//! step09-lsm under SELinux: with `--security-opt label=type:container_t`
//! the command runs as container_t, and the policy keeps it from a file
//! labelled secret_t that root with every capability could otherwise read.
//! These tests need SELinux enabled with a policy that has those types:
//! the CI's VM guest boots with `lsm=...,selinux` and loads
//! .ci/vm/selinux.cil. Elsewhere they say so and pass, unless
//! ISOLAB_REQUIRE_SELINUX is set (the VM suite sets it).

use step09_lsm::selinux;
use step09_lsm::testing::{TempDir, assert_one_line, probe_image, require_root, run_in};

const BIN: &str = env!("CARGO_BIN_EXE_step09-lsm");
const SECRET: &str = "system_u:object_r:secret_t";

/// Whether to run: SELinux with the guest's policy here, or a failure
/// when demanded.
fn selinux_here() -> bool {
    require_root();
    let valid = |ctx: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/sys/fs/selinux/context")
            .and_then(|mut f| std::io::Write::write_all(&mut f, ctx.as_bytes()))
            .is_ok()
    };
    if selinux::enabled() && valid(SECRET) && valid("system_u:system_r:container_t") {
        return true;
    }
    assert!(
        std::env::var_os("ISOLAB_REQUIRE_SELINUX").is_none(),
        "ISOLAB_REQUIRE_SELINUX is set but SELinux with the VM's policy is not here"
    );
    eprintln!("NOTE: no SELinux with container_t and secret_t here: not tested");
    false
}

/// Sets /sys/fs/selinux/enforce for as long as it lives, then restores it
/// (also when the test fails).
struct Enforce(String);

impl Enforce {
    fn set(mode: &str) -> Enforce {
        let path = "/sys/fs/selinux/enforce";
        let before = std::fs::read_to_string(path).unwrap();
        std::fs::write(path, mode).unwrap();
        Enforce(before.trim().to_string())
    }
}

impl Drop for Enforce {
    fn drop(&mut self) {
        let _ = std::fs::write("/sys/fs/selinux/enforce", &self.0);
    }
}

/// The kernel log since `mark` lines (AVCs go there when no audit daemon
/// runs).
fn kernel_log() -> Vec<String> {
    let out = std::process::Command::new("dmesg").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// An image with a file `/secret` labelled secret_t (an xattr, as
/// `chcon` would set it).
fn image_with_secret(state: &TempDir) -> String {
    let image = probe_image(BIN, state);
    let file = state.0.join("rootfs").join(&image).join("secret");
    std::fs::write(&file, "the secret\n").unwrap();
    let path = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and a buffer of the given length.
    let rc = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"security.selinux".as_ptr(),
            SECRET.as_ptr().cast(),
            SECRET.len(),
            0,
        )
    };
    assert_eq!(rc, 0, "setxattr: {}", std::io::Error::last_os_error());
    image
}

const SCRIPT: &str = "cat /proc/self/attr/current; echo; \
    cat /secret 2>/dev/null && echo READ; \
    grep -c 'context=' /proc/self/mountinfo";

#[test]
fn container_t_reads_no_secret_t_file_when_enforcing() {
    if !selinux_here() {
        return;
    }
    let state = TempDir::new("s9-se");
    let image = image_with_secret(&state);
    let run = |flags: &[&str]| {
        let mut args = vec!["--rootfs", image.as_str(), "--cap-add", "ALL"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "sh", "-c", SCRIPT]);
        run_in(BIN, &state, &args)
    };
    let label = ["--security-opt", "label=type:container_t"];
    {
        let _enforcing = Enforce::set("1");
        let seen = kernel_log().len();
        let out = run(&label);
        // attr/current ends with a NUL under SELinux
        let lines: Vec<&str> = out
            .stdout
            .lines()
            .map(|l| l.trim_end_matches('\0'))
            .collect();
        assert_eq!(lines[0], "system_u:system_r:container_t", "{out:?}");
        assert!(
            !out.stdout.contains("READ"),
            "denied even to root with ALL: {out:?}"
        );
        // /dev, /dev/pts and /dev/shm carry the mount label
        assert_eq!(lines.last(), Some(&"3"), "{out:?}");
        let avc = kernel_log().split_off(seen);
        assert!(
            avc.iter().any(|l| l.contains("avc:  denied  { read }")
                && l.contains("scontext=system_u:system_r:container_t")
                && l.contains("tcontext=system_u:object_r:secret_t")
                && l.contains("permissive=0")),
            "an AVC for the read: {avc:?}"
        );
        // Without a label the container runs in the runtime's domain,
        // which the policy lets read it: the denial above was the label's.
        let out = run(&[]);
        assert!(out.stdout.contains("READ"), "{out:?}");
        assert!(!out.stdout.starts_with("system_u:system_r:container_t"));
    }
    // Permissive: the same access is logged, and allowed.
    let _permissive = Enforce::set("0");
    let seen = kernel_log().len();
    let out = run(&label);
    assert!(out.stdout.contains("READ"), "{out:?}");
    let avc = kernel_log().split_off(seen);
    assert!(
        avc.iter().any(
            |l| l.contains("tcontext=system_u:object_r:secret_t") && l.contains("permissive=1")
        ),
        "{avc:?}"
    );
}

#[test]
fn a_label_the_policy_lacks_is_one_line() {
    if !selinux_here() {
        return;
    }
    let state = TempDir::new("s9-se-bad");
    for (opt, code, text) in [
        ("label=type:no_such_t", 125, "not a valid context"),
        ("label=type:two words", 2, "not a valid SELinux name"),
        ("label=container_t", 2, "no part"),
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
fn the_session_keyring_carries_the_label() {
    if !selinux_here() {
        return;
    }
    let state = TempDir::new("s9-se-key");
    let image = probe_image(BIN, &state);
    // keyctl is refused by the default seccomp profile: unconfined here.
    let out = run_in(
        BIN,
        &state,
        &[
            "--rootfs",
            &image,
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "label=type:container_t",
            "--",
            BIN,
            "probe",
            "keyring-label",
        ],
    );
    assert_eq!(
        out.stdout, "keyring-label: system_u:system_r:container_t\n",
        "{out:?}"
    );
}
