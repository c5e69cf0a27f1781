//! The names of the log file and its rotated copies, and the rotation itself: `runner.log.(k)`
//! becomes `runner.log.(k+1)`, the current file becomes `runner.log.1`, files beyond `keep` are
//! deleted.
//!
//! # Naming, with and without compression
//!
//! Slot `k` (1 = newest, `keep` = oldest) holds `runner.log.k` (plain) or `runner.log.k.gz`.
//! A rotation shifts *both* names of every slot, so plain and compressed copies move together
//! whatever state each one is in:
//!
//! 1. `runner.log.keep` and `runner.log.keep.gz` are renamed to `.runner.log.N.old` (hidden) and
//!    deleted by the archiver thread (unlinking a file whose pages are still cached takes
//!    milliseconds, which the writer, holding the lock every logging thread waits on, must not
//!    spend);
//! 2. for `k` from `keep - 1` down to 1, `runner.log.k` -> `runner.log.k+1` and
//!    `runner.log.k.gz` -> `runner.log.k+1.gz` (each only if it exists);
//! 3. `runner.log` -> `runner.log.1`, and with `compress` the file is queued for the archiver.
//!
//! The archiver compresses into `.runner.log.N.gz.tmp` (a hidden name outside the slot
//! numbering), without holding any lock, from a descriptor opened at rotation time. A rotation
//! may therefore happen while a file is being compressed: the file being read is renamed from
//! `.1` to `.2` (its descriptor does not care), or discarded if it falls past `keep`. When the
//! compression is done, the archiver takes the naming lock (the same one a rotation holds while
//! renaming, for a few `rename(2)` calls only) and looks the file up by identity (device and
//! inode) among the plain slots: if it is at slot `k`, the temporary (fsynced) becomes
//! `runner.log.k.gz` and the plain file is removed; if it is no longer there (rotated out), the
//! temporary is deleted. So a compressed copy always lands under the slot its file has *now*.
//!
//! A compression that fails leaves the plain `runner.log.k` where it is (and removes the
//! temporary): no file is lost, it just stays uncompressed, and shifts like any other. At
//! startup, leftovers of a run that stopped early (`.N.gz.tmp`, `.N.old`) are removed and, with
//! `compress` on, plain slots are queued again. `keep: 0` keeps no rotated file: the current
//! file is discarded and started afresh.
//!
//! Files past `keep` left by an earlier run with a larger `keep` are not touched. One process
//! writes one log file: two processes rotating the same file would race.

use crate::logger::archiver::Archiver;
use crate::logger::sink::LogSink;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The paths of the log file and of its rotated copies.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    current: PathBuf,
    dir: PathBuf,
    file_name: OsString,
}

impl Names {
    /// The names around the log file `path` (which has a file name: checked by the caller).
    pub(crate) fn new(path: &Path) -> Self {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Names {
            current: path.to_owned(),
            dir,
            file_name: path.file_name().unwrap_or(path.as_os_str()).to_owned(),
        }
    }

    /// `runner.log`.
    pub(crate) fn current(&self) -> &Path {
        &self.current
    }

    /// The directory the files live in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `runner.log.k`.
    pub(crate) fn plain(&self, k: u32) -> PathBuf {
        self.sibling(&format!(".{k}"), "")
    }

    /// `runner.log.k.gz`.
    pub(crate) fn gz(&self, k: u32) -> PathBuf {
        self.sibling(&format!(".{k}.gz"), "")
    }

    /// `.runner.log.N.gz.tmp`: a compression in progress.
    pub(crate) fn temp(&self, n: u64) -> PathBuf {
        self.sibling(&format!(".{n}.gz.tmp"), ".")
    }

    /// `.runner.log.N.old`: a file past `keep`, waiting to be deleted.
    pub(crate) fn discarded(&self, n: u64) -> PathBuf {
        self.sibling(&format!(".{n}.old"), ".")
    }

    /// Whether `name` (a file name in `dir`) is a temporary or a discarded file (of a run that
    /// stopped before removing it).
    pub(crate) fn is_leftover(&self, name: &std::ffi::OsStr) -> bool {
        let (Some(name), Some(base)) = (name.to_str(), self.file_name.to_str()) else {
            return false;
        };
        name.strip_prefix('.')
            .and_then(|n| n.strip_prefix(base))
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".gz.tmp").or_else(|| n.strip_suffix(".old")))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    fn sibling(&self, suffix: &str, prefix: &str) -> PathBuf {
        let mut name = OsString::from(prefix);
        name.push(&self.file_name);
        name.push(suffix);
        self.dir.join(name)
    }
}

