//! Runs a plan. (The streaming engine lands next; for now a run prints the plan.)

use crate::cli::RunArgs;
use crate::plan::{Plan, graph};

pub fn run(plan: &Plan, _args: &RunArgs) -> i32 {
    print!("{}", graph::text(plan));
    0
}
