//! Counting what a run did, per job, and the summary table printed at its end.

use super::file::Outcome;
use crate::units::human_bytes;
use std::fmt::Write as _;
use std::time::Duration;

/// The counters of one job in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    pub name: String,
    pub ok: u64,
    pub failed: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl JobStats {
    pub fn new(name: &str) -> Self {
        JobStats {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Done(d) => {
                self.ok += 1;
                self.bytes_in += d.bytes_in;
                self.bytes_out += d.bytes_out;
            }
            Outcome::Rejected { .. } => self.rejected += 1,
            Outcome::Failed { bytes_in, .. } => {
                self.failed += 1;
                self.bytes_in += bytes_in;
            }
            Outcome::Aborted => {}
        }
    }

    fn add(&mut self, other: &JobStats) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.rejected += other.rejected;
        self.skipped += other.skipped;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

/// Megabytes (10^6 bytes) per second, the unit the peers' figures use.
pub fn mb_per_s(bytes: u64, wall: Duration) -> f64 {
    let secs = wall.as_secs_f64();
    if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    }
}

/// The table printed at the end of a run.
pub fn summary(jobs: &[JobStats], wall: Duration) -> String {
    let mut total = JobStats::new("total");
    jobs.iter().for_each(|j| total.add(j));
    let header = [
        "job", "ok", "failed", "rejected", "skipped", "in", "out", "MB/s",
    ];
    let mut rows: Vec<[String; 8]> = jobs
        .iter()
        .chain(if jobs.len() > 1 { Some(&total) } else { None })
        .map(|j| {
            [
                j.name.clone(),
                j.ok.to_string(),
                j.failed.to_string(),
                j.rejected.to_string(),
                j.skipped.to_string(),
                human_bytes(j.bytes_in),
                human_bytes(j.bytes_out),
                format!("{:.1}", mb_per_s(j.bytes_in, wall)),
            ]
        })
        .collect();
    rows.insert(0, header.map(str::to_owned));
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                let _ = write!(line, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "  {}{cell}", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "wall time {:.2}s", wall.as_secs_f64());
    out
}
