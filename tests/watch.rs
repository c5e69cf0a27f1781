//! Watch mode through the binary. Waits are bounded polls, never a fixed sleep as an assertion.

use crate::harness::{runner_in, stderr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `cond` every 20 ms until it holds; fails after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pipeline(dir: &Path, settle: &str, extra: &str, chain: &str) {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        format!(
            "version: 1\nworkers: 1\n{extra}snapshot: {{path: state.bin}}\njobs:\n  j:\n    source: {{dir: in, settle: {settle}}}\n    chain: {chain}\n"
        ),
    )
    .unwrap();
}

fn start(dir: &Path) -> Child {
    start_with(dir, &["--watch", "-q", "p.yaml"])
}

fn start_with(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner starts")
}

/// SIGTERM, then waits: a watcher stopped this way exits 0 (checked here for every test).
fn stop(child: Child) -> std::process::Output {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

fn state_json(dir: &Path) -> serde_json::Value {
    let out = runner_in(dir, &["state", "show", "--format", "json", "state.bin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".runner-tmp-"))
        .map(|e| e.path().to_owned())
        .collect()
}

#[test]
fn a_file_written_in_parts_is_taken_once_after_it_settles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(dir, "1s", "", "write(\"out/{name}\")");
    let child = start(dir);
    let mut file = std::fs::File::create(dir.join("in/a.txt")).unwrap();
    std::io::Write::write_all(&mut file, b"first part\n").unwrap();
    let written = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    std::io::Write::write_all(&mut file, b"second part\n").unwrap();
    // Within the settle time after the last write, nothing may be taken.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !dir.join("out/a.txt").exists(),
        "taken {:?} after the first write",
        written.elapsed()
    );
    drop(file);
    wait_until("the settled file's output", Duration::from_secs(20), || {
        dir.join("out/a.txt").exists()
    });
    assert_eq!(
        std::fs::read(dir.join("out/a.txt")).unwrap(),
        b"first part\nsecond part\n"
    );
    stop(child);
    let state = state_json(dir);
    assert_eq!(
        state["jobs"]["j"]["counters"]["ok"], 1,
        "processed exactly once: {state}"
    );
}

#[test]
fn a_renamed_in_file_is_taken_without_waiting_to_settle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(dir, "1h", "", "write(\"out/{name}\")");
    let child = start(dir);
    // A file that is already there at start waits an hour; one renamed in is taken at once.
    std::fs::write(dir.join("staging.txt"), b"renamed in\n").unwrap();
    std::thread::sleep(Duration::from_millis(200)); // let the watcher start
    std::fs::rename(dir.join("staging.txt"), dir.join("in/b.txt")).unwrap();
    wait_until("the renamed file's output", Duration::from_secs(20), || {
        dir.join("out/b.txt").exists()
    });
    stop(child);
}

#[test]
fn sigterm_exits_0_with_the_state_saved_and_a_restart_does_not_redo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(dir, "100ms", "", "checksum(xxh3) | write(\"out/{name}\")");
    std::fs::write(dir.join("in/a.txt"), b"a").unwrap();
    let child = start(dir);
    wait_until("the first output", Duration::from_secs(20), || {
        dir.join("out/a.txt").exists()
    });
    stop(child);
    assert_eq!(state_json(dir)["jobs"]["j"]["ledger"]["a.txt"]["size"], 1);

    std::fs::remove_file(dir.join("out/a.txt")).unwrap();
    let child = start(dir);
    std::fs::write(dir.join("in/b.txt"), b"b").unwrap();
    wait_until("the new file's output", Duration::from_secs(20), || {
        dir.join("out/b.txt").exists()
    });
    stop(child);
    assert!(
        !dir.join("out/a.txt").exists(),
        "a.txt was finished before: not redone"
    );
    let counters = &state_json(dir)["jobs"]["j"]["counters"];
    assert_eq!(
        (counters["ok"].as_u64(), counters["runs"].as_u64()),
        (Some(2), Some(2)),
        "{counters}"
    );
}

#[test]
fn sigterm_during_a_large_file_leaves_no_partial_output_and_it_is_done_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(
        dir,
        "50ms",
        "shutdown_timeout: 0s\nchunk: 4KiB\n",
        "gzip(level = 9) | write(\"out/{name}.gz\")",
    );
    let line =
        b"2026-12-04T09:15:02.117Z INFO svc-3 request GET /orders latency=12ms naive unicode pi\n";
    let big: Vec<u8> = (0..400_000u32)
        .flat_map(|i| [&i.to_le_bytes()[..], line].concat())
        .collect();
    std::fs::write(dir.join("in/big.log"), &big).unwrap();
    let child = start(dir);
    wait_until(
        "the temp output of the big file",
        Duration::from_secs(30),
        || !temp_files(&dir.join("out")).is_empty(),
    );
    stop(child);
    assert!(
        !dir.join("out/big.log.gz").exists(),
        "no partial output under the final name"
    );
    assert!(
        temp_files(dir).is_empty(),
        "no temp file left: {:?}",
        temp_files(dir)
    );

    let out = runner_in(dir, &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let gz = std::fs::read(dir.join("out/big.log.gz")).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert!(plain == big, "the big file is complete after the restart");
}

