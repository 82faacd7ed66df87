//! What the runtime's integration tests share: `isolab` run as an engine
//! runs it, a bundle around the default image, waiting for the container.

#![allow(dead_code)] // each test file uses its own share of these

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use step01_clone::testing::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_isolab");

/// `isolab ARGS`, with stdout and stderr to files: a created container
/// keeps the stdio it was given, and a pipe would stay open as long as it.
pub fn isolab(dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    isolab_at(Path::new(BIN), dir, args)
}

/// [`isolab`] with another copy of the binary (one a test may attack).
pub fn isolab_at(bin: &Path, dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    captured(dir, Command::new(bin).args(args))
}

/// Run `cmd` with stdin from /dev/null and stdout and stderr to files in
/// `dir`: (exit status, stdout, stderr).
pub fn captured(dir: &TempDir, cmd: &mut Command) -> (i32, String, String) {
    let out = dir.0.join(".stdout");
    let err = dir.0.join(".stderr");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

/// Wait (up to 30 s) until container `id` under `root` has stopped.
pub fn wait_stopped(dir: &TempDir, root: &str, id: &str) {
    for _ in 0..3000 {
        if state(dir, root, id)["status"] == "stopped" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("container {id} never stopped");
}

/// A bundle in `dir`: the default config with `script` as the command,
/// the default image (built once per test dir) as a read-only root, and
/// `dir/out` bound at /out for the container to write to.
pub fn bundle(dir: &TempDir, script: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let image = default_image(dir);
    let bundle = dir.0.join("bundle");
    let out = dir.0.join("out");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let mut spec = isolab::default_spec::default_spec(None);
    spec["root"]["path"] = json!(image);
    spec["process"]["args"] = json!(["sh", "-c", script]);
    spec["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]}),
    );
    edit(&mut spec);
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    bundle
}

/// The default image, built once in `dir` (`isolab rootfs build`).
pub fn default_image(dir: &TempDir) -> PathBuf {
    let (code, image, err) = isolab(dir, &["rootfs", "build", "--state-dir", dir.arg()]);
    assert_eq!(code, 0, "{err}");
    PathBuf::from(image.trim())
}

/// Add `caps` to the bounding, effective and permitted sets of `spec`'s
/// process (what a test's attacker or a device test is given).
pub fn add_caps(spec: &mut Value, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let list = spec["process"]["capabilities"][set].as_array_mut().unwrap();
        list.extend(caps.iter().map(|c| json!(c)));
    }
}

pub fn state(dir: &TempDir, root: &str, id: &str) -> Value {
    let (code, out, err) = isolab(dir, &["--root", root, "state", id]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Wait (up to 30 s: the CI's VM emulates its CPU, and a runtime start
/// there takes seconds) for `path` to appear with content. It returns
/// the first content it sees: a script whose output takes more than one
/// write makes it in `path.tmp` and renames it.
pub fn wait_for(path: &Path) -> String {
    for _ in 0..3000 {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", path.display());
}

/// Become the subreaper a shim is: the containers `create` leaves behind
/// are reparented to this test process, which reaps them.
pub fn be_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// `isolab run` of a bundle with `script` (default config edited by
/// `edit`) in the foreground: its exit code, stdout and stderr.
pub fn run_script(
    dir: &TempDir,
    id: &str,
    script: &str,
    edit: impl FnOnce(&mut Value),
) -> (i32, String, String) {
    let b = bundle(dir, script, edit);
    let root = dir.0.join("root");
    isolab(
        dir,
        &[
            "--root",
            root.to_str().unwrap(),
            "run",
            "--bundle",
            b.to_str().unwrap(),
            id,
        ],
    )
}

/// Nothing of the front end's under `root` (a state root), and no mount
/// below it.
pub fn assert_clean(root: &Path) {
    let left: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n != ".network")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left under the root: {left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&root.display().to_string()),
        "a mount is left: {mounts}"
    );
}

pub fn cgroup_exists(id: &str) -> bool {
    let name = format!("isolab-{id}");
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    let mut depth = 0;
    while let Some(d) = stack.pop() {
        if d.file_name().is_some_and(|n| n == name.as_str()) {
            return true;
        }
        depth += 1;
        if depth > 200 {
            break;
        }
        if d.components().count() > 6 {
            continue;
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    false
}

/// `delete --force` of container `id` when dropped: a test that fails
/// half-way leaves no process or cgroup behind.
pub struct DeleteOnDrop<'a> {
    pub root: &'a str,
    pub id: &'a str,
}

impl Drop for DeleteOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["--root", self.root, "delete", "--force", self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A helper program from tests/helpers/NAME.rs, compiled static (glibc's
/// libc.a, `+crt-static`) so it runs in any image, whatever its libraries:
/// built once per target dir, by the rustc that built the tests.
pub fn static_helper(name: &str) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/helpers/{name}.rs"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("helper-{name}"));
    let fresh = |o: &Path| {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        matches!((modified(o), modified(&source)), (Some(b), Some(s)) if b >= s)
    };
    if !fresh(&out) {
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let result = Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(&tmp)
            .arg(&source)
            .output()
            .expect("rustc runs");
        assert!(
            result.status.success(),
            "compiling {name} static: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}
