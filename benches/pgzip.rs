//! Parallel gzip against the single-threaded stage and `pigz -p 2`, same data, same run.
//!
//! `cargo bench --bench pgzip` generates a gen-logs corpus (`python3 benches/peers.py --gen-logs`;
//! `PGZIP_BENCH_MIB`, default 256), keeps it in memory, and at levels 6 and 1 times, in
//! interleaved rounds (`PGZIP_BENCH_RUNS`, default 3): the single-threaded `Gzip` stage on this
//! thread, `ParallelGzip` on a pool of 2 threads (pushed from one of its workers, as the engine
//! does), and `pigz -L -p 2` reading the corpus from a temp file and writing to /dev/null.
//! Input is pushed in 64 KiB chunks into a sink that counts the bytes. It prints the median
//! MB/s (10^6 bytes of input per second), min and max, the compressed sizes, and the ratios.
//! The parallel output is decoded once per level and compared with the input. A last table
//! sweeps the block size at level 6 (32 to 512 KiB): speed and compressed size.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use flate2::write::GzDecoder;
use runner::stage::{BoxSink, FileReport, Gzip, ParallelGzip, Sink, StageError};

/// The engine's default chunk size.
const CHUNK: usize = 64 * 1024;

/// The end of the benchmarked chain: counts the compressed bytes.
struct Count(u64, std::sync::mpsc::Sender<u64>);

impl Sink for Count {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.0 += std::hint::black_box(chunk).len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
        let _ = self.1.send(self.0);
        Ok(())
    }
}

/// Pushes `input` in chunks through the stage built by `build`; returns the compressed size.
fn drive(build: impl FnOnce(BoxSink) -> BoxSink, input: &[u8]) -> u64 {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stage = build(Box::new(Count(0, tx)));
    for chunk in input.chunks(CHUNK) {
        stage.push(chunk).unwrap();
    }
    stage.finish(&mut FileReport::default()).unwrap();
    rx.recv().unwrap()
}

/// A writer that checks that what it receives is `expected`, in order.
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
}

impl Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.at + buf.len();
        if end > self.expected.len() || self.expected[self.at..end] != *buf {
            return Err(io::Error::other(format!(
                "output differs near byte {}",
                self.at
            )));
        }
        self.at = end;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that decodes the gzip stream it receives and compares it with the input.
struct Verify<'a>(GzDecoder<Compare<'a>>);

impl Sink for Verify<'static> {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        Ok(self.0.write_all(chunk)?)
    }

    fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
        let compare = self.0.finish()?;
        assert_eq!(
            compare.at,
            compare.expected.len(),
            "decoded output is short"
        );
        Ok(())
    }
}

/// Runs `pigz -{level} -p 2 -c FILE`; with `count`, returns the size of its output, else
/// sends it to /dev/null and returns 0.
fn pigz(level: u32, file: &Path, count: bool) -> u64 {
    let mut command = Command::new("pigz");
    command
        .arg(format!("-{level}"))
        .args(["-p", "2", "-c"])
        .arg(file);
    if !count {
        let status = command.stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "pigz failed: {status}");
        return 0;
    }
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (mut n, mut buf) = (0u64, vec![0u8; 1 << 20]);
    loop {
        match stdout.read(&mut buf).unwrap() {
            0 => break,
            read => n += read as u64,
        }
    }
    assert!(child.wait().unwrap().success(), "pigz failed");
    n
}

/// Seconds taken by `f`, and its result.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let result = f();
    (start.elapsed().as_secs_f64(), result)
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median, min and max of some timings.
fn stats(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    (median, xs[0], xs[n - 1])
}

