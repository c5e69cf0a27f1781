//! The parallel `gzip` stage: one gzip member whose deflate blocks are compressed on the worker pool.
//!
//! The stream is cut into fixed blocks of [`BLOCK`] input bytes. Each block is compressed as raw
//! deflate, primed with the 32 KiB of input before it as dictionary, and ends on a byte boundary
//! (a sync flush; the last block is finished instead), so the compressed blocks concatenate into
//! one standard deflate stream, framed by the same 10-byte header as the single-threaded
//! [`Gzip`] stage and a trailer whose CRC-32 is combined from the blocks' CRCs. This is how
//! `pigz` lays out its output; `gzip -d`, `zcat` and `pigz -d` read it.
//!
//! # Scheduling, and why it cannot deadlock
//!
//! The stage runs on a rayon worker (the engine runs each file's chain on one worker of its
//! pool) and every worker may be doing the same for another file. So the thread that pushes
//! never waits for work that only the pool could do:
//!
//! - a full block is queued, and a *helper* job is spawned on the current pool (at most
//!   `threads - 1` helpers per stream, running or waiting to run); a helper compresses queued
//!   blocks until none is left, then ends;
//! - when the queue is full, or at the end, the pushing thread takes the oldest block out: if
//!   it is compressed, it is written downstream; if some block is still *queued*, the pushing
//!   thread compresses it itself; only when every unfinished block is being compressed by a
//!   helper that is running right now does it wait (on a condition variable), and a running
//!   helper finishes its block without waiting for anything.
//!
//! A helper that no idle worker picks up therefore costs nothing but a little memory: the
//! pushing thread does all the work itself, at single-threaded speed. The pushing thread never
//! runs other pool jobs while it waits (`rayon::yield_now` would let it start a whole other
//! file inside this push, which breaks the engine's bound of `workers` files in flight).
//!
//! # Memory
//!
//! At most `2 x threads` blocks are in flight (one on a pool of one thread), plus the one being
//! filled; their buffers (input with its window, compressed output) are allocated once and
//! reused (about 330 KiB a block). The deflate state (about 300 KiB) lives in a per-thread
//! cache, one per level in use, so it does not grow with the number of streams. Once a stream
//! runs, pushing allocates nothing but, now and then, rayon's small job for a helper.
//!
//! # Determinism
//!
//! The output depends only on the input and the level, not on the chunking nor on the pool:
//! block boundaries are at fixed input offsets, and every block is compressed exactly as a new
//! deflater would compress it (see [`Block::deflate`] for the one byte of a reused deflater's
//! state that needs wiping). A stream of at most one block is a single deflate stream
//! compressed on the pushing thread; it spawns nothing.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::stage::gzip::header;
use crate::stage::{BoxSink, FileReport, Gzip, Sink, StageError};

/// Input bytes per block. 128 KiB, pigz's default too: on the gen-logs corpus the output is
/// 0.1% larger than the single-threaded stage's at level 6; smaller blocks lose more time to the
/// per-block dictionary (at level 1, 64 KiB blocks run about 20% slower), larger ones cost
/// memory and parallelism on middle-sized files for little gain (256 KiB: 0.04%).
const BLOCK: usize = 128 * 1024;

/// The deflate window: how much preceding input primes each block's compressor.
const WINDOW: usize = 32 * 1024;

/// Zeros to wipe the byte after a dictionary in a reused deflater's window (see [`Block::deflate`]).
static ZEROS: [u8; WINDOW + 1] = [0; WINDOW + 1];

/// Header and trailer of the gzip member, which travel in the first and last blocks' output.
const FRAMING: usize = 10 + 8;

/// Chooses the gzip stage for the current pool: [`ParallelGzip`] when it has more than one
/// thread, the single-threaded [`Gzip`] otherwise.
///
/// Both write standard gzip, and for a given input and level each always writes the same
/// bytes, but not the same as the other (the parallel one restarts its deflater every block):
/// the same file gzipped with `workers: 1` and with more workers differs byte for byte (not in
/// content) once it is longer than one block.
pub fn gzip_stage(level: u32, next: BoxSink) -> BoxSink {
    if rayon::current_num_threads() > 1 {
        Box::new(ParallelGzip::new(level, next))
    } else {
        Box::new(Gzip::new(level, next))
    }
}

