//! `runner`: a declarative file pipeline runner.
//!
//! A YAML pipeline file (`config`) is validated into a `plan`: jobs whose inputs stream, in
//! bounded chunks, through a chain of `stage`s into atomically written outputs.

pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod dsl;
pub mod exec;
pub mod logger;
pub mod plan;
pub mod stage;
pub mod state;
pub mod units;
pub mod watch;
