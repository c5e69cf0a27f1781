//! The runner's own log (SPEC section 6): the standard `log` facade, glued to a buffered,
//! size-rotated file writer.
//!
//! ```text
//! log::info!(job = "etl", path = "inbox/a.txt", bytes_in = 123; "file done")
//!   -> Dispatcher (installed once; `init` swaps the Logger inside)
//!   -> Logger: level filter, logfmt/JSON into a per-thread reused buffer     (facade, format)
//!   -> RotatingFile: buffer, timed flush, rotation, outages                  (rotating, pending,
//!                                                                             rotation)
//!   -> archiver thread: gzip rotated files, delete those past `keep`         (archiver)
//!   -> LogSink: the file system and stderr (a test double fails on demand)   (sink)
//! ```
//!
//! # Why `log` (with key-values) rather than `tracing`
//!
//! The runner needs a line per event, with a few fields (`job=etl path=... bytes_in=123`), in one
//! file. `log` does exactly that and no more: it is small (no dependency with `kv` and `std`),
//! std-like (a global `Log` trait and the macros everyone knows), and has structured key-values
//! (`info!(job = "etl"; "file done")`). The dependencies that log at all (notify, globset) log
//! through `log`, so their warnings land in the same file with no bridge crate. `tracing` would bring spans,
//! subscribers and layers (and a `tracing-log` bridge for those dependencies) that a batch
//! runner writing one log file has no use for, and per-record costs that we would then have to
//! measure away. If spans are ever wanted, `tracing`'s `log` feature can feed this same logger.
//!
//! # Use
//!
//! ```no_run
//! # use runner::logger::{init, Config, Format};
//! # use std::time::Duration;
//! let config = Config {
//!     path: "out/logs/runner.log".into(),
//!     level: log::LevelFilter::Info,
//!     format: Format::Text,
//!     buffer: 64 * 1024,
//!     flush_every: Duration::from_secs(1),
//!     max_size: 10 << 20,
//!     keep: 5,
//!     compress: true,
//! };
//! let handle = match init(Some(config), false) {
//!     Ok(h) => h,
//!     Err(e) => {
//!         eprintln!("runner: {e}");
//!         std::process::exit(3);
//!     }
//! };
//! log::info!(job = "etl", path = "inbox/a.txt", bytes_in = 123; "file done");
//! handle.shutdown();
//! ```

mod archiver;
mod dispatch;
mod error;
mod facade;
mod format;
mod pending;
mod rotating;
mod rotation;
mod sink;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

pub use error::LoggerError;
pub use facade::{Logger, Terminal};
pub use rotating::RotatingFile;
pub use sink::{FsSink, LogSink};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How records are written in the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// logfmt: `ts=2026-12-04T09:15:02.117Z level=info msg="file done" job=etl bytes_in=123`;
    /// values are quoted (with `\"`, `\\`, `\n`, `\t`, `\u00XX` escapes) when they are empty or
    /// contain a space, `"`, `=` or a control character. Records of other crates add
    /// `target=...`.
    Text,
    /// One JSON object a line: `{"ts":...,"level":...,"msg":...,"target":...}` plus the
    /// key-value fields (numbers and booleans stay JSON numbers and booleans).
    Json,
}

/// The logger policy of the pipeline file, resolved (the plan's `LoggerPlan`).
#[derive(Debug, Clone)]
pub struct Config {
    /// The log file; its directory is created if missing.
    pub path: PathBuf,
    /// The most verbose level written. Records of other crates are written at warn and above
    /// only, whatever this says.
    pub level: log::LevelFilter,
    /// Text (logfmt) or JSON lines.
    pub format: Format,
    /// Bytes collected before they are written; 0 writes each record at once.
    pub buffer: usize,
    /// Pending bytes are written at the latest this long after they arrived; zero writes each
    /// record at once.
    pub flush_every: Duration,
    /// The file is rotated before a write would take it past this many bytes (a single larger
    /// record gets a file of its own).
    pub max_size: u64,
    /// Rotated files kept: `runner.log.1` (newest) to `runner.log.keep`; 0 keeps none.
    pub keep: u32,
    /// Rotated files are gzipped (`runner.log.1.gz`) by a background thread.
    pub compress: bool,
}

/// Installs the global logger that `log`'s macros write to, and returns its handle.
///
/// - `config: None`: no log file; warnings and errors go to stderr as
///   `runner: warning: msg key=value` (`mirror_stderr` changes nothing: that is everything the
///   logger would show).
/// - `config: Some(..)`: records go to the rotating log file; with `mirror_stderr` (`-v`), every
///   record written to the file is also written to stderr, in the file's format.
///
/// Fails, with an error naming the path and the operating system's reason, if the log file or
/// its directory cannot be created or opened (the caller exits 3 before touching any file), or
/// if a logger that is not ours was installed first.
///
/// May be called again (tests do): the new logger replaces the previous one, whose handle still
/// flushes and closes it. Two live loggers must not share a log file (their rotations would
/// race).
pub fn init(config: Option<Config>, mirror_stderr: bool) -> Result<Handle, LoggerError> {
    let terminal = if mirror_stderr {
        Terminal::Verbose
    } else {
        Terminal::Normal
    };
    init_with(config, terminal)
}

/// As [`init`], with `terminal` saying what goes to stderr: `Quiet` (`-q`) errors only,
/// `Normal` warnings and errors without a log file and errors with one, `Verbose` (`-v`) every
/// record written to the log file.
pub fn init_with(config: Option<Config>, terminal: Terminal) -> Result<Handle, LoggerError> {
    let logger = match config {
        None => Logger::stderr_only(terminal),
        Some(c) => Logger::with_terminal(RotatingFile::open(&c)?, c.level, c.format, terminal),
    };
    let logger = Arc::new(logger);
    dispatch::install(Arc::clone(&logger))?;
    Ok(Handle {
        logger,
        closed: false,
    })
}

/// The installed logger. Dropping it shuts the logger down like [`shutdown`](Self::shutdown),
/// so keep it alive for the whole run (`let _log = init(..)?`, not `let _ = ..`).
#[must_use = "dropping the handle shuts the logger down"]
#[derive(Debug)]
pub struct Handle {
    logger: Arc<Logger>,
    closed: bool,
}

impl Handle {
    /// Writes every pending record to the log file now.
    pub fn flush(&self) {
        log::Log::flush(&*self.logger);
    }

    /// How many records could not be written to the log file and were dropped.
    pub fn dropped(&self) -> u64 {
        self.logger.dropped()
    }

    /// Flushes, and joins the background threads (flusher, archiver: every rotated file is
    /// compressed when it returns). Records logged afterwards go to stderr (warnings and errors).
    pub fn shutdown(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        dispatch::uninstall(&self.logger);
        self.logger.close();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close();
    }
}
