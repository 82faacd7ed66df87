//! `--network bridge`, for real, but never on the machine's own network:
//! each test makes a network namespace of its own (a `sleep` started by
//! `unshare -n` holds it) and runs isolab inside it, so the bridge, the
//! veths and the nftables table live and die there. The test's own checks
//! run on a thread that joined that namespace (setns(2) on a thread moves
//! only that thread).

mod common;

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::{BIN, default_image, state, static_helper, wait_for};
use step01_clone::testing::{TempDir, require_root};

/// A network namespace of the test's own, gone when dropped.
struct NetNs {
    holder: Child,
}

impl NetNs {
    fn new() -> NetNs {
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .spawn()
            .expect("unshare(1) from util-linux");
        let ns = NetNs { holder };
        // wait until the holder is in its namespace
        let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..3000 {
            if std::fs::read_link(ns.path()).is_ok_and(|l| l != mine) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ns.on_thread(|| isolab::netns::loopback_up().unwrap());
        ns
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `cmd` runs in the namespace.
    fn command(&self, program: &str) -> Command {
        let ns = std::fs::File::open(self.path()).unwrap();
        let mut cmd = Command::new(program);
        // SAFETY: setns in the child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)
            });
        }
        cmd
    }

    /// Run `f` on a thread inside the namespace.
    fn on_thread<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns = std::fs::File::open(self.path()).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// The namespace's links, from /proc/PID/net/dev (no `ip` needed).
    fn links(&self) -> Vec<String> {
        let dev = std::fs::read_to_string(format!("/proc/{}/net/dev", self.holder.id())).unwrap();
        dev.lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect()
    }

    /// `nft list tables` inside.
    fn nft_tables(&self) -> String {
        let out = self
            .command("nft")
            .args(["list", "tables"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn require_nft() {
    assert!(
        Command::new("nft").arg("--version").output().is_ok(),
        "nft(8) is missing: install nftables (.ci/run does)"
    );
}

/// `isolab --root DIR/root run ARGS` inside `ns`: (status, stdout, stderr).
fn run_in(ns: &NetNs, dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    let mut cmd = ns.command(BIN);
    cmd.arg("--root")
        .arg(dir.0.join("root"))
        .arg("run")
        .args(args);
    common::captured(dir, &mut cmd)
}

/// `isolab delete --force ID` inside `ns`: the network is released in the
/// namespace that holds it.
fn delete_in(ns: &NetNs, dir: &TempDir, id: &str) {
    let status = ns
        .command(BIN)
        .arg("--root")
        .arg(dir.0.join("root"))
        .args(["delete", "--force", id])
        .status()
        .unwrap();
    assert!(status.success());
}

fn connect(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect_timeout(
        &addr.parse().unwrap(),
        std::time::Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// After the last container: no bridge, no veth, no table, no lease.
fn assert_gone(ns: &NetNs, dir: &TempDir) {
    let links = ns.links();
    assert!(links.iter().all(|l| !l.starts_with("isolab0")), "{links:?}");
    assert!(!ns.nft_tables().contains("isolab"), "{}", ns.nft_tables());
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(ns.path()).unwrap().ino();
    let file = dir.0.join(format!("root/.network/netns-{ino}/leases"));
    let leases = std::fs::read_to_string(file).unwrap_or_default();
    assert_eq!(leases.trim(), "[]");
}

// ANCHOR: bridge_test
#[test]
fn containers_on_the_bridge_reach_each_other_and_a_published_port() {
    require_root();
    require_nft();
    let dir = TempDir::new("net-bridge");
    let ns = NetNs::new();
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let netcheck = static_helper("netcheck");
    let v = format!("{}:/netcheck:ro", netcheck.display());
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = format!("{}:/out", out.display());
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let _a = common::DeleteOnDrop { root, id: "net-a" };
    // a serves three connections on 7000, published as 8080 on any host
    // address; it says when it listens
    let (code, _, err) = run_in(
        &ns,
        &dir,
        &[
            "-d",
            "--name",
            "net-a",
            "--network",
            "bridge",
            "-p",
            "8080:7000",
            "--rootfs",
            image,
            "-v",
            &v,
            "-v",
            &o,
            "--",
            "sh",
            "-c",
            "/netcheck listen 7000 3 > /out/listen.tmp & sleep 0.2; mv /out/listen.tmp /out/listening; wait",
        ],
    );
    assert_eq!(code, 0, "{err}");
    wait_for(&out.join("listening"));
    // seen from the host: the bridge and a's end of the cable, and inside
    // a the leased address and the default route through the bridge
    let links = ns.links();
    assert!(
        links.contains(&"isolab0".into()) && links.contains(&"isolab0v2".into()),
        "{links:?}"
    );
    let pid = state(&dir, root, "net-a")["pid"].as_i64().unwrap();
    let trie = std::fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).unwrap();
    assert!(trie.contains("10.89.0.2"), "{trie}");
    let route = std::fs::read_to_string(format!("/proc/{pid}/net/route")).unwrap();
    assert!(
        route
            .lines()
            .any(|l| l.starts_with("eth0\t00000000\t0100590A")),
        "no default route via 10.89.0.1: {route}"
    );
    assert!(ns.nft_tables().contains("table ip isolab"));

    // b, on the same bridge, reaches a by its address; /etc/hosts names b
    let (code, out_b, err) = run_in(
        &ns,
        &dir,
        &[
            "--name",
            "net-b",
            "--network",
            "bridge",
            "--rootfs",
            image,
            "-v",
            &v,
            "--",
            "sh",
            "-c",
            "grep -c '10.89.0.3.net-b$' /etc/hosts; /netcheck connect 10.89.0.2 7000",
        ],
    );
    assert_eq!(code, 0, "{out_b}{err}");
    assert_eq!(out_b, "1\nhello from net-a\n");

    // the published port, from the host's side: localhost and the bridge
    let (local, bridge) = ns.on_thread(|| (connect("127.0.0.1:8080"), connect("10.89.0.1:8080")));
    assert_eq!(
        (local.as_str(), bridge.as_str()),
        ("hello from net-a\n", "hello from net-a\n")
    );

    delete_in(&ns, &dir, "net-a");
    assert_gone(&ns, &dir);
}
// ANCHOR_END: bridge_test

#[test]
fn taken_ports_and_a_clashing_subnet_are_refused_in_one_line() {
    require_root();
    require_nft();
    let dir = TempDir::new("net-bad");
    let ns = NetNs::new();
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    // a port some program of the host listens on
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let path = ns.path();
    let holder = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let l = std::net::TcpListener::bind("0.0.0.0:9090").unwrap();
        tx.send(()).unwrap();
        let _ = done_rx.recv();
        drop(l);
    });
    rx.recv().unwrap();
    let (code, _, err) = run_in(
        &ns,
        &dir,
        &[
            "--network",
            "bridge",
            "-p",
            "9090:80",
            "--rootfs",
            image,
            "--",
            "true",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("port 9090/tcp is taken on the host"), "{err}");
    done_tx.send(()).unwrap();
    holder.join().unwrap();

    // a port another container publishes
    let _a = common::DeleteOnDrop {
        root,
        id: "ports-a",
    };
    let (code, _, err) = run_in(
        &ns,
        &dir,
        &[
            "-d",
            "--name",
            "ports-a",
            "--network",
            "bridge",
            "-p",
            "9191:80",
            "--rootfs",
            image,
            "--",
            "sleep",
            "60",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_in(
        &ns,
        &dir,
        &[
            "--network",
            "bridge",
            "-p",
            "9191:81",
            "--rootfs",
            image,
            "--",
            "true",
        ],
    );
    assert_eq!((code, err.lines().count()), (1, 1), "{err}");
    assert!(
        err.contains("container ports-a publishes port 9191/tcp"),
        "{err}"
    );
    delete_in(&ns, &dir, "ports-a");
    assert_gone(&ns, &dir);

    // the bridge's subnet already on another link (made here with the
    // runtime's own rtnetlink code)
    ns.on_thread(|| {
        let mut rtnl = isolab::rtnetlink::Rtnl::open().unwrap();
        rtnl.add_bridge("clash0").unwrap();
        let index = rtnl.index("clash0").unwrap().unwrap();
        rtnl.add_address(index, "10.89.0.7".parse().unwrap(), 24)
            .unwrap();
    });
    let (code, _, err) = run_in(
        &ns,
        &dir,
        &["--network", "bridge", "--rootfs", image, "--", "true"],
    );
    assert_eq!((code, err.lines().count()), (1, 1), "{err}");
    assert!(
        err.contains("10.89.0.0/24 is in use on clash0 (10.89.0.7)"),
        "{err}"
    );
    assert!(!ns.links().contains(&"isolab0".to_string()));
}

/// The runtime SIGKILLed while its bridged container runs: the lease, the
/// veth and the table stay until the container has ended and the next
/// run sweeps them.
#[test]
fn a_killed_runtimes_network_is_swept_by_the_next_run() {
    require_root();
    require_nft();
    let dir = TempDir::new("net-kill");
    let ns = NetNs::new();
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = format!("{}:/out", out.display());
    let root = dir.0.join("root");
    let root_s = root.to_str().unwrap();
    let _victim = common::DeleteOnDrop {
        root: root_s,
        id: "net-victim",
    };
    let mut runtime = ns
        .command(BIN)
        .arg("--root")
        .arg(&root)
        .args(["run", "--name", "net-victim", "--network", "bridge", "-p", "8088:80", "--rootfs", image,
               "-v", &o, "--", "sh", "-c",
               "echo up > /out/up.tmp; mv /out/up.tmp /out/up; while [ ! -e /out/stop ]; do sleep 0.05; done"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&out.join("up"));
    runtime.kill().unwrap();
    runtime.wait().unwrap();
    std::fs::write(out.join("stop"), "").unwrap();
    common::wait_stopped(&dir, root_s, "net-victim");
    // the container is gone, its network is not
    assert!(ns.nft_tables().contains("isolab"));
    let (code, _, err) = run_in(&ns, &dir, &["--rootfs", image, "--", "true"]);
    assert_eq!(code, 0, "{err}");
    assert_gone(&ns, &dir);
    assert!(!root.join("net-victim").exists());
}
