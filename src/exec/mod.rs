//! Runs a plan (SPEC section 5): lists every job's inputs, then processes them on one rayon pool
//! of `workers` threads, at most `workers` files in flight, each streamed in bounded chunks.

pub mod chain;
pub mod file;
pub mod output;
pub mod report;
pub mod sniff;
pub mod source;

use crate::cli::RunArgs;
use crate::commands::exit;
use crate::plan::{JobPlan, Plan, chain::templates};
use file::{FileContext, Outcome};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use report::JobStats;
use source::Input;
use std::io::IsTerminal;
use std::time::Instant;

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

/// Runs every job once; returns the exit status.
pub fn run(plan: &Plan, args: &RunArgs) -> i32 {
    let v = Verbosity::from_args(args);
    let started = Instant::now();
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
    if args.dry_run {
        dry_run(plan, &work);
        return exit::OK;
    }
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
            let total: u64 = work.iter().filter(|(k, _)| *k == j).map(|(_, i)| i.size).sum();
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}")
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
    let date = today();
    let outcomes: Vec<Outcome> = pool.install(|| {
        work.par_iter()
            .with_max_len(1)
            .map_init(Vec::new, |buf, (j, input)| {
                let job = &plan.jobs[*j];
                let bar = &bars[*j];
                let progress = |n: u64| bar.inc(n);
                let cx = FileContext {
                    chunk: plan.chunk,
                    date: &date,
                    progress: &progress,
                };
                let outcome = file::process(job, input, &cx, buf);
                announce(job, input, &outcome, v, &multi);
                outcome
            })
            .collect()
    });
    let mut stats: Vec<JobStats> = plan.jobs.iter().map(|j| JobStats::new(&j.name)).collect();
    for ((j, _), outcome) in work.iter().zip(&outcomes) {
        stats[*j].count(outcome);
    }
    for bar in &bars {
        bar.finish_and_clear();
    }
    if !v.quiet {
        print!("{}", report::summary(&stats, started.elapsed()));
    }
    if stats.iter().any(|s| s.failed > 0) {
        exit::FAILED
    } else {
        exit::OK
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
fn dry_run(plan: &Plan, work: &[(usize, Input)]) {
    for (j, job) in plan.jobs.iter().enumerate() {
        println!("job {} ({}):", job.name, job.source.dir.display());
        let mut any = false;
        for (_, input) in work.iter().filter(|(k, _)| *k == j) {
            any = true;
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
