//! What a `RotatingFile` asks of the outside world: open, write, rename and remove files, and tell
//! the operator a line on stderr. A trait so that tests can make the disk fail on demand (tests
//! run as root, where permission bits make nothing unwritable).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The file system and the operator's terminal, as the log writer uses them.
///
/// Every method has the real behaviour as its default, so [`FsSink`] is an empty `impl` and a
/// test double overrides only the calls it wants to fail.
pub trait LogSink: Send + Sync {
    /// Opens `path` for appending, creating it if missing (`O_APPEND|O_CREAT`): every write
    /// lands at the end of the file, even if another process appends too.
    fn open(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().append(true).create(true).open(path)
    }

    /// Creates `path` (truncating it) for a file written whole: a compressed copy.
    fn create(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }

    /// One `write(2)`: may write fewer bytes than given.
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<usize> {
        file.write(bytes)
    }

    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    /// Tells the operator `line` (no newline at its end): on stderr, ignoring a failure to
    /// print, since there is nowhere left to report it.
    fn notice(&self, line: &str) {
        let mut err = io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.write_all(b"\n");
    }
}

/// The real file system and stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsSink;

impl LogSink for FsSink {}
