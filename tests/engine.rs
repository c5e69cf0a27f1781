//! The streaming engine, through the library API (at tiny and large chunk sizes) and through the
//! binary (end to end, failure isolation), every output checked with an independent tool.

use crate::harness::{root, runner, runner_in, sha256_hex, stderr, stdout};
use flate2::read::MultiGzDecoder;
use runner::config::load_str;
use runner::exec::claims::Claims;
use runner::exec::file::{FileContext, Outcome, process};
use runner::exec::source;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

/// A text corpus with multi-byte characters everywhere, so that chunk edges cut through them.
fn corpus(lines: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..lines {
        out.push_str(&format!(
            "{i:06} naïve Ünïcödé π=3.14 straße ΣΊΣΥΦΟΣ 🦀 level=INFO id={:x}\n",
            i * 7919
        ));
    }
    out.into_bytes()
}

fn tool_exists(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes a pipeline file into `dir` and loads it.
fn plan(dir: &Path, yaml: &str) -> runner::plan::Plan {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let loaded = load_str(yaml, &path);
    let rendered: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.source.render(d))
        .collect();
    loaded
        .plan
        .unwrap_or_else(|| panic!("invalid test pipeline: {rendered:?}"))
}

#[test]
fn the_etl_chain_at_every_chunk_size_matches_independent_tools() {
    let input = corpus(3000);
    let upper_ascii: Vec<u8> = input.to_ascii_uppercase();
    let expected_sha = sha256_hex(&input);
    for chunk in [1usize, 7, 4096, 65536] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/data.log"), &input).unwrap();
        let plan = plan(
            dir.path(),
            r#"version: 1
jobs:
  etl:
    source: {dir: in}
    chain: >
      checksum(sha256, sidecar = "out/sums/{name}.sha256") | tee("out/plain/{name}") | upper
      | gzip(level = 6) | multiwrite("out/a/{name}.gz", "out/b/{stem}.{ext}.gz")
"#,
        );
        let job = &plan.jobs[0];
        let inputs = source::list(&job.source).unwrap().inputs;
        let cx = FileContext {
            chunk,
            date: "2026-12-04",
            progress: &|_| {},
            cancel: &std::sync::atomic::AtomicBool::new(false),
            fingerprint: true,
            claims: &Claims::default(),
        };
        let outcome = process(job, &inputs[0], &cx, &mut Vec::new());
        let Outcome::Done(done) = outcome else {
            panic!("chunk {chunk}: {outcome:?}")
        };
        assert_eq!(done.bytes_in, input.len() as u64);
        assert_eq!(done.fingerprint, Some(xxhash_rust::xxh3::xxh3_64(&input)));
        assert_eq!(done.digests[0].hex, expected_sha, "chunk {chunk}");
        let out = dir.path().join("out");
        assert_eq!(
            std::fs::read(out.join("plain/data.log")).unwrap(),
            input,
            "chunk {chunk}"
        );
        let a = std::fs::read(out.join("a/data.log.gz")).unwrap();
        assert_eq!(gunzip(&a), upper_ascii, "chunk {chunk}");
        assert_eq!(std::fs::read(out.join("b/data.log.gz")).unwrap(), a);
        assert_eq!(
            std::fs::read_to_string(out.join("sums/data.log.sha256")).unwrap(),
            format!("{expected_sha}  data.log\n")
        );
        if tool_exists("sha256sum") {
            let check = Command::new("sha256sum")
                .arg("-c")
                .arg(out.join("sums/data.log.sha256"))
                .current_dir(dir.path().join("in"))
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stdout)
            );
        }
        if tool_exists("gzip") {
            let d = Command::new("gzip")
                .arg("-dc")
                .arg(out.join("a/data.log.gz"))
                .output()
                .unwrap();
            assert!(d.status.success());
            assert_eq!(d.stdout, upper_ascii);
        }
        assert_no_temp_files(dir.path());
    }
}

