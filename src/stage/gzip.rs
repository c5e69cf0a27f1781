//! The `gzip` stage: compresses the stream into a single-member gzip file (RFC 1952).
//!
//! The output depends on the input bytes and the level only: the header carries no file name,
//! an mtime of 0 and `OS` 255 ("unknown"), and the deflater is fed in fixed blocks whatever the
//! chunk size, so the same input gives the same bytes on every run, platform and configuration.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::stage::{BoxSink, FileReport, OUTPUT_BUFFER, Sink, StageError};

/// The deflater is always called on blocks of this many input bytes (except the last one):
/// zlib's output depends on how its input is split, the stream's bytes must not.
const BLOCK: usize = 64 * 1024;

/// Deflates the stream with `flate2` (zlib-rs) and frames it as gzip; the compressed output is
/// batched in a reused 64 KiB buffer, so the next sink receives few, large chunks whatever the
/// input chunk size.
pub struct Gzip {
    deflate: Compress,
    /// CRC-32 of the uncompressed input, for the trailer.
    crc: Crc,
    /// Input that does not fill a block yet; never grows past [`BLOCK`].
    staged: Vec<u8>,
    /// Compressed bytes not pushed yet; never grows past its initial capacity.
    out: Vec<u8>,
    next: BoxSink,
}

impl Gzip {
    /// A gzip stage in front of `next`; `level` is 0 (stored) to 9 (best), values above 9 are
    /// taken as 9 (the plan validates the range before building stages).
    pub fn new(level: u32, next: BoxSink) -> Self {
        let level = level.min(9);
        let mut out = Vec::with_capacity(OUTPUT_BUFFER);
        out.extend_from_slice(&header(level));
        Gzip {
            deflate: Compress::new(Compression::new(level), false),
            crc: Crc::new(),
            staged: Vec::with_capacity(BLOCK),
            out,
            next,
        }
    }

