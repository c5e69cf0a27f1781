//! The gunzip stage on arbitrary bytes, pushed in fuzzer-chosen chunk sizes.
//!
//! Input layout: byte 0 picks the chunk size (0..=127 -> 1..=128 bytes, 128..=255 -> 512 bytes
//! times 1..=128), byte 1 picks a small output limit (byte * 64 bytes), the rest is the stream.
//!
//! Properties checked:
//! - the stage never panics and never pushes more than `max_size` bytes downstream, with
//!   `max_size` = 1 MiB and with the small limit;
//! - on success the collector was finished, and the output equals what flate2's
//!   `MultiGzDecoder` gives for the same bytes whenever that succeeds too (our gunzip is
//!   stricter: it rejects trailing garbage, empty input, ... that flate2 accepts);
//! - the limit is exact: with the small limit the stage succeeds with the same output when the
//!   output fits, and fails with `TooLarge` when it does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::stage::testutil::Collect;
use runner::stage::{FileReport, Gunzip, Sink, StageError};
use std::io::Read;

const MAX_SIZE: u64 = 1 << 20;

/// Runs the stage; returns its result and what reached the collector.
fn run(input: &[u8], chunk: usize, max_size: u64) -> (Result<(), StageError>, Vec<u8>, bool) {
    let collect = Collect::new();
    let mut stage = Box::new(Gunzip::new(max_size, Box::new(collect.clone())));
    let mut result = Ok(());
    for piece in input.chunks(chunk) {
        result = stage.push(piece);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = stage.finish(&mut FileReport::default());
    }
    let out = collect.collected();
    assert!(
        out.len() as u64 <= max_size,
        "pushed {} bytes downstream with max_size {max_size} (result {result:?})",
        out.len()
    );
    (result, out, collect.is_finished())
}

fuzz_target!(|data: &[u8]| {
    let [c, l, input @ ..] = data else {
        return;
    };
    let chunk = if *c < 128 {
        usize::from(*c) + 1
    } else {
        (usize::from(*c) - 127) * 512
    };
    let small = u64::from(*l) * 64;

    let (result, out, finished) = run(input, chunk, MAX_SIZE);
    if let Err(e) = &result {
        assert!(
            matches!(e, StageError::CorruptGzip { .. } | StageError::TooLarge { limit: MAX_SIZE }),
            "unexpected error: {e:?}"
        );
        return;
    }
    assert!(finished, "Ok without finishing the downstream sink");

    // Independent framing: flate2's multi-member reader, bounded so that a bomb cannot blow up.
    let mut theirs = Vec::new();
    let decoded = flate2::read::MultiGzDecoder::new(input)
        .take(MAX_SIZE + 1)
        .read_to_end(&mut theirs);
    if decoded.is_ok() {
        assert!(
            theirs == out,
            "output differs from flate2's MultiGzDecoder: ours {} bytes, flate2 {} bytes",
            out.len(),
            theirs.len()
        );
    }

    // The same stream under a small limit.
    let (small_result, small_out, _) = run(input, chunk, small);
    if out.len() as u64 <= small {
        assert!(
            small_result.is_ok() && small_out == out,
            "output of {} bytes fits max_size {small} but: {small_result:?}",
            out.len()
        );
    } else {
        assert!(
            matches!(small_result, Err(StageError::TooLarge { limit }) if limit == small),
            "output of {} bytes exceeds max_size {small} but: {small_result:?}",
            out.len()
        );
    }
});
