//! The snapshot codec on a state with 1,000,000 ledger entries, side by side in one run with
//! serde_json encoding the same model: save time (encode + write + fsync + rename), load time
//! (read + decode) and file size. `cargo bench --bench state`.

use runner::stage::ChecksumAlgo;
use runner::state::store::{open, read};
use runner::state::{Digests, Entry, EntryOutcome, JobState, State};
use std::time::{Duration, Instant};

const ENTRIES: usize = 1_000_000;
const RUNS: usize = 5;

fn big_state() -> State {
    let mut state = State::default();
    let job = state
        .jobs
        .entry("etl".into())
        .or_insert_with(JobState::default);
    for i in 0..ENTRIES {
        let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        job.ledger.insert(
            format!("2026/12/{:02}/svc-{}/app-{i:07}.log", i % 28 + 1, i % 40),
            Entry {
                size: x % 10_000_000,
                mtime_ns: 1_764_800_000_000_000_000 + i as i64 * 1_000_003,
                fingerprint: x,
                outcome: EntryOutcome::Ok,
                digests: {
                    let mut d = Digests::default();
                    d.push_hex(
                        ChecksumAlgo::Sha256,
                        &format!("{x:016x}{:016x}{:016x}{:016x}", x ^ 1, x ^ 2, x ^ 3),
                    );
                    d
                },
                finished_ns: 1_764_900_000_000_000_000 + i as i64,
            },
        );
    }
    state
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let state = big_state();
    let dir = tempfile::tempdir().expect("a temp dir");

    let path = dir.path().join("state.bin");
    let mut store = open(&path, runner::config::model::OnCorrupt::Fail)
        .expect("open")
        .store;
    let mut save = Vec::new();
    let mut load = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        store.save(&state).expect("save");
        save.push(t.elapsed());
        let t = Instant::now();
        let loaded = read(&path).expect("load");
        load.push(t.elapsed());
        assert_eq!(loaded.jobs["etl"].ledger.len(), ENTRIES);
    }
    let size = std::fs::metadata(&path).expect("size").len();

    let json_path = dir.path().join("state.json");
    let mut json_save = Vec::new();
    let mut json_load = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let bytes = serde_json::to_vec(&state).expect("json");
        let f = std::fs::File::create(&json_path).expect("create");
        std::io::Write::write_all(&mut &f, &bytes).expect("write");
        f.sync_all().expect("sync");
        json_save.push(t.elapsed());
        let t = Instant::now();
        let bytes = std::fs::read(&json_path).expect("read");
        let loaded: State = serde_json::from_slice(&bytes).expect("parse");
        json_load.push(t.elapsed());
        assert_eq!(loaded.jobs["etl"].ledger.len(), ENTRIES);
    }
    let json_size = std::fs::metadata(&json_path).expect("size").len();

    // The codecs alone, in memory: encode into a reused buffer, decode from a byte slice.
    let mut buf = Vec::new();
    let mut enc = Vec::new();
    let mut dec = Vec::new();
    let mut json_enc = Vec::new();
    let mut json_dec = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        runner::state::codec::encode(&state, &mut buf);
        enc.push(t.elapsed());
        let t = Instant::now();
        let decoded = runner::state::codec::decode(&buf).expect("decode");
        dec.push(t.elapsed());
        assert_eq!(decoded.jobs["etl"].ledger.len(), ENTRIES);
        let t = Instant::now();
        let json = serde_json::to_vec(&state).expect("json");
        json_enc.push(t.elapsed());
        let t = Instant::now();
        let decoded: State = serde_json::from_slice(&json).expect("parse");
        json_dec.push(t.elapsed());
        assert_eq!(decoded.jobs["etl"].ledger.len(), ENTRIES);
    }
    let (e, d, je, jd) = (median(enc), median(dec), median(json_enc), median(json_dec));

    let (s, l, js, jl) = (
        median(save),
        median(load),
        median(json_save),
        median(json_load),
    );
    println!("state with {ENTRIES} ledger entries, median of {RUNS} runs\n");
    println!("| | state.bin | serde_json | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| save | {:.0} ms | {:.0} ms | {:.1}x faster |",
        ms(s),
        ms(js),
        ms(js) / ms(s)
    );
    println!(
        "| load | {:.0} ms | {:.0} ms | {:.1}x faster |",
        ms(l),
        ms(jl),
        ms(jl) / ms(l)
    );
    println!(
        "| encode (in memory) | {:.0} ms | {:.0} ms | {:.1}x faster |",
        ms(e),
        ms(je),
        ms(je) / ms(e)
    );
    println!(
        "| decode (in memory) | {:.0} ms | {:.0} ms | {:.1}x faster |",
        ms(d),
        ms(jd),
        ms(jd) / ms(d)
    );
    println!(
        "| size | {:.1} MB | {:.1} MB | {:.2} of JSON |",
        size as f64 / 1e6,
        json_size as f64 / 1e6,
        size as f64 / json_size as f64
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
