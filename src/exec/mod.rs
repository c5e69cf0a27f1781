//! Runs a plan (SPEC section 5): lists every job's inputs, then processes them on one rayon pool
//! of `workers` threads, at most `workers` files in flight, each streamed in bounded chunks.

pub mod account;
pub mod chain;
pub mod file;
pub mod output;
pub mod report;
pub mod sniff;
pub mod source;

use crate::cli::RunArgs;
use crate::commands::exit;
use crate::plan::{JobPlan, Plan, chain::templates};
use crate::state::{self, State};
use file::{FileContext, Outcome};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use report::JobStats;
use source::Input;
use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// How much a run prints.
#[derive(Debug, Clone, Copy)]
pub struct Verbosity {
    pub quiet: bool,
    pub verbose: bool,
    pub progress: bool,
}

impl Verbosity {
    pub fn from_args(args: &RunArgs) -> Self {
        Verbosity {
            quiet: args.quiet,
            verbose: args.verbose,
            progress: !args.quiet && !args.no_progress && std::io::stderr().is_terminal(),
        }
    }
}

/// Today's date as `{date}` spells it: UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

thread_local! {
    /// Each worker's chunk buffer, reused by every file it processes.
    static CHUNK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs every job once; returns the exit status.
pub fn run(plan: &Plan, args: &RunArgs) -> i32 {
    let v = Verbosity::from_args(args);
    let started = Instant::now();

    // The snapshot first: a state that cannot be used stops the run before any file is touched.
    let mut snapshot = match &plan.snapshot {
        None => None,
        Some(policy) if args.dry_run => match state::store::read(&policy.path) {
            Ok(state) => Some((None, state)),
            Err(_) => Some((None, State::default())),
        },
        Some(policy) => match state::store::open(&policy.path, policy.on_corrupt) {
            Ok(opened) => {
                for w in &opened.warnings {
                    eprintln!("runner: warning: {w}");
                }
                Some((Some(opened.store), opened.state))
            }
            Err(e) => {
                eprintln!("runner: {e}");
                return exit::FATAL;
            }
        },
    };

    let mut work: Vec<(usize, Input)> = Vec::new();
    for (j, job) in plan.jobs.iter().enumerate() {
        match source::list(&job.source) {
            Ok(listing) => {
                for problem in &listing.problems {
                    eprintln!("runner: job {}: {problem}", job.name);
                }
                work.extend(listing.inputs.into_iter().map(|i| (j, i)));
            }
            Err(e) => {
                eprintln!("runner: job {}: {e}", job.name);
                return exit::USAGE;
            }
        }
    }
    let unchanged = |j: usize, input: &Input| {
        snapshot
            .as_ref()
            .is_some_and(|(_, state)| account::is_unchanged(state, &plan.jobs[j], input))
    };
    if args.dry_run {
        dry_run(plan, &work, &unchanged);
        return exit::OK;
    }
    let (skip, todo): (Vec<_>, Vec<_>) = work.iter().partition(|(j, input)| unchanged(*j, input));
    for job in &plan.jobs {
        for t in templates(&job.chain) {
            let removed = output::remove_leftovers(&t.fixed_dir(), t.depth());
            if removed > 0 && !v.quiet {
                eprintln!(
                    "runner: removed {removed} temp file(s) left by an interrupted run in {}",
                    t.fixed_dir().display()
                );
            }
        }
    }

    let interrupted = match Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("runner: cannot install signal handlers: {e}");
            return exit::FATAL;
        }
    };
    let multi = MultiProgress::with_draw_target(if v.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let bars: Vec<ProgressBar> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            let total: u64 = todo.iter().filter(|(k, _)| *k == j).map(|(_, i)| i.size).sum();
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
                )
                .expect("a valid progress template")
                .progress_chars("=> "),
            );
            bar.set_prefix(job.name.clone());
            bar
        })
        .collect();

    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(plan.workers)
        .thread_name(|i| format!("runner-worker-{i}"))
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("runner: cannot start {} worker threads: {e}", plan.workers);
            return exit::FATAL;
        }
    };
    let mut stats: Vec<JobStats> = plan.jobs.iter().map(|j| JobStats::new(&j.name)).collect();
    for (j, _) in &skip {
        stats[*j].skipped += 1;
        if let Some((_, state)) = snapshot.as_mut() {
            account::skipped(state, &plan.jobs[*j]);
        }
    }
    let date = today();
    let every = plan.snapshot.as_ref().map_or(Duration::MAX, |s| s.every);
    let mut last_save = Instant::now();
    let mut save_failed = false;
    let (tx, rx) = mpsc::sync_channel::<(usize, Option<Outcome>)>(plan.workers * 2);
    std::thread::scope(|scope| {
        let todo = &todo;
        let (bars, multi, date, interrupted) = (&bars, &multi, &date, &interrupted);
        scope.spawn(move || {
            pool.install(|| {
                todo.par_iter().enumerate().with_max_len(1).for_each_with(
                    tx,
                    |tx, (i, (j, input))| {
                        // After a signal no new file starts; the ones in flight finish.
                        if interrupted.signal().is_some() {
                            let _ = tx.send((i, None));
                            return;
                        }
                        let job = &plan.jobs[*j];
                        let bar = &bars[*j];
                        let progress = |n: u64| bar.inc(n);
                        let cx = FileContext {
                            chunk: plan.chunk,
                            date,
                            progress: &progress,
                        };
                        let outcome =
                            CHUNK_BUFFER.with_borrow_mut(|buf| file::process(job, input, &cx, buf));
                        announce(job, input, &outcome, v, multi);
                        let _ = tx.send((i, Some(outcome)));
                    },
                )
            })
        });
        // This thread keeps the accounts and saves the snapshot as results come in.
        for (i, outcome) in rx {
            let Some(outcome) = outcome else { continue };
            let (j, input) = todo[i];
            stats[*j].count(&outcome);
            if let Some((store, state)) = snapshot.as_mut() {
                account::record(state, &plan.jobs[*j], input, &outcome);
                if let Some(store) = store
                    && last_save.elapsed() >= every
                {
                    last_save = Instant::now();
                    if let Err(e) = store.save(state)
                        && !save_failed
                    {
                        save_failed = true;
                        eprintln!("runner: cannot save the snapshot: {e}");
                    }
                }
            }
        }
    });
    for bar in &bars {
        bar.finish_and_clear();
    }
    let mut code = if stats.iter().any(|s| s.failed > 0) {
        exit::FAILED
    } else {
        exit::OK
    };
    if let Some((Some(store), state)) = snapshot.as_mut() {
        for (j, job) in plan.jobs.iter().enumerate() {
            let listed: HashSet<&str> = work
                .iter()
                .filter(|(k, _)| *k == j)
                .map(|(_, i)| i.rel.as_str())
                .collect();
            account::finish_job(state, job, &listed);
        }
        if let Err(e) = store.save(state) {
            eprintln!(
                "runner: cannot save the snapshot {}: {e}",
                store.path().display()
            );
            code = exit::FATAL;
        }
    }
    if !v.quiet {
        print!("{}", report::summary(&stats, started.elapsed()));
    }
    if let Some(signal) = interrupted.signal() {
        eprintln!(
            "runner: interrupted by signal {signal}; files not started are taken at the next run"
        );
        return 128 + signal;
    }
    code
}

