//! Streaming stage transforms: the push-model `Sink` trait and the stages that implement it.
//!
//! A file's chain is a linked list of boxed sinks. The engine pushes the input's chunks into the
//! first sink; each stage transforms what it receives and pushes its output into the next one.
//! At end of input the engine calls `finish` on the first sink, which flushes what it still holds,
//! records what it produced besides bytes (digests) in the [`FileReport`], and finishes the next
//! sink in turn, so that a whole chain is finished by one call.
//!
//! Every stage works in bounded memory: buffers are allocated when the stage is built (or grow
//! once to the chunk size) and are reused for every chunk after that.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

mod case;
mod checksum;
mod error;
mod final_sigma;
mod gunzip;
mod gzip;
mod pgzip;
pub mod testutil;

pub use case::Case;
pub use checksum::{Checksum, sidecar_line};
pub use error::{StageError, UnknownName};
pub use gunzip::Gunzip;
pub use gzip::Gzip;
pub use pgzip::{ParallelGzip, gzip_stage};

/// Size of the reused output buffers of the stages that batch their output (gzip, gunzip).
pub(crate) const OUTPUT_BUFFER: usize = 64 * 1024;

/// One stage of a file's chain, push model: chunks go in, the stage passes its output to the next sink.
pub trait Sink: Send {
    /// Push one chunk of the stream (any length, including 0 and 1 byte).
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError>;
    /// End of stream: flush remaining output downstream, then call `finish` on the downstream sink.
    fn finish(self: Box<Self>, report: &mut FileReport) -> Result<(), StageError>;
}

/// A stage, or a whole chain starting at that stage, as the engine and other stages hold it.
pub type BoxSink = Box<dyn Sink>;

/// What a file's chain produced besides bytes: filled in by `finish` calls.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// One entry per checksum stage, in chain order of finishing.
    pub digests: Vec<Digest>,
}

/// The digest computed by one checksum stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm of the checksum stage.
    pub algo: ChecksumAlgo,
    /// lower-case hex, as the standard tools print it
    pub hex: String,
    /// where the engine must write the sidecar file (already expanded), if the stage has one
    pub sidecar: Option<PathBuf>,
}

/// A hash algorithm of the `checksum` stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgo {
    /// SHA-256 (FIPS 180-4), verified by `sha256sum -c`.
    Sha256,
    /// SHA-512 (FIPS 180-4), verified by `sha512sum -c`.
    Sha512,
    /// XXH64 with seed 0, verified by `xxhsum -c` (`xxhsum -H64`).
    Xxh64,
    /// XXH3 64-bit, verified by `xxhsum -c` (`xxhsum -H3`).
    Xxh3,
    /// XXH3 128-bit, verified by `xxhsum -c` (`xxhsum -H128`).
    Xxh128,
}

impl ChecksumAlgo {
    /// Every algorithm, in the order the documentation lists them.
    pub const ALL: [ChecksumAlgo; 5] = [
        ChecksumAlgo::Sha256,
        ChecksumAlgo::Sha512,
        ChecksumAlgo::Xxh64,
        ChecksumAlgo::Xxh3,
        ChecksumAlgo::Xxh128,
    ];

    /// The name used in the chain DSL and in logs: `sha256`, `sha512`, `xxh64`, `xxh3`, `xxh128`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Sha256 => "sha256",
            ChecksumAlgo::Sha512 => "sha512",
            ChecksumAlgo::Xxh64 => "xxh64",
            ChecksumAlgo::Xxh3 => "xxh3",
            ChecksumAlgo::Xxh128 => "xxh128",
        }
    }
}

impl fmt::Display for ChecksumAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChecksumAlgo {
    type Err = UnknownName;

    /// Parses the names printed by [`ChecksumAlgo::name`] (exactly, lower case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChecksumAlgo::ALL
            .into_iter()
            .find(|algo| algo.name() == s)
            .ok_or_else(|| UnknownName {
                what: "checksum algorithm",
                name: s.to_owned(),
                expected: "sha256, sha512, xxh64, xxh3, xxh128",
            })
    }
}

/// How `upper` and `lower` map case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseMode {
    /// Bytes `a-z` / `A-Z` only; every other byte passes unchanged (binary-safe, length-preserving).
    Ascii,
    /// Full Unicode case mapping of UTF-8 text, exactly as `str::to_uppercase` / `str::to_lowercase`.
    Unicode,
}

impl CaseMode {
    /// The name used in the chain DSL: `ascii` or `unicode`.
    pub fn name(self) -> &'static str {
        match self {
            CaseMode::Ascii => "ascii",
            CaseMode::Unicode => "unicode",
        }
    }
}

impl fmt::Display for CaseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CaseMode {
    type Err = UnknownName;

    /// Parses `ascii` or `unicode` (exactly, lower case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ascii" => Ok(CaseMode::Ascii),
            "unicode" => Ok(CaseMode::Unicode),
            _ => Err(UnknownName {
                what: "case mode",
                name: s.to_owned(),
                expected: "ascii, unicode",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algo_names_round_trip() {
        for algo in ChecksumAlgo::ALL {
            assert_eq!(algo.name().parse::<ChecksumAlgo>(), Ok(algo));
            assert_eq!(algo.to_string(), algo.name());
        }
        let err = "SHA256".parse::<ChecksumAlgo>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown checksum algorithm `SHA256` (expected one of: sha256, sha512, xxh64, xxh3, xxh128)"
        );
    }

    #[test]
    fn case_mode_names_round_trip() {
        for mode in [CaseMode::Ascii, CaseMode::Unicode] {
            assert_eq!(mode.name().parse::<CaseMode>(), Ok(mode));
        }
        assert!("utf8".parse::<CaseMode>().is_err());
    }
}
