//! Per-stage throughput: 16 MiB of log text pushed in 64 KiB chunks through one stage into a sink
//! that drops the bytes. `cargo bench --bench stages`; criterion prints MB/s (as "MiB/s" or
//! "MB/s" per its settings) for each stage.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use runner::stage::testutil::Collect;
use runner::stage::{
    BoxSink, Case, CaseMode, Checksum, ChecksumAlgo, FileReport, Gunzip, Gzip, Sink, StageError,
};
use std::hint::black_box;

/// The end of every benchmarked chain: counts and forgets.
struct Drop0(u64);

impl Sink for Drop0 {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.0 += black_box(chunk).len() as u64;
        Ok(())
    }
    fn finish(self: Box<Self>, _: &mut FileReport) -> Result<(), StageError> {
        Ok(())
    }
}

const CHUNK: usize = 64 * 1024;

fn corpus() -> Vec<u8> {
    let mut out = Vec::with_capacity(16 << 20);
    let mut i = 0u64;
    while out.len() < 16 << 20 {
        out.extend_from_slice(
            format!(
                "2026-12-04T09:15:{:02}.{:03}Z INFO svc-{} id={:x} request GET /orders latency={}ms naïve Ünïcödé π=3.14\n",
                i % 60,
                i % 1000,
                i % 40,
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16,
                i % 977
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(16 << 20);
    out
}

fn drive(stage: BoxSink, input: &[u8]) {
    let mut stage = stage;
    for chunk in input.chunks(CHUNK) {
        stage.push(chunk).unwrap();
    }
    stage.finish(&mut FileReport::default()).unwrap();
}

fn stages(c: &mut Criterion) {
    let input = corpus();
    let collect = Collect::new();
    drive(Box::new(Gzip::new(6, Box::new(collect.clone()))), &input);
    let gz = collect.collected();

    let mut group = c.benchmark_group("stage");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(input.len() as u64));
    for algo in ChecksumAlgo::ALL {
        group.bench_function(BenchmarkId::new("checksum", algo.name()), |b| {
            b.iter(|| {
                drive(
                    Box::new(Checksum::new(algo, None, Box::new(Drop0(0)))),
                    &input,
                )
            })
        });
    }
    for (name, mode) in [("ascii", CaseMode::Ascii), ("unicode", CaseMode::Unicode)] {
        group.bench_function(BenchmarkId::new("upper", name), |b| {
            b.iter(|| drive(Box::new(Case::new(true, mode, Box::new(Drop0(0)))), &input))
        });
    }
    for level in [1, 6] {
        group.bench_function(BenchmarkId::new("gzip", level), |b| {
            b.iter(|| drive(Box::new(Gzip::new(level, Box::new(Drop0(0)))), &input))
        });
    }
    // gunzip's throughput is counted in decompressed bytes, like the other stages'.
    group.bench_function(BenchmarkId::new("gunzip", "level6"), |b| {
        b.iter(|| drive(Box::new(Gunzip::new(u64::MAX, Box::new(Drop0(0)))), &gz))
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