/// Compresses the stream into a single gzip member, compressing its 128 KiB blocks in parallel on
/// the current rayon pool and writing them downstream in order (see the module documentation).
pub struct ParallelGzip {
    /// Compression level, 0..=9.
    level: u32,
    /// Input bytes per block: [`BLOCK`], smaller in tests.
    block: usize,
    /// Threads of the pool the stage was built on; 1 means everything runs on the pushing thread.
    threads: usize,
    /// Most blocks queued, being compressed, or compressed and not yet written.
    max_in_flight: usize,
    /// The block being filled, not yet queued.
    current: Block,
    /// Written blocks, whose buffers wait for reuse.
    spare: Vec<Block>,
    /// Blocks allocated so far (never more than `max_in_flight + 1`).
    allocated: usize,
    /// The blocks in flight, shared with the helpers.
    queue: QueueHandle,
    /// CRC-32 of the input written so far, combined from the blocks' CRCs.
    crc: Crc,
    next: BoxSink,
}

impl ParallelGzip {
    /// A parallel gzip stage in front of `next`, for the pool of the calling thread (the global
    /// pool outside any). `level` is 0 (stored) to 9 (best); values above 9 are taken as 9.
    pub fn new(level: u32, next: BoxSink) -> Self {
        Self::with_block_size(level, BLOCK, next)
    }

    /// Like [`ParallelGzip::new`] with another block size: tests cross many block boundaries
    /// with small inputs this way, and the `pgzip` bench measures the choice of [`BLOCK`].
    pub fn with_block_size(level: u32, block: usize, next: BoxSink) -> Self {
        assert!(block > 0, "block size must be positive");
        let threads = rayon::current_num_threads().max(1);
        ParallelGzip {
            level: level.min(9),
            block,
            threads,
            max_in_flight: if threads > 1 { 2 * threads } else { 1 },
            current: Block::first(),
            spare: Vec::new(),
            allocated: 1,
            queue: QueueHandle(Arc::new(Shared::default())),
            crc: Crc::new(),
            next,
        }
    }

    /// How many blocks of this stream helper jobs compressed so far (the others were compressed
    /// by the pushing thread): 0 on a pool of one thread, or when every worker was busy.
    pub fn blocks_compressed_by_helpers(&self) -> u64 {
        self.queue.lock().helped
    }

    /// Queues the current block (the last one with `last`) and starts filling the next block,
    /// primed with the window of input before it.
    fn dispatch(&mut self, last: bool) -> Result<(), StageError> {
        while self.queue.lock().slots.len() >= self.max_in_flight {
            self.retire_oldest()?;
        }
        let mut block = if last {
            std::mem::take(&mut self.current)
        } else {
            let mut fresh = self.spare.pop().unwrap_or_else(|| {
                self.allocated += 1;
                Block::with_capacity(self.block)
            });
            debug_assert!(self.allocated <= self.max_in_flight + 1);
            fresh.prime(&self.current.input, self.block);
            std::mem::replace(&mut self.current, fresh)
        };
        block.last = last;
        let spawn = {
            let mut queue = self.queue.lock();
            queue.slots.push_back(Slot::Queued(block));
            queue.queued += 1;
            // The last block is left to the pushing thread, which waits for it anyway.
            let wanted = (self.threads - 1).min(queue.queued);
            let spawn = !last && queue.helpers < wanted;
            if spawn {
                queue.helpers += 1;
            }
            spawn
        };
        if spawn {
            let (shared, level) = (Arc::clone(&self.queue.0), self.level);
            rayon::spawn(move || help(&shared, level));
        }
        self.write_compressed()
    }

    /// Writes downstream the blocks at the front of the queue that are compressed already.
    fn write_compressed(&mut self) -> Result<(), StageError> {
        loop {
            let block = {
                let mut queue = self.queue.lock();
                match queue.slots.front() {
                    Some(Slot::Done(_)) => queue.pop_done(),
                    _ => return Ok(()),
                }
            };
            self.write(block)?;
        }
    }

