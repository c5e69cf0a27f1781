//! Atomic outputs (SPEC section 5): every output is written to a hidden temp file in its
//! destination directory, fsynced, and renamed over its final name only once the whole file,
//! every branch of it, has succeeded. A failed file drops its temp files, leaving nothing.

use super::behind::{Behind, WRITEBACK_EVERY, start_writeback};
use crate::stage::{BoxSink, FileReport, Sink, StageError};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tempfile::{NamedTempFile, TempPath};

/// The marker in temp file names: `.NAME.runner-tmp-RANDOM`.
pub const TMP_MARKER: &str = ".runner-tmp-";

/// Writes above this size go straight to the file; smaller ones are gathered first.
const WRITE_BUFFER: usize = 64 * 1024;

/// Once an output holds this many bytes, its writing moves to an I/O thread of its own (see
/// [`behind`](super::behind)); smaller outputs never start one.
const BEHIND_AFTER: u64 = 1 << 20;

/// A finished temp file waiting to be renamed over its destination.
#[derive(Debug)]
pub struct Pending {
    temp: TempPath,
    pub dest: PathBuf,
    pub bytes: u64,
}

/// The outputs of one file, filled in by its writers as they finish.
pub type Outputs = Arc<Mutex<Vec<Pending>>>;

/// Adds the path to an I/O error, so that a message says which file.
pub fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// File names are at most this many bytes on the usual file systems.
const NAME_MAX: usize = 255;

/// The part of an output's name that its temp file's name keeps: all of it, or as much as fits
/// beside the dot, the marker and tempfile's 6 random characters (so that an output whose name
/// is close to the limit can still be written).
fn temp_stem(name: &str) -> &str {
    let room = NAME_MAX - 1 - TMP_MARKER.len() - 6;
    if name.len() <= room {
        return name;
    }
    let mut end = room;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Creates the temp file for `dest` in its directory, creating the directory as needed.
fn create_temp(dest: &Path) -> io::Result<NamedTempFile> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        with_path(
            crate::units::explain_create_dir(e, dir),
            "cannot create output directory",
            dir,
        )
    })?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let prefix = format!(".{}{TMP_MARKER}", temp_stem(&name));
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // Outputs get the mode any program's new files get (0666 less the umask), not the 0600 of
    // temp files: they are results for others to read.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
        .tempfile_in(dir)
        .map_err(|e| with_path(e, "cannot create a temp file in", dir))
}

/// The writer stage: the stream goes into one output file.
///
/// The first [`BEHIND_AFTER`] bytes are written by the chain's thread; a larger output goes on
/// through a [`Behind`] I/O thread, so that its writes overlap the chain's work.
pub struct Writer {
    to: To,
    temp: TempPath,
    dest: PathBuf,
    bytes: u64,
    outputs: Outputs,
}

/// Where a writer's bytes go.
enum To {
    /// Written on the chain's thread; `written_back` bytes were handed to the kernel's writeback.
    Direct {
        file: BufWriter<File>,
        written_back: u64,
    },
    /// Written by an I/O thread.
    Behind(Behind),
    /// Between the two, only while switching (an error there fails the file).
    Switching,
}

impl Writer {
    pub fn create(dest: PathBuf, outputs: Outputs) -> io::Result<Writer> {
        let (file, temp) = create_temp(&dest)?.into_parts();
        Ok(Writer {
            to: To::Direct {
                file: BufWriter::with_capacity(WRITE_BUFFER, file),
                written_back: 0,
            },
            temp,
            dest,
            bytes: 0,
            outputs,
        })
    }

    /// Hands the file to an I/O thread, once it is large enough to be worth one. If no thread
    /// can be started, the writer goes on writing itself.
    fn go_behind(&mut self) -> io::Result<()> {
        let To::Direct { file, written_back } = std::mem::replace(&mut self.to, To::Switching)
        else {
            return Ok(());
        };
        let file = file
            .into_inner()
            .map_err(|e| with_path(e.into_error(), "cannot write", &self.dest))?;
        self.to = match Behind::start(file, self.bytes, self.dest.clone()) {
            Ok(behind) => To::Behind(behind),
            Err(file) => To::Direct {
                file: BufWriter::with_capacity(WRITE_BUFFER, file),
                written_back,
            },
        };
        Ok(())
    }
}