fn main() {
    let mib = env_or("PGZIP_BENCH_MIB", 256);
    let runs = env_or("PGZIP_BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.log");
    // The corpus generator of the peers' benchmark (`../shared/peers/gen-logs.py`), re-created in
    // the repository's own script.
    let peers = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers.py");
    let status = Command::new("python3")
        .arg(peers)
        .arg("--gen-logs")
        .arg(&file)
        .arg(mib.to_string())
        .status()
        .expect("python3 runs benches/peers.py");
    assert!(status.success(), "benches/peers.py --gen-logs failed");
    let mut input = Vec::new();
    File::open(&file).unwrap().read_to_end(&mut input).unwrap();
    // Leaked so that the verifying sink can be `'static` like every sink.
    let input: &'static [u8] = input.leak();
    let have_pigz = Command::new("pigz")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mb = input.len() as f64 / 1e6;

    println!(
        "pgzip: {mib} MiB gen-logs corpus in memory, {CHUNK}-byte pushes, {runs} interleaved runs, \
         median MB/s (10^6 input bytes/s) [min..max], {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| level | compressor | MB/s | [min..max] | compressed bytes | size vs Gzip | speed vs Gzip | speed vs pigz -p 2 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for level in [6u32, 1] {
        // Correctness first (untimed): the parallel output decodes to the input.
        pool.install(|| {
            let mut stage = ParallelGzip::new(
                level,
                Box::new(Verify(GzDecoder::new(Compare {
                    expected: input,
                    at: 0,
                }))),
            );
            for chunk in input.chunks(CHUNK) {
                stage.push(chunk).unwrap();
            }
            Box::new(stage).finish(&mut FileReport::default()).unwrap();
        });
        let pigz_size = if have_pigz {
            pigz(level, &file, true)
        } else {
            0
        };

        let (mut single, mut parallel, mut peer) = (Vec::new(), Vec::new(), Vec::new());
        let (mut single_size, mut parallel_size) = (0, 0);
        for _ in 0..runs {
            let (t, n) = timed(|| drive(|next| Box::new(Gzip::new(level, next)), input));
            single.push(mb / t);
            single_size = n;
            let (t, n) = timed(|| {
                pool.install(|| drive(|next| Box::new(ParallelGzip::new(level, next)), input))
            });
            parallel.push(mb / t);
            parallel_size = n;
            if have_pigz {
                let (t, _) = timed(|| pigz(level, &file, false));
                peer.push(mb / t);
            }
        }
        let (single, parallel) = (stats(single), stats(parallel));
        let peer = (!peer.is_empty()).then(|| stats(peer));
        let vs_peer = |x: f64| peer.map_or("-".to_owned(), |p| format!("{:.2}x", x / p.0));
        let size = |n: u64| format!("{n} ({:.2}%)", n as f64 / input.len() as f64 * 100.0);
        println!(
            "| {level} | Gzip (1 thread) | {:.1} | [{:.1}..{:.1}] | {} | 1.0000 | 1.00x | {} |",
            single.0,
            single.1,
            single.2,
            size(single_size),
            vs_peer(single.0)
        );
        println!(
            "| {level} | ParallelGzip (pool of 2) | {:.1} | [{:.1}..{:.1}] | {} | {:.4} | {:.2}x | {} |",
            parallel.0,
            parallel.1,
            parallel.2,
            size(parallel_size),
            parallel_size as f64 / single_size as f64,
            parallel.0 / single.0,
            vs_peer(parallel.0)
        );
        match peer {
            Some(p) => println!(
                "| {level} | pigz -{level} -p 2 (file -> /dev/null) | {:.1} | [{:.1}..{:.1}] | {} | {:.4} | {:.2}x | 1.00x |",
                p.0,
                p.1,
                p.2,
                size(pigz_size),
                pigz_size as f64 / single_size as f64,
                p.0 / single.0
            ),
            None => println!("| {level} | pigz: not installed | - | - | - | - | - | - |"),
        }
    }

    // The block size: speed and size at level 6 for blocks around the default (128 KiB).
    println!();
    println!(
        "| level | block | MB/s (pool of 2) | [min..max] | compressed bytes | size vs 128 KiB |"
    );
    println!("|---|---|---|---|---|---|");
    let mut base = 0;
    for kib in [128usize, 32, 64, 256, 512] {
        let mut speeds = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let (t, n) = timed(|| {
                pool.install(|| {
                    drive(
                        |next| Box::new(ParallelGzip::with_block_size(6, kib * 1024, next)),
                        input,
                    )
                })
            });
            speeds.push(mb / t);
            size = n;
        }
        if kib == 128 {
            base = size;
        }
        let s = stats(speeds);
        println!(
            "| 6 | {kib} KiB | {:.1} | [{:.1}..{:.1}] | {size} | {:.4} |",
            s.0,
            s.1,
            s.2,
            size as f64 / base as f64
        );
    }
}
