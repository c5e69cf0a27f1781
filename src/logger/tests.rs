//! Behaviour tests of the logger: rotation names and counts, whole records across rotations
//! (property test, gzip decoded with flate2), flushing by size, time and level, outages of the
//! disk and of the directory, the panic hook, and the global `init`.

use crate::logger::facade::Logger;
use crate::logger::testutil::{FlakySink, config, content, eventually, files_oldest_first, names};
use crate::logger::{Config, Format, LoggerError, RotatingFile, init};
use log::{Level, LevelFilter, Log, Record};
use proptest::prelude::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Record `i`, `len` bytes long (newline included, at least 12): `r00000042-kkkk...\n`.
fn rec(i: usize, len: usize) -> Vec<u8> {
    let mut r = format!("r{i:08}-").into_bytes();
    let fill = b'a' + (i % 26) as u8;
    r.resize(len.max(12) - 1, fill);
    r.push(b'\n');
    r
}

/// The ids of the records in `data`, checking that every line is one whole record.
fn whole_records(data: &[u8], file: &Path) -> Vec<usize> {
    assert!(
        data.is_empty() || data.ends_with(b"\n"),
        "{file:?} ends inside a record"
    );
    data.split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let id: usize = std::str::from_utf8(&line[1..9.min(line.len())])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{file:?}: not a record: {line:?}"));
            assert_eq!(line, rec(id, line.len()), "{file:?}: record {id} broken");
            id
        })
        .collect()
}

/// Every log file, oldest first, with the ids of its records.
fn read_log(base: &Path, keep: u32) -> Vec<(PathBuf, Vec<usize>)> {
    files_oldest_first(base, keep)
        .into_iter()
        .map(|p| {
            let ids = whole_records(&content(&p), &p);
            (p, ids)
        })
        .collect()
}

fn expected_names(keep: u32, rotations: u32, compress: bool) -> Vec<String> {
    let mut v = vec!["runner.log".to_owned()];
    for k in 1..=keep.min(rotations) {
        v.push(format!(
            "runner.log.{k}{}",
            if compress { ".gz" } else { "" }
        ));
    }
    v.sort();
    v
}

#[test]
fn rotation_names_and_count() {
    for compress in [false, true] {
        for keep in [0, 1, 3] {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().join("runner.log");
            // 40-byte records, two per file of at most 100 bytes: 20 records make 10 files,
            // that is 9 rotations.
            let f = RotatingFile::open(&config(&base, 64, 100, keep, compress)).unwrap();
            for i in 0..20 {
                f.write_record(&rec(i, 40));
            }
            f.close();
            let case = format!("keep {keep}, compress {compress}");
            assert_eq!(
                names(dir.path()),
                expected_names(keep, 9, compress),
                "{case}"
            );
            let files = read_log(&base, keep);
            let ids: Vec<usize> = files.iter().flat_map(|(_, ids)| ids.clone()).collect();
            let first = 20 - 2 * (keep as usize + 1);
            assert_eq!(ids, (first..20).collect::<Vec<_>>(), "{case}");
            for (p, ids) in &files {
                assert_eq!(ids.len(), 2, "{case}: {p:?}");
            }
        }
    }
}

#[test]
fn a_record_larger_than_max_size_gets_a_file_of_its_own() {
    // Through the buffer (buffer 1000) and around it (buffer 64): the same files.
    for buffer in [1000, 64] {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("runner.log");
        let f = RotatingFile::open(&config(&base, buffer, 100, 3, false)).unwrap();
        for (i, len) in [30, 250, 30, 30].into_iter().enumerate() {
            f.write_record(&rec(i, len));
        }
        f.close();
        let files: Vec<Vec<usize>> = read_log(&base, 3).into_iter().map(|(_, i)| i).collect();
        assert_eq!(files, [vec![0], vec![1], vec![2, 3]], "buffer {buffer}");
    }
}

