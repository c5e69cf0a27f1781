//! `runner state show`: a snapshot as text for people.

use super::{EntryOutcome, State};
use crate::units::human_bytes;
use std::fmt::Write as _;

/// `2026-12-04T09:15:02.117Z` for nanoseconds since the Unix epoch.
pub fn timestamp(ns: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => format!("{ns}ns"),
    }
}

pub fn text(state: &State) -> String {
    let mut out = String::new();
    if state.jobs.is_empty() {
        out.push_str("no jobs recorded\n");
    }
    for (name, job) in &state.jobs {
        let c = &job.counters;
        let _ = writeln!(
            out,
            "job {name}: {} run(s); files ok {}, failed {}, rejected {}, skipped {}; in {}, out {}",
            c.runs,
            c.ok,
            c.failed,
            c.rejected,
            c.skipped,
            human_bytes(c.bytes_in),
            human_bytes(c.bytes_out)
        );
        if let Some(e) = &job.last_error {
            let _ = writeln!(out, "  last error: {}", crate::units::one_line(e));
        }
        let _ = writeln!(out, "  ledger: {} file(s)", job.ledger.len());
        for (rel, e) in &job.ledger {
            let outcome = match e.outcome {
                EntryOutcome::Ok => "ok",
                EntryOutcome::Rejected => "rejected",
            };
            let _ = write!(
                out,
                "    {}  {outcome}  {} B  mtime {}  xxh3 {:016x}  finished {}",
                crate::units::one_line(rel),
                e.size,
                timestamp(e.mtime_ns),
                e.fingerprint,
                timestamp(e.finished_ns)
            );
            for (algo, raw) in e.digests.iter() {
                let _ = write!(out, "  {algo}={}", super::hex(raw));
            }
            out.push('\n');
        }
    }
    out
}
