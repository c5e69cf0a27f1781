//! Counting what a run did, per job, and the summary table printed at its end.

use super::file::Outcome;
use crate::state::Counters;
use crate::units::human_bytes;
use std::fmt::Write as _;
use std::time::Duration;

/// The counters of one job in this run (the snapshot keeps the same counters over all runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    pub name: String,
    pub counts: Counters,
}

impl JobStats {
    pub fn new(name: &str) -> Self {
        JobStats {
            name: name.to_owned(),
            counts: Counters::default(),
        }
    }

    pub fn count(&mut self, outcome: &Outcome) {
        tally(&mut self.counts, outcome);
    }
}

/// Adds one file's outcome to counters.
pub fn tally(c: &mut Counters, outcome: &Outcome) {
    match outcome {
        Outcome::Done(d) => {
            c.ok += 1;
            c.bytes_in += d.bytes_in;
            c.bytes_out += d.bytes_out;
        }
        Outcome::Rejected { .. } => c.rejected += 1,
        Outcome::Failed { bytes_in, .. } => {
            c.failed += 1;
            c.bytes_in += bytes_in;
        }
        Outcome::Aborted => {}
    }
}

fn add(total: &mut Counters, c: &Counters) {
    total.ok += c.ok;
    total.failed += c.failed;
    total.rejected += c.rejected;
    total.skipped += c.skipped;
    total.bytes_in += c.bytes_in;
    total.bytes_out += c.bytes_out;
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
    jobs.iter().for_each(|j| add(&mut total.counts, &j.counts));
    let header = [
        "job", "ok", "failed", "rejected", "skipped", "in", "out", "MB/s",
    ];
    let mut rows: Vec<[String; 8]> = jobs
        .iter()
        .chain(if jobs.len() > 1 { Some(&total) } else { None })
        .map(|j| {
            [
                j.name.clone(),
                j.counts.ok.to_string(),
                j.counts.failed.to_string(),
                j.counts.rejected.to_string(),
                j.counts.skipped.to_string(),
                human_bytes(j.counts.bytes_in),
                human_bytes(j.counts.bytes_out),
                format!("{:.1}", mb_per_s(j.counts.bytes_in, wall)),
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
