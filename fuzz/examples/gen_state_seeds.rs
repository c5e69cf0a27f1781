//! Writes seed inputs for the `state_decode` target into `corpus/state_decode/` (or the folder
//! given as the first argument): valid snapshots made by `runner::state::codec::encode`, each in
//! the two input modes of the target (see fuzz_targets/state_decode.rs).

use runner::stage::ChecksumAlgo;
use runner::state::codec::encode;
use runner::state::{Counters, Digests, Entry, EntryOutcome, JobState, State};
use std::path::PathBuf;

fn states() -> Vec<(&'static str, State)> {
    let empty = State::default();

    let mut one = State::default();
    one.jobs.insert("empty".into(), JobState::default());

    let mut full = State::default();
    let job = full.jobs.entry("etl".into()).or_default();
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
    let mut digests = Digests::default();
    digests.push_hex(
        ChecksumAlgo::Sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    digests.push(ChecksumAlgo::Xxh3, &[1, 2, 3, 4, 5, 6, 7, 8]);
    digests.push(ChecksumAlgo::Xxh64, &[9; 8]);
    job.ledger.insert(
        "app.log".into(),
        Entry {
            size: 337,
            mtime_ns: 1_764_840_000_123_456_789,
            fingerprint: 0xdead_beef_0123_4567,
            outcome: EntryOutcome::Ok,
            digests,
            finished_ns: 1_764_840_001_000_000_000,
        },
    );
    job.ledger.insert(
        "sub/rotated.log".into(),
        Entry {
            size: 1055,
            mtime_ns: -5,
            fingerprint: 0,
            outcome: EntryOutcome::Rejected,
            digests: Digests::default(),
            finished_ns: 1,
        },
    );
    let other = full.jobs.entry("ünïcode".into()).or_default();
    other.counters.runs = u64::MAX;
    let mut d = Digests::default();
    d.push(ChecksumAlgo::Sha512, &[0xab; 64]);
    d.push(ChecksumAlgo::Xxh128, &[0xcd; 16]);
    other.ledger.insert(
        "x".into(),
        Entry {
            size: u64::MAX,
            mtime_ns: i64::MIN,
            fingerprint: 1,
            outcome: EntryOutcome::Ok,
            digests: d,
            finished_ns: i64::MAX,
        },
    );
    vec![("empty", empty), ("one-job", one), ("full", full)]
}

fn main() {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/state_decode"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create the corpus folder");
    let mut buf = Vec::new();
    for (name, state) in states() {
        encode(&state, &mut buf);
        // Mode 0: the whole file as is.
        let whole = [&[0u8][..], &buf].concat();
        // Mode 1: the records only; the target adds the header and the checksum.
        let records = [&[1u8][..], &buf[12..buf.len() - 8]].concat();
        for (mode, bytes) in [("file", whole), ("records", records)] {
            let path = dir.join(format!("seed-{name}-{mode}"));
            std::fs::write(&path, bytes).expect("write a seed");
            println!("{}", path.display());
        }
    }
}