#[test]
fn an_existing_file_is_appended_to_and_rotated_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    fs::write(&base, rec(0, 90)).unwrap();
    let f = RotatingFile::open(&config(&base, 0, 100, 2, false)).unwrap();
    f.write_record(&rec(1, 20));
    drop(f);
    let files: Vec<Vec<usize>> = read_log(&base, 2).into_iter().map(|(_, i)| i).collect();
    assert_eq!(files, [vec![0], vec![1]]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After many rotations with records of random sizes, at random buffer and file sizes, with
    /// and without compression: every line of every file is one whole record, the files hold a
    /// contiguous run of the last records in order, no file passes `max_size` unless it holds a
    /// single record, and with `compress` every rotated file is gzipped.
    #[test]
    fn every_line_of_every_file_is_one_whole_record(
        sizes in prop::collection::vec(12usize..400, 1..250),
        flush_at in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        buffer in 0usize..700,
        max_size in 40u64..900,
        keep in 0u32..4,
        compress in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("runner.log");
        let f = RotatingFile::open(&config(&base, buffer, max_size, keep, compress)).unwrap();
        let flush_at: Vec<usize> = flush_at.iter().map(|i| i.index(sizes.len())).collect();
        for (i, &len) in sizes.iter().enumerate() {
            f.write_record(&rec(i, len));
            if flush_at.contains(&i) {
                f.flush();
            }
        }
        f.close();
        prop_assert_eq!(f.dropped(), 0);
        let files = read_log(&base, keep);
        let ids: Vec<usize> = files.iter().flat_map(|(_, ids)| ids.clone()).collect();
        let first = sizes.len() - ids.len();
        prop_assert_eq!(&ids, &(first..sizes.len()).collect::<Vec<_>>());
        for (p, ids) in &files {
            let len: usize = ids.iter().map(|&i| sizes[i]).sum();
            prop_assert!(len as u64 <= max_size || ids.len() == 1, "{:?}: {} bytes", p, len);
            if p != &base {
                prop_assert_eq!(p.extension().is_some_and(|e| e == "gz"), compress);
            }
        }
        prop_assert!(files.len() <= keep as usize + 1);
        prop_assert!(!names(dir.path()).iter().any(|n| n.ends_with(".tmp")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The same with the disk filling up (short writes in the middle of records, of records
    /// larger than the buffer too) and emptying again at random: every line is still one whole
    /// record, in order, and every record is either in a file or counted as dropped.
    #[test]
    fn whole_records_survive_a_full_disk(
        sizes in prop::collection::vec(12usize..400, 20..150),
        outages in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u64..600),
            1..4,
        ),
        buffer in 0usize..700,
        max_size in 2000u64..5000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("runner.log");
        let sink = Arc::new(FlakySink::new());
        // keep 50: no file is rotated out, so every record can be accounted for.
        let f = RotatingFile::with_sink(&config(&base, buffer, max_size, 50, false), sink.clone())
            .unwrap();
        let n = sizes.len();
        for (i, &len) in sizes.iter().enumerate() {
            for (from, to, space) in &outages {
                if from.index(n - 5) == i {
                    sink.set_space(Some(*space));
                }
                if to.index(n - 5) == i {
                    sink.set_space(None);
                    f.flush();
                }
            }
            f.write_record(&rec(i, len));
        }
        sink.set_space(None);
        f.close();
        let ids: Vec<usize> = read_log(&base, 50).into_iter().flat_map(|(_, i)| i).collect();
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "{:?}", ids);
        prop_assert_eq!(ids.len() as u64 + f.dropped(), n as u64);
    }
}

/// Many threads writing through one logger at once: no record is cut or mixed with another.
#[test]
fn concurrent_writers_never_mix_records() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let logger = Arc::new(file_logger(
        &config(&base, 4096, 64 * 1024, 100, true),
        Format::Text,
        LevelFilter::Info,
    ));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let logger = Arc::clone(&logger);
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let fill = "x".repeat((i * 7 + t) % 150 + 1);
                    let kvs: &[(&str, &dyn log::kv::ToValue)] =
                        &[("thread", &t), ("i", &i), ("fill", &fill.as_str())];
                    logger.log(
                        &Record::builder()
                            .args(format_args!("record"))
                            .level(if i % 500 == 0 {
                                Level::Error
                            } else {
                                Level::Info
                            })
                            .target("runner::test")
                            .key_values(&kvs)
                            .build(),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    logger.close();
    let mut next = [0usize; 4];
    for p in files_oldest_first(&base, 100) {
        let data = content(&p);
        assert!(data.ends_with(b"\n"));
        for line in String::from_utf8(data).unwrap().lines() {
            let field = |k: &str| -> usize {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(k))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{p:?}: no {k} in {line:?}"))
            };
            let (t, i) = (field("thread="), field("i="));
            assert_eq!(next[t], i, "{p:?}: thread {t} out of order");
            assert!(line.ends_with(&format!(" fill={}", "x".repeat((i * 7 + t) % 150 + 1))));
            next[t] += 1;
        }
    }
    assert_eq!(next, [2000; 4]);
}