/// Rotates the log file; owns the archiver thread that deletes and compresses.
pub(crate) struct Rotation {
    names: Arc<Names>,
    keep: u32,
    archiver: Option<Archiver>,
}

impl Rotation {
    pub(crate) fn new(names: Arc<Names>, keep: u32, archiver: Archiver) -> Self {
        Rotation {
            names,
            keep,
            archiver: Some(archiver),
        }
    }

    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// Moves the current file out of the way (the caller has closed it and opens a new one
    /// after). On error the slots may be half shifted but no file has been overwritten: each
    /// rename goes to a name just emptied.
    pub(crate) fn rotate(&self, sink: &dyn LogSink) -> io::Result<()> {
        let names = &self.names;
        let Some(archiver) = &self.archiver else {
            // Closed: no thread to hand deletions to; done here, slowly.
            return self.rotate_alone(sink);
        };
        // Held for a few renames; the archiver takes it only to install a compressed copy.
        let mut lock = archiver.lock_names();
        if self.keep == 0 {
            return archiver.discard(&mut lock, names.current());
        }
        archiver.discard(&mut lock, &names.plain(self.keep))?;
        archiver.discard(&mut lock, &names.gz(self.keep))?;
        self.shift(sink)?;
        let first = names.plain(1);
        match sink.rename(names.current(), &first) {
            Ok(()) => archiver.rotated(&mut lock, &first),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `runner.log.k[.gz]` -> `runner.log.k+1[.gz]`, oldest first.
    fn shift(&self, sink: &dyn LogSink) -> io::Result<()> {
        let names = &self.names;
        for k in (1..self.keep).rev() {
            ok_if_missing(sink.rename(&names.plain(k), &names.plain(k + 1)))?;
            ok_if_missing(sink.rename(&names.gz(k), &names.gz(k + 1)))?;
        }
        Ok(())
    }

    /// A rotation after `take_archiver`: files are deleted on this thread and stay plain.
    fn rotate_alone(&self, sink: &dyn LogSink) -> io::Result<()> {
        let names = &self.names;
        if self.keep == 0 {
            return ok_if_missing(sink.remove(names.current()));
        }
        ok_if_missing(sink.remove(&names.plain(self.keep)))?;
        ok_if_missing(sink.remove(&names.gz(self.keep)))?;
        self.shift(sink)?;
        ok_if_missing(sink.rename(names.current(), &names.plain(1)))
    }

    /// Takes the archiver out, for the caller to stop it without holding the writer's lock.
    /// Rotations after this delete on the writer's thread, and leave files uncompressed until
    /// the next start.
    pub(crate) fn take_archiver(&mut self) -> Option<Archiver> {
        self.archiver.take()
    }
}

fn ok_if_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_slots() {
        let n = Names::new(Path::new("/var/log/runner.log"));
        assert_eq!(n.dir(), Path::new("/var/log"));
        assert_eq!(n.plain(3), Path::new("/var/log/runner.log.3"));
        assert_eq!(n.gz(1), Path::new("/var/log/runner.log.1.gz"));
        assert_eq!(n.temp(7), Path::new("/var/log/.runner.log.7.gz.tmp"));
        assert_eq!(n.discarded(8), Path::new("/var/log/.runner.log.8.old"));
        assert!(n.is_leftover(".runner.log.7.gz.tmp".as_ref()));
        assert!(n.is_leftover(".runner.log.8.old".as_ref()));
        for other in [
            "runner.log.7.gz",
            "runner.log.7",
            ".runner.log..gz.tmp",
            ".runner.log.x.gz.tmp",
            ".runner.log.x.old",
            ".other.log.7.gz.tmp",
        ] {
            assert!(!n.is_leftover(other.as_ref()), "{other}");
        }
        let n = Names::new(Path::new("runner.log"));
        assert_eq!(n.dir(), Path::new("."));
        assert_eq!(n.plain(1), Path::new("./runner.log.1"));
    }
}
