//! The snapshot through the binary: restarts skip finished files, changed files are redone,
//! counters accumulate, corrupt files follow `on_corrupt`, `state show` prints it.

use crate::harness::{runner_in, stderr, stdout};
use std::path::Path;

const PIPELINE: &str = r#"version: 1
snapshot: {path: state/state.bin, on_corrupt: ONCORRUPT}
jobs:
  j:
    source: {dir: in}
    chain: checksum(xxh64) | write("out/{name}")
"#;

fn setup(on_corrupt: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        PIPELINE.replace("ONCORRUPT", on_corrupt),
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(tmp.path().join("in").join(name), name.repeat(100)).unwrap();
    }
    tmp
}

/// The cells of the summary row of job `j`: ok, failed, rejected, skipped.
fn counts(out: &std::process::Output) -> Vec<String> {
    let text = stdout(out);
    let row = text
        .lines()
        .find(|l| l.starts_with("j "))
        .unwrap_or_else(|| panic!("{text}"));
    row.split_whitespace()
        .skip(1)
        .take(4)
        .map(str::to_owned)
        .collect()
}

fn run(dir: &Path) -> std::process::Output {
    let out = runner_in(dir, &["p.yaml"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    out
}

#[test]
fn a_restart_skips_finished_files_and_redoes_changed_ones() {
    let tmp = setup("fail");
    assert_eq!(counts(&run(tmp.path())), ["3", "0", "0", "0"]);
    // Outputs removed behind runner's back are not redone: the ledger says the inputs are finished.
    std::fs::remove_file(tmp.path().join("out/a.txt")).unwrap();
    assert_eq!(counts(&run(tmp.path())), ["0", "0", "0", "3"]);
    assert!(!tmp.path().join("out/a.txt").exists());
    // A changed input is processed again.
    std::fs::write(tmp.path().join("in/b.txt"), b"changed").unwrap();
    assert_eq!(counts(&run(tmp.path())), ["1", "0", "0", "2"]);
    assert_eq!(
        std::fs::read(tmp.path().join("out/b.txt")).unwrap(),
        b"changed"
    );
    // A deleted input leaves the ledger.
    std::fs::remove_file(tmp.path().join("in/c.txt")).unwrap();
    run(tmp.path());

    let show = runner_in(
        tmp.path(),
        &["state", "show", "state/state.bin", "--format", "json"],
    );
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let job = &json["jobs"]["j"];
    assert_eq!(job["counters"]["runs"], 4);
    assert_eq!(job["counters"]["ok"], 4);
    assert_eq!(job["counters"]["skipped"], 3 + 2 + 2);
    let ledger = job["ledger"].as_object().unwrap();
    assert_eq!(ledger.keys().collect::<Vec<_>>(), ["a.txt", "b.txt"]);
    let b = &ledger["b.txt"];
    assert_eq!(b["size"], 7);
    assert_eq!(b["fingerprint"], xxhash_rust::xxh3::xxh3_64(b"changed"));
    assert_eq!(b["digests"][0]["algo"], "xxh64");
    assert_eq!(
        b["digests"][0]["hex"],
        format!("{:016x}", xxhash_rust::xxh64::xxh64(b"changed", 0))
    );

    let text = runner_in(tmp.path(), &["state", "show", "state/state.bin"]);
    let text = stdout(&text);
    assert!(
        text.starts_with("job j: 4 run(s); files ok 4, failed 0, rejected 0, skipped 7;"),
        "{text}"
    );
    assert!(text.contains("    b.txt  ok  7 B  mtime "), "{text}");
}

#[test]
fn failed_files_are_tried_again_and_the_last_error_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        "version: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in}\n    chain: gunzip | write(\"out/{name}\")\n",
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    std::fs::write(
        tmp.path().join("in/bad.gz"),
        b"\x1f\x8b\x08\x00 not really gzip",
    )
    .unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "a failed file is not skipped");
    assert_eq!(counts(&out), ["0", "1", "0", "0"]);
    let show = stdout(&runner_in(tmp.path(), &["state", "show", "state.bin"]));
    assert!(
        show.contains("  last error: bad.gz: corrupt gzip stream"),
        "{show}"
    );
}

fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn corrupt_state_with_fail_and_no_prev_exits_3_touching_nothing() {
    let tmp = setup("fail");
    run(tmp.path());
    let state = tmp.path().join("state/state.bin");
    std::fs::remove_file(tmp.path().join("state/state.bin.prev")).ok();
    corrupt(&state);
    let before = std::fs::read(&state).unwrap();
    std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("state/state.bin is corrupt: the checksum does not match"),
        "{err}"
    );
    assert!(err.contains("fix:"), "{err}");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "the corrupt file is left as it was"
    );
    assert!(!tmp.path().join("out").exists(), "no file was processed");

    let show = runner_in(tmp.path(), &["state", "show", "state/state.bin"]);
    assert_eq!(show.status.code(), Some(1));
    assert!(
        stderr(&show).contains("is not a valid snapshot: the checksum does not match"),
        "{}",
        stderr(&show)
    );
}

#[test]
fn corrupt_state_with_fail_falls_back_to_the_previous_copy() {
    let tmp = setup("fail");
    run(tmp.path());
    std::fs::write(tmp.path().join("in/d.txt"), b"d").unwrap();
    run(tmp.path()); // state.bin knows a..d; state.bin.prev knows a..c
    corrupt(&tmp.path().join("state/state.bin"));
    let out = run(tmp.path());
    assert!(
        stderr(&out).contains("loaded the previous copy"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        counts(&out),
        ["1", "0", "0", "3"],
        "d.txt is redone, the others skipped"
    );
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("state.bin.corrupt-")),
        "{names:?}"
    );
}

#[test]
fn corrupt_state_with_reset_starts_fresh() {
    let tmp = setup("reset");
    run(tmp.path());
    std::fs::write(tmp.path().join("state/state.bin"), b"garbage").unwrap();
    let out = run(tmp.path());
    assert!(
        stderr(&out).contains("started with an empty state"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&out), ["3", "0", "0", "0"]);
}

#[test]
fn an_unusable_state_directory_is_fatal_before_any_file() {
    let tmp = setup("fail");
    std::fs::write(
        tmp.path().join("state"),
        b"a file where the state directory should be",
    )
    .unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("cannot create the state directory"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn sigterm_in_batch_mode_finishes_in_flight_files_saves_and_exits_143() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        "version: 1\nworkers: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in}\n    chain: gzip(level = 9) | write(\"out/{name}.gz\")\n",
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    let line = b"2026-12-04T09:15:02.117Z INFO svc-3 id=7f3a2c request GET /orders latency=12ms\n";
    let content: Vec<u8> = (0..60_000u32)
        .flat_map(|i| [&i.to_le_bytes()[..], line].concat())
        .collect();
    for i in 0..6 {
        std::fs::write(tmp.path().join(format!("in/f{i}.log")), &content).unwrap();
    }
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["-q", "p.yaml"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the first file is being written, then ask runner to stop.
    let started = std::time::Instant::now();
    while !std::fs::read_dir(tmp.path().join("out")).is_ok_and(|mut d| d.next().is_some()) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "runner never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = std::fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(
        done.iter()
            .all(|n| n.ends_with(".log.gz") && !n.starts_with('.')),
        "{done:?}"
    );
    assert!(!done.is_empty() && done.len() < 6, "{done:?}");

    // The next run does the rest and skips what was finished.
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let c = counts(&out);
    assert_eq!(
        c[0].parse::<usize>().unwrap() + c[3].parse::<usize>().unwrap(),
        6,
        "{c:?}"
    );
    assert_eq!(c[3].parse::<usize>().unwrap(), done.len());
}

#[test]
fn a_rejected_input_skipped_again_is_counted_in_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        "version: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in, accept: [text]}\n    chain: write(\"out/{name}\")\n",
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    std::fs::write(tmp.path().join("in/a.bin"), b"\x00\x01binary\x00").unwrap();
    for _ in 0..2 {
        run(tmp.path());
    }
    let show = runner_in(
        tmp.path(),
        &["state", "show", "--format", "json", "state.bin"],
    );
    let state: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let c = &state["jobs"]["j"]["counters"];
    assert_eq!(
        (c["rejected"].as_u64(), c["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{c}"
    );
}