#[test]
fn records_reach_the_file_when_the_buffer_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let f = RotatingFile::open(&config(&base, 100, 1 << 20, 1, false)).unwrap();
    for i in 0..3 {
        f.write_record(&rec(i, 30));
    }
    assert_eq!(
        fs::read(&base).unwrap(),
        b"",
        "90 of 100 bytes: still buffered"
    );
    f.write_record(&rec(3, 30));
    assert_eq!(whole_records(&fs::read(&base).unwrap(), &base), [0, 1, 2]);
    f.write_record(&rec(4, 70)); // 30 + 70 bytes pending: exactly full
    assert_eq!(
        whole_records(&fs::read(&base).unwrap(), &base),
        [0, 1, 2, 3, 4]
    );
}

#[test]
fn records_reach_the_file_after_flush_every_without_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let mut cfg = config(&base, 1 << 20, 1 << 20, 1, false);
    cfg.flush_every = Duration::from_millis(30);
    let f = RotatingFile::open(&cfg).unwrap();
    f.write_record(&rec(0, 30));
    eventually("the first record", || fs::read(&base).unwrap().len() == 30);
    f.write_record(&rec(1, 30));
    eventually("the second record", || fs::read(&base).unwrap().len() == 60);
    assert_eq!(whole_records(&fs::read(&base).unwrap(), &base), [0, 1]);
}

#[test]
fn flush_every_zero_writes_each_record_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let mut cfg = config(&base, 1 << 20, 1 << 20, 1, false);
    cfg.flush_every = Duration::ZERO;
    let f = RotatingFile::open(&cfg).unwrap();
    f.write_record(&rec(0, 30));
    assert_eq!(fs::read(&base).unwrap().len(), 30);
}

fn file_logger(cfg: &Config, format: Format, level: LevelFilter) -> Logger {
    Logger::new(RotatingFile::open(cfg).unwrap(), level, format, false)
}

fn log_to(logger: &Logger, level: Level, target: &str, msg: &str) {
    let kvs: &[(&str, &dyn log::kv::ToValue)] = &[("job", &"etl"), ("bytes_in", &123u64)];
    logger.log(
        &Record::builder()
            .args(format_args!("{msg}"))
            .level(level)
            .target(target)
            .key_values(&kvs)
            .build(),
    );
}

fn lines(path: &Path) -> Vec<String> {
    String::from_utf8(fs::read(path).unwrap())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn error_records_reach_the_file_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let logger = file_logger(
        &config(&base, 64 * 1024, 1 << 20, 1, false),
        Format::Text,
        LevelFilter::Info,
    );
    log_to(&logger, Level::Info, "runner::exec", "file done");
    assert!(
        lines(&base).is_empty(),
        "an info record waits in the buffer"
    );
    log_to(&logger, Level::Error, "runner::exec", "file failed");
    let l = lines(&base);
    assert_eq!(l.len(), 2);
    assert!(
        l[0].contains(" level=info msg=\"file done\" job=etl bytes_in=123"),
        "{}",
        l[0]
    );
    assert!(
        l[1].contains(" level=error msg=\"file failed\" job=etl bytes_in=123"),
        "{}",
        l[1]
    );
}