#[test]
fn unicode_case_and_gunzip_through_the_engine_at_tiny_chunks() {
    let input = corpus(500);
    let text = String::from_utf8(input.clone()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &input).unwrap();
    let gz = gz.finish().unwrap();
    for chunk in [1usize, 7, 4096] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/t.txt.gz"), &gz).unwrap();
        let plan = plan(
            dir.path(),
            r#"version: 1
jobs:
  j:
    source: {dir: in}
    chain: gunzip | tee(lower(mode = unicode) | write("lo/{stem}")) | upper(mode = unicode) | write("up/{stem}")
"#,
        );
        let job = &plan.jobs[0];
        let inputs = source::list(&job.source).unwrap().inputs;
        let cx = FileContext {
            chunk,
            date: "2026-12-04",
            progress: &|_| {},
            cancel: &std::sync::atomic::AtomicBool::new(false),
            // Without a snapshot nothing keeps the fingerprint: it is not computed.
            fingerprint: false,
            claims: &Claims::default(),
        };
        let outcome = process(job, &inputs[0], &cx, &mut Vec::new());
        assert!(
            matches!(&outcome, Outcome::Done(d) if d.fingerprint.is_none()),
            "chunk {chunk}: {outcome:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("up/t.txt")).unwrap(),
            text.to_uppercase()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("lo/t.txt")).unwrap(),
            text.to_lowercase()
        );
    }
}

#[test]
fn a_file_that_vanishes_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(dir.path().join("in/a.txt"), b"a").unwrap();
    std::fs::write(dir.path().join("in/b.txt"), b"b").unwrap();
    let plan = plan(
        dir.path(),
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n",
    );
    let job = &plan.jobs[0];
    let inputs = source::list(&job.source).unwrap().inputs;
    std::fs::remove_file(dir.path().join("in/a.txt")).unwrap();
    let cx = FileContext {
        chunk: 4096,
        date: "2026-12-04",
        progress: &|_| {},
        cancel: &std::sync::atomic::AtomicBool::new(false),
        fingerprint: false,
        claims: &Claims::default(),
    };
    match process(job, &inputs[0], &cx, &mut Vec::new()) {
        Outcome::Failed { error, .. } => assert!(error.contains("vanished"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        process(job, &inputs[1], &cx, &mut Vec::new()),
        Outcome::Done(_)
    ));
    assert!(!dir.path().join("out/a.txt").exists());
    assert_eq!(std::fs::read(dir.path().join("out/b.txt")).unwrap(), b"b");
}

/// Copies `pipelines/` into a temp dir, so that a run writes its `out/` there.
fn sample_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&root().join("pipelines"), &tmp.path().join("pipelines"));
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_owned())
        .collect();
    files.sort();
    files
}

