//! Records per second through the logger, side by side in one run with the patterns it must
//! beat: a `write(2)` per record on an `O_APPEND` file, and a plain `BufWriter<File>` without
//! rotation.
//!
//! Two groups, each with its own baseline:
//! - writer: one pre-formatted 119-byte record (the line the `info!` below makes), so only
//!   the writing is measured;
//! - logger: `log::info!` with 5 key-value fields through the installed logger (filter, logfmt,
//!   timestamp, write), with `buffer: 0` (each record written at once: a `stat(2)` of the log
//!   path, to notice a deleted file, and a `write(2)`), buffered without rotation, and with
//!   rotation (compress off and on).
//!
//! The 1 MiB rows show what a larger `buffer` does: most of the cost of a buffered writer is the
//! kernel's page-cache work per byte, not our code (`perf` puts about 80% of the 64 KiB
//! `RotatingFile` row in the kernel), and larger writes make that work cheaper.
//!
//! The last lines print the ceiling of the machine: the 1 MiB `BufWriter` row, a thread that does
//! nothing but hand the page cache large writes. Where `write(2)` is cheap, that ceiling is itself
//! below 20x.
//!
//! Run: `cargo bench --bench logger` (`RECORDS=N` to change the count; default 2,000,000).
//! Each figure is the median of 5 runs. Targets: >= 1,000,000 records/s with rotation on, and
//! >= 20x the unbuffered pattern.

use runner::logger::{Config, Format, RotatingFile, init};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const RECORD: &[u8] = b"ts=2026-12-04T09:15:02.117Z level=info msg=\"file done\" job=etl \
path=inbox/a.txt bytes_in=123456 bytes_out=654321 ms=17\n";

/// Runs per figure; the median is shown (the machine is shared: single runs vary).
const RUNS: usize = 5;

/// Rotates every ~35,000 records: dozens of rotations per run.
const MAX_SIZE: u64 = 4 << 20;

fn config(path: &Path, buffer: usize, max_size: u64, compress: bool) -> Config {
    Config {
        path: path.to_owned(),
        level: log::LevelFilter::Info,
        format: Format::Text,
        buffer,
        flush_every: if buffer == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
        max_size,
        keep: 5,
        compress,
    }
}

struct Row {
    group: &'static str,
    name: &'static str,
    records: u64,
    secs: f64,
}

impl Row {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs
    }
}

/// Median of `RUNS` runs of `run(dir)`, each in a fresh directory; `run` times its own loop (and
/// final flush), leaving setup and closing out.
fn measure(
    group: &'static str,
    name: &'static str,
    records: u64,
    run: impl Fn(&Path) -> Duration,
) -> Row {
    let mut secs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            run(dir.path()).as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let row = Row {
        group,
        name,
        records,
        secs: secs[RUNS / 2],
    };
    eprintln!("  {group:<7} {name:<40} {:>12.0} records/s", row.rate());
    row
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("the benchmark file")
}

fn log_records(n: u64) {
    for i in 0..n {
        log::info!(
            target: "runner::exec",
            job = "etl",
            path = "inbox/a.txt",
            bytes_in = 123_456u64 + (i & 1),
            bytes_out = 654_321u64,
            ms = 17u64;
            "file done"
        );
    }
}

/// Which writer a row of the writer group uses.
#[derive(Clone, Copy)]
enum Writer {
    BufWriter,
    /// `max_size`, `compress`.
    Rotating(u64, bool),
}

/// Times `n` pre-formatted records through `writer` with a buffer of `buffer` bytes, up to the
/// final flush.
fn write_records(dir: &Path, n: u64, buffer: usize, writer: Writer) -> Duration {
    let path = dir.join("runner.log");
    let (max_size, compress) = match writer {
        Writer::BufWriter => {
            let mut f = BufWriter::with_capacity(buffer, append(&path));
            let start = Instant::now();
            for _ in 0..n {
                f.write_all(RECORD).expect("write");
            }
            f.flush().expect("flush");
            return start.elapsed();
        }
        Writer::Rotating(max_size, compress) => (max_size, compress),
    };
    let f = RotatingFile::open(&config(&path, buffer, max_size, compress)).expect("the log file");
    let start = Instant::now();
    for _ in 0..n {
        f.write_record(RECORD);
    }
    f.flush();
    let took = start.elapsed();
    f.close();
    took
}

/// Times `n` records through the installed logger, up to the final flush; the shutdown (which
/// lets the compressor finish its queue) is not timed.
fn through_logger(dir: &Path, n: u64, buffer: usize, max_size: u64, compress: bool) -> Duration {
    let handle = init(
        Some(config(&dir.join("runner.log"), buffer, max_size, compress)),
        false,
    )
    .expect("the logger");
    let start = Instant::now();
    log_records(n);
    handle.flush();
    let took = start.elapsed();
    handle.shutdown();
    took
}