#[test]
fn level_filter_and_other_crates_at_warn_and_above() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let logger = file_logger(
        &config(&base, 0, 1 << 20, 1, false),
        Format::Text,
        LevelFilter::Info,
    );
    log_to(&logger, Level::Info, "runner", "own info");
    log_to(&logger, Level::Debug, "runner::exec", "own debug");
    log_to(&logger, Level::Info, "hyper::client", "foreign info");
    log_to(&logger, Level::Info, "runner_helpers", "look-alike info");
    log_to(&logger, Level::Warn, "hyper::client", "foreign warn");
    log_to(&logger, Level::Error, "notify", "foreign error");
    let l = lines(&base);
    let msgs: Vec<&str> = l.iter().map(|l| &l[l.find(" level=").unwrap()..]).collect();
    assert_eq!(
        msgs,
        [
            " level=info msg=\"own info\" job=etl bytes_in=123",
            " level=warn msg=\"foreign warn\" target=hyper::client job=etl bytes_in=123",
            " level=error msg=\"foreign error\" target=notify job=etl bytes_in=123",
        ]
    );
    let quiet = file_logger(
        &config(&base, 0, 1 << 20, 1, false),
        Format::Text,
        LevelFilter::Error,
    );
    assert!(
        !quiet.enabled(
            &log::Metadata::builder()
                .level(Level::Warn)
                .target("runner")
                .build()
        )
    );
    assert!(
        quiet.enabled(
            &log::Metadata::builder()
                .level(Level::Error)
                .target("zstd")
                .build()
        )
    );
}

#[test]
fn json_lines_through_the_logger() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let logger = file_logger(
        &config(&base, 0, 1 << 20, 1, false),
        Format::Json,
        LevelFilter::Info,
    );
    log_to(
        &logger,
        Level::Warn,
        "runner::state",
        "snapshot \"saved\"\nlate",
    );
    let l = lines(&base);
    assert_eq!(l.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
    assert_eq!(v["level"], "warn");
    assert_eq!(v["msg"], "snapshot \"saved\"\nlate");
    assert_eq!(v["target"], "runner::state");
    assert_eq!(v["job"], "etl");
    assert_eq!(v["bytes_in"], 123);
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn write_macro_makes_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    // max_size 20: were `write!` cut into pieces, they could land in two files.
    let mut f = RotatingFile::open(&config(&base, 0, 20, 3, false)).unwrap();
    let fill = ["aa", "bbbbbbbb", "ccc"];
    writeln!(f, "r{:08}-{}", 0, fill[0]).unwrap();
    f.write_fmt(format_args!("r{:08}-{}\n", 1, fill[1]))
        .unwrap();
    writeln!(&f, "r{:08}-{}", 2, fill[2]).unwrap();
    drop(f);
    let files: Vec<Vec<usize>> = read_log(&base, 3).into_iter().map(|(_, i)| i).collect();
    assert_eq!(files, [vec![0], vec![1], vec![2]]);
}

#[test]
fn a_full_disk_is_reported_once_counted_and_writing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let sink = Arc::new(FlakySink::new());
    let f = RotatingFile::with_sink(&config(&base, 200, 1 << 20, 1, false), sink.clone()).unwrap();
    // The disk fills 20 bytes into the third record (a short write, then ENOSPC).
    sink.set_space(Some(120));
    for i in 0..40 {
        f.write_record(&rec(i, 50));
        if i % 10 == 9 {
            f.flush(); // retries fail, and are not reported again
        }
    }
    let notices = sink.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0],
        format!(
            "runner: cannot write the log file {}: No space left on device (os error 28); \
             records are dropped, processing goes on",
            base.display()
        )
    );
    let dropped = f.dropped();
    assert!(dropped > 0);
    sink.set_space(None);
    f.flush();
    assert_eq!(sink.notices().len(), 2);
    assert_eq!(
        sink.notices()[1],
        format!(
            "runner: the log file {} is written again; {dropped} record(s) were dropped meanwhile",
            base.display()
        )
    );
    for i in 40..45 {
        f.write_record(&rec(i, 50));
    }
    f.close();
    let ids = whole_records(&fs::read(&base).unwrap(), &base);
    // Records 0..=1 went through, 2 was completed after the disk came back, later ones are in
    // order with gaps where they were dropped; nothing else is missing.
    assert_eq!(&ids[..3], [0, 1, 2]);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(ids.ends_with(&[40, 41, 42, 43, 44]));
    assert_eq!(ids.len() as u64 + dropped, 45);
    assert_eq!(f.dropped(), dropped);
}

