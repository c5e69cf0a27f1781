//! Keeps the snapshot's state in step with a run: counters, last error, ledger entries, pruning.

use super::file::Outcome;
use super::source::Input;
use crate::plan::{AfterPlan, JobPlan, RejectPlan};
use crate::state::{Digests, Entry, EntryOutcome, State, unix_ns};
use std::collections::HashSet;
use std::time::SystemTime;

/// The input's mtime as the ledger stores it.
pub fn mtime_ns(input: &Input) -> i64 {
    input.mtime.map_or(0, unix_ns)
}

/// Whether the ledger says this input was finished as it is now (same path, size and mtime).
pub fn is_unchanged(state: &State, job: &JobPlan, input: &Input) -> bool {
    state
        .jobs
        .get(&job.name)
        .and_then(|j| j.ledger.get(&input.rel))
        .is_some_and(|e| e.matches(input.size, mtime_ns(input)))
}

/// Whether the ledger says this input was finished with its outputs written (not rejected) as
/// it is now: its outputs exist and are its own.
pub fn is_unchanged_and_done(state: &State, job: &JobPlan, input: &Input) -> bool {
    state
        .jobs
        .get(&job.name)
        .and_then(|j| j.ledger.get(&input.rel))
        .is_some_and(|e| e.outcome == EntryOutcome::Ok && e.matches(input.size, mtime_ns(input)))
}

/// Records one file's outcome.
pub fn record(state: &mut State, job: &JobPlan, input: &Input, outcome: &Outcome) {
    let js = state.jobs.entry(job.name.clone()).or_default();
    super::report::tally(&mut js.counters, outcome);
    let finished_ns = unix_ns(SystemTime::now());
    let entry = match outcome {
        Outcome::Done(d) => {
            // An input moved or deleted by `after` is gone: nothing to remember.
            (job.source.after == AfterPlan::Keep).then(|| Entry {
                size: input.size,
                mtime_ns: mtime_ns(input),
                fingerprint: d.fingerprint.unwrap_or_default(),
                outcome: EntryOutcome::Ok,
                digests: {
                    let mut digests = Digests::default();
                    for d in &d.digests {
                        digests.push_hex(d.algo, &d.hex);
                    }
                    digests
                },
                finished_ns,
            })
        }
        Outcome::Rejected { .. } => (job.source.reject == RejectPlan::Skip).then(|| Entry {
            size: input.size,
            mtime_ns: mtime_ns(input),
            fingerprint: 0,
            outcome: EntryOutcome::Rejected,
            digests: Digests::default(),
            finished_ns,
        }),
        Outcome::Failed { error, .. } => {
            js.last_error = Some(format!("{}: {error}", input.rel));
            None
        }
        Outcome::Aborted => return,
    };
    match entry {
        Some(e) => {
            js.ledger.insert(input.rel.clone(), e);
        }
        None => {
            js.ledger.remove(&input.rel);
        }
    }
}

/// Counts a file skipped because the ledger says it is unchanged.
pub fn skipped(state: &mut State, job: &JobPlan) {
    state
        .jobs
        .entry(job.name.clone())
        .or_default()
        .counters
        .skipped += 1;
}

/// Ends a run of a job: one more run, and ledger entries of inputs that no longer exist removed.
pub fn finish_job(state: &mut State, job: &JobPlan, listed: &HashSet<&str>) {
    let js = state.jobs.entry(job.name.clone()).or_default();
    js.counters.runs += 1;
    js.ledger.retain(|rel, _| listed.contains(rel.as_str()));
}