fn main() {
    let n: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    // The unbuffered pattern is slow: fewer records, same per-record figure.
    let n_slow = (n / 10).max(1);
    eprintln!("records: {n} ({n_slow} for the unbuffered rows), max_size {MAX_SIZE} bytes");

    let mut rows = Vec::new();
    rows.push(measure(
        "writer",
        "(a) write(2) per record, O_APPEND",
        n_slow,
        |d| {
            let mut f = append(&d.join("runner.log"));
            let start = Instant::now();
            for _ in 0..n_slow {
                f.write_all(RECORD).expect("write");
            }
            start.elapsed()
        },
    ));
    const KIB64: usize = 64 * 1024;
    const MIB: usize = 1 << 20;
    for (name, buffer, writer) in [
        (
            "(b) BufWriter<File> 64 KiB, no rotation",
            KIB64,
            Writer::BufWriter,
        ),
        (
            "(c) RotatingFile 64 KiB, no rotation",
            KIB64,
            Writer::Rotating(u64::MAX, false),
        ),
        (
            "(c) RotatingFile 64 KiB, rotation",
            KIB64,
            Writer::Rotating(MAX_SIZE, false),
        ),
        (
            "(c) RotatingFile 64 KiB, rotation+gzip",
            KIB64,
            Writer::Rotating(MAX_SIZE, true),
        ),
        (
            "(b) BufWriter<File> 1 MiB, no rotation",
            MIB,
            Writer::BufWriter,
        ),
        (
            "(c) RotatingFile 1 MiB, rotation",
            MIB,
            Writer::Rotating(MAX_SIZE, false),
        ),
    ] {
        rows.push(measure("writer", name, n, |d| {
            write_records(d, n, buffer, writer)
        }));
    }

    rows.push(measure(
        "logger",
        "(a) info!, buffer 0: stat+write(2) each",
        n_slow,
        |d| through_logger(d, n_slow, 0, u64::MAX, false),
    ));
    rows.push(measure(
        "logger",
        "(b) info!, 64 KiB, no rotation",
        n,
        |d| through_logger(d, n, 64 * 1024, u64::MAX, false),
    ));
    rows.push(measure("logger", "(c) info!, 64 KiB, rotation", n, |d| {
        through_logger(d, n, 64 * 1024, MAX_SIZE, false)
    }));
    rows.push(measure(
        "logger",
        "(c) info!, 64 KiB, rotation+gzip",
        n,
        |d| through_logger(d, n, 64 * 1024, MAX_SIZE, true),
    ));

    let rotations = n * RECORD.len() as u64 / MAX_SIZE;
    println!();
    println!(
        "{:<7} {:<40} {:>10} {:>9} {:>14} {:>9}",
        "group", "writer", "records", "seconds", "records/s", "vs (a)"
    );
    for group in ["writer", "logger"] {
        let base = rows
            .iter()
            .find(|r| r.group == group)
            .map_or(1.0, Row::rate);
        for r in rows.iter().filter(|r| r.group == group) {
            println!(
                "{:<7} {:<40} {:>10} {:>9.3} {:>14.0} {:>8.1}x",
                r.group,
                r.name,
                r.records,
                r.secs,
                r.rate(),
                r.rate() / base
            );
        }
    }
    println!(
        "\nrecord: {} bytes; rows with rotation rotate about {rotations} times per run",
        RECORD.len()
    );
    let rate = |group: &str, name: &str| {
        rows.iter()
            .find(|r| r.group == group && r.name == name)
            .map_or(0.0, Row::rate)
    };
    let unbuffered = rate("writer", "(a) write(2) per record, O_APPEND");
    // What the kernel allows: one thread handing the page cache 1 MiB per write(2) and doing
    // nothing else. No log writer that puts its records in a file can go much faster on this
    // machine, so a ratio to (a) above this one is out of reach here.
    let ceiling = rate("writer", "(b) BufWriter<File> 1 MiB, no rotation");
    println!(
        "ceiling on this machine: (b) BufWriter 1 MiB, {:.0} records/s = {:.1}x writer (a)",
        ceiling,
        ceiling / unbuffered
    );
    for name in [
        "(c) info!, 64 KiB, rotation",
        "(c) info!, 64 KiB, rotation+gzip",
    ] {
        println!(
            "logger {name}: {:.0} records/s = {:.1}x writer (a)",
            rate("logger", name),
            rate("logger", name) / unbuffered
        );
    }
}
