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
//! 1. `runner.log.keep` and `runner.log.keep.gz` are deleted;
//! 2. for `k` from `keep - 1` down to 1, `runner.log.k` -> `runner.log.k+1` and
//!    `runner.log.k.gz` -> `runner.log.k+1.gz` (each only if it exists);
//! 3. `runner.log` -> `runner.log.1`, and with `compress` the file is queued for the compressor.
//!
//! The compressor writes `.runner.log.N.gz.tmp` (a hidden name outside the slot numbering),
//! without holding any lock, from a descriptor opened at rotation time. A rotation may therefore
//! happen while a file is being compressed: the file being read is renamed from `.1` to `.2`
//! (its descriptor does not care), or deleted if it falls past `keep`. When the compression is
//! done, the compressor takes the naming lock (the same one a rotation holds while renaming, for a
//! few `rename(2)` calls only) and looks the file up by identity (device and inode) among the
//! plain slots: if it is at slot `k`, the temporary becomes `runner.log.k.gz` and the plain file
//! is removed; if it is no longer there (rotated out), the temporary is deleted. So a compressed
//! copy always lands under the slot its file has *now*, and the two never coexist under
//! different numbers for long.
//!
//! A compression that fails leaves the plain `runner.log.k` where it is (and removes the
//! temporary): no file is lost, it just stays uncompressed. At startup, with `compress` on, plain
//! slots left by a previous run (stopped mid-compression, or compression failed) are queued
//! again, and stale temporaries are removed. `keep: 0` keeps no rotated file: the current file
//! is deleted and started afresh.
//!
//! Files past `keep` left by an earlier run with a larger `keep` are not touched. One process
//! writes one log file: two processes rotating the same file would race.

use crate::logger::compress::Compressor;
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

    /// Whether `name` (a file name in `dir`) is one of our temporaries.
    pub(crate) fn is_temp(&self, name: &std::ffi::OsStr) -> bool {
        let (Some(name), Some(base)) = (name.to_str(), self.file_name.to_str()) else {
            return false;
        };
        name.strip_prefix('.')
            .and_then(|n| n.strip_prefix(base))
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".gz.tmp"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    fn sibling(&self, suffix: &str, prefix: &str) -> PathBuf {
        let mut name = OsString::from(prefix);
        name.push(&self.file_name);
        name.push(suffix);
        self.dir.join(name)
    }
}

/// Rotates the log file; owns the compressor when `compress` is on.
pub(crate) struct Rotation {
    names: Arc<Names>,
    keep: u32,
    compressor: Option<Compressor>,
}

impl Rotation {
    pub(crate) fn new(names: Arc<Names>, keep: u32, compressor: Option<Compressor>) -> Self {
        Rotation {
            names,
            keep,
            compressor,
        }
    }

    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// Moves the current file out of the way (the caller has closed it and opens a new one
    /// after). On error the slots may be half shifted but no file has been overwritten: each
    /// rename goes to a name just emptied.
    pub(crate) fn rotate(&self, sink: &dyn LogSink) -> io::Result<()> {
        if self.keep == 0 {
            return Ok(());
        }
        // Held for a few renames; the compressor takes it only to install a finished copy.
        let lock = self.compressor.as_ref().map(Compressor::lock_names);
        let names = &self.names;
        ok_if_missing(sink.remove(&names.plain(self.keep)))?;
        ok_if_missing(sink.remove(&names.gz(self.keep)))?;
        for k in (1..self.keep).rev() {
            ok_if_missing(sink.rename(&names.plain(k), &names.plain(k + 1)))?;
            ok_if_missing(sink.rename(&names.gz(k), &names.gz(k + 1)))?;
        }
        let first = names.plain(1);
        match sink.rename(names.current(), &first) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        if let (Some(c), Some(mut lock)) = (&self.compressor, lock) {
            c.queue(&mut lock, &first, self.keep);
        }
        Ok(())
    }

    /// Takes the compressor out, for the caller to stop it without holding the writer's lock.
    /// Files rotated after this stay plain (and are compressed at the next start).
    pub(crate) fn take_compressor(&mut self) -> Option<Compressor> {
        self.compressor.take()
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
        assert!(n.is_temp(".runner.log.7.gz.tmp".as_ref()));
        for other in [
            "runner.log.7.gz",
            ".runner.log..gz.tmp",
            ".runner.log.x.gz.tmp",
            ".other.log.7.gz.tmp",
        ] {
            assert!(!n.is_temp(other.as_ref()), "{other}");
        }
        let n = Names::new(Path::new("runner.log"));
        assert_eq!(n.dir(), Path::new("."));
        assert_eq!(n.plain(1), Path::new("./runner.log.1"));
    }
}
