//! The binary snapshot format (documented byte by byte in docs/state-format.md).
//!
//! Little-endian throughout. A header (magic, format version), then length-prefixed typed
//! records, then the xxh3-64 of everything before it. A reader skips record types it does not
//! know and bytes at the end of a known record that a later version may have added, so an older
//! reader can read a newer file when the change allows. Any flipped byte, truncation, wrong magic
//! or unknown version is reported as an error, never a panic.

use super::{Counters, Digests, Entry, EntryOutcome, State};
use byteorder::{ByteOrder, LittleEndian, WriteBytesExt};
use std::fmt;

/// The first 8 bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"RUNSTATE";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
const HEADER_LEN: usize = 12;
const CHECKSUM_LEN: usize = 8;

/// Record types.
const REC_JOB: u8 = 1;
const REC_ENTRY: u8 = 2;

/// Why a snapshot could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooShort {
        len: usize,
    },
    BadMagic,
    UnsupportedVersion {
        found: u16,
    },
    ChecksumMismatch,
    /// A record's content does not parse (only possible with a valid checksum, i.e. a bug or a
    /// deliberately crafted file).
    Malformed {
        offset: usize,
        what: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len } => write!(
                f,
                "the file is truncated ({len} bytes, too short for a snapshot)"
            ),
            DecodeError::BadMagic => f.write_str("not a runner snapshot (wrong magic bytes)"),
            DecodeError::UnsupportedVersion { found } => {
                write!(
                    f,
                    "snapshot format version {found} is not supported (this runner reads version {VERSION})"
                )
            }
            DecodeError::ChecksumMismatch => f.write_str(
                "the checksum does not match the contents (the file is truncated or corrupt)",
            ),
            DecodeError::Malformed { offset, what } => {
                write!(f, "malformed record at byte {offset}: {what}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Encodes a state into `buf`, which is cleared first (and reused across saves).
pub fn encode(state: &State, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(MAGIC);
    push_u16(buf, VERSION);
    push_u16(buf, 0); // flags, none defined
    for (name, job) in &state.jobs {
        record(buf, REC_JOB, |b| {
            put_str(b, name);
            for n in job.counters.to_array() {
                push_u64(b, n);
            }
            match &job.last_error {
                None => b.push(0),
                Some(e) => {
                    b.push(1);
                    put_str(b, e);
                }
            }
        });
        for (rel, e) in &job.ledger {
            record(buf, REC_ENTRY, |b| {
                put_str(b, rel);
                push_u64(b, e.size);
                push_u64(b, e.mtime_ns as u64);
                push_u64(b, e.fingerprint);
                b.push(match e.outcome {
                    EntryOutcome::Ok => 0,
                    EntryOutcome::Rejected => 1,
                });
                push_u64(b, e.finished_ns as u64);
                b.push(e.digests.len() as u8);
                b.extend_from_slice(e.digests.packed());
            });
        }
    }
    let sum = xxhash_rust::xxh3::xxh3_64(buf);
    push_u64(buf, sum);
}

/// Decodes a snapshot from its bytes.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(
            if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
                DecodeError::BadMagic
            } else {
                DecodeError::TooShort { len: bytes.len() }
            },
        );
    }
    if &bytes[..8] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if xxhash_rust::xxh3::xxh3_64(body) != LittleEndian::read_u64(sum) {
        return Err(DecodeError::ChecksumMismatch);
    }
    let version = LittleEndian::read_u16(&body[8..10]);
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version });
    }
    let mut state = State::default();
    let mut current: Option<String> = None;
    // A job's entries are gathered, then its ledger is built in one go (much faster than
    // inserting a million keys one by one).
    let mut pending: Vec<(String, Entry)> = Vec::new();
    let flush =
        |state: &mut State, current: &Option<String>, pending: &mut Vec<(String, Entry)>| {
            if let Some(job) = current.as_ref().and_then(|name| state.jobs.get_mut(name)) {
                if job.ledger.is_empty() {
                    job.ledger = pending.drain(..).collect();
                } else {
                    job.ledger.extend(pending.drain(..));
                }
            }
            pending.clear();
        };
    let mut pos = HEADER_LEN;
    while pos < body.len() {
        let mut r = Reader { buf: body, pos };
        let kind = r.u8()?;
        let len = r.u32()? as usize;
        let start = r.pos;
        let end =
            start
                .checked_add(len)
                .filter(|&e| e <= body.len())
                .ok_or(DecodeError::Malformed {
                    offset: pos,
                    what: "record length runs past the end",
                })?;
        let mut rec = Reader {
            buf: &body[..end],
            pos: start,
        };
        match kind {
            REC_JOB => {
                flush(&mut state, &current, &mut pending);
                let name = rec.str()?.to_owned();
                let mut n = [0u64; 7];
                for v in &mut n {
                    *v = rec.u64()?;
                }
                let last_error = match rec.u8()? {
                    0 => None,
                    _ => Some(rec.str()?.to_owned()),
                };
                let job = state.jobs.entry(name.clone()).or_default();
                job.counters = Counters::from_array(n);
                job.last_error = last_error;
                current = Some(name);
            }
            REC_ENTRY => {
                let job = current.as_ref().ok_or(DecodeError::Malformed {
                    offset: pos,
                    what: "a ledger entry before any job",
                })?;
                let rel = rec.str()?.to_owned();
                let size = rec.u64()?;
                let mtime_ns = rec.u64()? as i64;
                let fingerprint = rec.u64()?;
                let outcome = match rec.u8()? {
                    0 => EntryOutcome::Ok,
                    1 => EntryOutcome::Rejected,
                    _ => {
                        return Err(DecodeError::Malformed {
                            offset: pos,
                            what: "unknown outcome",
                        });
                    }
                };
                let finished_ns = rec.u64()? as i64;
                let count = rec.u8()?;
                // Bytes after the fields known here belong to a later version: ignored.
                let (digests, _) = Digests::unpack(count, &rec.buf[rec.pos..])
                    .map_err(|what| DecodeError::Malformed { offset: pos, what })?;
                let entry = Entry {
                    size,
                    mtime_ns,
                    fingerprint,
                    outcome,
                    digests,
                    finished_ns,
                };
                pending.push((rel, entry));
                let _ = job;
            }
            _ => {} // a record type of a later version: skipped
        }
        pos = end;
    }
    flush(&mut state, &current, &mut pending);
    Ok(state)
}

