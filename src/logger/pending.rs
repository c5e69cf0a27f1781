//! The records waiting for the log file: their bytes in one buffer of fixed capacity, plus where
//! each record ends, so that a flush can stop (and a rotation can happen) only between records.

use std::time::Instant;

/// Records not yet in the file, oldest first.
///
/// The buffer is allocated once with the configured capacity and never grows: a record that
/// does not fit is written around it (see `RotatingFile`).
#[derive(Debug)]
pub(crate) struct Pending {
    bytes: Vec<u8>,
    /// `ends[i]` is the offset just past record `i` in `bytes`; ascending, the last one is
    /// `bytes.len()`.
    ends: Vec<usize>,
    /// The first record's beginning is already in the file (a write stopped in its middle).
    head_partial: bool,
    /// When the oldest byte arrived (or when the last flush failed), for the timed flush.
    since: Option<Instant>,
    cap: usize,
}

impl Pending {
    /// An empty buffer that holds `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Pending {
            bytes: Vec::with_capacity(cap),
            ends: Vec::with_capacity(cap.clamp(1, 64 * 1024) / 64),
            head_partial: false,
            since: None,
            cap,
        }
    }

    /// Whether `len` more bytes fit.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.bytes.len() + len <= self.cap
    }

    /// Whether a flush is due by size: `cap` bytes are pending.
    pub(crate) fn is_full(&self) -> bool {
        !self.bytes.is_empty() && self.bytes.len() >= self.cap
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends one whole record (the caller checked `fits`). Empty records are not kept.
    pub(crate) fn push(&mut self, record: &[u8]) {
        if record.is_empty() {
            return;
        }
        if self.bytes.is_empty() {
            self.since = Some(Instant::now());
        }
        self.bytes.extend_from_slice(record);
        self.ends.push(self.bytes.len());
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn ends(&self) -> &[usize] {
        &self.ends
    }

    pub(crate) fn head_partial(&self) -> bool {
        self.head_partial
    }

    pub(crate) fn since(&self) -> Option<Instant> {
        self.since
    }

    /// Restarts the timed-flush clock (after a failed flush: retry one interval later).
    pub(crate) fn restart_clock(&mut self) {
        if !self.bytes.is_empty() {
            self.since = Some(Instant::now());
        }
    }

    /// The first `n` bytes reached the file; if `n` falls inside a record, that record's rest
    /// stays at the head, marked partial.
    pub(crate) fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if n >= self.bytes.len() {
            self.clear();
            return;
        }
        let done = self.ends.partition_point(|&e| e <= n);
        self.head_partial = done == 0 || self.ends[done - 1] < n;
        self.bytes.drain(..n);
        self.ends.drain(..done);
        for e in &mut self.ends {
            *e -= n;
        }
    }

    /// Drops the rest of a partially written record (its beginning went to a file that is no
    /// longer the log file, so completing it elsewhere would make a broken line); returns
    /// whether there was one.
    pub(crate) fn drop_head_partial(&mut self) -> bool {
        if !self.head_partial {
            return false;
        }
        self.head_partial = false;
        let n = self.ends.first().copied().unwrap_or(self.bytes.len());
        self.consume(n);
        true
    }

    /// Empties the buffer; returns how many records were in it.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.ends.len();
        self.bytes.clear();
        self.ends.clear();
        self.head_partial = false;
        self.since = None;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_tracks_record_boundaries() {
        let mut p = Pending::new(100);
        for r in [&b"aaa\n"[..], b"bb\n", b"c\n"] {
            assert!(p.fits(r.len()));
            p.push(r);
        }
        assert_eq!(p.ends().len(), 3);
        p.consume(4);
        assert_eq!(p.bytes(), b"bb\nc\n");
        assert_eq!(p.ends(), [3, 5]);
        assert!(!p.head_partial());
        p.consume(1);
        assert_eq!(p.bytes(), b"b\nc\n");
        assert_eq!(p.ends(), [2, 4]);
        assert!(p.head_partial());
        assert!(p.drop_head_partial());
        assert_eq!(p.bytes(), b"c\n");
        assert!(!p.head_partial());
        assert_eq!(p.clear(), 1);
        assert!(p.is_empty() && p.since().is_none());
    }

    #[test]
    fn capacity_is_never_exceeded_and_never_grows() {
        let mut p = Pending::new(8);
        p.push(b"12345\n");
        assert!(!p.fits(3));
        assert!(p.fits(2));
        p.push(b"7\n");
        assert!(p.is_full());
        assert_eq!(p.bytes.capacity(), 8);
        p.push(b"");
        assert_eq!(p.ends().len(), 2);
    }
}
