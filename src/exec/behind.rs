//! Write-behind for large outputs: a small I/O thread per output file takes the `write(2)` calls,
//! the early writeback and the final fsync off the thread that runs the chain, so that writing
//! one output overlaps hashing, case mapping and compressing the next chunks.
//!
//! The chain's thread copies what it pushes into one of a fixed set of [`BUFFERS`] buffers of
//! [`BUFFER`] bytes; a full buffer goes to the I/O thread and comes back empty once written. When
//! every buffer is in flight, the chain's thread waits for one: the memory of an output is
//! bounded (1 MiB), whatever the size of the file or the speed of the disk.
//!
//! A write error ends the I/O thread; the next push or the finish returns it. An output that is
//! dropped unfinished (another branch of the file failed, or shutdown) tells the thread to stop
//! writing, and waits for it, so that no thread outlives its file.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::output::with_path;

/// Bytes per buffer handed to the I/O thread, and so per `write(2)`.
pub const BUFFER: usize = 256 * 1024;

/// Buffers per output: one being filled, the others queued or being written.
pub const BUFFERS: usize = 4;

/// Every this many bytes, the kernel is asked to start writing the file out, so that the fsync
/// at the end of the file has little left to wait for.
pub const WRITEBACK_EVERY: u64 = 8 << 20;

/// The chain's side of a write-behind output.
pub struct Behind {
    /// The buffer being filled; its capacity is [`BUFFER`].
    current: Vec<u8>,
    /// Full buffers to the I/O thread; `None` once closed.
    full: Option<SyncSender<Vec<u8>>>,
    /// Written buffers back from the I/O thread.
    empty: Receiver<Vec<u8>>,
    /// Tells the I/O thread to drop what it still has (the output is abandoned).
    abandon: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
    dest: PathBuf,
}

impl Behind {
    /// Starts the I/O thread for `file`, which holds `already` bytes; `dest` names the output in
    /// messages. Gives the file back if no thread can be started (the caller keeps writing
    /// itself).
    pub fn start(file: File, already: u64, dest: PathBuf) -> Result<Behind, File> {
        let (full_tx, full_rx) = sync_channel::<Vec<u8>>(BUFFERS);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
        // Every buffer exists from the start and they are used in turn (the channel is a
        // queue), so that an output uses the same memory whether the disk keeps up or not:
        // the peak RSS does not depend on the size of the file.
        for _ in 1..BUFFERS {
            let _ = empty_tx.send(Vec::with_capacity(BUFFER));
        }
        let abandon = Arc::new(AtomicBool::new(false));
        // The file goes to the thread through a slot, so that it comes back if spawning fails.
        let slot = Arc::new(std::sync::Mutex::new(Some(file)));
        let thread = {
            let (slot, abandon, dest) = (Arc::clone(&slot), Arc::clone(&abandon), dest.clone());
            std::thread::Builder::new()
                .name("runner-write".to_owned())
                .stack_size(64 * 1024)
                .spawn(move || {
                    let file = slot.lock().ok().and_then(|mut f| f.take());
                    let Some(file) = file else {
                        return Err(io::Error::other("the output file was not handed over"));
                    };
                    io_thread(file, already, full_rx, empty_tx, &abandon, &dest)
                })
        };
        match thread {
            Ok(thread) => Ok(Behind {
                current: Vec::with_capacity(BUFFER),
                full: Some(full_tx),
                empty: empty_rx,
                abandon,
                thread: Some(thread),
                dest,
            }),
            Err(_) => {
                let file = slot.lock().ok().and_then(|mut f| f.take());
                Err(file.expect("the thread never started, so the file is still in its slot"))
            }
        }
    }

    /// Copies `bytes` into the buffers, handing full ones to the I/O thread.
    pub fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let take = (BUFFER - self.current.len()).min(bytes.len());
            self.current.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.current.len() == BUFFER {
                let next = self.next_buffer()?;
                let full = std::mem::replace(&mut self.current, next);
                self.send(full)?;
            }
        }
        Ok(())
    }

    /// The empty buffer that has waited longest, waiting for the I/O thread to give one back if
    /// every buffer is full.
    fn next_buffer(&mut self) -> io::Result<Vec<u8>> {
        self.empty.recv().map_err(|_| self.thread_error())
    }

    fn send(&mut self, buf: Vec<u8>) -> io::Result<()> {
        let sent = match &self.full {
            Some(tx) => tx.send(buf).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.thread_error())
        }
    }

    /// Writes what is left, waits for the I/O thread to write and fsync everything, and returns
    /// its result.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.current.is_empty() {
            let last = std::mem::take(&mut self.current);
            self.send(last)?;
        }
        self.full = None; // end of stream: the thread syncs and ends
        self.join()
    }

    /// The error that ended the I/O thread (it ends early only on an error).
    fn thread_error(&mut self) -> io::Error {
        self.full = None;
        match self.join() {
            Err(e) => e,
            Ok(()) => io::Error::other(format!(
                "the writer of {} stopped early",
                self.dest.display()
            )),
        }
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(io::Error::other(format!(
                    "the writer of {} panicked",
                    self.dest.display()
                )))
            }),
            None => Err(io::Error::other(format!(
                "the writer of {} has already stopped",
                self.dest.display()
            ))),
        }
    }
}

