//! Errors of the streaming stages: what fails one file, worded for the user who reads the log.

use std::fmt;

/// Why a stage failed the file it was processing.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A downstream sink (typically a writer) could not write.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// `upper` / `lower` with `mode = unicode` met bytes that are not UTF-8; `offset` is the
    /// position, in the stage's input stream, of the first byte of the invalid sequence (for a
    /// sequence cut short by the end of the stream, the position of its first byte).
    #[error(
        "invalid UTF-8 at byte {offset} of the stream (upper and lower with mode = unicode need UTF-8 text)"
    )]
    InvalidUtf8 {
        /// Byte offset of the invalid sequence in the stage's input.
        offset: u64,
    },

    /// `gunzip` met something that is not a complete, intact gzip stream.
    #[error("corrupt gzip stream: {detail}")]
    CorruptGzip {
        /// What is wrong, and where.
        detail: String,
    },

    /// `gunzip` would have produced more than `max_size` bytes.
    #[error("decompressed size exceeds max_size ({})", Size(*limit))]
    TooLarge {
        /// The configured `max_size`, in bytes.
        limit: u64,
    },
}

/// A name that is not one of the accepted ones (a checksum algorithm, a case mode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (expected one of: {expected})")]
pub struct UnknownName {
    /// What kind of name was expected, e.g. "checksum algorithm".
    pub what: &'static str,
    /// The name as written.
    pub name: String,
    /// The accepted names, comma separated.
    pub expected: &'static str,
}

/// A byte count printed the way a pipeline file writes it: `64 GiB`, `10 MiB`, `1500 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (1 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
        ];
        let n = self.0;
        let unit = UNITS.iter().find(|(u, _)| n >= *u && n.is_multiple_of(*u));
        match unit {
            Some((unit, name)) => write!(f, "{} {name}", n / unit),
            None if n == 1 => f.write_str("1 byte"),
            None => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            StageError::InvalidUtf8 { offset: 1234 }.to_string(),
            "invalid UTF-8 at byte 1234 of the stream (upper and lower with mode = unicode need UTF-8 text)"
        );
        assert_eq!(
            StageError::CorruptGzip {
                detail: "CRC mismatch".into()
            }
            .to_string(),
            "corrupt gzip stream: CRC mismatch"
        );
        assert_eq!(
            StageError::TooLarge { limit: 64 << 30 }.to_string(),
            "decompressed size exceeds max_size (64 GiB)"
        );
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        assert_eq!(StageError::from(io).to_string(), "I/O error: disk full");
    }

    #[test]
    fn sizes_print_in_the_largest_exact_unit() {
        let cases = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (1000, "1000 bytes"),
            (1024, "1 KiB"),
            (1536, "1536 bytes"),
            (10 << 20, "10 MiB"),
            (3 << 40, "3 TiB"),
            ((1 << 30) + 1, "1073741825 bytes"),
        ];
        for (n, text) in cases {
            assert_eq!(Size(n).to_string(), text, "{n}");
        }
    }
}
