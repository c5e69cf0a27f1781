//! The errors of setting the logger up. Once it runs, a log file that cannot be written is
//! reported on stderr and counted (see `RotatingFile`), never returned: logging must not stop
//! the processing.

use std::io;
use std::path::PathBuf;

/// Why the logger could not start. The caller exits with status 3 before touching any file.
///
/// The messages name the path and the operating system's reason; the `io::Error` is part of
/// the message, not a `source`, so that an error-chain printer does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum LoggerError {
    /// The directory of the log file is missing and could not be created.
    #[error("cannot create the log directory {}: {reason}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        reason: io::Error,
    },
    /// The log file could not be opened for appending (nor created).
    #[error("cannot open the log file {}: {reason}", path.display())]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        reason: io::Error,
    },
    /// A background thread (flusher or archiver) could not be started.
    #[error("cannot start the log {what} thread: {reason}")]
    Thread {
        /// `flusher` or `archiver`.
        what: &'static str,
        /// What the operating system said.
        reason: io::Error,
    },
    /// Another `log` implementation was installed in this process before ours.
    #[error("another logger is already installed in this process")]
    AlreadyInstalled,
}