/// Writes one record: type, payload length, payload.
fn record(buf: &mut Vec<u8>, kind: u8, payload: impl FnOnce(&mut Vec<u8>)) {
    buf.push(kind);
    let len_at = buf.len();
    push_u32(buf, 0);
    payload(buf);
    let len = (buf.len() - len_at - 4) as u32;
    LittleEndian::write_u32(&mut buf[len_at..len_at + 4], len);
}

fn push_u16(buf: &mut Vec<u8>, v: u16) {
    let _ = buf.write_u16::<LittleEndian>(v);
}
fn push_u32(buf: &mut Vec<u8>, v: u32) {
    let _ = buf.write_u32::<LittleEndian>(v);
}
fn push_u64(buf: &mut Vec<u8>, v: u64) {
    let _ = buf.write_u64::<LittleEndian>(v);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    push_u32(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
}

/// Reads fields from a byte slice, never past its end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Malformed {
                offset: self.pos,
                what: "a field runs past the end of its record",
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(LittleEndian::read_u32(self.take(4)?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(LittleEndian::read_u64(self.take(8)?))
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.u32()? as usize;
        let at = self.pos;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Malformed {
            offset: at,
            what: "a string is not UTF-8",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::ChecksumAlgo;
    use crate::state::JobState;
    use proptest::prelude::*;

    fn sample() -> State {
        let mut state = State::default();
        let job = state.jobs.entry("etl".into()).or_default();
        job.counters = Counters {
            ok: 3,
            failed: 1,
            rejected: 1,
            skipped: 7,
            bytes_in: 725,
            bytes_out: 2048,
            runs: 2,
        };
        job.last_error = Some("in/b.gz: corrupt gzip stream".into());
        job.ledger.insert(
            "app.log".into(),
            Entry {
                size: 337,
                mtime_ns: 1_764_840_000_123_456_789,
                fingerprint: 0xdead_beef_0123_4567,
                outcome: EntryOutcome::Ok,
                digests: {
                    let mut d = Digests::default();
                    d.push_hex(
                        ChecksumAlgo::Sha256,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                    );
                    d.push(ChecksumAlgo::Xxh3, &[1, 2, 3, 4, 5, 6, 7, 8]);
                    d
                },
                finished_ns: 1_764_840_001_000_000_000,
            },
        );
        job.ledger.insert(
            "rotated.log".into(),
            Entry {
                size: 1055,
                mtime_ns: -5,
                fingerprint: 0,
                outcome: EntryOutcome::Rejected,
                digests: Digests::default(),
                finished_ns: 1,
            },
        );
        state.jobs.insert("empty".into(), JobState::default());
        state
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode(&sample(), &mut buf);
        assert_eq!(&buf[..8], MAGIC);
        assert_eq!(decode(&buf).unwrap(), sample());
    }

    #[test]
    fn every_truncation_and_every_byte_flip_is_detected() {
        let mut good = Vec::new();
        encode(&sample(), &mut good);
        for len in 0..good.len() {
            assert!(decode(&good[..len]).is_err(), "truncated to {len} bytes");
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                assert!(decode(&bad).is_err(), "byte {i} flipped with {flip:#x}");
            }
        }
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        let mut buf = Vec::new();
        encode(&sample(), &mut buf);
        let mut bad = buf.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(DecodeError::BadMagic));
        // A later version with a valid checksum.
        let mut newer = buf[..buf.len() - 8].to_vec();
        newer[8] = 2;
        let sum = xxhash_rust::xxh3::xxh3_64(&newer);
        newer.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(
            decode(&newer),
            Err(DecodeError::UnsupportedVersion { found: 2 })
        );
    }

    #[test]
    fn unknown_record_types_and_extra_fields_are_skipped() {
        let mut buf = Vec::new();
        encode(&sample(), &mut buf);
        let mut body = buf[..buf.len() - 8].to_vec();
        // A record of a type this version does not know, between the header and the first job.
        let unknown = [0x7fu8, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc];
        body.splice(HEADER_LEN..HEADER_LEN, unknown);
        // And one at the end.
        body.extend_from_slice(&[0x80, 0, 0, 0, 0]);
        let sum = xxhash_rust::xxh3::xxh3_64(&body);
        body.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&body).unwrap(), sample());
    }

    fn state_strategy() -> impl Strategy<Value = State> {
        let digests = proptest::collection::vec(
            (0usize..5, proptest::collection::vec(any::<u8>(), 0..64)),
            0..3,
        )
        .prop_map(|list| {
            let mut d = Digests::default();
            for (a, raw) in list {
                d.push(ChecksumAlgo::ALL[a], &raw);
            }
            d
        });
        let entry = (
            any::<u64>(),
            any::<i64>(),
            any::<u64>(),
            any::<bool>(),
            digests,
            any::<i64>(),
        )
            .prop_map(
                |(size, mtime_ns, fingerprint, ok, digests, finished_ns)| Entry {
                    size,
                    mtime_ns,
                    fingerprint,
                    outcome: if ok {
                        EntryOutcome::Ok
                    } else {
                        EntryOutcome::Rejected
                    },
                    digests,
                    finished_ns,
                },
            );
        let counters = proptest::array::uniform7(any::<u64>()).prop_map(Counters::from_array);
        let job = (
            counters,
            proptest::option::of("\\PC{0,30}"),
            proptest::collection::btree_map("\\PC{0,20}", entry, 0..6),
        )
            .prop_map(|(counters, last_error, ledger)| JobState {
                counters,
                last_error,
                ledger,
            });
        proptest::collection::btree_map("[a-z_][a-z0-9_-]{0,8}", job, 0..4)
            .prop_map(|jobs| State { jobs })
    }

    proptest! {
        #[test]
        fn random_states_round_trip(state in state_strategy()) {
            let mut buf = vec![1, 2, 3]; // a reused buffer is cleared first
            encode(&state, &mut buf);
            prop_assert_eq!(decode(&buf).unwrap(), state);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}

#[cfg(test)]
mod documented_example {
    use super::*;

    /// The example of docs/state-format.md, byte for byte up to the checksum.
    #[test]
    fn matches_the_docs() {
        let mut state = State::default();
        state.jobs.entry("etl".into()).or_default().counters.ok = 3;
        let mut buf = Vec::new();
        encode(&state, &mut buf);
        assert_eq!(buf.len(), 89);
        let mut expected =
            b"RUNSTATE\x01\x00\x00\x00\x01\x40\x00\x00\x00\x03\x00\x00\x00etl".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&[0; 48]);
        expected.push(0);
        assert_eq!(&buf[..81], &expected[..]);
    }
}
