//! `bench`: container start latency of every step, of isolab, and of runc
//! and crun, side by side in one run on this machine, for the book's
//! performance appendix.
//!
//!   sudo target/release/bench            N = 100 rounds, writes the appendix's
//!                                        results (book/src/appendix/bench/)
//!   sudo target/release/bench --quick    5 rounds, small concurrency; prints
//!   bench -n N --out DIR --only NAME...  other counts, places, contenders
//!
//! The binaries measured are the bench's siblings (target/release/ for a
//! release bench). Method: one bundle for the OCI runtimes (the default
//! image, /bin/true, the same namespaces, limits and seccomp profile),
//! warm-up runs, then rounds in which every contender runs once (A B C A
//! B C ...), so that the machine's drift touches all alike. Everything runs
//! in a private mount namespace of the bench; on a hybrid cgroup host the
//! v2 mount is detached there (crun 1.8 refuses hybrid hosts), for all.

mod contenders;
mod measure;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use contenders::Contender;
use report::Row;

struct Args {
    rounds: usize,
    quick: bool,
    out: Option<PathBuf>,
    only: Vec<String>,
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("floor") {
        std::process::exit(contenders::floor());
    }
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "bench: {e}\nusage: bench [--quick] [-n ROUNDS] [--out DIR] [--only NAME]..."
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = bench(&args) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        rounds: 100,
        quick: false,
        out: None,
        only: Vec::new(),
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => {
                a.quick = true;
                a.rounds = 5;
            }
            "-n" => {
                a.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("-n takes a positive count")?
            }
            "--out" => a.out = Some(it.next().ok_or("--out takes a directory")?.into()),
            "--only" => a.only.push(it.next().ok_or("--only takes a name")?.clone()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn bench(args: &Args) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("containers need root: run it with sudo".into());
    }
    let bin_dir = isolab_book::transcript::bin_dir()?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let hybrid = private_mounts()?;
    // State roots on /run, a tmpfs, where runtimes keep their state for
    // real (runc /run/runc, isolab /run/isolab): not a disk's journal.
    let base = if Path::new("/run").is_dir() {
        PathBuf::from("/run")
    } else {
        std::env::temp_dir()
    };
    let work = base.join(format!("isolab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let result = measure_all(args, &bin_dir, &me, &work, hybrid);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// A mount namespace of the bench's own, every mount private, and on a
/// hybrid host the v2 hierarchy detached there (for crun; for all alike).
fn private_mounts() -> Result<bool, String> {
    // SAFETY: unshare and mount with constant arguments, single-threaded.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!(
                "making / private: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let hybrid = Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
        && Path::new("/sys/fs/cgroup/memory").is_dir();
    if hybrid {
        // SAFETY: umount2 of a constant path, in our own namespace only.
        unsafe { libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH) };
    }
    Ok(hybrid)
}

/// The OCI bundles: `bundle` runs /bin/true, `bundle-sleep` sleeps.
fn bundles(isolab: &Path, work: &Path) -> Result<(), String> {
    let out = |c: &mut Command| -> Result<String, String> {
        let o = c.output().map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("{c:?}: {}", String::from_utf8_lossy(&o.stderr)));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let image = out(Command::new(isolab).args(["rootfs", "build"]))?;
    let front: serde_json::Value = serde_json::from_str(&out(Command::new(isolab).args([
        "run",
        "--print-spec",
        "--",
        "/bin/true",
    ]))?)
    .map_err(|e| e.to_string())?;
    for (name, args) in [
        ("bundle", vec!["/bin/true"]),
        ("bundle-sleep", vec!["sleep", "30"]),
    ] {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        out(Command::new(isolab).arg("spec").arg("--bundle").arg(&dir))?;
        let file = dir.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        // the version every contender takes (crun 1.8 refuses 1.2)
        spec["ociVersion"] = "1.0.2".into();
        spec["root"] = serde_json::json!({"path": image, "readonly": true});
        spec["process"]["args"] = serde_json::json!(args);
        let mib = 256u64 << 20;
        spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": mib, "swap": mib});
        spec["linux"]["resources"]["pids"] = serde_json::json!({"limit": 1024});
        spec["linux"]["seccomp"] = front["linux"]["seccomp"].clone();
        std::fs::write(&file, spec.to_string()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn measure_all(
    args: &Args,
    bin_dir: &Path,
    me: &Path,
    work: &Path,
    hybrid: bool,
) -> Result<(), String> {
    let isolab = bin_dir.join("isolab");
    bundles(&isolab, work)?;
    let list = contenders::all(bin_dir, me, &args.only);
    eprintln!(
        "bench: {} contenders, {} rounds, binaries from {}",
        list.len(),
        args.rounds,
        bin_dir.display()
    );
    // ANCHOR: rounds
    let warmup = if args.quick { 1 } else { 5 };
    let mut samples: Vec<Vec<measure::Sample>> = vec![Vec::new(); list.len()];
    for round in 0..warmup + args.rounds {
        for (i, c) in list.iter().enumerate() {
            let s = measure::run(&mut c.command(work, round))
                .map_err(|e| format!("{}: {e}", c.name))?;
            if round >= warmup {
                samples[i].push(s);
            }
        }
    }
    // ANCHOR_END: rounds
    let rows: Vec<Row> = list
        .iter()
        .zip(&samples)
        .map(|(c, s)| {
            let ms: Vec<f64> = s.iter().map(|x| x.wall.as_secs_f64() * 1e3).collect();
            let (median_ms, p90_ms, p99_ms) = measure::percentiles(&ms);
            Row {
                name: c.name.clone(),
                median_ms,
                p90_ms,
                p99_ms,
                max_rss_kib: s.iter().map(|x| x.max_rss_kib).max().unwrap_or(0),
            }
        })
        .collect();
    // ANCHOR: isolated
    // Back-to-back starts keep some kernel state warm: the RCU sync that a
    // PID written into cgroup.procs waits for stays "entered" a moment, so
    // in a round only the first contender that moves a process pays it.
    // A container started on its own, as `docker run` usually is, pays it
    // every time. So every contender again, one start every 100 ms.
    let mut cold: Vec<Row> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let mut ms = Vec::new();
        let mut rss = 0;
        for n in 0..if args.quick { 3 } else { 20 } {
            std::thread::sleep(Duration::from_millis(100));
            let s = measure::run(&mut c.command(work, 100_000 + i * 1000 + n))
                .map_err(|e| format!("{}: {e}", c.name))?;
            ms.push(s.wall.as_secs_f64() * 1e3);
            rss = rss.max(s.max_rss_kib);
        }
        let (median_ms, p90_ms, p99_ms) = measure::percentiles(&ms);
        cold.push(Row {
            name: c.name.clone(),
            median_ms,
            p90_ms,
            p99_ms,
            max_rss_kib: rss,
        });
    }
    let isolated = report::latency_table(&cold);
    // ANCHOR_END: isolated
    let oci: Vec<&Contender> = list.iter().filter(|c| c.oci_bin().is_some()).collect();
    let levels: &[usize] = if args.quick { &[1, 3] } else { &[1, 10, 50] };
    let mut conc = String::from("| runtime |");
    for l in levels {
        conc.push_str(&format!(" {l} at once |"));
    }
    conc.push_str(" runtime's RSS while its container runs | create + start + delete |\n|---|");
    for _ in levels {
        conc.push_str("---:|");
    }
    conc.push_str("---:|---:|\n");
    for c in &oci {
        conc.push_str(&format!("| {} |", c.name));
        for &k in levels {
            let t = concurrent(c, work, k)?;
            conc.push_str(&format!(" {:.1} ms |", t.as_secs_f64() * 1e3));
        }
        let rss = held_memory(c, work)?;
        let csd = create_start_delete(c, work, if args.quick { 3 } else { 30 })?;
        conc.push_str(&format!(
            " {:.1} MiB | {:.2} ms |\n",
            rss as f64 / 1024.0,
            csd
        ));
    }
    let text = format!(
        "{}\n{}\n#### Start latency\n\n{}\n#### Started on their own, one start every 100 ms\n\n{}\n#### Many at once, memory, and three invocations\n\n\
         Time until N `run -d` started at once have all returned (their containers\n\
         run `sleep`); the runtime's resident memory while a foreground `run` waits\n\
         for its container; and the median of `create`, `start`, `delete --force` as\n\
         three invocations (youki's method).\n\n{}",
        machine(args, hybrid),
        targets(&rows),
        report::latency_table(&rows),
        isolated,
        conc
    );
    print!("{text}");
    let out = match (&args.out, args.quick) {
        (Some(o), _) => Some(o.clone()),
        (None, false) => Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/appendix/bench")),
        (None, true) => None,
    };
    if let Some(out) = out {
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        std::fs::write(out.join("results.md"), &text).map_err(|e| e.to_string())?;
        std::fs::write(
            out.join("start.svg"),
            report::svg(
                &rows,
                "Container start latency, /bin/true (lower is better)",
            ),
        )
        .map_err(|e| e.to_string())?;
        eprintln!("bench: wrote {}", out.display());
    }
    Ok(())
}

/// The machine and the method, for the top of the results.
fn machine(args: &Args, hybrid: bool) -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let version = |b: &str| {
        Command::new(b)
            .arg("--version")
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_else(|| "not installed".into())
    };
    format!(
        "Measured by `bench{}` with {} rounds on Linux {} ({} CPUs, {}){}; {}, {}.\n",
        if args.quick { " --quick" } else { "" },
        args.rounds,
        read("/proc/sys/kernel/osrelease").trim(),
        cpus,
        cpu,
        if hybrid {
            ", cgroups hybrid (v2 detached in the bench's mount namespace)"
        } else {
            ""
        },
        version("runc"),
        version("crun"),
    )
}

/// isolab against the targets: 0.9 x crun, 2 x the floor.
fn targets(rows: &[Row]) -> String {
    let median = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.median_ms);
    match (
        median("isolab (OCI)"),
        median("crun"),
        median("kernel floor"),
    ) {
        (Some(i), Some(c), Some(f)) => format!(
            "isolab (OCI) against crun: {:.2}x (target at most 0.9x); against the kernel floor: {:.2}x (target at most 2x).\n",
            i / c,
            i / f
        ),
        _ => String::new(),
    }
}

/// `k` `run -d` of the sleeping bundle at once: until all have returned.
fn concurrent(c: &Contender, work: &Path, k: usize) -> Result<Duration, String> {
    let bin = c.oci_bin().expect("an OCI runtime");
    let root = c.root(work);
    let start = Instant::now();
    let mut children = Vec::new();
    for n in 0..k {
        let child = Command::new(bin)
            .arg("--root")
            .arg(&root)
            .args(["run", "-d", "--bundle"])
            .arg(work.join("bundle-sleep"))
            .arg(format!("c{k}-{n}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        children.push(child);
    }
    let mut failed = 0;
    for mut child in children {
        failed += usize::from(!child.wait().map_err(|e| e.to_string())?.success());
    }
    let took = start.elapsed();
    for n in 0..k {
        let _ = Command::new(bin)
            .arg("--root")
            .arg(&root)
            .args(["delete", "--force", &format!("c{k}-{n}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if failed > 0 {
        return Err(format!(
            "{}: {failed} of {k} concurrent starts failed",
            c.name
        ));
    }
    Ok(took)
}

/// VmRSS of a foreground `run` while its container runs, in KiB.
fn held_memory(c: &Contender, work: &Path) -> Result<u64, String> {
    let bin = c.oci_bin().expect("an OCI runtime");
    let root = c.root(work);
    let mut child = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(work.join("bundle-sleep"))
        .arg("mem")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut rss = 0;
    for _ in 0..500 {
        let state = Command::new(bin)
            .arg("--root")
            .arg(&root)
            .args(["state", "mem"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        if state.contains("\"running\"") {
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
            rss = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .args(["kill", "mem", "KILL"])
        .status();
    let _ = child.wait();
    let _ = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .args(["delete", "--force", "mem"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if rss == 0 {
        return Err(format!("{}: the container never ran", c.name));
    }
    Ok(rss)
}

/// Median of `create`, `start`, `delete --force` run as three commands.
fn create_start_delete(c: &Contender, work: &Path, rounds: usize) -> Result<f64, String> {
    let bin = c.oci_bin().expect("an OCI runtime");
    let root = c.root(work);
    let mut ms = Vec::new();
    for n in 0..rounds {
        let id = format!("csd{n}");
        let start = Instant::now();
        for args in [
            vec![
                "create",
                "--bundle",
                work.join("bundle").to_str().unwrap_or(""),
                &id,
            ],
            vec!["start", &id],
            vec!["delete", "--force", &id],
        ] {
            measure::run(Command::new(bin).arg("--root").arg(&root).args(&args))
                .map_err(|e| format!("{}: {e}", c.name))?;
        }
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(measure::percentiles(&ms).0)
}
