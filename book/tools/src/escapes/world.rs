//! The host side of the escape matrix: what the attacks look for, set up
//! before the containers run and taken down after (also when a run
//! panics): a secret in a host directory, a victim process, a SysV
//! segment, an abstract socket, a key in root's user keyring, the image
//! with the attack program in it, and the arguments that name them.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::ScratchDir;

/// What the attacks' `secret` file holds (attack/main.rs's SECRET).
const SECRET: &str = "isolab-host-secret\n";
/// The image file `image-write` writes, and what it holds.
pub const IMAGE_MARKER: &str = "isolab-image-marker";
pub const IMAGE_ORIGINAL: &str = "original\n";

/// Everything the attacks look for; dropped, it is all gone.
#[derive(Debug)]
pub struct World {
    _tmp: ScratchDir,
    pub dir: PathBuf,
    pub image: PathBuf,
    pub attack: PathBuf,
    /// A directory fd the runtimes inherit as fd 5 (`leaked-fd`).
    pub secret_dir: std::fs::File,
    victim: Child,
    sysv_id: i32,
    key_id: i64,
    _listener: UnixListener,
    args: Vec<String>,
}

impl World {
    /// Set it all up in a new directory under the temp dir: the default
    /// image (built by `isolab` in `bin_dir`) copied, with `attack` in it.
    pub fn new(bin_dir: &Path, attack: &Path) -> Result<World, String> {
        // Removed when the world is dropped, or on any early return here.
        let tmp = ScratchDir::new("escapes").map_err(|e| format!("a scratch dir: {e}"))?;
        let dir = tmp.0.clone();
        std::fs::create_dir_all(dir.join("secret"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        // Other users pass through (the rootless column runs as uid 1000).
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
        std::fs::write(dir.join("secret/isolab-secret"), SECRET).map_err(|e| e.to_string())?;
        let built = Command::new(bin_dir.join("isolab"))
            .args(["rootfs", "build", "--state-dir"])
            .arg(dir.join("state"))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("isolab rootfs build: {e}"))?;
        if !built.status.success() {
            return Err("isolab rootfs build failed".to_string());
        }
        let built = String::from_utf8_lossy(&built.stdout).trim().to_string();
        let image = dir.join("image");
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&built)
            .arg(&image)
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            return Err(format!("cp -a {built} {}", image.display()));
        }
        std::fs::copy(attack, image.join("attack")).map_err(|e| format!("copy attack: {e}"))?;
        std::fs::write(image.join(IMAGE_MARKER), IMAGE_ORIGINAL).map_err(|e| e.to_string())?;
        let secret_dir = std::fs::File::open(dir.join("secret")).map_err(|e| e.to_string())?;
        let mut victim = Command::new(attack)
            .arg("victim")
            .arg(dir.join("secret"))
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("victim: {e}"))?;
        let tag = std::process::id();
        let abstract_name = format!("isolab-escapes-{tag}");
        // The last step that can fail: nothing but the victim to undo.
        let listener = match SocketAddr::from_abstract_name(&abstract_name)
            .and_then(|a| UnixListener::bind_addr(&a))
        {
            Ok(l) => l,
            Err(e) => {
                let _ = victim.kill();
                let _ = victim.wait();
                return Err(format!("abstract socket: {e}"));
            }
        };
        let sysv_key = 0x1501_0000 | (tag as i32 & 0xffff);
        // SAFETY: shmget with integer arguments makes a new 4 KiB segment.
        let sysv_id =
            unsafe { libc::shmget(sysv_key, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        let key_name = format!("isolab-escapes-{tag}");
        let key_id = add_user_key(&key_name);
        let mut args = vec![
            format!("ns={}", host_namespaces()),
            format!("victim={}", victim.id()),
            format!("secret={}", dir.join("secret").display()),
            format!("abstract={abstract_name}"),
            format!("key={key_name}"),
        ];
        if sysv_id >= 0 {
            args.push(format!("sysv={sysv_key}"));
        }
        if let Some(h) = handle(&dir.join("secret")) {
            args.push(format!("handle={h}"));
        }
        if let Some((major, minor)) = host_disk() {
            args.push(format!("disk={major}:{minor}"));
        }
        Ok(World {
            _tmp: tmp,
            dir,
            image,
            attack: attack.to_path_buf(),
            secret_dir,
            victim,
            sysv_id,
            key_id,
            _listener: listener,
            args,
        })
    }

    /// The attack program's arguments, for a container whose image file
    /// is at `image_marker` as that container sees paths.
    pub fn args(&self, image_marker: &str) -> Vec<String> {
        let mut a = self.args.clone();
        a.push(format!("image={image_marker}"));
        a.push("all".into());
        a
    }

    /// The image file, as the host sees it.
    pub fn image_marker(&self) -> PathBuf {
        self.image.join(IMAGE_MARKER)
    }

    /// Did the last run write into the image? Puts the original back.
    pub fn image_written(&self) -> bool {
        let now = std::fs::read_to_string(self.image_marker()).unwrap_or_default();
        let _ = std::fs::write(self.image_marker(), IMAGE_ORIGINAL);
        now != IMAGE_ORIGINAL
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.victim.kill();
        let _ = self.victim.wait();
        if self.sysv_id >= 0 {
            // SAFETY: removing the segment this world made.
            unsafe { libc::shmctl(self.sysv_id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
        if self.key_id > 0 {
            // KEYCTL_INVALIDATE (21) of the key this world added.
            // SAFETY: integer arguments.
            unsafe { libc::syscall(libc::SYS_keyctl, 21, self.key_id) };
        }
    }
}

/// `uts:INODE,...` of this process's namespaces (the host's).
fn host_namespaces() -> String {
    ["uts", "ipc", "net", "mnt", "pid", "cgroup", "user"]
        .iter()
        .filter_map(|k| {
            let ino = std::fs::metadata(format!("/proc/self/ns/{k}")).ok()?.ino();
            Some(format!("{k}:{ino}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A key in root's user keyring (shared by every root process of the
/// host's user namespace): its id, or 0.
fn add_user_key(name: &str) -> i64 {
    let kind = c"user";
    let desc = std::ffi::CString::new(name).unwrap_or_default();
    // SAFETY: add_key with valid strings and a one-byte payload;
    // KEY_SPEC_USER_KEYRING is -4.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            kind.as_ptr(),
            desc.as_ptr(),
            c"x".as_ptr(),
            1usize,
            -4i32,
        )
    };
    id.max(0)
}

/// `TYPE:HEX` of the file handle of `dir` (name_to_handle_at).
fn handle(dir: &Path) -> Option<String> {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // struct file_handle: handle_bytes (in: room), handle_type, bytes.
    let mut buf = [0u8; 8 + 128];
    buf[0..4].copy_from_slice(&128u32.to_ne_bytes());
    let mut mount_id = 0i32;
    // SAFETY: a buffer with room for MAX_HANDLE_SZ bytes, as declared.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            path.as_ptr(),
            buf.as_mut_ptr(),
            &mut mount_id,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
    let kind = i32::from_ne_bytes(buf[4..8].try_into().ok()?);
    let hex: String = buf[8..8 + len.min(128)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(format!("{kind}:{hex}"))
}

/// The block device the host's root file system is on (or the first
/// disk in /sys/block): `mknod-disk`'s target.
fn host_disk() -> Option<(u32, u32)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let root = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))?;
    let dev = root.split(' ').nth(2)?;
    let parse = |d: &str| -> Option<(u32, u32)> {
        let (a, b) = d.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    if let Some((major, minor)) = parse(dev)
        && major != 0
        && Path::new(&format!("/sys/dev/block/{major}:{minor}")).exists()
    {
        return Some((major, minor));
    }
    let mut disks: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    disks.sort_by_key(|e| e.file_name());
    disks
        .iter()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            !(n.starts_with("loop") || n.starts_with("ram") || n.starts_with("zram"))
        })
        .find_map(|e| parse(&std::fs::read_to_string(e.path().join("dev")).ok()?))
}
