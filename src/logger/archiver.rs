//! The background thread that does the slow part of rotations, so that a writer never waits
//! for it: it gzips rotated files (`runner.log.1` -> `runner.log.1.gz`) and deletes the files
//! that fell past `keep` (unlinking a file whose pages are still in the page cache takes
//! milliseconds). See `rotation` for how names stay right when a rotation happens during a
//! compression.

use crate::logger::error::LoggerError;
use crate::logger::rotation::Names;
use crate::logger::sink::LogSink;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// Size of the read buffer of the archiver thread.
const READ_CHUNK: usize = 64 * 1024;

/// A rotated file waiting for compression.
struct Job {
    /// Opened for reading right after the rotation renamed it, so that later renames (and even
    /// its deletion) do not matter while it is read.
    file: File,
    /// The value of `State::rotations` when it became slot 1: it is at slot
    /// `1 + rotations - rotation` now, and deleted once that passes `keep`.
    rotation: u64,
}

/// What the writer and the archiver share, under the naming lock.
pub(crate) struct State {
    /// Rotated files to compress, oldest first.
    jobs: VecDeque<Job>,
    /// Files renamed out of the slots, to delete (done before any compression).
    discarded: VecDeque<PathBuf>,
    rotations: u64,
    stop: bool,
    /// Numbers the temporaries and discarded files.
    next_name: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    names: Arc<Names>,
    sink: Arc<dyn LogSink>,
    keep: u32,
    compress: bool,
}

/// Held while slots are renamed: a rotation and the installation of a compressed copy never
/// interleave.
pub(crate) struct NamesLock<'a>(MutexGuard<'a, State>);