    fn flush(&mut self) -> Result<(), StageError> {
        if !self.out.is_empty() {
            self.next.push(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Feeds one block (or, at the end, the last partial block) to the deflater.
    fn deflate_block(&mut self, mut block: &[u8]) -> Result<(), StageError> {
        while !block.is_empty() {
            let (consumed, _) = self.deflate(block, FlushCompress::None)?;
            block = &block[consumed..];
        }
        Ok(())
    }

    /// Deflates what is staged, keeping the staging buffer's allocation.
    fn deflate_staged(&mut self) -> Result<(), StageError> {
        let staged = std::mem::take(&mut self.staged);
        let result = self.deflate_block(&staged);
        self.staged = staged;
        self.staged.clear();
        result
    }

    /// Runs the deflater once on `input` into the spare room of `out` (flushing `out` first if
    /// it is full); returns the number of input bytes consumed and the deflater's status.
    fn deflate(
        &mut self,
        input: &[u8],
        flush: FlushCompress,
    ) -> Result<(usize, Status), StageError> {
        if self.out.len() == self.out.capacity() {
            self.flush()?;
        }
        let (in_before, out_before) = (self.deflate.total_in(), self.out.len());
        let status = self
            .deflate
            .compress_vec(input, &mut self.out, flush)
            .map_err(|e| deflate_failed(&e.to_string()))?;
        let consumed = (self.deflate.total_in() - in_before) as usize;
        if consumed == 0 && self.out.len() == out_before && status != Status::StreamEnd {
            // Cannot happen with room in `out`; guards against spinning forever.
            return Err(deflate_failed("no progress"));
        }
        Ok((consumed, status))
    }
}

/// The 10-byte member header: magic, CM = deflate, no flags, MTIME = 0, XFL, OS = unknown. The
/// parallel stage writes the same one, so that both give identical files.
pub(crate) fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9 => 2, // maximum compression
        1 => 4, // fastest
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

fn deflate_failed(detail: &str) -> StageError {
    StageError::Io(std::io::Error::other(format!(
        "gzip: deflate failed: {detail}"
    )))
}

impl Sink for Gzip {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.crc.update(chunk);
        let mut rest = chunk;
        if !self.staged.is_empty() {
            let take = (BLOCK - self.staged.len()).min(rest.len());
            self.staged.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.staged.len() < BLOCK {
                return Ok(());
            }
            self.deflate_staged()?;
        }
        // Whole blocks straight from the chunk, without copying.
        while rest.len() >= BLOCK {
            self.deflate_block(&rest[..BLOCK])?;
            rest = &rest[BLOCK..];
        }
        self.staged.extend_from_slice(rest);
        Ok(())
    }

    fn finish(mut self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        self.deflate_staged()?;
        while self.deflate(&[], FlushCompress::Finish)?.1 != Status::StreamEnd {}
        // Trailer: CRC-32 and ISIZE (input length modulo 2^32), little-endian.
        if self.out.capacity() - self.out.len() < 8 {
            self.flush()?;
        }
        let crc = self.crc.sum().to_le_bytes();
        let isize = (self.deflate.total_in() as u32).to_le_bytes();
        self.out.extend_from_slice(&crc);
        self.out.extend_from_slice(&isize);
        self.flush()?;
        self.next.finish(report)
    }
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::stage::testutil::{CHUNK_SIZES, Collect, run_chunked, run_split};

    fn gzip(level: u32) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(Gzip::new(level, next))
    }

    use crate::stage::testutil::{decode_with, gunzip_one as decode, sample_text as sample};

    #[test]
    fn output_decodes_to_the_input_at_every_chunk_size_and_level() {
        for len in [0, 1, 100, 70_000, 300_000] {
            let input = sample(len);
            for level in 0..=9 {
                for chunk in CHUNK_SIZES {
                    if chunk == 1 && len > 70_000 {
                        continue; // slow in debug builds, and covered by 70_000
                    }
                    let (gz, _) = run_chunked(gzip(level), &input, chunk).unwrap();
                    assert!(
                        decode(&gz) == input,
                        "len {len} level {level} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn header_is_deterministic() {
        let (gz, _) = run_chunked(gzip(6), b"hello", 4096).unwrap();
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        let (gz9, _) = run_chunked(gzip(9), b"hello", 4096).unwrap();
        assert_eq!(gz9[8], 2);
        let (again, _) = run_chunked(gzip(6), b"hello", 4096).unwrap();
        assert_eq!(gz, again);
        // Trailer: CRC-32 and length of the input.
        let n = gz.len();
        let mut crc = Crc::new();
        crc.update(b"hello");
        assert_eq!(&gz[n - 8..n - 4], &crc.sum().to_le_bytes());
        assert_eq!(&gz[n - 4..], &5u32.to_le_bytes());
    }

    #[test]
    fn output_does_not_depend_on_the_chunking() {
        let input = sample(300_000);
        for level in [0, 1, 6, 9] {
            let (reference, _) = run_chunked(gzip(level), &input, 1 << 20).unwrap();
            for chunk in [1, 7, 4096, 65536, 65537, 200_000] {
                let (gz, _) = run_chunked(gzip(level), &input, chunk).unwrap();
                assert!(gz == reference, "level {level} chunk {chunk}");
            }
            let (split, _) = run_split(gzip(level), &input, &[0, 3, 65535, 65536, 70_000]).unwrap();
            assert!(split == reference, "level {level} split");
        }
    }

    #[test]
    fn system_gzip_reads_the_output() {
        let input = sample(150_000);
        for (level, chunk) in [(6, 7), (0, 4096), (9, 65536), (1, 1)] {
            let (gz, _) = run_chunked(gzip(level), &input, chunk).unwrap();
            let Some(out) = decode_with("gzip", &gz) else {
                return;
            };
            assert!(out == input, "level {level} chunk {chunk}");
        }
    }

    #[test]
    fn empty_input_is_a_valid_empty_gzip_file() {
        let (gz, _) = run_chunked(gzip(6), b"", 1).unwrap();
        assert_eq!(gz.len(), 20);
        assert!(decode(&gz).is_empty());
    }

    #[test]
    fn output_is_batched_in_large_pushes() {
        // Incompressible input, pushed a byte at a time: the sink still sees 64 KiB pushes.
        let mut x: u64 = 1;
        let input: Vec<u8> = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect();
        let collect = Collect::new();
        let mut stage = Gzip::new(6, Box::new(collect.clone()));
        for byte in input.chunks(1) {
            stage.push(byte).unwrap();
        }
        Box::new(stage).finish(&mut FileReport::default()).unwrap();
        let gz = collect.collected();
        assert!(decode(&gz) == input);
        assert!(
            collect.push_count() <= gz.len() / OUTPUT_BUFFER + 1,
            "{} pushes for {} bytes",
            collect.push_count(),
            gz.len()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_input_random_cuts_round_trip(
            input in proptest::collection::vec(any::<u8>(), 0..5000),
            cuts in proptest::collection::vec(0usize..5000, 0..12),
            level in 0u32..=9,
        ) {
            let (gz, _) = run_split(gzip(level), &input, &cuts).unwrap();
            prop_assert_eq!(decode(&gz), input);
        }
    }
}
