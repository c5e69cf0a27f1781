//! `Logger`: the `log::Log` implementation. It filters records (the configured level; records of
//! other crates at warn and above only), formats them in a per-thread reused buffer, and hands
//! each whole line to the `RotatingFile` (or, without a log file, prints warnings and errors on
//! stderr).

use crate::logger::Format;
use crate::logger::format::LineBuf;
use crate::logger::rotating::RotatingFile;
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::cell::RefCell;
use std::io::{self, Write};
use std::time::SystemTime;

thread_local! {
    /// Each thread formats into its own buffers, outside the file's lock, and reuses them.
    static LINE: RefCell<LineBuf> = RefCell::new(LineBuf::default());
}

/// The target of the per-file events (`file done`, `file failed`, ...), which the terminal shows
/// its own way.
pub const FILE_EVENTS: &str = "runner::file";

/// The crate whose records are "ours": the first segment of this module's path (`runner`).
/// Records whose target is this crate or one of its modules pass at the configured level;
/// records of other crates (dependencies) only at warn and above.
fn own_crate() -> &'static str {
    let path = module_path!();
    path.split("::").next().unwrap_or(path)
}

/// A logger value: install it with [`init`](crate::logger::init), or call it directly (tests,
/// benchmarks).
pub struct Logger {
    level: LevelFilter,
    format: Format,
    own: &'static str,
    output: Output,
}

enum Output {
    /// No log file: records of the logger's level (warnings and errors, or errors only with
    /// `-q`) to stderr, `runner: warning: msg key=value`.
    Stderr,
    /// The log file. `Verbose` (`-v`): every record written to it also goes to stderr as
    /// written; otherwise error records (a run that cannot start, a snapshot that cannot be
    /// saved) also go to stderr, as without a log file, so that a terminal or a service's journal
    /// shows why the runner stopped.
    File {
        file: RotatingFile,
        terminal: Terminal,
    },
}

/// What goes to stderr besides the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    /// `-q`: errors only.
    Quiet,
    /// Warnings and errors without a log file; errors with one.
    Normal,
    /// `-v`: with a log file, every record written to it.
    Verbose,
}

impl Logger {
    /// A logger writing records of `level` and above, in `format`, to `file`; with `mirror`,
    /// each record also goes to stderr as written.
    pub fn new(file: RotatingFile, level: LevelFilter, format: Format, mirror: bool) -> Logger {
        let terminal = if mirror {
            Terminal::Verbose
        } else {
            Terminal::Normal
        };
        Self::with_terminal(file, level, format, terminal)
    }

    /// A logger writing records of `level` and above, in `format`, to `file`, with `terminal`
    /// saying what stderr gets too.
    pub fn with_terminal(
        file: RotatingFile,
        level: LevelFilter,
        format: Format,
        terminal: Terminal,
    ) -> Logger {
        Logger {
            level,
            format,
            own: own_crate(),
            output: Output::File { file, terminal },
        }
    }

    /// The logger without a log file: warnings and errors to stderr.
    pub fn stderr() -> Logger {
        Self::stderr_only(Terminal::Normal)
    }

    /// The logger without a log file: warnings and errors to stderr, errors only if `Quiet`.
    pub fn stderr_only(terminal: Terminal) -> Logger {
        Logger {
            level: if terminal == Terminal::Quiet {
                LevelFilter::Error
            } else {
                LevelFilter::Warn
            },
            format: Format::Text,
            own: own_crate(),
            output: Output::Stderr,
        }
    }

    /// The most verbose level this logger may write (for `log::set_max_level`).
    pub fn max_level(&self) -> LevelFilter {
        self.level
    }

    /// The log file, if there is one.
    pub fn file(&self) -> Option<&RotatingFile> {
        match &self.output {
            Output::File { file, .. } => Some(file),
            Output::Stderr => None,
        }
    }

    /// Records dropped because the log file could not be written.
    pub fn dropped(&self) -> u64 {
        self.file().map_or(0, RotatingFile::dropped)
    }

    /// Flushes, stops the background threads (see [`RotatingFile::close`]).
    pub fn close(&self) {
        if let Some(f) = self.file() {
            f.close();
        }
    }

    fn is_own(&self, target: &str) -> bool {
        target
            .strip_prefix(self.own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }

    /// What the panic hook does: writes an error record for the panic (`message`, `location`)
    /// and flushes everything pending, without blocking on a lock this thread may hold.
    pub(crate) fn on_panic(&self, message: &str, location: Option<&str>) {
        let Output::File { file, .. } = &self.output else {
            return; // stderr: the panic hook that follows prints the message
        };
        let fields: [(&str, &str); 2] = [("panic", message), ("location", location.unwrap_or(""))];
        let record = Record::builder()
            .args(format_args!("panicked"))
            .level(Level::Error)
            .target(self.own)
            .key_values(&fields)
            .build();
        // A fresh buffer: this thread's may be borrowed by the formatting that panicked.
        let mut buf = LineBuf::default();
        let line = match self.format {
            Format::Text => buf.text(&record, SystemTime::now(), false),
            Format::Json => buf.json(&record, SystemTime::now()),
        };
        file.flush_on_panic(Some(line));
    }

    /// Formats and writes one record that passed the filter.
    fn emit(&self, buf: &mut LineBuf, record: &Record<'_>) {
        let foreign = !self.is_own(record.target());
        match &self.output {
            // Per-file events are shown on the terminal by the run itself (failures always, the
            // rest with `-v`): stderr does not get them a second time.
            Output::Stderr if record.target() == FILE_EVENTS => {}
            Output::Stderr => {
                let line = buf.stderr(record, foreign);
                let _ = io::stderr().lock().write_all(line);
            }
            Output::File { file, terminal } => {
                let line = match self.format {
                    Format::Text => buf.text(record, SystemTime::now(), foreign),
                    Format::Json => buf.json(record, SystemTime::now()),
                };
                if record.level() == Level::Error {
                    file.write_record_now(line);
                } else {
                    file.write_record(line);
                }
                // Per-file events are shown on the terminal by the run itself.
                if record.target() != FILE_EVENTS {
                    if *terminal == Terminal::Verbose {
                        let _ = io::stderr().lock().write_all(line);
                    } else if record.level() == Level::Error {
                        let mut other = LineBuf::default();
                        let _ = io::stderr().lock().write_all(other.stderr(record, foreign));
                    }
                }
            }
        }
        buf.trim();
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
            && (metadata.level() <= Level::Warn || self.is_own(metadata.target()))
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let done = LINE.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                self.emit(&mut buf, record);
                true
            }
            Err(_) => false,
        });
        if done != Ok(true) {
            // The thread's buffer is in use (a value's `Display` logged) or gone (the thread is
            // exiting): a fresh one, this once.
            self.emit(&mut LineBuf::default(), record);
        }
    }

    fn flush(&self) {
        if let Some(f) = self.file() {
            f.flush();
        }
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .field("format", &self.format)
            .field("file", &self.file())
            .finish()
    }
}
