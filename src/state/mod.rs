//! The run's memory between runs (SPEC section 7): per job the counters, the last error, and the
//! ledger of finished inputs, kept in a binary snapshot (`state.bin`) so that a restart skips the
//! files it already finished.

pub mod codec;
pub mod show;
pub mod store;

use crate::stage::ChecksumAlgo;
use serde::{Deserialize, Serialize};
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
    pub digests: Vec<LedgerDigest>,
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

/// One checksum stage's digest.
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
