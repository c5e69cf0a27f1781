//! Test helpers: a `LogSink` whose disk fills up on demand and which records its stderr notices,
//! and readers of a log directory (gzip decoded with flate2's decoder).

use crate::logger::sink::LogSink;
use crate::logger::{Config, Format};
use flate2::read::GzDecoder;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The real file system, except that writes fail with ENOSPC once `space` bytes have been
/// written (a short write first, as a real full disk does), and `create` fails on demand.
/// Notices are kept instead of printed.
#[derive(Debug, Default)]
pub(crate) struct FlakySink {
    /// Bytes that may still be written; `u64::MAX` = unlimited.
    space: AtomicU64,
    fail_create: AtomicBool,
    /// `create` waits while this is true.
    paused: Mutex<bool>,
    resumed: Condvar,
    creates: AtomicU64,
    notices: Mutex<Vec<String>>,
}

impl FlakySink {
    pub(crate) fn new() -> Self {
        FlakySink {
            space: AtomicU64::new(u64::MAX),
            ..Default::default()
        }
    }

    /// The disk is full after `bytes` more bytes (`None`: never).
    pub(crate) fn set_space(&self, bytes: Option<u64>) {
        self.space
            .store(bytes.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Compressed copies cannot be created.
    pub(crate) fn fail_create(&self, fail: bool) {
        self.fail_create.store(fail, Ordering::SeqCst);
    }

    /// Holds every `create` (a compression starting) until called with `false`.
    pub(crate) fn pause_create(&self, pause: bool) {
        if let Ok(mut p) = self.paused.lock() {
            *p = pause;
        }
        self.resumed.notify_all();
    }

    /// How many `create` calls have begun.
    pub(crate) fn creates(&self) -> u64 {
        self.creates.load(Ordering::SeqCst)
    }

    pub(crate) fn notices(&self) -> Vec<String> {
        self.notices.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

impl LogSink for FlakySink {
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<usize> {
        let space = self.space.load(Ordering::SeqCst);
        if space == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = bytes
            .len()
            .min(usize::try_from(space).unwrap_or(usize::MAX));
        let n = io::Write::write(file, &bytes[..n])?;
        if space != u64::MAX {
            self.space.store(space - n as u64, Ordering::SeqCst);
        }
        Ok(n)
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut paused) = self.paused.lock() {
            while *paused {
                match self.resumed.wait(paused) {
                    Ok(p) => paused = p,
                    Err(_) => break,
                }
            }
        }
        if self.fail_create.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        File::create(path)
    }

    fn notice(&self, line: &str) {
        if let Ok(mut n) = self.notices.lock() {
            n.push(line.to_owned());
        }
    }
}

/// A config for tests: no timed flush unless set, text format.
pub(crate) fn config(
    path: &Path,
    buffer: usize,
    max_size: u64,
    keep: u32,
    compress: bool,
) -> Config {
    Config {
        path: path.to_owned(),
        level: log::LevelFilter::Trace,
        format: Format::Text,
        buffer,
        flush_every: Duration::from_secs(3600),
        max_size,
        keep,
        compress,
    }
}

/// The file names in `dir`, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The content of a log file, gunzipped if its name ends in `.gz`.
pub(crate) fn content(path: &Path) -> Vec<u8> {
    let raw = fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

/// The files of the log `base` (`runner.log`), oldest first: `runner.log.keep[.gz]` .. `.1`,
/// then `runner.log`. Panics if a slot has both a plain and a compressed file.
pub(crate) fn files_oldest_first(base: &Path, keep: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for k in (1..=keep + 2).rev() {
        let plain = PathBuf::from(format!("{}.{k}", base.display()));
        let gz = PathBuf::from(format!("{}.{k}.gz", base.display()));
        assert!(
            !(plain.exists() && gz.exists()),
            "both {plain:?} and {gz:?}"
        );
        out.extend([plain, gz].into_iter().filter(|p| p.exists()));
    }
    if base.exists() {
        out.push(base.to_owned());
    }
    out
}

/// Polls `check` every 5 ms for up to 10 s (a bound for a stuck test, not a speed assertion).
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
