//! Runs a plan (SPEC section 5): lists every job's inputs, then processes them on one rayon pool
//! of `workers` threads, at most `workers` files in flight, each streamed in bounded chunks.

pub mod account;
pub mod behind;
pub mod chain;
pub mod claims;
pub mod file;
pub mod interrupt;
pub mod output;
pub mod report;
pub mod session;
pub mod sniff;
pub mod source;

use crate::cli::RunArgs;
use crate::commands::exit;
use crate::plan::{JobPlan, Plan};
use claims::Claims;
use file::{FileContext, Outcome};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use interrupt::Interrupt;
use rayon::prelude::*;
use report::JobStats;
use session::Session;
use source::Input;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
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
    let claims = Claims::default();
    let mut session = match Session::open(plan, args.dry_run, &claims) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let work = match session::list_all(plan) {
        Ok(w) => w,
        Err(code) => return code,
    };
    // No output of a job may replace one of its own inputs.
    for (j, input) in &work {
        claims.note_input(&plan.jobs[*j].name, &input.rel, &input.path);
    }
    if args.dry_run {
        dry_run(plan, &work, &claims, &session);
        return exit::OK;
    }
    log::info!(target: "runner", pipeline:% = plan.file.display(), workers = plan.workers, files = work.len(); "run started");
    session.remove_leftovers();
    let (skip, todo): (Vec<_>, Vec<_>) = work
        .iter()
        .partition(|(j, input)| session.unchanged(*j, input));
    for (j, input) in &skip {
        session.skip(*j, input);
    }
    let interrupt = match Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            log::error!(target: "runner", "cannot install signal handlers: {e}");
            return exit::FATAL;
        }
    };
    let progress = Progress::new(plan, v, |j| {
        let mine = todo.iter().filter(|(k, _)| *k == j);
        (mine.clone().count() as u64, mine.map(|(_, i)| i.size).sum())
    });
    let pool = match session::pool(plan.workers) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let date = today();
    let never = AtomicBool::new(false);
    let workers = Workers {
        plan,
        progress: &progress,
        cancel: &never,
        claims: &claims,
        v,
    };
    let (tx, rx) = mpsc::sync_channel::<(usize, Option<Outcome>)>(plan.workers * 2);
    std::thread::scope(|scope| {
        let (todo, date, interrupt) = (&todo, &date, &interrupt);
        scope.spawn(move || {
            pool.install(|| {
                todo.par_iter().enumerate().with_max_len(1).for_each_with(
                    tx,
                    |tx, (i, (j, input))| {
                        // After a signal no new file starts; the ones in flight finish.
                        if interrupt.signal().is_some() {
                            let _ = tx.send((i, None));
                            return;
                        }
                        let outcome = process_one(workers, *j, input, date);
                        let _ = tx.send((i, Some(outcome)));
                    },
                )
            })
        });
        // This thread keeps the accounts and saves the snapshot as results come in.
        for (i, outcome) in rx {
            if let Some(outcome) = outcome {
                let (j, input) = todo[i];
                session.record(*j, input, &outcome);
            }
        }
    });
    progress.finish();
    let mut code = session.status();
    if !session.finish(&work) {
        code = exit::FATAL;
    }
    let wall = started.elapsed();
    log_summary(&session.stats, wall);
    if !v.quiet {
        print!("{}", report::summary(&session.stats, wall));
    }
    if let Some(signal) = interrupt.signal() {
        log::warn!(target: "runner", signal; "interrupted: files not started are taken at the next run");
        return 128 + signal;
    }
    code
}

/// What the workers of a run share.
#[derive(Clone, Copy)]
pub struct Workers<'a> {
    pub plan: &'a Plan,
    pub progress: &'a Progress,
    /// Set at shutdown: the files in flight stop between two chunks.
    pub cancel: &'a AtomicBool,
    pub claims: &'a Claims,
    pub v: Verbosity,
}

/// Processes one file on the current worker thread, with its progress bar and reused buffer,
/// and tells the user and the log how it went.
pub fn process_one(w: Workers<'_>, j: usize, input: &Input, date: &str) -> Outcome {
    let Workers {
        plan,
        progress,
        cancel,
        claims,
        v,
    } = w;
    let job = &plan.jobs[j];
    let bar = progress.bar(j);
    let on_bytes = |n: u64| {
        if let Some(bar) = bar {
            bar.inc(n)
        }
    };
    let cx = FileContext {
        chunk: plan.chunk,
        date,
        progress: &on_bytes,
        cancel,
        fingerprint: plan.snapshot.is_some(),
        claims,
    };
    let outcome = CHUNK_BUFFER.with_borrow_mut(|buf| file::process(job, input, &cx, buf));
    progress.file_done(j);
    announce(job, input, &outcome, v, progress);
    outcome
}

/// The run's end in the log.
pub fn log_summary(stats: &[JobStats], wall: Duration) {
    for s in stats {
        let c = &s.counts;
        log::info!(target: "runner", job = s.name.as_str(), ok = c.ok, failed = c.failed, rejected = c.rejected,
            skipped = c.skipped, bytes_in = c.bytes_in, bytes_out = c.bytes_out, wall_ms = wall.as_millis() as u64;
            "run finished");
    }
}

/// Progress bars on a terminal, one per job (files done, bytes done, throughput); hidden
/// otherwise.
pub struct Progress {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    /// Per job: files finished, and files to do (0: not known, in watch mode).
    files: Vec<(std::sync::atomic::AtomicU64, u64)>,
}

