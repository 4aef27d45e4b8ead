//! A probe for measuring one child process: the bench re-executes itself with [`PROBE_ENV`]
//! set, and the re-executed bench runs the measured command as its only child, so that
//! `getrusage(RUSAGE_CHILDREN)` is exactly that command's CPU time and peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set in the probe's environment: where to write the measured child's figures.
pub const PROBE_ENV: &str = "SCIMFORM_BENCH_PROBE";

/// What the probe measured of its child.
pub struct Probed {
    pub output: Output,
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_kb: u64,
}

/// Runs the probe if this process is one: call first thing in `main`; returns only if not.
pub fn run_if_probe() {
    if let Ok(out) = std::env::var(PROBE_ENV) {
        probe(Path::new(&out));
    }
}

/// Runs `command` (its program and arguments; its environment is passed on) under the probe.
pub fn measure(command: &Command, out: &Path) -> Probed {
    let mut probe = Command::new(std::env::current_exe().expect("the bench's own path"));
    probe
        .env(PROBE_ENV, out)
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => probe.env(key, value),
            None => probe.env_remove(key),
        };
    }
    let output = probe.output().expect("the probe runs");
    let probed = std::fs::read_to_string(out).expect("the probe's measurements");
    let numbers: Vec<u64> = probed
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let [wall_us, user_us, sys_us, peak_rss_kb] = numbers[..] else {
        panic!("the probe wrote {probed:?}");
    };
    Probed {
        output,
        wall: Duration::from_micros(wall_us),
        cpu: Duration::from_micros(user_us + sys_us),
        peak_rss_kb,
    }
}

/// Runs the command in the arguments as this process's only child, passing its stdout and
/// stderr through, and writes `wall_us user_us sys_us max_rss_kb` of that child to `out`.
pub fn probe(out: &Path) {
    let mut args = std::env::args_os().skip(1);
    let program = PathBuf::from(args.next().expect("a program to run"));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .env_remove(PROBE_ENV)
        .status()
        .expect("the measured command starts");
    let wall = started.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    std::fs::write(
        out,
        format!(
            "{} {} {} {}",
            wall.as_micros(),
            micros(usage.user_time()),
            micros(usage.system_time()),
            usage.max_rss()
        ),
    )
    .expect("the probe writes its measurements");
    std::process::exit(status.code().unwrap_or(1));
}
