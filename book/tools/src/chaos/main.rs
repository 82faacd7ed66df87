//! `chaos`: many short `isolab run` containers, up to C at once, with a
//! fraction of the runtimes SIGKILLed at a random moment of their setup,
//! run or teardown; then `isolab cleanup`, and a search for anything of
//! ours left behind (mounts, cgroups, state, veths, nftables rules,
//! processes), and one more run that must work. As root:
//!
//!   sudo target/debug/chaos -n 1000 --out book/src/appendix/chaos/result.md
//!   chaos -n 60 -c 10                  (the test's short run)
//!   CHAOS_KEEP=1 chaos ...             keep its directory when something is left
//!
//! Everything happens in a network namespace of its own (the bridge, its
//! veths and nftables table are gone with it) and under a directory of its
//! own (state root, image, layers). The runtimes are the program's
//! siblings (target/debug/isolab, or target/release/ for a release chaos).

mod leftovers;
mod runs;

use std::path::PathBuf;
use std::time::Instant;

use runs::{Plan, Rng};

struct Args {
    n: usize,
    concurrency: usize,
    kill_percent: u64,
    seed: u64,
    out: Option<PathBuf>,
}

fn main() {
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "chaos: {e}\nusage: chaos [-n RUNS] [-c CONCURRENT] [--kill PERCENT] [--seed N] [--out FILE]"
            );
            std::process::exit(2);
        }
    };
    match chaos(&args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::exit(1);
        }
    }
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        n: 1000,
        concurrency: 50,
        kill_percent: 30,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        out: None,
    };
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "-n" => a.n = num(value()?)? as usize,
            "-c" => a.concurrency = (num(value()?)? as usize).max(1),
            "--kill" => a.kill_percent = num(value()?)?.min(100),
            "--seed" => a.seed = num(value()?)?,
            "--out" => a.out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(a)
}

fn chaos(args: &Args) -> Result<bool, String> {
    // SAFETY: geteuid has no arguments and can't fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "needs root (it makes cgroups, mounts and a network namespace): run with sudo".into(),
        );
    }
    // A network namespace of our own, before any thread or child: the
    // bridge, veths and nftables table the runs make live and die in it.
    // SAFETY: unshare with a flag; this program is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    let bin_dir = isolab_book::transcript::bin_dir()?;
    let plan = Plan::new(&bin_dir)?;
    let mut rng = Rng(args.seed | 1);
    let start = Instant::now();
    let tally = runs::run_all(&plan, args.n, args.concurrency, args.kill_percent, &mut rng);
    let ran_for = start.elapsed();
    // The containers of killed runtimes finish their short commands on
    // their own: give them 10 s before anything counts as left behind.
    let settle = Instant::now();
    while settle.elapsed().as_secs() < 10
        && leftovers::find(&plan)
            .iter()
            .any(|l| l.starts_with("process:"))
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let before = leftovers::find(&plan);
    let cleanup = plan.cleanup();
    let after = leftovers::find(&plan);
    let next = plan.one_more_run();
    let ok = after.is_empty() && next.is_ok() && tally.unexpected.is_empty();

    let mut report = String::new();
    report.push_str(&format!(
        "{} runs of `isolab run` (seed {}), up to {} at once, {}% of the runtimes SIGKILLed \
         0-{} ms after their start: {} killed ({} in the first 15 ms, {} later), {} exited on their own, in {:.1} s.\n\n",
        args.n,
        args.seed,
        args.concurrency,
        args.kill_percent,
        runs::KILL_WINDOW_MS,
        tally.killed,
        tally.killed_early,
        tally.killed - tally.killed_early,
        tally.finished,
        ran_for.as_secs_f64()
    ));
    report.push_str(&format!(
        "- Left before `isolab cleanup`: {}.\n",
        summary(&before)
    ));
    report.push_str(&format!("- `isolab cleanup`: {cleanup}.\n"));
    report.push_str(&format!("- Left after it: {}.\n", summary(&after)));
    report.push_str(&format!(
        "- The next run: {}.\n",
        match &next {
            Ok(()) => "exit 0".to_string(),
            Err(e) => format!("**failed**: {e}"),
        }
    ));
    if !tally.unexpected.is_empty() {
        report.push_str(&format!(
            "- Runs that were not killed and failed: {} (first: {}).\n",
            tally.unexpected.len(),
            tally.unexpected[0]
        ));
    }
    print!("{report}");
    for l in &after {
        eprintln!("left: {l}");
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    if !after.is_empty() && std::env::var_os("CHAOS_KEEP").is_some() {
        eprintln!("chaos: kept {} to look at", plan.dir.display());
        std::mem::forget(plan);
    } else {
        drop(plan);
    }
    Ok(ok)
}

fn summary(found: &[String]) -> String {
    if found.is_empty() {
        return "nothing".into();
    }
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for f in found {
        let kind = f.split(':').next().unwrap_or("").to_string();
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