    /// Waits for the oldest block in flight, compressing queued blocks on this thread
    /// meanwhile, and writes it downstream. Does nothing when no block is in flight.
    fn retire_oldest(&mut self) -> Result<(), StageError> {
        let shared = Arc::clone(&self.queue.0);
        let mut queue = shared.lock();
        let block = loop {
            match queue.slots.front() {
                None => return Ok(()),
                Some(Slot::Done(_)) => break queue.pop_done(),
                Some(_) => {}
            }
            if let Some((seq, mut block)) = queue.take_queued() {
                drop(queue);
                block.compress(self.level);
                queue = shared.lock();
                queue.put_done(seq, block);
            } else {
                // The unfinished blocks are all in the hands of running helpers.
                queue = shared
                    .done
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        drop(queue);
        self.write(block)
    }

    /// Writes one compressed block downstream (with the trailer after the last one) and keeps
    /// its buffers for reuse.
    fn write(&mut self, mut block: Block) -> Result<(), StageError> {
        if let Some(detail) = block.failed.take() {
            return Err(StageError::Io(std::io::Error::other(format!(
                "gzip: deflate failed: {detail}"
            ))));
        }
        self.crc.combine(&block.crc);
        if block.last {
            // Trailer: CRC-32 and ISIZE (input length modulo 2^32), little-endian.
            block.out.extend_from_slice(&self.crc.sum().to_le_bytes());
            block
                .out
                .extend_from_slice(&self.crc.amount().to_le_bytes());
        }
        let pushed = self.next.push(&block.out);
        self.spare.push(block);
        pushed
    }
}

impl Sink for ParallelGzip {
    fn push(&mut self, mut chunk: &[u8]) -> Result<(), StageError> {
        while !chunk.is_empty() {
            // A full block is queued only once more input shows that it is not the last one.
            if self.current.data_len() == self.block {
                self.dispatch(false)?;
            }
            let take = (self.block - self.current.data_len()).min(chunk.len());
            self.current.fill(&chunk[..take], self.block);
            chunk = &chunk[take..];
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        self.dispatch(true)?;
        while !self.queue.lock().slots.is_empty() {
            self.retire_oldest()?;
        }
        self.next.finish(report)
    }
}

/// One block of the stream: its input (with the window before it) and, once compressed, its
/// deflate output and the CRC-32 of its input.
#[derive(Debug, Default)]
struct Block {
    /// The first block of the stream: its output starts with the gzip header.
    first: bool,
    /// The last block of the stream: finished rather than flushed.
    last: bool,
    /// `window` bytes of preceding input, then the block's own input.
    input: Vec<u8>,
    window: usize,
    /// The compressed block (with the header for the first block); empty until compressed.
    out: Vec<u8>,
    /// CRC-32 of the block's own input.
    crc: Crc,
    /// Why compressing failed, if it did.
    failed: Option<String>,
}

impl Block {
    /// The first block of a stream; its buffers grow with the input up to a block.
    fn first() -> Block {
        Block {
            first: true,
            ..Block::default()
        }
    }

    /// A block with buffers for a whole block of `block` bytes and its window.
    fn with_capacity(block: usize) -> Block {
        Block {
            input: Vec::with_capacity(WINDOW + block),
            out: Vec::with_capacity(out_bound(block)),
            ..Block::default()
        }
    }

    /// Length of the block's own input.
    fn data_len(&self) -> usize {
        self.input.len() - self.window
    }

    /// Appends input; the buffer grows to at most a whole block and its window.
    fn fill(&mut self, bytes: &[u8], block: usize) {
        let need = self.input.len() + bytes.len();
        if need > self.input.capacity() {
            let target = need.max(2 * self.input.capacity()).min(WINDOW + block);
            self.input
                .reserve_exact(target.max(need) - self.input.len());
        }
        self.input.extend_from_slice(bytes);
    }

    /// Makes this (written or new) block the one after the block whose window and input are
    /// `previous_input`: its window is the last 32 KiB of that. A stream of several blocks
    /// needs whole blocks, so the input buffer gets its full size (once).
    fn prime(&mut self, previous_input: &[u8], block: usize) {
        let start = previous_input.len().saturating_sub(WINDOW);
        self.input.clear();
        if self.input.capacity() < WINDOW + block {
            self.input.reserve_exact(WINDOW + block);
        }
        self.input.extend_from_slice(&previous_input[start..]);
        self.window = self.input.len();
        self.first = false;
        self.last = false;
        self.out.clear();
    }

    /// Compresses the block with this thread's deflater for `level`; a failure is recorded in
    /// the block and reported by the pushing thread.
    fn compress(&mut self, level: u32) {
        let result = DEFLATERS.with_borrow_mut(|cache| {
            let deflate = cache[level as usize]
                .get_or_insert_with(|| Compress::new(Compression::new(level), false));
            self.deflate(deflate, level)
        });
        if let Err(detail) = result {
            self.failed = Some(detail);
        }
    }

    /// Resets `deflate`, primes it with the block's window and compresses the block's input
    /// into `out`, which also gets the header for the first block; computes the input's CRC.
    ///
    /// zlib-rs's `reset` keeps the old contents of the deflater's window, and inserting the
    /// dictionary's last string into the hash chains reads 4 bytes, one past the dictionary
    /// (levels 1 to 8 hash 4 bytes): with a dictionary, that byte is zeroed first, as in a new
    /// deflater, by a throw-away dictionary one byte longer. Without it, about one block in 40
    /// came out different depending on what the thread compressed before. It costs a second
    /// dictionary insertion: about 3% of the time of a block at level 6, 12% at level 1.
    fn deflate(&mut self, deflate: &mut Compress, level: u32) -> Result<(), String> {
        let (window, mut data) = self.input.split_at(self.window);
        deflate.reset();
        if !window.is_empty() {
            if level > 0 {
                // Zero the byte after the dictionary (see above).
                deflate
                    .set_dictionary(&ZEROS[..=window.len()])
                    .map_err(|e| e.to_string())?;
                deflate.reset();
            }
            deflate.set_dictionary(window).map_err(|e| e.to_string())?;
        }
        self.crc.reset();
        self.crc.update(data);
        self.out.clear();
        let bound = out_bound(data.len());
        if self.out.capacity() < bound {
            self.out.reserve_exact(bound);
        }
        if self.first {
            self.out.extend_from_slice(&header(level));
        }
        let flush = if self.last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        loop {
            if self.out.len() == self.out.capacity() {
                // Not expected (the buffer holds the deflate bound), but never a reason to fail.
                self.out.reserve(WINDOW);
            }
            let before = deflate.total_in();
            let status = deflate
                .compress_vec(data, &mut self.out, flush)
                .map_err(|e| e.to_string())?;
            data = &data[(deflate.total_in() - before) as usize..];
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // A flush is complete when it returns with output space left.
                _ => data.is_empty() && self.out.len() < self.out.capacity(),
            };
            if done {
                return Ok(());
            }
        }
    }
}

/// Room for the compressed form of `len` input bytes, with the gzip framing: above zlib-rs's
/// deflate bound (level 1 codes incompressible bytes in up to 9 bits, 12.5% more; stored blocks
/// cost 5 bytes per 64 KiB, a sync flush 5 bytes).
fn out_bound(len: usize) -> usize {
    len + len / 8 + 64 + FRAMING
}

thread_local! {
    /// This thread's deflaters, one per level used, reset for every block: compressing never
    /// nests on one thread, so a thread never needs two of one level.
    static DEFLATERS: RefCell<[Option<Compress>; 10]> = const { RefCell::new([const { None }; 10]) };
}

/// A helper job: compresses queued blocks of one stream until none is left.
fn help(shared: &Shared, level: u32) {
    let mut queue = shared.lock();
    while let Some((seq, mut block)) = queue.take_queued() {
        drop(queue);
        if catch_unwind(AssertUnwindSafe(|| block.compress(level))).is_err() {
            block.failed = Some("the compressor panicked".to_owned());
        }
        queue = shared.lock();
        queue.put_done(seq, block);
        queue.helped += 1;
        shared.done.notify_all();
    }
    queue.helpers -= 1;
}

/// The blocks in flight of one stream, shared by its pushing thread and its helpers.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a helper has compressed a block.
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The blocks in flight, oldest first.
#[derive(Default)]
struct Queue {
    /// Sequence number of the block at the front of `slots`.
    front_seq: u64,
    slots: VecDeque<Slot>,
    /// Blocks in `slots` still waiting for a compressor.
    queued: usize,
    /// Helper jobs spawned and not yet ended.
    helpers: usize,
    /// Blocks compressed by helpers (to check that they take part).
    helped: u64,
    /// The stage is gone: helpers stop taking blocks.
    closed: bool,
}

/// A block in flight: waiting, being compressed (by a helper or the pushing thread), or done.
enum Slot {
    Queued(Block),
    Running,
    Done(Block),
}

impl Queue {
    /// Takes the oldest queued block to compress it, leaving `Running` in its place.
    fn take_queued(&mut self) -> Option<(u64, Block)> {
        if self.queued == 0 || self.closed {
            return None;
        }
        let index = self
            .slots
            .iter()
            .position(|slot| matches!(slot, Slot::Queued(_)))?;
        let Slot::Queued(block) = std::mem::replace(&mut self.slots[index], Slot::Running) else {
            unreachable!("the slot was found queued");
        };
        self.queued -= 1;
        Some((self.front_seq + index as u64, block))
    }

    /// Puts back a block taken by [`Queue::take_queued`], compressed; drops it if the stage is gone.
    fn put_done(&mut self, seq: u64, block: Block) {
        if self.closed {
            return;
        }
        let index = (seq - self.front_seq) as usize;
        self.slots[index] = Slot::Done(block);
    }

    /// Removes the front block, which must be done.
    fn pop_done(&mut self) -> Block {
        match self.slots.pop_front() {
            Some(Slot::Done(block)) => {
                self.front_seq += 1;
                block
            }
            _ => unreachable!("pop_done is called only when the front block is done"),
        }
    }
}

/// The stage's handle on its queue: when the stage goes (finished, failed, or dropped midway),
/// the queue is closed so that helpers still running or waiting to run stop, and its blocks
/// are freed at once.
struct QueueHandle(Arc<Shared>);

impl QueueHandle {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.0.lock()
    }
}

impl Drop for QueueHandle {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.closed = true;
        queue.slots.clear();
        queue.queued = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::OnceLock;
    use std::sync::mpsc;
    use std::time::Duration;

