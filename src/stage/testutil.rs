//! Test support: a sink that collects what reaches it, and drivers that push an input in chunks.
//!
//! Used by the stages' unit tests and available to integration tests of the engine.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::stage::{BoxSink, FileReport, Sink, StageError};

/// A terminal sink that appends every chunk to a shared buffer and records that `finish` was called.
///
/// Clones share the same buffer and flags: keep one clone, box the other into the chain.
#[derive(Debug, Clone, Default)]
pub struct Collect {
    /// Every byte pushed so far, in order.
    pub bytes: Arc<Mutex<Vec<u8>>>,
    /// Set when `finish` was called.
    pub finished: Arc<AtomicBool>,
    /// Number of non-empty chunks pushed (to check that a stage batches its output).
    pub pushes: Arc<AtomicUsize>,
}

impl Collect {
    /// A collector with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the bytes collected so far.
    pub fn collected(&self) -> Vec<u8> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `finish` was called.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Number of non-empty chunks pushed so far.
    pub fn push_count(&self) -> usize {
        self.pushes.load(Ordering::SeqCst)
    }
}

impl Sink for Collect {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        assert!(!self.is_finished(), "push after finish");
        if !chunk.is_empty() {
            self.pushes.fetch_add(1, Ordering::SeqCst);
        }
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(chunk);
        Ok(())
    }

    fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
        assert!(!self.is_finished(), "finish called twice");
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// Builds a chain with `build` in front of a [`Collect`], pushes `input` in chunks of `chunk`
/// bytes (the last one shorter), finishes the chain, and returns what reached the collector and
/// the report.
///
/// # Panics
///
/// If `chunk` is 0, or if the chain's `finish` returned `Ok` without finishing the collector.
pub fn run_chunked(
    build: impl Fn(BoxSink) -> BoxSink,
    input: &[u8],
    chunk: usize,
) -> Result<(Vec<u8>, FileReport), StageError> {
    assert!(chunk > 0, "chunk size must be positive");
    run_pieces(build, input.chunks(chunk))
}

/// Like [`run_chunked`], but cuts `input` at the given offsets (sorted or not, duplicates and
/// out-of-range values allowed: a duplicate cut pushes an empty chunk).
pub fn run_split(
    build: impl Fn(BoxSink) -> BoxSink,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, FileReport), StageError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut start = 0;
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    for cut in cuts {
        pieces.push(&input[start..cut]);
        start = cut;
    }
    pieces.push(&input[start..]);
    run_pieces(build, pieces)
}

/// Pushes each piece in order into a chain built by `build`, then finishes it.
pub fn run_pieces<'a>(
    build: impl Fn(BoxSink) -> BoxSink,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(Vec<u8>, FileReport), StageError> {
    let collect = Collect::new();
    let mut chain = build(Box::new(collect.clone()));
    for piece in pieces {
        chain.push(piece)?;
    }
    let mut report = FileReport::default();
    chain.finish(&mut report)?;
    assert!(
        collect.is_finished(),
        "the chain finished without finishing its downstream sink"
    );
    Ok((collect.collected(), report))
}

/// The chunk sizes every stage is tested at: tiny ones, a page, and the default chunk size.
pub const CHUNK_SIZES: [usize; 4] = [1, 7, 4096, 65536];

/// Deterministic text of `len` bytes (words, tabs, newlines, a few multi-byte characters) for
/// compression tests.
pub fn sample_text(len: usize) -> Vec<u8> {
    let words = [
        "alpha ",
        "beta ",
        "gamma\n",
        "delta ",
        "epsilon ",
        "42 ",
        "zeta\t",
        "Ünïcödé ",
    ];
    let mut x: u32 = 12345;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(len);
    out
}

/// Independent decoder for tests: flate2's single-member reader, which checks CRC and ISIZE
/// and would stop after a first member if a stage wrote several.
pub fn gunzip_one(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out)
        .expect("a valid gzip stream");
    out
}

/// Decodes gzip with an external tool (`gzip -d -c`, `pigz -d -c`), an implementation independent
/// of ours; `None` if the tool is not installed.
pub fn decode_with(tool: &str, gz: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = match Command::new(tool)
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping: {tool} is not installed");
            return None;
        }
        Err(e) => panic!("spawning {tool}: {e}"),
    };
    let mut stdin = child.stdin.take().unwrap();
    let gz = gz.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&gz));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool} -d failed: {:?}", out.status);
    Some(out.stdout)
}
