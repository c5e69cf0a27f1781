//! `RotatingFile`: the buffered, size-rotated log file writer (SPEC section 6).
//!
//! Bytes collect in a buffer of `buffer` bytes and reach the file when the buffer is full, when
//! `flush_every` has passed since the oldest pending byte (a background flusher thread sees to
//! it even when no record arrives), at once for urgent (error) records, on `flush`, at close and
//! from the panic hook. Before a write would take the file past `max_size`, the file is rotated
//! (see `rotation` for the names), always between two records: a record is never split across
//! files, and a record larger than `max_size` gets a file of its own.
//!
//! When the file cannot be written (ENOSPC, EIO, EACCES, its directory deleted), the writer says
//! so once on stderr, keeps what is buffered, drops (and counts) the records that no longer fit,
//! and tries again at the next timed flush, explicit flush or urgent record; when a write goes
//! through again it says so, with the number of records dropped meanwhile. Nothing is returned
//! to the caller: logging never stops the processing.

use crate::logger::Config;
use crate::logger::archiver::{Archiver, lock};
use crate::logger::error::LoggerError;
use crate::logger::pending::Pending;
use crate::logger::rotation::{Names, Rotation};
use crate::logger::sink::{FsSink, LogSink};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the panic hook tries to take the writer's lock before giving up (another thread may
/// hold it for a write; this thread may itself hold it if the panic happened inside the logger).
const PANIC_LOCK_WAIT: Duration = Duration::from_millis(200);

/// The shortest wait of the flusher thread, so that a tiny `flush_every` cannot make it spin.
const MIN_TICK: Duration = Duration::from_millis(1);

/// A buffered log file that rotates by size, writing whole records only.
///
/// Share it by reference between threads: every method takes `&self` (a mutex inside), and
/// `Write` is implemented for `&RotatingFile` as for `RotatingFile`.
///
/// # Records and `Write`
///
/// The writer must know where records end, to never split one across two files. Use
/// [`write_record`](Self::write_record) with one whole line. Through `std::io::Write`, **each call
/// of `write` is one record** (and `write!`/`write_fmt` is one record too: it is formatted whole
/// first); do not wrap a `RotatingFile` in a `BufWriter` or copy into it with `io::copy`, which cut
/// at arbitrary places. `write` and `flush` never fail: a record that cannot be written is
/// counted in [`dropped`](Self::dropped).
///
/// Dropping it (or [`close`](Self::close)) flushes, stops the flusher thread and lets the
/// archiver thread finish (compressions and deletions of rotated files).
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
    dropped: Arc<AtomicU64>,
    path: PathBuf,
    flusher: Mutex<Option<Flusher>>,
}