/// The archiver thread and its queues (bounded: compressions of files rotated out meanwhile are
/// dropped, and deletions are done first).
pub(crate) struct Archiver {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Archiver {
    /// Starts the thread. Leftovers of an earlier run are removed (temporaries, discarded
    /// files) and, with `compress`, its plain slots queued.
    pub(crate) fn start(
        names: Arc<Names>,
        keep: u32,
        compress: bool,
        sink: Arc<dyn LogSink>,
    ) -> Result<Archiver, LoggerError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                discarded: VecDeque::new(),
                rotations: u64::from(keep),
                stop: false,
                next_name: 0,
            }),
            changed: Condvar::new(),
            names,
            sink,
            keep,
            compress,
        });
        shared.recover();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("runner-log-archive".into())
            .spawn(move || worker.run())
            .map_err(|reason| LoggerError::Thread {
                what: "archiver",
                reason,
            })?;
        Ok(Archiver {
            shared,
            thread: Some(thread),
        })
    }

    /// Takes the naming lock.
    pub(crate) fn lock_names(&self) -> NamesLock<'_> {
        NamesLock(lock(&self.shared.state))
    }

    /// Renames `path` out of the way (a quick `rename(2)`) and queues its deletion; a missing
    /// file is fine.
    pub(crate) fn discard(&self, lock: &mut NamesLock<'_>, path: &Path) -> io::Result<()> {
        let st = &mut lock.0;
        st.next_name += 1;
        let trash = self.shared.names.discarded(st.next_name);
        match self.shared.sink.rename(path, &trash) {
            Ok(()) => {
                st.discarded.push_back(trash);
                self.shared.changed.notify_all();
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Counts a rotation that made `path` slot 1, and queues it for compression if `compress`.
    pub(crate) fn rotated(&self, lock: &mut NamesLock<'_>, path: &Path) {
        let st = &mut lock.0;
        st.rotations += 1;
        if !self.shared.compress {
            return;
        }
        let rotation = st.rotations;
        match File::open(path) {
            Ok(file) => st.jobs.push_back(Job { file, rotation }),
            Err(e) => self.shared.cannot_compress(path, &e),
        }
        let keep = u64::from(self.shared.keep);
        st.jobs
            .retain(|j| rotation.saturating_sub(j.rotation) < keep);
        self.shared.changed.notify_all();
    }

    /// Deletes and compresses what is queued, then stops the thread.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Shared {
    fn run(&self) {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let task = {
                let mut st = lock(&self.state);
                loop {
                    if let Some(path) = st.discarded.pop_front() {
                        break Task::Delete(path);
                    }
                    if let Some(job) = st.jobs.pop_front() {
                        if st.rotations.saturating_sub(job.rotation) >= u64::from(self.keep) {
                            continue; // rotated out meanwhile: nothing left to compress
                        }
                        st.next_name += 1;
                        break Task::Compress(job, st.next_name);
                    }
                    if st.stop {
                        return;
                    }
                    st = self
                        .changed
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            match task {
                Task::Delete(path) => {
                    if let Err(e) = self.sink.remove(&path)
                        && e.kind() != io::ErrorKind::NotFound
                    {
                        self.sink.notice(&format!(
                            "runner: cannot remove the old log file {}: {e}",
                            path.display()
                        ));
                    }
                }
                Task::Compress(job, temp) => self.compress(job, temp, &mut buf),
            }
        }
    }

    /// gzips `job.file` into a temporary, then, under the naming lock, installs it as the `.gz`
    /// of whatever slot the file is in now. Under the lock only renames happen (a rotation may
    /// be waiting for it); the unlinking is done after.
    fn compress(&self, job: Job, temp: u64, buf: &mut [u8]) {
        let tmp = self.names.temp(temp);
        let written = self.gzip(&job.file, &tmp, buf);
        let id = job.file.metadata().map(|m| (m.dev(), m.ino()));
        drop(job);
        let mut failed = None;
        let unlink = {
            let mut st = lock(&self.state);
            match (written, id.ok().and_then(|id| self.find(id))) {
                (Ok(()), Some(k)) => match self.sink.rename(&tmp, &self.names.gz(k)) {
                    Ok(()) => {
                        st.next_name += 1;
                        let trash = self.names.discarded(st.next_name);
                        // If this fails, both copies stay: nothing lost, and they shift together.
                        self.sink
                            .rename(&self.names.plain(k), &trash)
                            .ok()
                            .map(|()| trash)
                    }
                    Err(e) => {
                        failed = Some((self.names.plain(k), e));
                        Some(tmp)
                    }
                },
                (Err(e), Some(k)) => {
                    failed = Some((self.names.plain(k), e));
                    Some(tmp)
                }
                // Rotated out meanwhile: its compressed copy is not wanted either.
                (_, None) => Some(tmp),
            }
        };
        if let Some(path) = unlink {
            let _ = self.sink.remove(&path);
        }
        if let Some((path, e)) = failed {
            self.cannot_compress(&path, &e);
        }
    }

    fn gzip(&self, src: &File, tmp: &Path, buf: &mut [u8]) -> io::Result<()> {
        let out = self.sink.create(tmp)?;
        // Level 1: the archiver shares the cores with the pipeline's workers, and on log lines
        // level 6 takes about twice the CPU time for output only about 8% smaller.
        let mut gz = GzEncoder::new(out, Compression::fast());
        let mut src = src;
        loop {
            let n = match src.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            gz.write_all(&buf[..n])?;
        }
        // Durable before the plain file is removed: a crash never leaves neither.
        gz.finish()?.sync_all()
    }

    /// The plain slot holding the file `id` (device, inode), if any. Called under the lock.
    fn find(&self, id: (u64, u64)) -> Option<u32> {
        (1..=self.keep).find(|&k| {
            fs::symlink_metadata(self.names.plain(k)).is_ok_and(|m| (m.dev(), m.ino()) == id)
        })
    }

    fn cannot_compress(&self, path: &Path, e: &io::Error) {
        self.sink.notice(&format!(
            "runner: cannot compress the rotated log file {}: {e}; it is kept uncompressed",
            path.display()
        ));
    }

    /// Removes the leftovers of an earlier run and queues its plain slots for compression.
    fn recover(&self) {
        if let Ok(dir) = fs::read_dir(self.names.dir()) {
            let stale: Vec<PathBuf> = dir
                .flatten()
                .filter(|e| self.names.is_leftover(&e.file_name()))
                .map(|e| e.path())
                .collect();
            for p in stale {
                let _ = self.sink.remove(&p);
            }
        }
        if !self.compress {
            return;
        }
        let mut st = lock(&self.state);
        for k in 1..=self.keep {
            let p = self.names.plain(k);
            if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file())
                && let Ok(file) = File::open(&p)
            {
                let rotation = st.rotations - u64::from(k - 1);
                st.jobs.push_back(Job { file, rotation });
            }
        }
    }
}

/// One piece of work of the archiver thread.
enum Task {
    Delete(PathBuf),
    /// The job and the number of its temporary.
    Compress(Job, u64),
}

/// Locks a mutex, going on with the data if a thread panicked while holding it (the state
/// here stays consistent at every step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
