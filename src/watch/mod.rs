//! Watch mode (SPEC section 8): `runner PIPELINE.yaml --watch` runs until SIGINT or SIGTERM.
//!
//! Each source is scanned once, then followed through file-system events (inotify through
//! `notify`), or by polling (`source.poll`) where there are none. A file is taken once it has been
//! unchanged for `settle`, or at once when it was renamed into the directory. Ready files run on
//! the worker pool, at most `workers` at a time; on a signal no new file starts, the files in
//! flight get `shutdown_timeout` to finish and are then aborted cleanly, the snapshot is saved and
//! the process exits 0.

use crate::cli::RunArgs;
use crate::commands::exit;
use crate::exec::claims::Claims;
use crate::exec::file::Outcome;
use crate::exec::interrupt::Interrupt;
use crate::exec::session::{self, Session};
use crate::exec::source::{self, Input};
use crate::exec::{Progress, Verbosity, Workers, log_summary, process_one, report, today};
use crate::plan::{JobPlan, Plan};
use notify::event::{CreateKind, EventKind, ModifyKind, RenameMode};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

/// Messages from the watchers and the workers to the main loop. The channel is bounded: a burst
/// of events waits in the kernel's queue rather than in memory (an overflow there is a rescan).
enum Msg {
    Event(usize, notify::Result<notify::Event>),
    Done(usize, Input, Outcome),
}

const QUEUE: usize = 1024;
/// How often the main loop looks at settling files, the snapshot timer and the sources.
const TICK: Duration = Duration::from_millis(50);
/// How often a source directory's existence is checked.
const DIR_CHECK: Duration = Duration::from_secs(1);
/// How often the output claims, and the notes of finished files, of inputs that are gone from
/// their source are dropped (one `stat` per input), so that they stay as small as the sources.
const CLAIMS_PRUNE: Duration = Duration::from_secs(60);

/// A file seen but not yet taken.
struct Candidate {
    /// Size and mtime when last looked at.
    seen: Seen,
    /// When it last changed (or was first seen).
    changed: Instant,
    /// Renamed into the directory: taken without waiting for it to settle.
    renamed: bool,
}

struct Source {
    /// Kept alive while the directory is watched (events or polling).
    watcher: Option<Box<dyn Watcher>>,
    /// The directory is missing (reported once); it is watched again when it comes back.
    missing: bool,
}