impl Progress {
    /// Bars for every job of the plan, each with `total(job index)` = (files, bytes) to do.
    pub fn new(plan: &Plan, v: Verbosity, total: impl Fn(usize) -> (u64, u64)) -> Progress {
        let multi = MultiProgress::with_draw_target(if v.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let totals: Vec<(u64, u64)> = (0..plan.jobs.len()).map(total).collect();
        let bars = plan
            .jobs
            .iter()
            .zip(&totals)
            .map(|(job, &(files, bytes))| {
                let bar = multi.add(ProgressBar::new(bytes));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} [{bar:30}] {msg} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
                    )
                    .expect("a valid progress template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(job.name.clone());
                bar.set_message(files_message(0, files));
                bar
            })
            .collect();
        let files = totals
            .iter()
            .map(|&(files, _)| (std::sync::atomic::AtomicU64::new(0), files))
            .collect();
        Progress { multi, bars, files }
    }

    fn bar(&self, job: usize) -> Option<&ProgressBar> {
        self.bars.get(job)
    }

    /// One more file of `job` finished (whatever its outcome).
    fn file_done(&self, job: usize) {
        if let (Some(bar), Some((done, total))) = (self.bars.get(job), self.files.get(job)) {
            let done = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(files_message(done, *total));
        }
    }

    /// Prints a line above the bars (or plainly on stderr when there are none).
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    pub fn finish(&self) {
        for bar in &self.bars {
            bar.finish_and_clear();
        }
    }
}

/// `files 3/10`, or `files 3` when the total is not known.
fn files_message(done: u64, total: u64) -> String {
    if total > 0 {
        format!("files {done}/{total}")
    } else {
        format!("files {done}")
    }
}

/// Tells the user (failures always, the rest with `-v`) and the log how one file went.
fn announce(job: &JobPlan, input: &Input, outcome: &Outcome, v: Verbosity, progress: &Progress) {
    let shown = input.path.display().to_string();
    let path = crate::units::one_line(&shown);
    let name = job.name.as_str();
    let rel = input.rel.as_str();
    let line = match outcome {
        Outcome::Failed { error, bytes_in } => {
            log::error!(target: "runner::file", job = name, path = rel, bytes_in = *bytes_in, error = error.as_str(); "file failed");
            format!("runner: job {name}: {path}: failed: {error}")
        }
        Outcome::Aborted => {
            log::warn!(target: "runner::file", job = name, path = rel; "file aborted at shutdown; it is taken again at the next start");
            return;
        }
        Outcome::Done(d) => {
            let digests: Vec<String> = d
                .digests
                .iter()
                .map(|d| format!("{}={}", d.algo, d.hex))
                .collect();
            log::info!(target: "runner::file", job = name, path = rel, kind = d.kind.name(), bytes_in = d.bytes_in,
                bytes_out = d.bytes_out, duration_ms = d.elapsed.as_millis() as u64, digests = digests.join(" ").as_str();
                "file done");
            if !v.verbose {
                return;
            }
            format!(
                "ok {name} {path} ({}, {} -> {}, {} ms) {}",
                d.kind,
                d.bytes_in,
                d.bytes_out,
                d.elapsed.as_millis(),
                digests.join(" ")
            )
        }
        Outcome::Rejected { kind, moved_to } => {
            match moved_to {
                Some(to) => {
                    log::info!(target: "runner::file", job = name, path = rel, kind = kind.name(),
                    moved_to:% = to.display(); "file rejected")
                }
                None => {
                    log::info!(target: "runner::file", job = name, path = rel, kind = kind.name(); "file rejected")
                }
            }
            if !v.verbose {
                return;
            }
            match moved_to {
                Some(to) => format!(
                    "rejected {name} {path}: kind {kind} not accepted; moved to {}",
                    to.display()
                ),
                None => format!("rejected {name} {path}: kind {kind} not accepted; skipped"),
            }
        }
    };
    progress.println(line.trim_end());
}

/// `--dry-run`: what would happen to each file, and why; nothing is written.
fn dry_run(plan: &Plan, work: &[(usize, Input)], claims: &Claims, session: &Session<'_>) {
    let unchanged = |j: usize, input: &Input| session.unchanged(j, input);
    // As in a run: the inputs skipped as unchanged hold their outputs first, then each input
    // to process claims its own (in listing order here; a run's workers may take them in
    // another order, so which of two colliding inputs fails may differ).
    let date = today();
    let claim = |j: usize, input: &Input| claims.claim_input(&plan.jobs[j], input, &date);
    for (j, input) in work {
        if session.unchanged_with_outputs(*j, input) {
            let _ = claim(*j, input);
        }
    }
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
                Ok(kind) if job.source.accepts(kind) => match claim(j, input) {
                    Ok(()) => format!(
                        "process  {} ({kind}, {})",
                        input.rel,
                        crate::units::human_bytes(input.size)
                    ),
                    Err(collision) => format!("fail     {} ({collision})", input.rel),
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bars_count_files_done_out_of_the_total() {
        let loaded = crate::config::load_str(
            "version: 1\njobs:\n  a:\n    source: {dir: in}\n    chain: write(\"o/{name}\")\n  b:\n    source: {dir: in}\n    chain: write(\"p/{name}\")\n",
            std::path::Path::new("p.yaml"),
        );
        let plan = loaded.plan.expect("a valid pipeline");
        let v = Verbosity {
            quiet: false,
            verbose: false,
            progress: false,
        };
        let progress = Progress::new(&plan, v, |j| if j == 0 { (3, 300) } else { (0, 0) });
        assert_eq!(progress.bars[0].message(), "files 0/3");
        progress.file_done(0);
        progress.file_done(0);
        assert_eq!(progress.bars[0].message(), "files 2/3");
        progress.file_done(1);
        assert_eq!(
            progress.bars[1].message(),
            "files 1",
            "no total in watch mode"
        );
    }
}