impl Sink for Writer {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        match &mut self.to {
            To::Direct { file, written_back } => {
                file.write_all(chunk)
                    .map_err(|e| with_path(e, "cannot write", &self.dest))?;
                let on_disk = self.bytes + chunk.len() as u64 - file.buffer().len() as u64;
                if on_disk >= *written_back + WRITEBACK_EVERY {
                    start_writeback(file.get_ref(), *written_back, on_disk);
                    *written_back = on_disk;
                }
            }
            To::Behind(behind) => behind.push(chunk)?,
            To::Switching => return Err(earlier_write_failed(&self.dest)),
        }
        let before = self.bytes;
        self.bytes += chunk.len() as u64;
        // Once, when the output grows past the threshold (if no thread could be started then,
        // the writer goes on by itself rather than trying again at every chunk).
        if before < BEHIND_AFTER && self.bytes >= BEHIND_AFTER {
            self.go_behind()?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _report: &mut FileReport) -> Result<(), StageError> {
        let Writer {
            to,
            temp,
            dest,
            bytes,
            outputs,
        } = *self;
        match to {
            To::Direct { file, .. } => {
                let file = file
                    .into_inner()
                    .map_err(|e| with_path(e.into_error(), "cannot write", &dest))?;
                file.sync_all()
                    .map_err(|e| with_path(e, "cannot sync", &dest))?;
            }
            To::Behind(behind) => behind.finish()?,
            To::Switching => return Err(earlier_write_failed(&dest)),
        }
        lock(&outputs).push(Pending { temp, dest, bytes });
        Ok(())
    }
}

/// A writer whose switch to its I/O thread failed midway (the error was returned then).
fn earlier_write_failed(dest: &Path) -> StageError {
    StageError::Io(io::Error::other(format!(
        "cannot write {}: an earlier write failed",
        dest.display()
    )))
}

/// Writes a whole small output (a checksum sidecar) the same atomic way.
pub fn write_small(dest: &Path, content: &[u8], outputs: &Outputs) -> io::Result<()> {
    let temp = create_temp(dest)?;
    temp.as_file()
        .write_all(content)
        .map_err(|e| with_path(e, "cannot write", dest))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| with_path(e, "cannot sync", dest))?;
    lock(outputs).push(Pending {
        temp: temp.into_temp_path(),
        dest: dest.to_owned(),
        bytes: content.len() as u64,
    });
    Ok(())
}

fn lock(outputs: &Outputs) -> std::sync::MutexGuard<'_, Vec<Pending>> {
    outputs
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Renames every finished output over its final name, then syncs their directories.
/// Returns the bytes written to all of them.
pub fn commit(outputs: &Outputs) -> io::Result<u64> {
    let pending = std::mem::take(&mut *lock(outputs));
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut bytes = 0;
    for p in pending {
        let Pending {
            temp,
            dest,
            bytes: n,
        } = p;
        temp.persist(&dest)
            .map_err(|e| with_path(e.error, "cannot rename the finished output to", &dest))?;
        bytes += n;
        if let Some(dir) = dest.parent()
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_owned());
        }
    }
    for dir in dirs {
        // Make the renames durable; a directory that cannot be opened for sync is not fatal.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(bytes)
}

/// Sends the same stream to several sinks (`multiwrite`).
pub struct Fanout(pub Vec<BoxSink>);

impl Sink for Fanout {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.0.iter_mut().try_for_each(|s| s.push(chunk))
    }

    fn finish(self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        self.0.into_iter().try_for_each(|s| s.finish(report))
    }
}

/// Copies the stream into a branch and passes it on (`tee`).
pub struct Tee {
    pub branch: BoxSink,
    pub next: BoxSink,
}