pub fn run(plan: &Plan, args: &RunArgs) -> i32 {
    let v = Verbosity {
        progress: false,
        ..Verbosity::from_args(args)
    };
    let started = Instant::now();
    let claims = Claims::default();
    let mut session = match Session::open(plan, false, &claims) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for job in &plan.jobs {
        if !job.source.dir.is_dir() {
            log::error!(target: "runner", job = job.name.as_str(); "source directory {} does not exist", job.source.dir.display());
            return exit::USAGE;
        }
    }
    session.remove_leftovers();
    let interrupt = match Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            log::error!(target: "runner", "cannot install signal handlers: {e}");
            return exit::FATAL;
        }
    };
    let pool = match session::pool(plan.workers) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (tx, rx) = mpsc::sync_channel::<Msg>(QUEUE);
    // Watch first, then scan: a file that appears during the scan is seen by one or the other,
    // and the pending map (keyed by path) takes it once.
    let mut sources: Vec<Source> = Vec::new();
    for (j, job) in plan.jobs.iter().enumerate() {
        match watch(j, job, tx.clone()) {
            Ok(w) => sources.push(Source {
                watcher: Some(w),
                missing: false,
            }),
            Err(e) => {
                log::error!(target: "runner", job = job.name.as_str(); "cannot watch {}: {e}", job.source.dir.display());
                return exit::FATAL;
            }
        }
    }
    log::info!(target: "runner", pipeline:% = plan.file.display(), workers = plan.workers; "watching");
    let mut w = Loop {
        plan,
        pending: HashMap::new(),
        in_flight: HashSet::new(),
        finished: HashMap::new(),
    };
    for j in 0..plan.jobs.len() {
        w.scan(j, &mut session);
    }
    let progress = Progress::new(plan, v, |_| (0, 0));
    let cancel = AtomicBool::new(false);
    let mut last_dir_check = Instant::now();
    let mut last_prune = Instant::now();
    let mut date = today();
    let workers = Workers {
        plan,
        progress: &progress,
        cancel: &cancel,
        claims: &claims,
        v,
    };
    pool.in_place_scope(|scope| {
        loop {
            match rx.recv_timeout(TICK) {
                Ok(Msg::Event(j, Ok(event))) => w.event(j, &event, &mut session),
                Ok(Msg::Event(j, Err(e))) => {
                    // A source that is gone makes the watcher fail too: the directory check
                    // says so once, and watches it again when it is back.
                    if plan.jobs[j].source.dir.is_dir() {
                        log::warn!(target: "runner", job = plan.jobs[j].name.as_str(); "watch error: {e}; rescanning");
                        w.scan(j, &mut session);
                    }
                }
                Ok(Msg::Done(j, input, outcome)) => w.done(j, &input, &outcome, &mut session),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if interrupt.signal().is_some() {
                break;
            }
            if last_dir_check.elapsed() >= DIR_CHECK {
                last_dir_check = Instant::now();
                date = today();
                for (j, src) in sources.iter_mut().enumerate() {
                    w.check_dir(j, src, &tx, &mut session);
                }
            }
            if last_prune.elapsed() >= CLAIMS_PRUNE {
                last_prune = Instant::now();
                claims.forget_gone();
                w.finished
                    .retain(|(j, rel), _| plan.jobs[*j].source.dir.join(rel).exists());
            }
            for (j, input) in w.ready(&mut session) {
                let (tx, date) = (tx.clone(), date.clone());
                scope.spawn(move |_| {
                    let outcome = process_one(workers, j, &input, &date);
                    let _ = tx.send(Msg::Done(j, input, outcome));
                });
            }
            session.save_if_due();
        }
        // Shutdown: nothing new starts; the files in flight get `shutdown_timeout`.
        let signal = interrupt.signal().unwrap_or(0);
        log::info!(target: "runner", signal, in_flight = w.in_flight.len(); "shutting down");
        drop(sources);
        let deadline = Instant::now() + plan.shutdown_timeout;
        while !w.in_flight.is_empty() {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() && !cancel.swap(true, Ordering::SeqCst) {
                log::warn!(target: "runner", files = w.in_flight.len(); "shutdown_timeout passed: aborting the files in flight");
            }
            match rx.recv_timeout(if wait.is_zero() { TICK } else { wait.min(TICK) }) {
                Ok(Msg::Done(j, input, outcome)) => w.done(j, &input, &outcome, &mut session),
                Ok(Msg::Event(..)) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    progress.finish();
    let listed = session::list_all(plan).unwrap_or_default();
    let code = if !session.finish(&listed) {
        exit::FATAL
    } else {
        exit::OK
    };
    let wall = started.elapsed();
    log_summary(&session.stats, wall);
    if !v.quiet {
        print!("{}", report::summary(&session.stats, wall));
    }
    code
}

fn watch(j: usize, job: &JobPlan, tx: SyncSender<Msg>) -> notify::Result<Box<dyn Watcher>> {
    let handler = move |res| {
        let _ = tx.send(Msg::Event(j, res));
    };
    let mode = if job.source.recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    Ok(match job.source.poll {
        Some(interval) => {
            let mut w = PollWatcher::new(
                handler,
                notify::Config::default().with_poll_interval(interval),
            )?;
            w.watch(&job.source.dir, mode)?;
            Box::new(w)
        }
        None => {
            let mut w: RecommendedWatcher = notify::recommended_watcher(handler)?;
            w.watch(&job.source.dir, mode)?;
            Box::new(w)
        }
    })
}

/// The state of the main loop.
struct Loop<'p> {
    plan: &'p Plan,
    pending: HashMap<(usize, String), Candidate>,
    in_flight: HashSet<(usize, String)>,
    /// Size and mtime of each file finished (done or rejected) by this process, so that the
    /// same file seen again (a rescan, a second event for one rename) is not taken again, with
    /// or without a snapshot. Forgotten when the file is removed.
    finished: HashMap<(usize, String), Seen>,
}

/// Size and modification time: what tells a file's versions apart.
type Seen = (u64, Option<std::time::SystemTime>);

impl Loop<'_> {
    /// A file's processing ended.
    fn done(&mut self, j: usize, input: &Input, outcome: &Outcome, session: &mut Session<'_>) {
        let key = (j, input.rel.clone());
        self.in_flight.remove(&key);
        if matches!(outcome, Outcome::Done(_) | Outcome::Rejected { .. }) {
            self.finished.insert(key, (input.size, input.mtime));
        }
        session.record(j, input, outcome);
    }

    /// Whether this process finished the file as it is now.
    fn finished_as_is(&self, key: &(usize, String), input: &Input) -> bool {
        self.finished.get(key) == Some(&(input.size, input.mtime))
    }

    /// Lists a source and takes note of every file in it.
    fn scan(&mut self, j: usize, session: &mut Session<'_>) {
        let job = &self.plan.jobs[j];
        match source::list(&job.source) {
            Ok(listing) => {
                for problem in &listing.problems {
                    log::warn!(target: "runner", job = job.name.as_str(); "{problem}");
                }
                for input in listing.inputs {
                    self.note(j, input, false, session);
                }
            }
            Err(e) => log::warn!(target: "runner", job = job.name.as_str(); "{e}"),
        }
    }

    /// A file was seen (by the scan or an event): it waits to settle, unless finished already.
    fn note(&mut self, j: usize, input: Input, renamed: bool, session: &mut Session<'_>) {
        let job = &self.plan.jobs[j];
        // A file this job wrote into its own source is its output, not a new input: taking it
        // would make an output of the output, without end.
        if let Some(from) = session.claims().output_of(&job.name, &input.path) {
            log::debug!(target: "runner", job = job.name.as_str(), path = input.rel.as_str(), from = from.as_str();
                "not an input: an output of this job");
            return;
        }
        session
            .claims()
            .note_input(&job.name, &input.rel, &input.path);
        let key = (j, input.rel.clone());
        if self.in_flight.contains(&key) {
            // Changed while being processed: looked at again once that run ends.
            self.pending.insert(
                key,
                Candidate {
                    seen: (input.size, input.mtime),
                    changed: Instant::now(),
                    renamed,
                },
            );
            return;
        }
        if !self.pending.contains_key(&key) && self.finished_as_is(&key, &input) {
            return;
        }
        if !self.pending.contains_key(&key) && session.unchanged(j, &input) {
            session.skip(j, &input);
            return;
        }
        let now = Instant::now();
        let c = self.pending.entry(key).or_insert(Candidate {
            seen: (input.size, input.mtime),
            changed: now,
            renamed,
        });
        if c.seen != (input.size, input.mtime) {
            c.seen = (input.size, input.mtime);
            c.changed = now;
        }
        c.renamed |= renamed;
    }

    fn event(&mut self, j: usize, event: &notify::Event, session: &mut Session<'_>) {
        log::trace!(target: "runner", job = self.plan.jobs[j].name.as_str(); "file-system event {event:?}");
        if event.need_rescan() {
            self.scan(j, session);
            return;
        }
        let renamed = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        match event.kind {
            EventKind::Create(CreateKind::Folder) => self.scan(j, session),
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
                // With `Both`, the last path is where the file went.
                let paths: &[PathBuf] = if matches!(
                    event.kind,
                    EventKind::Modify(ModifyKind::Name(RenameMode::Both))
                ) {
                    &event.paths[event.paths.len().saturating_sub(1)..]
                } else {
                    &event.paths
                };
                for path in paths {
                    if let Some(input) = self.input(j, path) {
                        self.note(j, input, renamed, session);
                    }
                }
            }
            EventKind::Remove(_) => {
                for path in &event.paths {
                    if let Some(rel) = rel_of(&self.plan.jobs[j], path) {
                        self.pending.remove(&(j, rel.clone()));
                        self.finished.remove(&(j, rel));
                    }
                }
            }
            EventKind::Access(_) => {}
        }
    }

    /// The input at `path`, if it is a regular file that the job's globs select.
    fn input(&self, j: usize, path: &Path) -> Option<Input> {
        let job = &self.plan.jobs[j];
        let rel = rel_of(job, path)?;
        if !job.source.recursive && rel.contains('/') {
            return None;
        }
        if !job.source.selects(&rel) || rel.split('/').any(|part| job.source.exclude.is_match(part))
        {
            return None;
        }
        let meta = if job.source.follow_symlinks {
            std::fs::metadata(path)
        } else {
            std::fs::symlink_metadata(path)
        };
        let meta = meta.ok().filter(|m| m.is_file())?;
        Some(Input {
            path: path.to_owned(),
            rel,
            size: meta.len(),
            mtime: meta.modified().ok(),
        })
    }

    /// The files to start now: settled (or renamed in), not in flight, within `workers`.
    fn ready(&mut self, session: &mut Session<'_>) -> Vec<(usize, Input)> {
        let room = self.plan.workers.saturating_sub(self.in_flight.len());
        if room == 0 || self.pending.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        let due: Vec<(usize, String)> = self
            .pending
            .iter()
            .filter(|(key, c)| {
                !self.in_flight.contains(key)
                    && (c.renamed
                        || now.duration_since(c.changed) >= self.plan.jobs[key.0].source.settle)
            })
            .map(|(key, _)| key.clone())
            .collect();
        let mut out = Vec::new();
        for key in due {
            if out.len() >= room {
                break;
            }
            let (j, rel) = key.clone();
            let path = self.plan.jobs[j].source.dir.join(&rel);
            let Some(input) = self.input(j, &path) else {
                self.pending.remove(&key); // gone, or no longer a file
                continue;
            };
            let c = self.pending.get_mut(&key).expect("a due key is pending");
            if !c.renamed && c.seen != (input.size, input.mtime) {
                // Still being written: wait for it to settle again.
                c.seen = (input.size, input.mtime);
                c.changed = now;
                continue;
            }
            self.pending.remove(&key);
            if self.finished_as_is(&key, &input) {
                continue; // seen again, as it was finished (a second event for one change)
            }
            if session.unchanged(j, &input) {
                session.skip(j, &input);
                continue;
            }
            self.in_flight.insert(key);
            out.push((j, input));
        }
        out
    }

    /// Notices a source directory that disappeared, and watches it again when it comes back.
    fn check_dir(
        &mut self,
        j: usize,
        src: &mut Source,
        tx: &SyncSender<Msg>,
        session: &mut Session<'_>,
    ) {
        let job = &self.plan.jobs[j];
        let exists = job.source.dir.is_dir();
        if !exists && !src.missing {
            src.missing = true;
            src.watcher = None;
            log::warn!(target: "runner", job = job.name.as_str(); "source directory {} disappeared; waiting for it to come back", job.source.dir.display());
        } else if exists && src.missing {
            match watch(j, job, tx.clone()) {
                Ok(w) => {
                    src.watcher = Some(w);
                    src.missing = false;
                    log::info!(target: "runner", job = job.name.as_str(); "source directory {} is back; watching it again", job.source.dir.display());
                    self.scan(j, session);
                }
                Err(e) => {
                    log::warn!(target: "runner", job = job.name.as_str(); "cannot watch {} yet: {e}", job.source.dir.display())
                }
            }
        }
    }
}

/// The path of a file relative to the job's source dir, `/`-separated. Events name files by
/// absolute paths; the scan by the source dir as written.
fn rel_of(job: &JobPlan, path: &Path) -> Option<String> {
    let rel = match path.strip_prefix(&job.source.dir) {
        Ok(rel) => rel,
        Err(_) => path
            .strip_prefix(std::path::absolute(&job.source.dir).ok()?)
            .ok()?,
    };
    let rel = rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/");
    (!rel.is_empty()).then_some(rel)
}
