//! The background thread that gzips rotated log files (`runner.log.1` -> `runner.log.1.gz`)
//! without ever blocking a writer; see `rotation` for how names stay right when a rotation
//! happens during a compression.

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

/// Size of the read buffer of the compressor thread.
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

/// What the writer and the compressor share, under the naming lock.
pub(crate) struct State {
    jobs: VecDeque<Job>,
    rotations: u64,
    stop: bool,
    next_temp: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    names: Arc<Names>,
    sink: Arc<dyn LogSink>,
    keep: u32,
}

/// Held while slots are renamed: a rotation and the installation of a compressed copy never
/// interleave.
pub(crate) struct NamesLock<'a>(MutexGuard<'a, State>);

/// The compressor thread and its queue (at most about `keep` files: older jobs are dropped
/// since their files are deleted).
pub(crate) struct Compressor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    /// Starts the thread. Plain slots left by an earlier run are queued, and stale temporaries
    /// removed.
    pub(crate) fn start(
        names: Arc<Names>,
        keep: u32,
        sink: Arc<dyn LogSink>,
    ) -> Result<Compressor, LoggerError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                rotations: u64::from(keep),
                stop: false,
                next_temp: 0,
            }),
            changed: Condvar::new(),
            names,
            sink,
            keep,
        });
        shared.recover();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("runner-log-compress".into())
            .spawn(move || worker.run())
            .map_err(|reason| LoggerError::Thread {
                what: "compressor",
                reason,
            })?;
        Ok(Compressor {
            shared,
            thread: Some(thread),
        })
    }

    /// Takes the naming lock.
    pub(crate) fn lock_names(&self) -> NamesLock<'_> {
        NamesLock(lock(&self.shared.state))
    }

    /// Queues `path`, the file a rotation just made slot 1.
    pub(crate) fn queue(&self, lock: &mut NamesLock<'_>, path: &Path, keep: u32) {
        let st = &mut lock.0;
        st.rotations += 1;
        let rotation = st.rotations;
        match File::open(path) {
            Ok(file) => st.jobs.push_back(Job { file, rotation }),
            Err(e) => self.shared.cannot_compress(path, &e),
        }
        let now = st.rotations;
        st.jobs
            .retain(|j| now.saturating_sub(j.rotation) < u64::from(keep));
        self.shared.changed.notify_all();
    }

    /// Compresses what is queued, then stops the thread.
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

impl Drop for Compressor {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Shared {
    fn run(&self) {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let (job, temp) = {
                let mut st = lock(&self.state);
                loop {
                    if let Some(job) = st.jobs.pop_front() {
                        if st.rotations.saturating_sub(job.rotation) >= u64::from(self.keep) {
                            continue; // rotated out meanwhile: nothing left to compress
                        }
                        st.next_temp += 1;
                        break (job, st.next_temp);
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
            self.compress(job, temp, &mut buf);
        }
    }

    /// gzips `job.file` into a temporary, then, under the naming lock, installs it as the `.gz`
    /// of whatever slot the file is in now.
    fn compress(&self, job: Job, temp: u64, buf: &mut [u8]) {
        let tmp = self.names.temp(temp);
        let written = self.gzip(&job.file, &tmp, buf);
        let id = job.file.metadata().map(|m| (m.dev(), m.ino()));
        let st = lock(&self.state);
        let slot = id.ok().and_then(|id| self.find(id));
        match (written, slot) {
            (Ok(()), Some(k)) => match self.sink.rename(&tmp, &self.names.gz(k)) {
                Ok(()) => {
                    let plain = self.names.plain(k);
                    if let Err(e) = self.sink.remove(&plain)
                        && e.kind() != io::ErrorKind::NotFound
                    {
                        self.sink.notice(&format!(
                            "runner: cannot remove the rotated log file {} after compressing it: {e}",
                            plain.display()
                        ));
                    }
                }
                Err(e) => {
                    let _ = self.sink.remove(&tmp);
                    self.cannot_compress(&self.names.plain(k), &e);
                }
            },
            (Err(e), Some(k)) => {
                let _ = self.sink.remove(&tmp);
                self.cannot_compress(&self.names.plain(k), &e);
            }
            // Deleted by a rotation meanwhile: its compressed copy is not wanted either.
            (_, None) => {
                let _ = self.sink.remove(&tmp);
            }
        }
        drop(st);
    }

    fn gzip(&self, src: &File, tmp: &Path, buf: &mut [u8]) -> io::Result<()> {
        let out = self.sink.create(tmp)?;
        let mut gz = GzEncoder::new(out, Compression::default());
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

    /// Removes stale temporaries and queues the plain slots of an earlier run.
    fn recover(&self) {
        if let Ok(dir) = fs::read_dir(self.names.dir()) {
            let stale: Vec<PathBuf> = dir
                .flatten()
                .filter(|e| self.names.is_temp(&e.file_name()))
                .map(|e| e.path())
                .collect();
            for p in stale {
                let _ = self.sink.remove(&p);
            }
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

/// Locks a mutex, going on with the data if a thread panicked while holding it (the state
/// here stays consistent at every step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
