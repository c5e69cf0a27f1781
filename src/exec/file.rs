//! Processes one input file: open it once, sniff its kind from the first bytes, stream it in
//! chunks through its chain, write the sidecars, commit every output, then apply `after`.

use super::claims::Claims;
use super::output::{self, Outputs, with_path};
use super::sniff::{SNIFF_LEN, sniff};
use super::source::Input;
use crate::config::model::Kind;
use crate::plan::{AfterPlan, JobPlan, RejectPlan, Vars};
use crate::stage::{Digest, FileReport, sidecar_line};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xxhash_rust::xxh3::Xxh3;

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every output committed.
    Done(Done),
    /// Its kind is not accepted; `moved_to` is the quarantine path, if any.
    Rejected {
        kind: Kind,
        moved_to: Option<PathBuf>,
    },
    /// Something went wrong; no output of this file is visible.
    Failed { error: String, bytes_in: u64 },
    /// Stopped unfinished at shutdown; no output is visible and the file is taken again later.
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub kind: Kind,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// xxh3-64 of the whole input, computed while streaming for the snapshot's ledger (`None`
    /// without a snapshot policy: nothing would keep it).
    pub fingerprint: Option<u64>,
    pub digests: Vec<Digest>,
    pub elapsed: Duration,
}

/// Everything a file needs from the run besides its job.
pub struct FileContext<'a> {
    /// Chunk size in bytes (any size from 1 up; pipeline files allow 4KiB..16MiB).
    pub chunk: usize,
    /// `{date}`: today, UTC.
    pub date: &'a str,
    /// Called with the number of input bytes read, as they are read.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Set at shutdown: the file stops between two chunks and leaves nothing behind.
    pub cancel: &'a AtomicBool,
    /// Whether to compute the input's fingerprint (the pipeline has a snapshot policy).
    pub fingerprint: bool,
    /// The run's output claims: a file whose output is another input's fails.
    pub claims: &'a Claims,
}

/// Processes one input. `buf` is the worker's reused chunk buffer.
pub fn process(job: &JobPlan, input: &Input, cx: &FileContext<'_>, buf: &mut Vec<u8>) -> Outcome {
    let started = Instant::now();
    let mut bytes_in = 0;
    match run(job, input, cx, buf, &mut bytes_in, started) {
        Ok(outcome) => outcome,
        Err(_) if cx.cancel.load(Ordering::Relaxed) => Outcome::Aborted,
        Err(e) => Outcome::Failed {
            error: e.to_string(),
            bytes_in,
        },
    }
}

