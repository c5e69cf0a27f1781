//! Crash consistency: the runner killed with SIGKILL at random moments, many times in a row.
//! After every kill, every output under its final name is complete and correct, the state loads,
//! and a last run finishes everything with no temp file left.
//!
//! `RUNNER_CRASH_KILLS` sets the number of kills (8 by default, for CI);
//! `scripts/crash-test.sh` runs a long version by hand.

use crate::harness::{runner_in, stderr};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const FILES: usize = 36;

fn content(i: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x = i as u64 * 0x9e37_79b9 + 1;
    for line in 0..(2000 + i * 150) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(
            format!(
                "{line:06} svc-{} id={:x} request GET /orders naïve latency={}ms\n",
                x % 40,
                x >> 20,
                x % 997
            )
            .as_bytes(),
        );
    }
    out
}

/// Checks every output under a final name against its input; returns how many there are.
fn check_outputs(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(dir.join("out"))
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".runner-tmp-") {
            continue; // a temp file: never a final output
        }
        let stem = name.trim_end_matches(".gz");
        let original = std::fs::read(dir.join("in").join(stem)).unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        if name.ends_with(".gz") {
            let mut plain = Vec::new();
            MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut plain)
                .unwrap_or_else(|e| {
                    panic!("{}: not a whole gzip stream: {e}", entry.path().display())
                });
            assert!(
                plain == original.to_ascii_uppercase(),
                "{}: wrong content",
                entry.path().display()
            );
        } else {
            assert!(
                bytes == original,
                "{}: wrong content",
                entry.path().display()
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_bad_output() {
    let kills: usize = std::env::var("RUNNER_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("p.yaml"),
        "version: 1\nworkers: 2\nchunk: 4KiB\nsnapshot: {path: state/state.bin, every: 50ms}\njobs:\n  j:\n    source: {dir: in}\n    chain: >\n      tee(\"out/plain/{name}\") | upper | gzip(level = 9)\n      | multiwrite(\"out/a/{name}.gz\", \"out/b/{name}.gz\")\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("in")).unwrap();
    for i in 0..FILES {
        std::fs::write(dir.join(format!("in/f{i:02}.log")), content(i)).unwrap();
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut survived = 0;
    for _ in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(20 + seed % 400);
        let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["-q", "p.yaml"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        check_outputs(dir);
        if dir.join("state/state.bin").exists() {
            let show = runner_in(dir, &["state", "show", "state/state.bin"]);
            assert_eq!(
                show.status.code(),
                Some(0),
                "the state loads after a kill: {}",
                stderr(&show)
            );
        }
        survived += 1;
    }
    let out = runner_in(dir, &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        check_outputs(dir),
        FILES * 3,
        "every output of every file, complete and correct"
    );
    let temps: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".runner-tmp-"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    eprintln!("crash test: {survived} kills survived with zero bad outputs");
}