struct Flusher {
    /// Dropping it wakes the thread up and stops it.
    stop: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl RotatingFile {
    /// Opens (creating it and its directory if needed) the log file of `config`, and starts the
    /// flusher and archiver threads. Only `path`, `buffer`, `flush_every`,
    /// `max_size`, `keep` and `compress` are used.
    pub fn open(config: &Config) -> Result<RotatingFile, LoggerError> {
        Self::with_sink(config, Arc::new(FsSink))
    }

    /// As [`open`](Self::open), with the file system and stderr of `sink` (tests use a sink that
    /// fails on demand).
    pub fn with_sink(config: &Config, sink: Arc<dyn LogSink>) -> Result<RotatingFile, LoggerError> {
        let path = config.path.clone();
        if path.file_name().is_none() {
            return Err(LoggerError::Open {
                path,
                reason: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
            });
        }
        let names = Arc::new(Names::new(&path));
        fs::create_dir_all(names.dir()).map_err(|reason| LoggerError::CreateDir {
            path: names.dir().to_owned(),
            reason: crate::units::explain_create_dir(reason, names.dir()),
        })?;
        let file = sink.open(&path).map_err(|reason| LoggerError::Open {
            path: path.clone(),
            reason,
        })?;
        let meta = file.metadata().map_err(|reason| LoggerError::Open {
            path: path.clone(),
            reason,
        })?;
        let archiver = Archiver::start(
            Arc::clone(&names),
            config.keep,
            config.compress && config.keep > 0,
            Arc::clone(&sink),
        )?;
        let dropped = Arc::new(AtomicU64::new(0));
        let inner = Arc::new(Mutex::new(Inner {
            out: Output {
                sink,
                rotation: Rotation::new(names, config.keep, archiver),
                file: Some((file, FileId::of(&meta))),
                size: meta.len(),
                max_size: config.max_size,
            },
            pending: Pending::new(config.buffer),
            dropped: Arc::clone(&dropped),
            failing: false,
            dropped_before_outage: 0,
            flush_each: config.flush_every.is_zero(),
            closed: false,
        }));
        let flusher = if config.flush_every.is_zero() {
            None
        } else {
            Some(Flusher::start(Arc::clone(&inner), config.flush_every)?)
        };
        Ok(RotatingFile {
            inner,
            dropped,
            path,
            flusher: Mutex::new(flusher),
        })
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one whole record (normally one line, newline included). It reaches the file when
    /// the buffer fills, at the next timed flush, or at once if it does not fit in the buffer at
    /// all.
    pub fn write_record(&self, record: &[u8]) {
        lock(&self.inner).write(record, false);
    }

    /// Appends one whole record and flushes at once (for error records).
    pub fn write_record_now(&self, record: &[u8]) {
        lock(&self.inner).write(record, true);
    }

    /// Writes everything pending to the file now (or tries to, if the file is failing).
    pub fn flush(&self) {
        lock(&self.inner).flush();
    }

    /// How many records were dropped because the file could not be written.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Flushes, stops the flusher thread and waits for the archiver to finish the files it
    /// has queued; says on stderr how many records were dropped, if any. Records written after
    /// this still reach the file (by size and by `flush`, and at drop), and files rotated after
    /// it stay uncompressed until the next start. Calling it again does nothing more.
    pub fn close(&self) {
        let flusher = lock(&self.flusher).take();
        if let Some(f) = flusher {
            drop(f.stop);
            let _ = f.thread.join();
        }
        let archiver = {
            let mut inner = lock(&self.inner);
            inner.flush();
            inner.finish();
            inner.out.rotation.take_archiver()
        };
        if let Some(a) = archiver {
            a.stop();
        }
    }

    /// From the panic hook: appends `record` (if any) and flushes, without waiting long for the
    /// lock and without blocking forever if this very thread holds it.
    pub(crate) fn flush_on_panic(&self, record: Option<&[u8]>) {
        let deadline = Instant::now() + PANIC_LOCK_WAIT;
        loop {
            let mut inner = match self.inner.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return;
                    }
                    std::thread::sleep(MIN_TICK);
                    continue;
                }
            };
            match record {
                Some(r) => inner.write(r, true),
                None => inner.flush(),
            }
            return;
        }
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// Each call of `write` is one record: see the type's documentation.
impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_record(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        RotatingFile::flush(self);
        Ok(())
    }

    /// Formats the whole record first, so that `write!` makes one record, not one per piece.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        match args.as_str() {
            Some(s) => self.write_record(s.as_bytes()),
            None => self.write_record(fmt::format(args).as_bytes()),
        }
        Ok(())
    }
}

/// Each call of `write` is one record: see the type's documentation.
impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut &*self)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        (&*self).write_fmt(args)
    }
}