impl Sink for Tee {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.branch.push(chunk)?;
        self.next.push(chunk)
    }

    fn finish(self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        let Tee { branch, next } = *self;
        branch.finish(report)?;
        next.finish(report)
    }
}

/// Removes temp files that a crash left in `dir` and its subdirectories down to `depth`.
/// Returns how many were removed.
pub fn remove_leftovers(dir: &Path, depth: usize) -> usize {
    let mut removed = 0;
    let walk = walkdir::WalkDir::new(dir)
        .max_depth(depth.max(1))
        .follow_links(false);
    for entry in walk.into_iter().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file()
            && name.starts_with('.')
            && name.contains(TMP_MARKER)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_visible_until_commit_and_a_dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outputs = Outputs::default();
        let dest = dir.path().join("sub/out.txt");
        let mut w = Box::new(Writer::create(dest.clone(), outputs.clone()).unwrap());
        w.push(b"hello ").unwrap();
        w.push(b"world").unwrap();
        assert!(!dest.exists());
        w.finish(&mut FileReport::default()).unwrap();
        assert!(!dest.exists());
        assert_eq!(commit(&outputs).unwrap(), 11);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");

        let dropped = dir.path().join("sub/dropped.txt");
        let mut w = Writer::create(dropped.clone(), outputs.clone()).unwrap();
        w.push(b"partial").unwrap();
        drop(w);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[test]
    fn a_large_output_goes_through_its_io_thread_and_is_still_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let data = crate::stage::testutil::sample_text(3 * BEHIND_AFTER as usize + 777);
        for size in [7, 65536, 1 << 20] {
            let outputs = Outputs::default();
            let dest = dir.path().join(format!("big-{size}.txt"));
            let mut w = Box::new(Writer::create(dest.clone(), outputs.clone()).unwrap());
            for piece in data.chunks(size) {
                w.push(piece).unwrap();
            }
            assert!(matches!(w.to, To::Behind(_)), "past {BEHIND_AFTER} bytes");
            w.finish(&mut FileReport::default()).unwrap();
            assert!(!dest.exists(), "not visible before the commit");
            assert_eq!(commit(&outputs).unwrap(), data.len() as u64);
            assert!(std::fs::read(&dest).unwrap() == data, "chunk size {size}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_usual_mode_not_the_temp_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outputs = Outputs::default();
        let dest = dir.path().join("out.txt");
        let w = Box::new(Writer::create(dest.clone(), outputs.clone()).unwrap());
        w.finish(&mut FileReport::default()).unwrap();
        commit(&outputs).unwrap();
        // SAFETY: umask only reads and sets the process's file-mode mask; it is restored at once.
        let umask = unsafe {
            let m = libc::umask(0);
            libc::umask(m);
            m
        };
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !(umask as u32));
    }

    #[test]
    fn an_output_with_a_name_near_the_limit_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        // 250 bytes, some of them two-byte characters, so that the cut falls inside one.
        let name = format!("{}{}", "é".repeat(20), "n".repeat(210));
        assert_eq!(name.len(), 250);
        let outputs = Outputs::default();
        let dest = dir.path().join(&name);
        let mut w = Box::new(Writer::create(dest.clone(), outputs.clone()).unwrap());
        w.push(b"long").unwrap();
        w.finish(&mut FileReport::default()).unwrap();
        commit(&outputs).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"long");
        assert!(temp_stem(&name).len() < name.len());
        assert_eq!(temp_stem("short.txt"), "short.txt");
    }

    #[test]
    fn leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/.x.gz.runner-tmp-abc123"), b"junk").unwrap();
        std::fs::write(dir.path().join("a/.y.runner-tmp-zzz"), b"junk").unwrap();
        std::fs::write(dir.path().join("a/keep.gz"), b"ok").unwrap();
        assert_eq!(remove_leftovers(dir.path(), 3), 2);
        assert!(dir.path().join("a/keep.gz").exists());
    }
}
