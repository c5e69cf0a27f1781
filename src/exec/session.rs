//! What one invocation of `runner` keeps while it runs, in batch and in watch mode alike: the
//! loaded snapshot, the per-job counters of this run, and the saving of the state.

use super::account;
use super::claims::Claims;
use super::file::Outcome;
use super::output;
use super::report::JobStats;
use super::source::{self, Input};
use crate::commands::exit;
use crate::plan::{Plan, chain::templates};
use crate::state::State;
use crate::state::store::{self, Store};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A run in progress.
pub struct Session<'p> {
    pub plan: &'p Plan,
    /// The run's output claims; inputs skipped as unchanged claim theirs too.
    claims: &'p Claims,
    /// The snapshot, when the pipeline has a policy (no store in dry-run mode: nothing is saved).
    snapshot: Option<(Option<Store>, State)>,
    /// This run's counters, per job in plan order.
    pub stats: Vec<JobStats>,
    last_save: Instant,
    save_failed: bool,
}

impl<'p> Session<'p> {
    /// Loads the snapshot; a state that cannot be used is fatal before any file is touched.
    /// `dry_run` reads the snapshot without changing or creating anything.
    pub fn open(plan: &'p Plan, dry_run: bool, claims: &'p Claims) -> Result<Session<'p>, i32> {
        let snapshot = match &plan.snapshot {
            None => None,
            Some(policy) if dry_run => Some((None, store::read(&policy.path).unwrap_or_default())),
            Some(policy) => match store::open(&policy.path, policy.on_corrupt) {
                Ok(opened) => {
                    for w in &opened.warnings {
                        log::warn!(target: "runner", "{w}");
                    }
                    Some((Some(opened.store), opened.state))
                }
                Err(e) => {
                    log::error!(target: "runner", "{e}");
                    return Err(exit::FATAL);
                }
            },
        };
        Ok(Session {
            plan,
            claims,
            snapshot,
            stats: plan.jobs.iter().map(|j| JobStats::new(&j.name)).collect(),
            last_save: Instant::now(),
            save_failed: false,
        })
    }

    /// The run's output claims.
    pub fn claims(&self) -> &'p Claims {
        self.claims
    }

    /// Removes the temp files that an interrupted run left in the output directories.
    pub fn remove_leftovers(&self) {
        for job in &self.plan.jobs {
            for t in templates(&job.chain) {
                let removed = output::remove_leftovers(&t.fixed_dir(), t.depth());
                if removed > 0 {
                    log::warn!(target: "runner", removed, dir:% = t.fixed_dir().display();
                        "removed temp files left by an interrupted run");
                }
            }
        }
    }

    /// Whether the ledger says this input is finished as it is now.
    pub fn unchanged(&self, job: usize, input: &Input) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|(_, state)| account::is_unchanged(state, &self.plan.jobs[job], input))
    }

    /// Whether the ledger says this input is finished as it is now, with its outputs written
    /// (done, not rejected).
    pub fn unchanged_with_outputs(&self, job: usize, input: &Input) -> bool {
        self.snapshot.as_ref().is_some_and(|(_, state)| {
            account::is_unchanged_and_done(state, &self.plan.jobs[job], input)
        })
    }

    /// Counts an input skipped because it is unchanged. Its outputs, written by an earlier run,
    /// are claimed: another input of this run must not replace them.
    pub fn skip(&mut self, job: usize, input: &Input) {
        self.stats[job].counts.skipped += 1;
        // Only an input finished with its outputs holds them (a rejected one wrote nothing).
        // Two skipped inputs that share an output collided in an earlier run; the first claim
        // stands.
        if self.unchanged_with_outputs(job, input) {
            let _ = self
                .claims
                .claim_input(&self.plan.jobs[job], input, &super::today());
        }
        if let Some((_, state)) = self.snapshot.as_mut() {
            account::skipped(state, &self.plan.jobs[job]);
        }
        log::debug!(target: "runner::file", job = self.plan.jobs[job].name.as_str(), path = input.rel.as_str();
            "skipped: unchanged since it was finished");
    }

    /// Records a finished file, and saves the snapshot if `every` has passed since the last save.
    pub fn record(&mut self, job: usize, input: &Input, outcome: &Outcome) {
        self.stats[job].count(outcome);
        if let Some((_, state)) = self.snapshot.as_mut() {
            account::record(state, &self.plan.jobs[job], input, outcome);
        }
        self.save_if_due();
    }

    /// Saves the snapshot if `every` has passed since the last save.
    pub fn save_if_due(&mut self) {
        let every = self
            .plan
            .snapshot
            .as_ref()
            .map_or(Duration::MAX, |s| s.every);
        if self.last_save.elapsed() >= every {
            self.save();
        }
    }

    /// Saves the snapshot now; false if that failed (reported once until a save succeeds).
    pub fn save(&mut self) -> bool {
        self.last_save = Instant::now();
        let Some((Some(store), state)) = self.snapshot.as_mut() else {
            return true;
        };
        match store.save(state) {
            Ok(bytes) => {
                log::info!(target: "runner", path:% = store.path().display(), bytes; "snapshot saved");
                self.save_failed = false;
                true
            }
            Err(e) => {
                if !self.save_failed {
                    log::error!(target: "runner", "cannot save the snapshot: {e}");
                }
                self.save_failed = true;
                false
            }
        }
    }

    /// Ends the run: one more run per job, ledger entries of inputs no longer listed pruned, the
    /// snapshot saved. `listed` is every input found, per job.
    /// Returns false if the final save failed.
    pub fn finish(&mut self, listed: &[(usize, Input)]) -> bool {
        if let Some((_, state)) = self.snapshot.as_mut() {
            for (j, job) in self.plan.jobs.iter().enumerate() {
                let names: HashSet<&str> = listed
                    .iter()
                    .filter(|(k, _)| *k == j)
                    .map(|(_, i)| i.rel.as_str())
                    .collect();
                account::finish_job(state, job, &names);
            }
        }
        self.save()
    }

    /// The exit status the counters call for: 1 if some file failed.
    pub fn status(&self) -> i32 {
        if self.stats.iter().any(|s| s.counts.failed > 0) {
            exit::FAILED
        } else {
            exit::OK
        }
    }
}

/// Lists every job's inputs. A source directory that cannot be listed is a usage error.
pub fn list_all(plan: &Plan) -> Result<Vec<(usize, Input)>, i32> {
    let mut work = Vec::new();
    for (j, job) in plan.jobs.iter().enumerate() {
        match source::list(&job.source) {
            Ok(listing) => {
                for problem in &listing.problems {
                    log::warn!(target: "runner", job = job.name.as_str(); "{problem}");
                }
                work.extend(listing.inputs.into_iter().map(|i| (j, i)));
            }
            Err(e) => {
                log::error!(target: "runner", job = job.name.as_str(); "{e}");
                return Err(exit::USAGE);
            }
        }
    }
    Ok(work)
}

/// The worker pool: `workers` threads.
pub fn pool(workers: usize) -> Result<rayon::ThreadPool, i32> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("runner-worker-{i}"))
        .build()
        .map_err(|e| {
            log::error!(target: "runner", "cannot start {workers} worker threads: {e}");
            exit::FATAL
        })
}