impl Flusher {
    fn start(inner: Arc<Mutex<Inner>>, every: Duration) -> Result<Flusher, LoggerError> {
        let (stop, stopped) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("runner-log-flush".into())
            .spawn(move || {
                loop {
                    let wait = lock(&inner).tick(every);
                    match stopped.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|reason| LoggerError::Thread {
                what: "flusher",
                reason,
            })?;
        Ok(Flusher { stop, thread })
    }
}

/// Everything behind the writer's lock.
struct Inner {
    out: Output,
    pending: Pending,
    dropped: Arc<AtomicU64>,
    /// An outage was reported and no write has succeeded since.
    failing: bool,
    /// `dropped` when the outage began, to tell how many it cost.
    dropped_before_outage: u64,
    /// `flush_every: 0`: every record is flushed at once.
    flush_each: bool,
    closed: bool,
}

impl Inner {
    fn write(&mut self, record: &[u8], urgent: bool) {
        let urgent = urgent || self.flush_each;
        // While failing, a full buffer is retried only by the timer or an urgent record, not by
        // every record that arrives.
        if !self.pending.fits(record.len()) && (!self.failing || urgent) {
            self.flush();
        }
        if self.pending.fits(record.len()) {
            self.pending.push(record);
            if urgent || (self.pending.is_full() && !self.failing) {
                self.flush();
            }
        } else if self.pending.is_empty() {
            self.write_through(record);
        } else {
            self.count_dropped(1);
        }
    }

    /// A record larger than the whole buffer: straight to the file, still whole and still
    /// rotated around. If the disk fills in its middle, there is no buffer to keep the rest in:
    /// the part written is cut off the file again, and the record dropped.
    fn write_through(&mut self, record: &[u8]) {
        if let Err(e) = self.out.ensure_open() {
            self.count_dropped(1);
            return self.fail(e);
        }
        let (written, err) = self.out.write_records(record, &[record.len()], false);
        match err {
            None => self.recovered(),
            Some(e) => {
                self.out.cut_tail(written as u64);
                self.count_dropped(1);
                self.fail(e);
            }
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.out.ensure_open() {
            Ok(false) => {}
            Ok(true) => {
                // A new file: the rest of a record begun in the old one would be a broken line.
                if self.pending.drop_head_partial() {
                    self.count_dropped(1);
                }
            }
            Err(e) => {
                self.pending.restart_clock();
                return self.fail(e);
            }
        }
        let (written, err) = self.out.write_records(
            self.pending.bytes(),
            self.pending.ends(),
            self.pending.head_partial(),
        );
        self.pending.consume(written);
        match err {
            None => self.recovered(),
            Some(e) => {
                self.pending.restart_clock();
                self.fail(e);
            }
        }
    }

    /// The flusher's turn: flushes if the oldest pending byte is `every` old; returns how long to
    /// sleep until the next turn.
    fn tick(&mut self, every: Duration) -> Duration {
        let Some(since) = self.pending.since() else {
            return every;
        };
        let age = since.elapsed();
        if age >= every {
            self.flush();
            every
        } else {
            (every - age).max(MIN_TICK)
        }
    }

    /// At close: what could not be written is counted, and the total told once.
    fn finish(&mut self) {
        let lost = self.pending.clear();
        self.count_dropped(lost as u64);
        let dropped = self.dropped.load(Ordering::Relaxed);
        if !self.closed && dropped > 0 {
            self.out.sink.notice(&format!(
                "runner: {dropped} log record(s) could not be written to {} and were dropped",
                self.out.rotation.names().current().display()
            ));
        }
        self.closed = true;
    }

    fn count_dropped(&self, n: u64) {
        if n > 0 {
            self.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn fail(&mut self, e: io::Error) {
        if self.failing {
            return;
        }
        self.failing = true;
        self.dropped_before_outage = self.dropped.load(Ordering::Relaxed);
        self.out.sink.notice(&format!(
            "runner: cannot write the log file {}: {e}; records are dropped, processing goes on",
            self.out.rotation.names().current().display()
        ));
    }

    fn recovered(&mut self) {
        if !self.failing {
            return;
        }
        self.failing = false;
        let lost = self
            .dropped
            .load(Ordering::Relaxed)
            .saturating_sub(self.dropped_before_outage);
        self.out.sink.notice(&format!(
            "runner: the log file {} is written again; {lost} record(s) were dropped meanwhile",
            self.out.rotation.names().current().display()
        ));
    }
}

/// The file side: the open file, its size, and the rotation.
struct Output {
    sink: Arc<dyn LogSink>,
    rotation: Rotation,
    /// The open file and its identity.
    file: Option<(File, FileId)>,
    /// Bytes in the current file (refreshed from the file at every flush).
    size: u64,
    max_size: u64,
}

impl Output {
    /// Makes sure the open file is still the one at the log path: it may have been deleted
    /// (with its directory) or moved away, and writing to it would lose the records silently.
    /// Reopens (creating) if needed; returns whether the file is a new one.
    ///
    /// One `stat(2)` per flush: it also refreshes the size, should the file have been truncated.
    fn ensure_open(&mut self) -> io::Result<bool> {
        let current = self.rotation.names().current();
        if let Some((_, id)) = &self.file
            && let Ok(named) = fs::metadata(current)
            && FileId::of(&named) == *id
        {
            self.size = named.len();
            return Ok(false);
        }
        self.open()?;
        Ok(true)
    }

    fn open(&mut self) -> io::Result<()> {
        self.file = None;
        let f = self.sink.open(self.rotation.names().current())?;
        let meta = f.metadata()?;
        self.size = meta.len();
        self.file = Some((f, FileId::of(&meta)));
        Ok(())
    }

    /// Writes the records of `data` (`ends` as in `Pending`), rotating between two records
    /// whenever the next one would take the file past `max_size`. Returns how many bytes reached
    /// the file, and the error that stopped it, if any (possibly in the middle of a record).
    fn write_records(
        &mut self,
        data: &[u8],
        ends: &[usize],
        head_partial: bool,
    ) -> (usize, Option<io::Error>) {
        let mut pos = 0;
        let mut first = 0; // index of the first record ending after `pos`
        // After a rotation the next record is written whatever the size of the new file (one
        // that someone else filled at once): at most one rotation per record, never a loop.
        let mut rotated = false;
        while pos < data.len() {
            let room = self.max_size.saturating_sub(self.size);
            let end = if (data.len() - pos) as u64 <= room {
                data.len()
            } else {
                // `room` < what is left, so it fits in a usize.
                let limit = pos + room as usize;
                let fit = first + ends[first..].partition_point(|&e| e <= limit);
                if fit > first {
                    ends[fit - 1]
                } else if self.size == 0 || rotated || (pos == 0 && head_partial) {
                    // Alone in a fresh file (a record larger than max_size), or the rest of a
                    // line already begun in this file: it goes here whole.
                    ends.get(first).copied().unwrap_or(data.len())
                } else {
                    if let Err(e) = self.rotate() {
                        return (pos, Some(e));
                    }
                    rotated = true;
                    continue;
                }
            };
            rotated = false;
            let end = end.clamp(pos + 1, data.len());
            if let Err((n, e)) = self.write_all(&data[pos..end]) {
                return (pos + n, Some(e));
            }
            pos = end;
            first += ends[first..].partition_point(|&e| e <= pos);
        }
        (pos, None)
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), (usize, io::Error)> {
        let Some((file, _)) = self.file.as_mut() else {
            return Err((0, io::Error::other("the log file is not open")));
        };
        let mut done = 0;
        while !bytes.is_empty() {
            match self.sink.write(file, bytes) {
                Ok(0) => {
                    return Err((done, io::Error::from(io::ErrorKind::WriteZero)));
                }
                Ok(n) => {
                    done += n;
                    self.size += n as u64;
                    bytes = &bytes[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((done, e)),
            }
        }
        Ok(())
    }

    /// Removes the last `n` bytes written (a record begun but not finished), best effort.
    fn cut_tail(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        if let Some((file, _)) = &self.file
            && file.set_len(self.size.saturating_sub(n)).is_ok()
        {
            self.size = self.size.saturating_sub(n);
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.rotation.rotate(&*self.sink)?;
        self.open()
    }
}

/// Device and inode: which file a descriptor or a path refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    fn of(meta: &fs::Metadata) -> Self {
        FileId(meta.dev(), meta.ino())
    }
}
