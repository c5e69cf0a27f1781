//! The logger policy through the binary: what the log holds, formats, rotation, `-v`, and a log
//! that cannot be created.

use crate::harness::{runner_in, sha256_hex, stderr};
use std::path::Path;

fn setup(logger: &str, files: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        format!(
            "version: 1\nlogger: {logger}\nsnapshot: {{path: state.bin}}\njobs:\n  j:\n    source: {{dir: in}}\n    chain: checksum(sha256) | write(\"out/{{name}}\")\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    for i in 0..files {
        std::fs::write(
            tmp.path().join(format!("in/f{i:03}.txt")),
            format!("file {i}\n"),
        )
        .unwrap();
    }
    tmp
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_text_log_holds_the_run_and_every_file() {
    let tmp = setup("{path: logs/runner.log}", 3);
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = read_lines(&tmp.path().join("logs/runner.log"));
    assert!(
        lines[0].contains("level=info msg=\"run started\""),
        "{lines:?}"
    );
    let done: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("msg=\"file done\""))
        .collect();
    assert_eq!(done.len(), 3, "{lines:?}");
    assert!(
        done.iter()
            .any(|l| l.contains("job=j path=f000.txt kind=text bytes_in=7 bytes_out=7")),
        "{done:?}"
    );
    let sha = "sha256=".to_owned() + &sha256_hex(b"file 0\n");
    assert!(done.iter().any(|l| l.contains(&sha)), "{done:?}");
    assert!(
        lines.iter().any(|l| l.contains("msg=\"snapshot saved\"")),
        "{lines:?}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.contains("msg=\"run finished\" job=j ok=3 failed=0 rejected=0 skipped=0"),
        "{last}"
    );
    for line in &lines {
        assert!(
            line.starts_with("ts=20") && line.contains(" level="),
            "{line}"
        );
    }
    // The terminal's summary never goes into the log.
    assert!(!lines.iter().any(|l| l.contains("wall time")));
}

#[test]
fn the_json_log_is_one_object_a_line() {
    let tmp = setup("{path: runner.log, format: json, level: debug}", 2);
    runner_in(tmp.path(), &["p.yaml"]);
    runner_in(tmp.path(), &["p.yaml"]); // skips both, logged at debug
    let lines = read_lines(&tmp.path().join("runner.log"));
    let records: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .all(|r| r["ts"].is_string() && r["level"].is_string() && r["msg"].is_string())
    );
    let done = records.iter().find(|r| r["msg"] == "file done").unwrap();
    assert_eq!(done["job"], "j");
    assert_eq!(done["bytes_in"], 7);
    assert_eq!(
        records
            .iter()
            .filter(|r| r["msg"] == "skipped: unchanged since it was finished")
            .count(),
        2
    );
}

#[test]
fn a_small_max_size_rotates_and_every_line_stays_whole() {
    let tmp = setup(
        "{path: logs/runner.log, rotate: {max_size: 1KiB, keep: 3, compress: false}}",
        30,
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = tmp.path().join("logs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["runner.log", "runner.log.1", "runner.log.2", "runner.log.3"]
    );
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.len() <= 1024, "{name} is {} bytes", text.len());
        for line in text.lines() {
            assert!(
                line.starts_with("ts=") && line.contains(" msg="),
                "{name}: {line}"
            );
        }
    }
}

#[test]
fn verbose_mirrors_the_log_to_stderr() {
    let tmp = setup("{path: runner.log}", 1);
    let out = runner_in(tmp.path(), &["-v", "p.yaml"]);
    let err = stderr(&out);
    assert!(err.contains("msg=\"run started\""), "{err}");
    assert!(
        err.contains("ok j "),
        "the terminal's own per-file line: {err}"
    );
    assert_eq!(
        err.matches("f000.txt").count(),
        1,
        "a file is reported once on stderr: {err}"
    );
}

#[test]
fn a_log_that_cannot_be_created_stops_the_run_before_any_file() {
    let tmp = setup("{path: logs/runner.log}", 2);
    std::fs::write(tmp.path().join("logs"), b"a file, not a directory").unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.starts_with("runner: cannot create the log directory"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
    assert!(!tmp.path().join("state.bin").exists());
}

#[test]
fn with_a_log_file_a_run_that_cannot_start_still_says_why_on_stderr() {
    // A missing source directory (exit 2) and an unusable state (exit 3): the reason is in the
    // log file and on stderr, once, so that a terminal or a service's journal shows it.
    let tmp = setup("{path: logs/runner.log}", 1);
    std::fs::rename(tmp.path().join("in"), tmp.path().join("elsewhere")).unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("runner: error: ").count(), 1, "{err}");
    assert!(err.contains("in"), "{err}");
    let log = read_lines(&tmp.path().join("logs/runner.log"));
    assert!(log.iter().any(|l| l.contains("level=error")), "{log:?}");

    std::fs::rename(tmp.path().join("elsewhere"), tmp.path().join("in")).unwrap();
    std::fs::create_dir(tmp.path().join("state.bin")).unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("runner: error: ") && err.contains("state.bin"),
        "{err}"
    );
    assert!(
        !err.contains("\\n"),
        "no escaped newline in the message: {err}"
    );
}

#[test]
fn quiet_prints_errors_only() {
    // A leftover temp file is removed with a warning: -q does not print it.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("in")).unwrap();
    std::fs::create_dir_all(tmp.path().join("out")).unwrap();
    std::fs::write(tmp.path().join("in/a.txt"), b"a").unwrap();
    std::fs::write(tmp.path().join("out/.a.txt.runner-tmp-abc"), b"junk").unwrap();
    let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warning with -q");
    std::fs::write(tmp.path().join("out/.a.txt.runner-tmp-abc"), b"junk").unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert!(
        stderr(&out).contains("warning: removed temp files"),
        "{}",
        stderr(&out)
    );
}
