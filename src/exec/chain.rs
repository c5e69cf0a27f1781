//! Builds the sinks of one file from its job's chain plan: stages linked back to front, writers
//! creating their temp files, templates expanded for this file.

use super::output::{Fanout, Outputs, Tee, Writer};
use crate::plan::{ChainPlan, StagePlan, Vars};
use crate::stage::{BoxSink, Case, Checksum, Gunzip, gzip_stage};
use std::io;

/// The first sink of the chain for one file.
pub fn build(chain: &ChainPlan, vars: &Vars<'_>, outputs: &Outputs) -> io::Result<BoxSink> {
    let mut next: Option<BoxSink> = None;
    for stage in chain.stages.iter().rev() {
        let take = |next: Option<BoxSink>| next.expect("a validated chain ends in a writer");
        next = Some(match stage {
            StagePlan::Write(t) => Box::new(Writer::create(t.expand(vars), outputs.clone())?),
            StagePlan::MultiWrite(ts) => Box::new(Fanout(
                ts.iter()
                    .map(|t| {
                        Writer::create(t.expand(vars), outputs.clone())
                            .map(|w| Box::new(w) as BoxSink)
                    })
                    .collect::<io::Result<_>>()?,
            )),
            StagePlan::Tee(branch) => Box::new(Tee {
                branch: build(branch, vars, outputs)?,
                next: take(next),
            }),
            StagePlan::Checksum { algo, sidecar } => Box::new(Checksum::new(
                *algo,
                sidecar.as_ref().map(|t| t.expand(vars)),
                take(next),
            )),
            StagePlan::Case { upper, mode } => Box::new(Case::new(*upper, *mode, take(next))),
            StagePlan::Gzip { level } => gzip_stage(*level, take(next)),
            StagePlan::Gunzip { max_size } => Box::new(Gunzip::new(*max_size, take(next))),
        });
    }
    Ok(next.expect("a validated chain has stages"))
}