    use proptest::prelude::*;
    use rayon::prelude::*;

    use super::*;
    use crate::stage::testutil::{CHUNK_SIZES, Collect, run_chunked, run_split};

    /// A small block size for tests that must cross many block boundaries quickly; smaller than
    /// the window, so windows span several blocks.
    const SMALL: usize = 4096;

    fn pgzip(level: u32, block: usize) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(ParallelGzip::with_block_size(level, block, next))
    }

    fn gzip(level: u32) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(Gzip::new(level, next))
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// A pool of two threads shared by the property tests.
    fn pool2() -> &'static rayon::ThreadPool {
        static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
        POOL.get_or_init(|| pool(2))
    }

    use crate::stage::testutil::{decode_with, gunzip_one as decode, sample_text as sample};

    /// The format, written independently: blocks of `block` bytes (the last one the rest, empty
    /// only for an empty input), each compressed by a new deflater primed with the 32 KiB
    /// before it, sync-flushed, the last one finished.
    fn reference(input: &[u8], level: u32, block: usize) -> Vec<u8> {
        let mut out = header(level).to_vec();
        let mut start = 0;
        loop {
            let end = (start + block).min(input.len());
            let last = end == input.len();
            let mut deflate = Compress::new(Compression::new(level), false);
            if start > 0 {
                deflate
                    .set_dictionary(&input[start.saturating_sub(WINDOW)..start])
                    .unwrap();
            }
            let mut compressed = Vec::with_capacity(out_bound(end - start));
            let flush = if last {
                FlushCompress::Finish
            } else {
                FlushCompress::Sync
            };
            let status = deflate
                .compress_vec(&input[start..end], &mut compressed, flush)
                .unwrap();
            assert!(!last || status == Status::StreamEnd);
            assert!(compressed.len() < compressed.capacity());
            out.extend_from_slice(&compressed);
            if last {
                break;
            }
            start = end;
        }
        let mut crc = Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        out
    }

    /// Runs `f` on a new thread and fails the test if it has not returned after `secs` seconds
    /// (a deadlocked stage would otherwise hang the test run).
    fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|_| panic!("no result after {secs} s: deadlock?"))
    }

    #[test]
    fn round_trips_across_block_boundaries_at_every_chunk_size() {
        let pool = pool(2);
        for block in [SMALL, 40_000] {
            let lens = [
                0,
                1,
                block - 1,
                block,
                block + 1,
                2 * block - 1,
                2 * block,
                2 * block + 1,
                7 * block + 123,
            ];
            for len in lens {
                let input = sample(len);
                for chunk in CHUNK_SIZES {
                    let (gz, _) = pool
                        .install(|| run_chunked(pgzip(6, block), &input, chunk))
                        .unwrap();
                    assert!(
                        decode(&gz) == input,
                        "block {block} len {len} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn round_trips_at_the_real_block_size_and_every_level() {
        let pool = pool(2);
        for len in [BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17] {
            let input = sample(len);
            for chunk in [4096, 65536] {
                let (gz, _) = pool
                    .install(|| run_chunked(pgzip(6, BLOCK), &input, chunk))
                    .unwrap();
                assert!(decode(&gz) == input, "len {len} chunk {chunk}");
            }
        }
        let input = sample(10 * SMALL + 5);
        for level in 0..=9 {
            let (gz, _) = pool
                .install(|| run_chunked(pgzip(level, SMALL), &input, 4096))
                .unwrap();
            assert!(decode(&gz) == input, "level {level}");
        }
    }

    #[test]
    fn system_gzip_and_pigz_read_the_output() {
        let pool = pool(2);
        let input = sample(5 * BLOCK + 1000);
        for (level, chunk) in [(6, 7), (1, 65536), (9, 4096), (0, 4096)] {
            let (gz, _) = pool
                .install(|| run_chunked(pgzip(level, BLOCK), &input, chunk))
                .unwrap();
            for tool in ["gzip", "pigz"] {
                if let Some(out) = decode_with(tool, &gz) {
                    assert!(out == input, "{tool}: level {level} chunk {chunk}");
                }
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_the_pool_size_or_the_chunking() {
        let input = sample(4 * BLOCK + 333);
        for level in [1, 6] {
            let (reference, _) = run_chunked(pgzip(level, BLOCK), &input, input.len()).unwrap();
            for threads in [1, 2, 4] {
                let pool = pool(threads);
                for chunk in [7, 4096, 65536, 65537, 1 << 20] {
                    let (gz, _) = pool
                        .install(|| run_chunked(pgzip(level, BLOCK), &input, chunk))
                        .unwrap();
                    assert!(
                        gz == reference,
                        "level {level} threads {threads} chunk {chunk}"
                    );
                }
                let cuts = [0, 3, BLOCK - 1, BLOCK, BLOCK, 2 * BLOCK + 1, 3 * BLOCK + 9];
                let (gz, _) = pool
                    .install(|| run_split(pgzip(level, BLOCK), &input, &cuts))
                    .unwrap();
                assert!(gz == reference, "level {level} threads {threads} split");
            }
        }
        // Byte by byte, with small blocks so that the pushes cross many boundaries.
        let input = sample(20 * SMALL + 1);
        let (reference, _) = run_chunked(pgzip(6, SMALL), &input, input.len()).unwrap();
        for threads in [1, 2] {
            let (gz, _) = pool(threads)
                .install(|| run_chunked(pgzip(6, SMALL), &input, 1))
                .unwrap();
            assert!(gz == reference, "threads {threads} chunk 1");
        }
    }

    #[test]
    fn every_block_is_compressed_as_by_a_new_deflater_whatever_ran_before() {
        let pool = pool(2);
        let input = sample(3 * BLOCK + 4321);
        let other: Vec<u8> = input.iter().rev().map(|b| b.wrapping_add(1)).collect();
        for level in 0..=9 {
            // Use the threads' deflaters on other data first.
            pool.install(|| run_chunked(pgzip(level, BLOCK), &other, 65536))
                .unwrap();
            let (gz, _) = pool
                .install(|| run_chunked(pgzip(level, BLOCK), &input, 65536))
                .unwrap();
            assert!(gz == reference(&input, level, BLOCK), "level {level}");
        }
    }

    #[test]
    fn empty_input_gives_the_same_bytes_as_the_single_threaded_stage() {
        let (gz, _) = pool(2)
            .install(|| run_chunked(pgzip(6, BLOCK), b"", 1))
            .unwrap();
        let (single, _) = run_chunked(gzip(6), b"", 1).unwrap();
        assert_eq!(gz, single);
        assert_eq!(gz.len(), 20);
        assert!(decode(&gz).is_empty());
    }

    #[test]
    fn header_is_the_single_threaded_one_and_trailer_is_crc_and_length() {
        let input = sample(3 * SMALL + 10);
        for level in 0..=9 {
            let (gz, _) = run_chunked(pgzip(level, SMALL), &input, 4096).unwrap();
            let (single, _) = run_chunked(gzip(level), &input, 4096).unwrap();
            assert_eq!(gz[..10], single[..10], "level {level}");
            let n = gz.len();
            let mut crc = Crc::new();
            crc.update(&input);
            assert_eq!(gz[n - 8..n - 4], crc.sum().to_le_bytes());
            assert_eq!(gz[n - 4..], (input.len() as u32).to_le_bytes());
        }
    }

    #[test]
    fn compression_ratio_is_within_one_percent_of_the_single_threaded_stage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.log");
        let generated = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/peers/gen-logs.py"
            ))
            .arg(&path)
            .arg("4")
            .status();
        let corpus = match generated {
            Ok(status) if status.success() => std::fs::read(&path).unwrap(),
            _ => {
                eprintln!("skipping: cannot run ../shared/peers/gen-logs.py");
                return;
            }
        };
        let pool = pool(2);
        for level in [1, 6, 9] {
            let (parallel, _) = pool
                .install(|| run_chunked(pgzip(level, BLOCK), &corpus, 65536))
                .unwrap();
            let (single, _) = run_chunked(gzip(level), &corpus, 65536).unwrap();
            let ratio = parallel.len() as f64 / single.len() as f64;
            eprintln!(
                "level {level}: parallel {} single {} bytes ({:+.3}%)",
                parallel.len(),
                single.len(),
                (ratio - 1.0) * 100.0
            );
            assert!(ratio < 1.01, "level {level}: {ratio}");
            assert!(decode(&parallel) == corpus, "level {level}");
        }
    }

    /// The engine's situation: many files, each on one worker of a small pool, each pushing
    /// into a parallel gzip stage, every worker at once. A stage that blocked its worker to
    /// wait for jobs it spawned on the pool would never finish here.
    #[test]
    fn many_files_at_once_on_pools_of_one_and_two_threads_all_complete() {
        for threads in [1, 2, 3] {
            let outputs = within(300, move || {
                let pool = pool(threads);
                let inputs: Vec<Vec<u8>> = (0..4 * threads + 1)
                    .map(|i| sample(40 * SMALL + 1000 * i))
                    .collect();
                let gz: Vec<Vec<u8>> = pool.install(|| {
                    inputs
                        .par_iter()
                        .with_max_len(1)
                        .map(|input| run_chunked(pgzip(1, SMALL), input, 4096).unwrap().0)
                        .collect()
                });
                (inputs, gz)
            });
            let (inputs, gz) = outputs;
            for (input, gz) in inputs.iter().zip(&gz) {
                assert!(decode(gz) == *input, "threads {threads}");
            }
        }
    }

    #[test]
    fn a_worker_pool_busy_with_other_work_does_not_stop_the_stream() {
        // Every other worker is blocked outside rayon's control (as on a slow write): the
        // helpers spawned by the stage never run, and the pushing thread does all the work.
        within(300, || {
            let pool = pool(3);
            let (release, blocked) = std::sync::mpsc::channel::<()>();
            let blocked = Mutex::new(blocked);
            let input = sample(30 * SMALL);
            pool.install(|| {
                rayon::join(
                    || {
                        rayon::join(
                            || blocked.lock().unwrap().recv().unwrap(),
                            || blocked.lock().unwrap().recv().unwrap(),
                        )
                    },
                    || {
                        let (gz, _) = run_chunked(pgzip(6, SMALL), &input, 4096).unwrap();
                        assert!(decode(&gz) == input);
                        release.send(()).unwrap();
                        release.send(()).unwrap();
                    },
                )
            });
        });
    }

    #[test]
    fn helpers_compress_blocks_when_the_pool_has_idle_threads() {
        let input = sample(24 * BLOCK);
        let collect = Collect::new();
        let helped = pool(2).install(|| {
            let mut stage = ParallelGzip::new(1, Box::new(collect.clone()));
            for chunk in input.chunks(65536) {
                stage.push(chunk).unwrap();
            }
            let helped = stage.blocks_compressed_by_helpers();
            Box::new(stage).finish(&mut FileReport::default()).unwrap();
            helped
        });
        assert!(helped > 0, "no block was compressed by a helper");
        assert!(decode(&collect.collected()) == input);
        let collect = Collect::new();
        let helped = pool(1).install(|| {
            let mut stage = ParallelGzip::new(1, Box::new(collect.clone()));
            stage.push(&input).unwrap();
            stage.blocks_compressed_by_helpers()
        });
        assert_eq!(helped, 0);
    }

    #[test]
    fn a_stream_of_one_block_spawns_no_helper() {
        let input = sample(BLOCK);
        pool(2).install(|| {
            let collect = Collect::new();
            let mut stage = ParallelGzip::new(6, Box::new(collect.clone()));
            stage.push(&input).unwrap();
            assert_eq!(stage.queue.lock().helpers, 0);
            assert_eq!(stage.queue.lock().slots.len(), 0);
            Box::new(stage).finish(&mut FileReport::default()).unwrap();
            assert!(decode(&collect.collected()) == input);
        });
    }

    #[test]
    fn blocks_in_flight_and_their_buffers_stay_bounded() {
        let input = sample(300 * SMALL + 7);
        for threads in [1, 2, 4] {
            pool(threads).install(|| {
                let collect = Collect::new();
                let mut stage = ParallelGzip::with_block_size(6, SMALL, Box::new(collect.clone()));
                for chunk in input.chunks(3000) {
                    stage.push(chunk).unwrap();
                    assert!(stage.queue.lock().slots.len() <= stage.max_in_flight);
                }
                assert!(
                    stage.allocated <= stage.max_in_flight + 1,
                    "threads {threads}"
                );
                assert!(stage.max_in_flight <= 2 * threads);
                for block in stage.spare.iter().chain([&stage.current]) {
                    assert!(
                        block.input.capacity() <= WINDOW + SMALL,
                        "{}",
                        block.input.capacity()
                    );
                    assert!(
                        block.out.capacity() <= out_bound(SMALL),
                        "{}",
                        block.out.capacity()
                    );
                }
                Box::new(stage).finish(&mut FileReport::default()).unwrap();
                assert!(decode(&collect.collected()) == input);
            });
        }
    }

    /// A writer that fails after accepting `ok` pushes.
    struct Failing {
        ok: usize,
    }

    impl Sink for Failing {
        fn push(&mut self, _chunk: &[u8]) -> Result<(), StageError> {
            if self.ok == 0 {
                return Err(StageError::Io(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                )));
            }
            self.ok -= 1;
            Ok(())
        }

        fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
            Ok(())
        }
    }

    #[test]
    fn a_downstream_error_fails_the_stream() {
        let input = sample(50 * SMALL);
        for threads in [1, 2] {
            for ok in [0, 3] {
                let result = pool(threads).install(|| {
                    run_chunked(
                        |_| {
                            Box::new(ParallelGzip::with_block_size(
                                6,
                                SMALL,
                                Box::new(Failing { ok }),
                            ))
                        },
                        &input,
                        4096,
                    )
                });
                match result {
                    Err(StageError::Io(e)) => assert_eq!(e.to_string(), "disk full"),
                    other => panic!("threads {threads} ok {ok}: {other:?}"),
                }
                // A stream of one block fails in `finish`.
                let result = pool(threads).install(|| {
                    run_chunked(
                        |_| {
                            Box::new(ParallelGzip::with_block_size(
                                6,
                                SMALL,
                                Box::new(Failing { ok: 0 }),
                            ))
                        },
                        &input[..100],
                        7,
                    )
                });
                assert!(matches!(result, Err(StageError::Io(_))));
            }
        }
    }

    #[test]
    fn a_stream_dropped_midway_leaves_nothing_running() {
        let input = sample(40 * SMALL);
        let pool = pool(2);
        pool.install(|| {
            let mut stage = ParallelGzip::with_block_size(6, SMALL, Box::new(Collect::new()));
            stage.push(&input).unwrap();
            let shared = Arc::clone(&stage.queue.0);
            drop(stage);
            // Helpers still running finish their block and end; none takes another one.
            within(60, move || {
                while shared.lock().helpers > 0 {
                    std::thread::yield_now();
                }
                assert!(shared.lock().slots.is_empty());
            });
        });
    }

    #[test]
    fn the_selector_picks_the_parallel_stage_only_on_a_pool_of_several_threads() {
        let input = sample(3 * BLOCK);
        let run = |threads: usize| {
            pool(threads)
                .install(|| run_chunked(|next| gzip_stage(6, next), &input, 65536))
                .unwrap()
                .0
        };
        let (single, _) = run_chunked(gzip(6), &input, 65536).unwrap();
        let (parallel, _) = run_chunked(pgzip(6, BLOCK), &input, 65536).unwrap();
        assert!(single != parallel);
        assert!(run(1) == single);
        assert!(run(2) == parallel);
    }

    /// Compressible input: bytes from a small alphabet, or any byte.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(b"ab \n".to_vec()), 0..20_000),
            proptest::collection::vec(any::<u8>(), 0..6_000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn random_input_random_cuts_round_trip_and_match_the_reference(
            input in stream(),
            cuts in proptest::collection::vec(0usize..20_000, 0..16),
            level in 0u32..=9,
            block in proptest::sample::select(vec![512usize, 1000, 4096]),
        ) {
            // The pool's threads keep their deflaters from case to case: a deflater used
            // before must not change the output.
            let (gz, _) = pool2().install(|| run_split(pgzip(level, block), &input, &cuts)).unwrap();
            prop_assert_eq!(decode(&gz), input.clone());
            prop_assert!(gz == reference(&input, level, block));
        }
    }
}