impl Drop for Behind {
    /// An abandoned output: the thread drops what it has not written yet and ends.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.abandon.store(true, Ordering::Relaxed);
            self.full = None;
            let _ = self.join();
        }
    }
}

/// The I/O thread: writes the buffers in order, starts the writeback every [`WRITEBACK_EVERY`]
/// bytes, gives the buffers back, and fsyncs the file at the end of the stream.
fn io_thread(
    mut file: File,
    already: u64,
    full: Receiver<Vec<u8>>,
    empty: SyncSender<Vec<u8>>,
    abandon: &AtomicBool,
    dest: &Path,
) -> io::Result<()> {
    let mut written = already;
    let mut written_back = 0;
    for mut buf in full {
        if abandon.load(Ordering::Relaxed) {
            return Ok(());
        }
        file.write_all(&buf)
            .map_err(|e| with_path(e, "cannot write", dest))?;
        written += buf.len() as u64;
        if written >= written_back + WRITEBACK_EVERY {
            start_writeback(&file, written_back, written);
            written_back = written;
        }
        buf.clear();
        // The other side may have finished or gone: then nobody needs the buffer back.
        let _ = empty.try_send(buf);
    }
    if abandon.load(Ordering::Relaxed) {
        return Ok(());
    }
    file.sync_all()
        .map_err(|e| with_path(e, "cannot sync", dest))
}

/// Asks the kernel to start writing `from..to` of `file` out, without waiting (Linux
/// `sync_file_range`; elsewhere the final fsync does all the work). A failure is harmless: the
/// fsync at the end still makes the file durable.
pub fn start_writeback(file: &File, from: u64, to: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for as long as `file` is borrowed; the call only
        // reads it.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                from as i64,
                (to - from) as i64,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, from, to);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::testutil::sample_text;

    fn behind_at(path: &Path) -> Behind {
        let file = File::create(path).unwrap();
        Behind::start(file, 0, path.to_owned()).unwrap_or_else(|_| panic!("no thread"))
    }

    #[test]
    fn every_byte_arrives_in_order_whatever_the_push_sizes() {
        let dir = tempfile::tempdir().unwrap();
        // More than all the buffers together, so buffers are reused, and not a multiple of one.
        let data = sample_text(BUFFER * BUFFERS * 3 + 12_345);
        for size in [1, 7, 4096, 65536, BUFFER, BUFFER + 1, 3 * BUFFER] {
            let path = dir.path().join(format!("out-{size}"));
            let mut w = behind_at(&path);
            for piece in data.chunks(size) {
                w.push(piece).unwrap();
            }
            w.finish().unwrap();
            assert!(std::fs::read(&path).unwrap() == data, "push size {size}");
        }
    }

    #[test]
    fn a_write_error_is_returned_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-only");
        std::fs::write(&path, b"").unwrap();
        // A descriptor open for reading only: every write fails (EBADF), even as root.
        let file = File::open(&path).unwrap();
        let mut w = Behind::start(file, 0, path.clone()).unwrap_or_else(|_| panic!("no thread"));
        let chunk = vec![b'x'; 64 * 1024];
        let mut err = None;
        for _ in 0..64 {
            if let Err(e) = w.push(&chunk) {
                err = Some(e);
                break;
            }
        }
        let err = match err {
            Some(e) => e,
            None => w
                .finish()
                .expect_err("writing to a read-only descriptor fails"),
        };
        let msg = err.to_string();
        assert!(msg.starts_with("cannot write "), "{msg}");
        assert!(msg.contains("read-only"), "{msg}");
    }

    #[test]
    fn an_abandoned_output_stops_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abandoned");
        let mut w = behind_at(&path);
        w.push(&vec![b'y'; 3 * BUFFER]).unwrap();
        drop(w); // joins the thread: it must end although nothing finished the stream
        // The file holds whole buffers only, at most what was pushed.
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len.is_multiple_of(BUFFER) && len <= 3 * BUFFER, "{len}");
    }
}
