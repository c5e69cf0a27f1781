//! The run's memory between runs (SPEC section 7): per job the counters, the last error, and the
//! ledger of finished inputs, kept in a binary snapshot (`state.bin`) so that a restart skips the
//! files it already finished.

pub mod codec;
pub mod show;
pub mod store;

use crate::stage::ChecksumAlgo;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// Everything the snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Jobs by name.
    pub jobs: BTreeMap<String, JobState>,
}

/// One job's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    pub counters: Counters,
    /// The message of the latest failure, if any run had one.
    pub last_error: Option<String>,
    /// Finished inputs by path relative to the source dir.
    pub ledger: BTreeMap<String, Entry>,
}

/// Totals over every run of a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub ok: u64,
    pub failed: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub runs: u64,
}

impl Counters {
    /// The counters in the order the state file stores them.
    pub fn to_array(&self) -> [u64; 7] {
        [
            self.ok,
            self.failed,
            self.rejected,
            self.skipped,
            self.bytes_in,
            self.bytes_out,
            self.runs,
        ]
    }

    /// The inverse of [`to_array`](Self::to_array).
    pub fn from_array(n: [u64; 7]) -> Self {
        let [ok, failed, rejected, skipped, bytes_in, bytes_out, runs] = n;
        Counters {
            ok,
            failed,
            rejected,
            skipped,
            bytes_in,
            bytes_out,
            runs,
        }
    }
}

/// A finished input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i64,
    /// xxh3-64 of the whole content, computed while streaming (0 for rejected files, which are
    /// not read past their first bytes).
    pub fingerprint: u64,
    pub outcome: EntryOutcome,
    /// The digests of the chain's checksum stages, in chain order.
    pub digests: Digests,
    /// When the file finished, nanoseconds since the Unix epoch.
    pub finished_ns: i64,
}

/// How a ledger entry finished. Failed files are not in the ledger: they are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryOutcome {
    Ok,
    Rejected,
}

/// One checksum stage's digest, as `state show --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerDigest {
    #[serde(with = "algo_name")]
    pub algo: ChecksumAlgo,
    /// Lower-case hex.
    pub hex: String,
}

mod algo_name {
    use crate::stage::ChecksumAlgo;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(algo: &ChecksumAlgo, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(algo.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ChecksumAlgo, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The digests of a ledger entry, packed as the state file stores them: for each, the algorithm
/// code, the length and the raw bytes. One SHA-256, or a few xxh digests, fit inline, so an entry
/// costs no allocation for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    count: u8,
    packed: SmallVec<[u8; 40]>,
}

/// The code of an algorithm in the state file.
pub fn algo_code(algo: ChecksumAlgo) -> u8 {
    match algo {
        ChecksumAlgo::Sha256 => 1,
        ChecksumAlgo::Sha512 => 2,
        ChecksumAlgo::Xxh64 => 3,
        ChecksumAlgo::Xxh3 => 4,
        ChecksumAlgo::Xxh128 => 5,
    }
}

/// The algorithm of a state-file code.
pub fn algo_from_code(code: u8) -> Option<ChecksumAlgo> {
    ChecksumAlgo::ALL
        .into_iter()
        .find(|a| algo_code(*a) == code)
}

impl Digests {
    /// Adds a digest (at most 255 digests of at most 255 bytes each; more is ignored).
    pub fn push(&mut self, algo: ChecksumAlgo, raw: &[u8]) {
        if self.count == u8::MAX || raw.len() > 255 {
            return;
        }
        self.count += 1;
        self.packed.push(algo_code(algo));
        self.packed.push(raw.len() as u8);
        self.packed.extend_from_slice(raw);
    }

    /// Adds a digest given in hex, as the checksum stages report them.
    pub fn push_hex(&mut self, algo: ChecksumAlgo, hex: &str) {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0,
        };
        let mut raw = [0u8; 255];
        let n = (hex.len() / 2).min(255);
        for (i, pair) in hex.as_bytes().chunks_exact(2).take(n).enumerate() {
            raw[i] = nibble(pair[0]) << 4 | nibble(pair[1]);
        }
        self.push(algo, &raw[..n]);
    }

    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The digests in order: algorithm and raw bytes.
    pub fn iter(&self) -> impl Iterator<Item = (ChecksumAlgo, &[u8])> {
        let mut rest = &self.packed[..];
        std::iter::from_fn(move || {
            let (&code, tail) = rest.split_first()?;
            let (&len, tail) = tail.split_first()?;
            let (raw, tail) = tail.split_at(usize::from(len).min(tail.len()));
            rest = tail;
            Some((algo_from_code(code)?, raw))
        })
    }

    /// The packed bytes (without the count), as the state file stores them.
    pub fn packed(&self) -> &[u8] {
        &self.packed
    }

    /// Reads `count` packed digests from the front of `bytes`; returns them and the bytes used.
    pub fn unpack(count: u8, bytes: &[u8]) -> Result<(Digests, usize), &'static str> {
        let mut at = 0;
        for _ in 0..count {
            let code = *bytes
                .get(at)
                .ok_or("a digest runs past the end of its record")?;
            algo_from_code(code).ok_or("unknown checksum algorithm")?;
            let len = usize::from(
                *bytes
                    .get(at + 1)
                    .ok_or("a digest runs past the end of its record")?,
            );
            at += 2 + len;
            if at > bytes.len() {
                return Err("a digest runs past the end of its record");
            }
        }
        let digests = Digests {
            count,
            packed: SmallVec::from_slice(&bytes[..at]),
        };
        Ok((digests, at))
    }

    /// The view printed by `state show --format json`.
    pub fn to_list(&self) -> Vec<LedgerDigest> {
        self.iter()
            .map(|(algo, raw)| LedgerDigest {
                algo,
                hex: hex(raw),
            })
            .collect()
    }
}

impl Serialize for Digests {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Digests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<LedgerDigest>::deserialize(d)?;
        let mut digests = Digests::default();
        for item in list {
            digests.push_hex(item.algo, &item.hex);
        }
        Ok(digests)
    }
}

/// Lower-case hex of raw bytes.
pub fn hex(raw: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(raw.len() * 2);
    for b in raw {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

impl Entry {
    /// Whether an input with this size and mtime is the one this entry finished.
    pub fn matches(&self, size: u64, mtime_ns: i64) -> bool {
        self.size == size && self.mtime_ns == mtime_ns
    }
}

/// Nanoseconds since the Unix epoch of a file time (negative before it, saturating).
pub fn unix_ns(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}
