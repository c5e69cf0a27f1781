//! The integration tests: one binary, modules by subject.

mod bad_corpus;
mod cli;
mod crash;
mod engine;
mod faults;
mod harness;
mod logging;
mod snapshot;
mod watch;