/// SIGINT and SIGTERM in batch mode: the first stops new files from starting, a second one ends
/// the process at once (outputs of unfinished files are only ever temp files).
struct Interrupt {
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    fn install() -> std::io::Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let signal = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so that it sees `seen` as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
            signal_hook::flag::register(sig, Arc::clone(&seen))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
        }
        Ok(Interrupt { signal })
    }

    /// The signal received, if any.
    fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        }
    }
}

/// Tells the user about one finished file: failures always, the rest with `-v`.
fn announce(job: &JobPlan, input: &Input, outcome: &Outcome, v: Verbosity, multi: &MultiProgress) {
    let path = input.path.display();
    let line = match outcome {
        Outcome::Failed { error, .. } => {
            format!("runner: job {}: {path}: failed: {error}", job.name)
        }
        _ if !v.verbose => return,
        Outcome::Done(d) => {
            let digests: Vec<String> = d
                .digests
                .iter()
                .map(|d| format!("{}={}", d.algo, d.hex))
                .collect();
            format!(
                "ok {} {path} ({}, {} -> {}, {} ms) {}",
                job.name,
                d.kind,
                d.bytes_in,
                d.bytes_out,
                d.elapsed.as_millis(),
                digests.join(" ")
            )
        }
        Outcome::Rejected { kind, moved_to } => match moved_to {
            Some(to) => format!(
                "rejected {} {path}: kind {kind} not accepted; moved to {}",
                job.name,
                to.display()
            ),
            None => format!(
                "rejected {} {path}: kind {kind} not accepted; skipped",
                job.name
            ),
        },
    };
    if multi.is_hidden() {
        eprintln!("{}", line.trim_end());
    } else {
        let _ = multi.println(line.trim_end());
    }
}

/// `--dry-run`: what would happen to each file, and why; nothing is written.
fn dry_run(plan: &Plan, work: &[(usize, Input)], unchanged: &dyn Fn(usize, &Input) -> bool) {
    for (j, job) in plan.jobs.iter().enumerate() {
        println!("job {} ({}):", job.name, job.source.dir.display());
        let mut any = false;
        for (_, input) in work.iter().filter(|(k, _)| *k == j) {
            any = true;
            if unchanged(j, input) {
                println!("  skip     {} (unchanged since it was finished)", input.rel);
                continue;
            }
            let kind = peek_kind(&input.path);
            let verdict = match kind {
                Err(e) => format!("fail     {} (cannot read: {e})", input.rel),
                Ok(kind) if job.source.accepts(kind) => {
                    format!(
                        "process  {} ({kind}, {})",
                        input.rel,
                        crate::units::human_bytes(input.size)
                    )
                }
                Ok(kind) => format!("reject   {} (kind {kind} is not accepted)", input.rel),
            };
            println!("  {verdict}");
        }
        if !any {
            println!("  (no files match)");
        }
    }
}

fn peek_kind(path: &std::path::Path) -> std::io::Result<crate::config::model::Kind> {
    use std::io::Read;
    let mut head = Vec::with_capacity(sniff::SNIFF_LEN);
    std::fs::File::open(path)?
        .take(sniff::SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(sniff::sniff(&head))
}