fn run(
    job: &JobPlan,
    input: &Input,
    cx: &FileContext<'_>,
    buf: &mut Vec<u8>,
    bytes_in: &mut u64,
    started: Instant,
) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let mut file = File::open(&input.path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            io::Error::new(e.kind(), "the file vanished before it could be read")
        }
        _ => with_path(e, "cannot open", &input.path),
    })?;
    let read_err = |e: io::Error| with_path(e, "cannot read", &input.path);
    let before = file.metadata().map_err(read_err)?;

    // The first bytes tell the kind; they are then streamed first, so nothing is read twice.
    let mut head = [0u8; SNIFF_LEN];
    let head_len = read_full(&mut file, &mut head).map_err(read_err)?;
    let head = &head[..head_len];
    let kind = sniff(head);
    if !job.source.accepts(kind) {
        let moved_to = match &job.source.reject {
            RejectPlan::Skip => None,
            RejectPlan::Quarantine(dir) => Some(move_into(&input.path, dir, &input.rel)?),
        };
        return Ok(Outcome::Rejected { kind, moved_to });
    }

    // Before anything is written: an output that another input of this run writes too would
    // replace that input's result.
    cx.claims.claim_input(job, input, cx.date)?;
    let vars = Vars {
        rel: &input.rel,
        job: &job.name,
        date: cx.date,
    };
    let outputs = Outputs::default();
    let mut sink = super::chain::build(&job.chain, &vars, &outputs)?;
    let mut fingerprint = cx.fingerprint.then(Xxh3::new);
    let chunk = cx.chunk.max(1);
    for piece in head.chunks(chunk) {
        if let Some(f) = fingerprint.as_mut() {
            f.update(piece);
        }
        sink.push(piece)?;
    }
    *bytes_in += head.len() as u64;
    (cx.progress)(head.len() as u64);
    if head_len == SNIFF_LEN {
        buf.resize(chunk, 0);
        loop {
            let n = match file.read(&mut buf[..chunk]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e).into()),
            };
            if cx.cancel.load(Ordering::Relaxed) {
                return Err("aborted at shutdown".into());
            }
            if let Some(f) = fingerprint.as_mut() {
                f.update(&buf[..n]);
            }
            sink.push(&buf[..n])?;
            *bytes_in += n as u64;
            (cx.progress)(n as u64);
        }
    }
    // An input that changed while it was read (truncated, appended to, rewritten) would give
    // outputs of neither version: the file fails, and is taken again once it is stable.
    let after = file.metadata().map_err(read_err)?;
    if *bytes_in != after.len()
        || before.len() != after.len()
        || before.modified().ok() != after.modified().ok()
    {
        return Err(io::Error::other(format!(
            "the input changed while it was read ({} bytes when opened, {} read, {} now); it is taken again at the next run",
            before.len(),
            bytes_in,
            after.len()
        ))
        .into());
    }
    let mut report = FileReport::default();
    sink.finish(&mut report)?;
    for digest in &report.digests {
        if let Some(path) = &digest.sidecar {
            let line = sidecar_line(digest.algo, &digest.hex, &input.rel);
            output::write_small(path, line.as_bytes(), &outputs)?;
        }
    }
    let bytes_out = output::commit(&outputs)?;
    match &job.source.after {
        AfterPlan::Keep => {}
        AfterPlan::Delete => std::fs::remove_file(&input.path).map_err(|e| {
            with_path(
                e,
                "outputs are written, but cannot delete the input",
                &input.path,
            )
        })?,
        AfterPlan::Move(dir) => {
            move_into(&input.path, dir, &input.rel)
                .map_err(|e| io::Error::new(e.kind(), format!("outputs are written, but {e}")))?;
        }
    }
    Ok(Outcome::Done(Done {
        kind,
        bytes_in: *bytes_in,
        bytes_out,
        fingerprint: fingerprint.map(|f| f.digest()),
        digests: report.digests,
        elapsed: started.elapsed(),
    }))
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Moves an input to `dir/rel` (for `after: {move}` and `reject: {quarantine}`), across file
/// systems if need be. A file already at `dir/rel` (an earlier input of the same name, or an
/// output) is never replaced: the move fails instead, and both files stay as they are.
fn move_into(path: &Path, dir: &Path, rel: &str) -> io::Result<PathBuf> {
    let dest = dir.join(rel);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| with_path(e, "cannot create directory", parent))?;
    }
    let taken = || {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "cannot move the input to {}: a file of that name is already there (both are kept; \
                 the input stays where it is)",
                dest.display()
            ),
        )
    };
    // A hard link is a rename that cannot replace: it fails if the name is taken.
    match std::fs::hard_link(path, &dest) {
        Ok(()) => {
            // Unlink the input only if it is still the file just linked: a new version renamed
            // over it meanwhile is another input, left for the next run.
            if same_file(path, &dest) {
                std::fs::remove_file(path)
                    .map_err(|e| with_path(e, "cannot remove the moved input", path))?;
            }
            Ok(dest)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(taken()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_new(path, &dest).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => taken(),
                _ => with_path(e, "cannot copy the input to", &dest),
            })?;
            std::fs::remove_file(path)
                .map_err(|e| with_path(e, "cannot remove the moved input", path))?;
            Ok(dest)
        }
        // A file system without hard links: check, then rename.
        Err(_) => {
            if dest.symlink_metadata().is_ok() {
                return Err(taken());
            }
            std::fs::rename(path, &dest)
                .map_err(|e| with_path(e, "cannot move the input to", &dest))?;
            Ok(dest)
        }
    }
}

/// Whether two paths name the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.symlink_metadata(), b.symlink_metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Copies `from` to a new file `to` (failing if `to` exists) with its permission bits, durably;
/// a copy that fails midway is removed.
fn copy_new(from: &Path, to: &Path) -> io::Result<()> {
    let mut src = File::open(from)?;
    let mut dst = File::options().write(true).create_new(true).open(to)?;
    let copied = io::copy(&mut src, &mut dst)
        .and_then(|_| dst.set_permissions(src.metadata()?.permissions()))
        .and_then(|_| dst.sync_all());
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_copy_across_file_systems_keeps_the_permission_bits_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&from, b"data").unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o640)).unwrap();
        copy_new(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"data");
        let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let again = copy_new(&from, &to).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_move_leaves_a_new_version_renamed_over_the_input_alone() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.txt");
        std::fs::write(&input, b"v1").unwrap();
        assert!(same_file(&input, &input));
        let moved = move_into(&input, &dir.path().join("done"), "a.txt").unwrap();
        assert_eq!(std::fs::read(&moved).unwrap(), b"v1");
        assert!(!input.exists());
        // The check `move_into` makes before unlinking: another file at the path is not it.
        std::fs::write(&input, b"v2").unwrap();
        assert!(!same_file(&input, &moved));
    }
}