fn assert_no_temp_files(dir: &Path) {
    let temps: Vec<_> = files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".runner-tmp-"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

#[test]
fn the_sample_etl_run_end_to_end() {
    let tmp = sample_copy();
    let out = runner_in(tmp.path(), &["pipelines/etl.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = stdout(&out);
    let row = summary.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..5], ["etl", "3", "0", "1", "0"], "{summary}");

    let outdir = tmp.path().join("out");
    let date = runner::exec::today();
    let inbox = tmp.path().join("pipelines/data/inbox");
    for name in ["app.log", "notes.txt", "orders.csv"] {
        let original = std::fs::read(inbox.join(name)).unwrap();
        assert_eq!(
            std::fs::read(outdir.join("plain").join(name)).unwrap(),
            original
        );
        let gz = std::fs::read(outdir.join("gz").join(format!("{name}.gz"))).unwrap();
        assert_eq!(gunzip(&gz), original.to_ascii_uppercase());
        assert_eq!(
            std::fs::read(
                outdir
                    .join("archive")
                    .join(&date)
                    .join(format!("{name}.gz"))
            )
            .unwrap(),
            gz
        );
        let sum =
            std::fs::read_to_string(outdir.join("sums").join(format!("{name}.sha256"))).unwrap();
        assert_eq!(sum, format!("{}  {name}\n", sha256_hex(&original)));
        if tool_exists("sha256sum") {
            let check = Command::new("sha256sum")
                .arg("-c")
                .arg(outdir.join("sums").join(format!("{name}.sha256")))
                .current_dir(&inbox)
                .output()
                .unwrap();
            assert!(check.status.success());
        }
    }
    assert!(
        !outdir.join("plain/rotated.log").exists(),
        "the rejected file has no outputs"
    );
    assert!(
        inbox.join("rotated.log").exists(),
        "reject: skip leaves the input in place"
    );
    assert_no_temp_files(tmp.path());

    // A second run skips every file (the snapshot's ledger); with the snapshot removed, it
    // processes them again and writes identical outputs.
    let outputs = || -> Vec<(PathBuf, u64)> {
        files_under(&outdir)
            .into_iter()
            .filter(|p| !p.starts_with("state") && !p.starts_with("logs"))
            .map(|p| {
                let hash = xxhash_rust::xxh3::xxh3_64(&std::fs::read(outdir.join(&p)).unwrap());
                (p, hash)
            })
            .collect()
    };
    let before = outputs();
    let again = runner_in(tmp.path(), &["-q", "pipelines/etl.yaml"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(stdout(&again), "", "-q prints nothing on success");
    let again = runner_in(tmp.path(), &["pipelines/etl.yaml"]);
    let row: Vec<String> = stdout(&again)
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(&row[..5], ["etl", "0", "0", "0", "4"]);
    std::fs::remove_dir_all(outdir.join("state")).unwrap();
    let again = runner_in(tmp.path(), &["-q", "pipelines/etl.yaml"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(outputs(), before);
}

#[test]
fn every_shipped_pipeline_runs_on_its_sample() {
    let tmp = sample_copy();
    for p in ["branches", "recompress", "multi-job"] {
        let out = runner_in(tmp.path(), &[&format!("pipelines/{p}.yaml")]);
        assert_eq!(out.status.code(), Some(0), "{p}: {}", stderr(&out));
    }
    let out = tmp.path().join("out");
    let events = std::fs::read(tmp.path().join("pipelines/data/archives/events.log.gz")).unwrap();
    assert_eq!(
        gunzip(&std::fs::read(out.join("recompressed/events.log.gz")).unwrap()),
        gunzip(&events)
    );
    let two = std::fs::read(tmp.path().join("pipelines/data/archives/events-2.log.gz")).unwrap();
    let decoded = gunzip(&std::fs::read(out.join("recompressed/events-2.log.gz")).unwrap());
    assert_eq!(decoded, gunzip(&two));
    assert_eq!(
        decoded.len(),
        2 * gunzip(&events).len(),
        "both members of a multi-member input"
    );
    if tool_exists("xxhsum") {
        let sums: Vec<PathBuf> = files_under(&out.join("branches/sums"))
            .into_iter()
            .map(|p| out.join("branches/sums").join(p))
            .collect();
        let check = Command::new("xxhsum")
            .arg("-c")
            .args(&sums)
            .current_dir(tmp.path().join("pipelines/data/inbox"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

#[test]
fn dry_run_writes_nothing_and_explains() {
    let tmp = sample_copy();
    let out = runner_in(tmp.path(), &["pipelines/etl.yaml", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "job etl (pipelines/data/inbox):\n  process  app.log (text, 337 B)\n  process  notes.txt (text, 161 B)\n  process  orders.csv (text, 227 B)\n  reject   rotated.log (kind gzip is not accepted)\n"
    );
    assert!(!tmp.path().join("out").exists());
}

/// Writes a pipeline and its inputs into a fresh temp dir.
fn scratch(yaml: &str, inputs: &[(&str, &[u8])]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("p.yaml"), yaml).unwrap();
    for (name, bytes) in inputs {
        let path = tmp.path().join("in").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    tmp
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_corrupt_gzip_fails_that_file_only_and_leaves_nothing() {
    let good = gz(b"good data\n");
    let mut corrupt = gz(&corpus(50));
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x55;
    let truncated = &good[..good.len() - 6];
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: tee(\"out/raw/{name}\") | gunzip | write(\"out/plain/{stem}\")\n",
        &[("a.gz", &good), ("b.gz", &corrupt), ("c.gz", truncated)],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("in/b.gz: failed: corrupt gzip"), "{err}");
    assert!(err.contains("in/c.gz: failed:"), "{err}");
    assert_eq!(
        files_under(&tmp.path().join("out")),
        [PathBuf::from("plain/a"), PathBuf::from("raw/a.gz")],
        "the failed files' tee copies are not committed either"
    );
    assert_no_temp_files(tmp.path());
}

#[test]
fn an_output_path_blocked_by_a_file_fails_that_file_only() {
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: tee(\"out/copy/{name}\") | write(\"out/by-stem/{stem}/{name}\")\n",
        &[("a.txt", b"a"), ("b.txt", b"b")],
    );
    std::fs::create_dir_all(tmp.path().join("out/by-stem")).unwrap();
    std::fs::write(
        tmp.path().join("out/by-stem/a"),
        b"I am a file, not a directory",
    )
    .unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("in/a.txt: failed: cannot create output directory")
            && stderr(&out).contains("out/by-stem/a is a file, not a directory"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("out/copy/a.txt").exists());
    assert_eq!(
        std::fs::read(tmp.path().join("out/by-stem/b/b.txt")).unwrap(),
        b"b"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("out/copy/b.txt")).unwrap(),
        b"b"
    );
    assert_no_temp_files(tmp.path());
}

#[test]
fn two_inputs_that_map_to_one_output_do_not_overwrite_each_other() {
    // `{stem}` gives a.txt and a.csv the same output name; b.txt has its own.
    let tmp = scratch(
        "version: 1\nworkers: 2\njobs:\n  j:\n    source: {dir: in}\n    chain: checksum(sha256, sidecar = \"out/{name}.sha256\") | write(\"out/{stem}.out\")\n",
        &[
            ("a.csv", b"from csv"),
            ("a.txt", b"from txt"),
            ("b.txt", b"b"),
        ],
    );
    let dry = runner_in(tmp.path(), &["p.yaml", "--dry-run"]);
    let text = stdout(&dry);
    assert!(text.contains("process  a.csv"), "{text}");
    assert!(
        text.contains("fail     a.txt (the output ")
            && text.contains("out/a.out is also the output of `a.csv`"),
        "{text}"
    );
    assert!(!tmp.path().join("out").exists(), "a dry run writes nothing");

    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    // One of the two wins (the workers race for it); the other fails, naming the winner.
    let (winner, loser) = if err.contains("in/a.txt: failed:") {
        ("a.csv", "a.txt")
    } else {
        ("a.txt", "a.csv")
    };
    assert!(
        err.contains(&format!("in/{loser}: failed: the output "))
            && err.contains(&format!("a.out is also the output of `{winner}`")),
        "{err}"
    );
    let content = if winner == "a.csv" {
        "from csv"
    } else {
        "from txt"
    };
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/a.out")).unwrap(),
        content
    );
    // The loser wrote nothing at all, not even its own sidecar.
    let mut expected = [
        PathBuf::from("a.out"),
        PathBuf::from(format!("{winner}.sha256")),
        PathBuf::from("b.out"),
        PathBuf::from("b.txt.sha256"),
    ];
    expected.sort();
    assert_eq!(files_under(&tmp.path().join("out")), expected);
    assert_no_temp_files(tmp.path());
}

#[test]
fn two_jobs_writing_the_same_output_are_caught_too() {
    let tmp = scratch(
        "version: 1\njobs:\n  first:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n  second:\n    source: {dir: in}\n    chain: upper | write(\"./out/x/../{name}\")\n",
        &[("a.txt", b"abc")],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is also the output of `a.txt` of job `"),
        "{err}"
    );
    let content = std::fs::read_to_string(tmp.path().join("out/a.txt")).unwrap();
    assert!(content == "abc" || content == "ABC", "{content}");
}

#[test]
fn an_input_finished_in_an_earlier_run_keeps_its_output_name() {
    let tmp = scratch(
        "version: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{stem}.out\")\n",
        &[("a.txt", b"first")],
    );
    let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // a.txt is skipped as unchanged now, but its output is still its own.
    std::fs::write(tmp.path().join("in/a.csv"), b"second").unwrap();
    let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in/a.csv: failed: the output "),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/a.out")).unwrap(),
        "first"
    );
}

#[test]
fn an_output_never_replaces_an_input_and_a_move_never_replaces_a_file() {
    // Writing over its own input, with `after: delete`: the input would be lost.
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in, after: delete}\n    chain: upper | write(\"in/{name}\")\n",
        &[("a.txt", b"hello")],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in/a.txt: failed: the output in/a.txt is the input `a.txt`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("in/a.txt")).unwrap(),
        b"hello"
    );

    // Another input of the same job.
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"in/{stem}.txt\")\n",
        &[("a.csv", b"csv"), ("a.txt", b"txt")],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in/a.csv: failed: the output in/a.txt is the input `a.txt`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(tmp.path().join("in/a.txt")).unwrap(), b"txt");

    // `after: move` into the output directory: the move would replace the output.
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in, after: {move: o}}\n    chain: upper | write(\"o/{name}\")\n",
        &[("a.txt", b"hello")],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("in/a.txt: failed: outputs are written, but cannot move the input to")
            && stderr(&out).contains("o/a.txt: a file of that name is already there"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(tmp.path().join("o/a.txt")).unwrap(), b"HELLO");
    assert_eq!(
        std::fs::read(tmp.path().join("in/a.txt")).unwrap(),
        b"hello"
    );

    // `after: move` where an earlier input of the same name was moved: both are kept.
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in, after: {move: done}}\n    chain: write(\"out/{name}\")\n",
        &[("a.txt", b"second")],
    );
    std::fs::create_dir(tmp.path().join("done")).unwrap();
    std::fs::write(tmp.path().join("done/a.txt"), b"first").unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(tmp.path().join("done/a.txt")).unwrap(),
        b"first"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("in/a.txt")).unwrap(),
        b"second"
    );
    assert_no_temp_files(tmp.path());
}

#[test]
fn a_job_may_write_into_the_source_of_the_next_job_again_and_again() {
    let tmp = scratch(
        "version: 1\njobs:\n  first:\n    source: {dir: in}\n    chain: upper | write(\"mid/{name}\")\n  second:\n    source: {dir: mid}\n    chain: write(\"out/{name}\")\n",
        &[("a.txt", b"abc")],
    );
    std::fs::create_dir(tmp.path().join("mid")).unwrap();
    for _ in 0..2 {
        let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read(tmp.path().join("mid/a.txt")).unwrap(), b"ABC");
    assert_eq!(std::fs::read(tmp.path().join("out/a.txt")).unwrap(), b"ABC");
}

#[test]
fn after_and_reject_policies_move_delete_and_quarantine() {
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    let tmp = scratch(
        r#"version: 1
jobs:
  moving:
    source: {dir: in/m, accept: [text], after: {move: done}, reject: {quarantine: bad}}
    chain: write("out/m/{name}")
  deleting:
    source: {dir: in/d, after: delete}
    chain: write("out/d/{name}")
"#,
        &[("m/a.txt", b"a"), ("m/pic.txt", png), ("d/x.txt", b"x")],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(tmp.path().join("done/a.txt")).unwrap(), b"a");
    assert_eq!(std::fs::read(tmp.path().join("bad/pic.txt")).unwrap(), png);
    assert!(!tmp.path().join("out/m/pic.txt").exists());
    assert!(!tmp.path().join("in/d/x.txt").exists());
    assert_eq!(std::fs::read(tmp.path().join("out/d/x.txt")).unwrap(), b"x");
    assert_eq!(files_under(&tmp.path().join("in")), Vec::<PathBuf>::new());
}

#[test]
fn leftover_temp_files_of_a_crash_are_removed_at_start() {
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{date}/{name}\")\n",
        &[("a.txt", b"a")],
    );
    std::fs::create_dir_all(tmp.path().join("out/2020-01-01")).unwrap();
    std::fs::write(
        tmp.path().join("out/2020-01-01/.a.txt.runner-tmp-XyZ123"),
        b"half",
    )
    .unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_no_temp_files(tmp.path());
}

#[test]
fn globs_recursion_hidden_files_and_symlinks() {
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: in, include: [\"*.txt\"], recursive: true}\n    chain: write(\"out/{rel}\")\n",
        &[
            ("a.txt", b"a"),
            ("sub/b.txt", b"b"),
            ("sub/c.csv", b"c"),
            (".hidden.txt", b"h"),
            (".git/d.txt", b"d"),
        ],
    );
    std::os::unix::fs::symlink(tmp.path().join("in/a.txt"), tmp.path().join("in/link.txt"))
        .unwrap();
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        files_under(&tmp.path().join("out")),
        [PathBuf::from("a.txt"), PathBuf::from("sub/b.txt")]
    );
}

#[test]
fn a_missing_source_dir_is_a_clear_error() {
    let tmp = scratch(
        "version: 1\njobs:\n  j:\n    source: {dir: nowhere}\n    chain: write(\"out/{name}\")\n",
        &[],
    );
    let out = runner_in(tmp.path(), &["p.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("runner: error: source directory ./nowhere: No such file or directory (os error 2) job=j"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verbose_lists_files_and_workers_flag_overrides() {
    let out = runner(&["--help"]);
    assert!(stdout(&out).contains("--workers <N>"));
    let tmp = sample_copy();
    let out = runner_in(tmp.path(), &["-v", "--workers", "1", "pipelines/etl.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("ok etl pipelines/data/inbox/notes.txt (text, 161 -> "),
        "{err}"
    );
    assert!(
        err.contains(
            "rejected etl pipelines/data/inbox/rotated.log: kind gzip not accepted; skipped"
        ),
        "{err}"
    );
}

#[test]
fn an_input_truncated_or_grown_while_it_is_read_fails_and_leaves_nothing() {
    for (case, change) in [("truncated", 10_000u64), ("grown", 200_000u64)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        let path = dir.path().join("in/a.log");
        std::fs::write(&path, corpus(1000)).unwrap();
        let plan = plan(
            dir.path(),
            "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: gzip | write(\"out/{name}.gz\")\n",
        );
        let job = &plan.jobs[0];
        let inputs = source::list(&job.source).unwrap().inputs;
        // The fault is injected from the progress callback, right after the first chunk is read.
        let once = std::sync::Once::new();
        let inject = |_: u64| {
            once.call_once(|| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(change)
                    .unwrap();
            })
        };
        let cx = FileContext {
            chunk: 4096,
            date: "2026-12-04",
            progress: &inject,
            cancel: &std::sync::atomic::AtomicBool::new(false),
            fingerprint: true,
            claims: &Claims::default(),
        };
        match process(job, &inputs[0], &cx, &mut Vec::new()) {
            Outcome::Failed { error, .. } => assert!(
                error.contains("the input changed while it was read"),
                "{case}: {error}"
            ),
            other => panic!("{case}: {other:?}"),
        }
        assert!(!dir.path().join("out/a.log.gz").exists(), "{case}");
        assert_no_temp_files(dir.path());
    }
}

#[test]
fn a_newline_in_a_file_name_does_not_break_a_line_of_output() {
    let tmp = scratch(
        "version: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n",
        &[("new\nline.txt", b"x")],
    );
    let out = runner_in(tmp.path(), &["-v", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("ok j ") && l.contains("new\\nline.txt")),
        "{err}"
    );
    let show = runner_in(tmp.path(), &["state", "show", "state.bin"]);
    let text = stdout(&show);
    assert!(text.contains("    new\\nline.txt  ok"), "{text}");
}

#[test]
fn an_input_rejected_in_an_earlier_run_holds_no_output_name() {
    let tmp = scratch(
        "version: 1\nsnapshot: {path: state.bin}\njobs:\n  j:\n    source: {dir: in, accept: [text]}\n    chain: write(\"out/{stem}.out\")\n",
        &[("a.bin", b"\x00\x01binary\x00")],
    );
    let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(tmp.path().join("in/a.txt"), b"text").unwrap();
    let out = runner_in(tmp.path(), &["-q", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(tmp.path().join("out/a.out")).unwrap(),
        b"text"
    );
}

#[test]
fn templates_that_climb_out_of_the_pipeline_directory_are_told_apart() {
    // `../../out/x` and `out/x` are different files, from any current directory.
    let tmp = tempfile::tempdir().unwrap();
    let deep = tmp.path().join("a/b");
    std::fs::create_dir_all(deep.join("in")).unwrap();
    std::fs::write(deep.join("in/x.txt"), b"x").unwrap();
    std::fs::write(
        deep.join("p.yaml"),
        "version: 1\njobs:\n  one:\n    source: {dir: in}\n    chain: write(\"../../out/{name}\")\n  two:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n",
    )
    .unwrap();
    for (cwd, arg) in [
        (deep.clone(), "p.yaml"),
        (tmp.path().to_owned(), "a/b/p.yaml"),
    ] {
        let out = runner_in(&cwd, &["-q", arg]);
        assert_eq!(out.status.code(), Some(0), "from {cwd:?}: {}", stderr(&out));
    }
    assert!(tmp.path().join("out/x.txt").exists());
    assert!(deep.join("out/x.txt").exists());
}