#[test]
fn a_source_directory_that_disappears_and_comes_back_is_watched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(dir, "100ms", "", "write(\"out/{name}\")");
    // Not `-q`: the warning is what this test reads.
    let child = start_with(dir, &["--watch", "p.yaml"]);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_dir(dir.join("in")).unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // the directory check runs every second
    std::fs::create_dir(dir.join("in")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(dir.join("in/c.txt"), b"c").unwrap();
    wait_until(
        "the output of a file in the recreated directory",
        Duration::from_secs(20),
        || dir.join("out/c.txt").exists(),
    );
    let out = stop(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("disappeared"), "{err}");
}

/// Peak resident memory of a process, from `/proc/PID/status` (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// A burst of 10,000 files, half written in place and half renamed in, far more events than
/// the bounded queue (and, with the writes, the kernel's default inotify queue) holds: every
/// file is processed exactly once, with the right content, and memory stays bounded.
#[test]
fn a_burst_of_ten_thousand_files_is_processed_exactly_once_in_bounded_memory() {
    const FILES: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir_all(dir.join("staging")).unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        "version: 1\nworkers: 2\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in, settle: 200ms}\n    chain: 'checksum(xxh3) | write(\"out/{name}\")'\n",
    )
    .unwrap();
    let child = start(dir);
    std::thread::sleep(Duration::from_millis(200)); // let the watcher start
    let content = |i: usize| format!("file {i} of the burst\n").repeat(1 + i % 7);
    for i in 0..FILES {
        let name = format!("f{i:05}.txt");
        if i % 2 == 0 {
            std::fs::write(dir.join("in").join(&name), content(i)).unwrap();
        } else {
            std::fs::write(dir.join("staging").join(&name), content(i)).unwrap();
            std::fs::rename(dir.join("staging").join(&name), dir.join("in").join(&name)).unwrap();
        }
    }
    let count = || {
        std::fs::read_dir(dir.join("out"))
            .map(|d| d.filter_map(Result::ok).count())
            .unwrap_or(0)
    };
    wait_until(
        "every output of the burst",
        Duration::from_secs(300),
        || count() >= FILES,
    );
    let peak = peak_rss_kib(child.id());
    println!("peak RSS of the watcher: {peak} KiB");
    stop(child);
    for i in 0..FILES {
        let got = std::fs::read(dir.join(format!("out/f{i:05}.txt"))).unwrap();
        assert!(got == content(i).as_bytes(), "output {i} differs");
    }
    assert_eq!(count(), FILES, "no other file in out/");
    let state = state_json(dir);
    let job = &state["jobs"]["j"];
    assert_eq!(
        job["counters"]["ok"], FILES,
        "each file once: {}",
        job["counters"]
    );
    assert_eq!(job["counters"]["failed"], 0);
    assert_eq!(job["ledger"].as_object().unwrap().len(), FILES);
    assert!(temp_files(dir).is_empty());
    // The queue is bounded: memory does not grow with the number of files in the burst.
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn outputs_written_into_the_source_are_not_taken_as_new_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(
        dir,
        "100ms",
        "",
        "gzip(level = 1) | write(\"in/{name}.gz\")",
    );
    let child = start(dir);
    std::thread::sleep(Duration::from_millis(200)); // let the watcher start
    std::fs::write(dir.join("in/a.txt"), b"some text\n").unwrap();
    wait_until("a.txt.gz", Duration::from_secs(20), || {
        dir.join("in/a.txt.gz").exists()
    });
    // Long enough for a.txt.gz to settle and be taken, were it taken.
    std::thread::sleep(Duration::from_millis(800));
    let out = stop(child);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("in"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.txt", "a.txt.gz"], "{}", stderr(&out));
}

#[test]
fn a_file_renamed_within_the_source_or_a_new_directory_does_not_redo_finished_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    pipeline(dir, "200ms", "", "write(\"out/{name}\")");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/old.txt"), b"old").unwrap();
    let child = start(dir);
    wait_until("old.txt's output", Duration::from_secs(20), || {
        dir.join("out/old.txt").exists()
    });
    // Published the usual way: written under a hidden name, renamed in the same directory.
    std::fs::write(dir.join("in/.part"), b"new").unwrap();
    std::fs::rename(dir.join("in/.part"), dir.join("in/new.txt")).unwrap();
    wait_until("new.txt's output", Duration::from_secs(20), || {
        dir.join("out/new.txt").exists()
    });
    // A new directory makes the watcher scan the source again.
    std::fs::create_dir(dir.join("in/sub.txt")).unwrap();
    std::thread::sleep(Duration::from_millis(1000)); // past settle, for anything taken again
    stop(child);
    let counters = &state_json(dir)["jobs"]["j"]["counters"];
    assert_eq!(
        (counters["ok"].as_u64(), counters["skipped"].as_u64()),
        (Some(2), Some(0)),
        "each file once, and nothing counted as skipped: {counters}"
    );
}