#[test]
fn a_record_begun_in_a_vanished_file_is_not_finished_in_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let sink = Arc::new(FlakySink::new());
    let f = RotatingFile::with_sink(&config(&base, 200, 1 << 20, 1, false), sink.clone()).unwrap();
    sink.set_space(Some(70)); // record 0 whole, 20 bytes of record 1
    for i in 0..3 {
        f.write_record(&rec(i, 50));
    }
    f.flush();
    assert_eq!(fs::read(&base).unwrap().len(), 70);
    fs::remove_file(&base).unwrap();
    sink.set_space(None);
    f.flush();
    // The new file starts with a whole record: the rest of record 1 is dropped, and counted.
    assert_eq!(whole_records(&fs::read(&base).unwrap(), &base), [2]);
    assert_eq!(f.dropped(), 1);
}

#[test]
fn unbuffered_writes_count_each_refused_record() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let sink = Arc::new(FlakySink::new());
    let f = RotatingFile::with_sink(&config(&base, 0, 1 << 20, 1, false), sink.clone()).unwrap();
    sink.set_space(Some(0));
    for i in 0..5 {
        f.write_record(&rec(i, 30));
    }
    assert_eq!(f.dropped(), 5);
    sink.set_space(None);
    f.write_record(&rec(5, 30));
    assert_eq!(whole_records(&fs::read(&base).unwrap(), &base), [5]);
    assert_eq!(sink.notices().len(), 2);
}

#[test]
fn a_deleted_directory_is_reported_once_and_writing_resumes_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let base = logs.join("runner.log");
    let sink = Arc::new(FlakySink::new());
    let mut cfg = config(&base, 200, 1 << 20, 1, false);
    cfg.flush_every = Duration::from_millis(20);
    let f = RotatingFile::with_sink(&cfg, sink.clone()).unwrap();
    f.write_record(&rec(0, 50));
    f.flush();
    fs::remove_dir_all(&logs).unwrap();
    for i in 1..30 {
        f.write_record(&rec(i, 50));
        f.flush();
    }
    let notices = sink.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with(&format!(
            "runner: cannot write the log file {}: ",
            base.display()
        )) && notices[0].contains("No such file or directory"),
        "{}",
        notices[0]
    );
    let dropped = f.dropped();
    assert!(dropped > 0);
    // The flusher retries on its own: no flush call, no new record.
    fs::create_dir(&logs).unwrap();
    eventually("the pending records in the new file", || {
        sink.notices().len() == 2
    });
    assert!(sink.notices()[1].contains(" is written again; "));
    assert!(!fs::read(&base).unwrap().is_empty());
    f.write_record(&rec(30, 50));
    f.close();
    let ids = whole_records(&fs::read(&base).unwrap(), &base);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ids.last(), Some(&30));
    assert_eq!(
        ids.len() as u64 + dropped + 1,
        31,
        "record 0 is in the deleted file"
    );
}

#[test]
fn a_failed_compression_keeps_the_plain_file_and_the_next_start_compresses_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let sink = Arc::new(FlakySink::new());
    sink.fail_create(true);
    let cfg = config(&base, 0, 100, 2, true);
    let f = RotatingFile::with_sink(&cfg, sink.clone()).unwrap();
    for i in 0..6 {
        f.write_record(&rec(i, 40));
    }
    f.close();
    assert_eq!(
        names(dir.path()),
        ["runner.log", "runner.log.1", "runner.log.2"]
    );
    assert!(
        sink.notices().iter().any(|n| n
            .starts_with("runner: cannot compress the rotated log file ")
            && n.ends_with("; it is kept uncompressed")),
        "{:?}",
        sink.notices()
    );
    let before = read_log(&base, 2);
    // Leftovers of a crashed run (a compression, a deletion) are removed at the next start.
    fs::write(dir.path().join(".runner.log.9.gz.tmp"), b"junk").unwrap();
    fs::write(dir.path().join(".runner.log.12.old"), b"junk").unwrap();
    sink.fail_create(false);
    let f = RotatingFile::with_sink(&cfg, sink.clone()).unwrap();
    f.close();
    assert_eq!(
        names(dir.path()),
        ["runner.log", "runner.log.1.gz", "runner.log.2.gz"]
    );
    let after = read_log(&base, 2);
    let ids = |v: &Vec<(PathBuf, Vec<usize>)>| v.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after));
}

