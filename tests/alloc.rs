//! Streaming allocates nothing per chunk once it runs: the parallel gzip stage reuses its block
//! buffers and deflaters, and a whole chain with its writers reuses its buffers. Counted with a
//! global allocator, so this is a test binary of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use runner::stage::{FileReport, ParallelGzip, Sink, StageError};

/// Counts allocations (not frees), per thread and in all.
struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

static ALL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static MINE: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters neither
// allocate nor touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` and `layout` come from this allocator, which is the system one.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, which is the system one.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count() {
    ALL.fetch_add(1, Ordering::Relaxed);
    // `try_with`: the thread may be tearing down its locals.
    let _ = MINE.try_with(|n| n.set(n.get() + 1));
}

/// The tests of this binary run one at a time: one of them counts every thread's allocations.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn mine() -> u64 {
    MINE.with(Cell::get)
}

/// The end of the chain: drops what it gets.
struct Null;

impl Sink for Null {
    fn push(&mut self, _chunk: &[u8]) -> Result<(), StageError> {
        Ok(())
    }

    fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
        Ok(())
    }
}

fn text(len: usize) -> Vec<u8> {
    let mut x: u32 = 7;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(format!("{} id={:x} GET /orders ", x % 97, x >> 8).as_bytes());
    }
    out.truncate(len);
    out
}

const BLOCK: usize = 128 * 1024;

#[test]
fn no_allocation_per_chunk_in_the_steady_state() {
    let _serial = serial();
    let warmup = text(16 * BLOCK);
    let steady = text(64 * BLOCK);

    // One thread: everything runs on the pushing thread, which allocates nothing at all.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let on_pusher = pool.install(|| {
        let mut stage = ParallelGzip::new(1, Box::new(Null));
        for chunk in warmup.chunks(4096) {
            stage.push(chunk).unwrap();
        }
        let before = mine();
        for chunk in steady.chunks(4096) {
            stage.push(chunk).unwrap();
        }
        let n = mine() - before;
        Box::new(stage).finish(&mut FileReport::default()).unwrap();
        n
    });
    assert_eq!(on_pusher, 0, "allocations while pushing 2048 chunks");

    // Two threads: the only allocations are rayon's, one small job per helper spawned, and a
    // helper is spawned at most once per block.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let everywhere = pool.install(|| {
        let mut stage = ParallelGzip::new(1, Box::new(Null));
        for chunk in warmup.chunks(4096) {
            stage.push(chunk).unwrap();
        }
        let before = ALL.load(Ordering::SeqCst);
        for chunk in steady.chunks(4096) {
            stage.push(chunk).unwrap();
        }
        let n = ALL.load(Ordering::SeqCst) - before;
        Box::new(stage).finish(&mut FileReport::default()).unwrap();
        n
    });
    eprintln!("2 threads: {everywhere} allocations for 64 blocks, 2048 chunks");
    assert!(
        everywhere <= 64 + 4,
        "{everywhere} allocations for 64 blocks"
    );
}

/// The whole flagship chain, with its writers, on a pool of one thread: once every buffer
/// exists (the writers' I/O threads have theirs), pushing a chunk allocates nothing on the
/// thread that runs the chain (beyond std's channels' allocations at a thread's first wait on
/// each, a few per file at most).
#[test]
fn the_etl_chain_allocates_nothing_per_chunk_on_its_thread() {
    let _serial = serial();
    use runner::exec::output::{Outputs, commit};
    use runner::plan::Vars;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let yaml = format!(
        "version: 1\njobs:\n  j:\n    source: {{dir: {d}}}\n    chain: >\n      checksum(sha256) | tee(\"{d}/plain/{{name}}\") | upper\n      | gzip(level = 1) | multiwrite(\"{d}/a/{{name}}.gz\", \"{d}/b/{{name}}.gz\")\n"
    );
    let loaded = runner::config::load_str(&yaml, &dir.path().join("p.yaml"));
    let plan = loaded.plan.expect("the pipeline is valid");
    let warmup = text(24 << 20);
    let steady = text(16 << 20);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let outputs = Outputs::default();
    let n = pool.install(|| {
        let vars = Vars {
            rel: "x.log",
            job: "j",
            date: "2026-12-04",
        };
        let mut sink = runner::exec::chain::build(&plan.jobs[0].chain, &vars, &outputs).unwrap();
        for chunk in warmup.chunks(64 * 1024) {
            sink.push(chunk).unwrap();
        }
        let before = mine();
        for chunk in steady.chunks(64 * 1024) {
            sink.push(chunk).unwrap();
        }
        let n = mine() - before;
        sink.finish(&mut FileReport::default()).unwrap();
        n
    });
    commit(&outputs).unwrap();
    let plain = std::fs::read(dir.path().join("plain/x.log")).unwrap();
    assert!(
        plain.len() == warmup.len() + steady.len(),
        "the tee output is whole"
    );
    // std's channels allocate once when a thread first waits on them: the thread's wait context,
    // and each channel's list of waiters (kept, with its capacity, for the channel's life). Each
    // of the 3 writers hands buffers to its I/O thread through 2 channels, and whether the chain
    // first had to wait in the warm-up or only now depends on how fast the disk takes the writes.
    // Those 7 are the most this can see; an allocation per chunk would show 256 or more.
    const FIRST_WAITS: u64 = 1 + 3 * 2;
    assert!(
        n <= FIRST_WAITS,
        "{n} allocations on the chain's thread while pushing 256 chunks"
    );
}