#[test]
fn rotations_during_a_compression_move_its_result_to_the_right_slot() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let sink = Arc::new(FlakySink::new());
    sink.pause_create(true);
    let f = RotatingFile::with_sink(&config(&base, 0, 100, 3, true), sink.clone()).unwrap();
    // Records 0,1 | 2,3 | 4,5 | 6,7 | 8: four rotations. The first rotated file (0,1) is being
    // compressed (held at `create`) while three more rotations push it to slot 4 > keep, and
    // the second one (2,3) to slot 3.
    for i in 0..9 {
        f.write_record(&rec(i, 40));
        if i == 2 {
            eventually("the archiver to start on records 0,1", || {
                sink.creates() == 1
            });
        }
    }
    sink.pause_create(false);
    f.close();
    assert_eq!(
        names(dir.path()),
        [
            "runner.log",
            "runner.log.1.gz",
            "runner.log.2.gz",
            "runner.log.3.gz"
        ]
    );
    let files: Vec<Vec<usize>> = read_log(&base, 3).into_iter().map(|(_, i)| i).collect();
    assert_eq!(files, [vec![2, 3], vec![4, 5], vec![6, 7], vec![8]]);
}

#[test]
fn the_panic_hook_writes_the_panic_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("runner.log");
    let logger = file_logger(
        &config(&base, 64 * 1024, 1 << 20, 1, false),
        Format::Text,
        LevelFilter::Info,
    );
    log_to(&logger, Level::Info, "runner::exec", "file done");
    assert!(lines(&base).is_empty());
    logger.on_panic("index out of bounds", Some("src/exec/mod.rs:10:5"));
    let l = lines(&base);
    assert_eq!(l.len(), 2);
    assert!(l[0].contains("msg=\"file done\""));
    assert!(
        l[1].ends_with(
            " level=error msg=panicked panic=\"index out of bounds\" location=src/exec/mod.rs:10:5"
        ),
        "{}",
        l[1]
    );
}

/// The only test that touches the process-wide logger (tests run in parallel threads).
#[test]
fn global_init_can_be_called_again_and_the_real_panic_hook_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a/runner.log");
    let b = dir.path().join("b/runner.log");
    let cfg = |p: &Path| Config {
        level: LevelFilter::Info,
        ..config(p, 64 * 1024, 1 << 20, 1, false)
    };

    let first = init(Some(cfg(&a)), false).unwrap();
    log::info!(target: "runner::exec", job = "etl", bytes_in = 5; "to a");
    log::debug!(target: "runner::exec", "filtered out");
    first.flush();
    assert_eq!(lines(&a).len(), 1);
    assert!(lines(&a)[0].ends_with(" level=info msg=\"to a\" job=etl bytes_in=5"));

    let second = init(Some(cfg(&b)), false).unwrap();
    log::info!(target: "runner", "to b");
    // A real panic, in another thread: the hook logs it and flushes the current file.
    let joined = std::thread::spawn(|| panic!("worker gave up")).join();
    assert!(joined.is_err());
    let lb = lines(&b);
    assert_eq!(lb.len(), 2, "{lb:?}");
    assert!(lb[0].ends_with(" level=info msg=\"to b\""));
    assert!(lb[1].contains(" level=error msg=panicked panic=\"worker gave up\" location="));
    assert_eq!(
        lines(&a).len(),
        1,
        "the first logger no longer receives records"
    );
    assert_eq!(second.dropped(), 0);
    second.shutdown();
    first.shutdown();

    // Errors at start name the path and the reason.
    let file = dir.path().join("plain-file");
    fs::write(&file, b"").unwrap();
    let err = init(Some(cfg(&file.join("logs/runner.log"))), false).unwrap_err();
    assert!(matches!(err, LoggerError::CreateDir { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot create the log directory {}: ",
            file.join("logs").display()
        )),
        "{err}"
    );
    let err = init(Some(cfg(dir.path())), false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the log file {}: Is a directory (os error 21)",
            dir.path().display()
        )
    );

    // No logger policy: stderr, and nothing to flush or drop.
    let none = init(None, true).unwrap();
    log::warn!(target: "runner", "(a test of the stderr logger: this line is expected)");
    assert_eq!(none.dropped(), 0);
    none.shutdown();
}
