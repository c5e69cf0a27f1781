//! The command line (SPEC section 1): clap definitions only.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A declarative file pipeline runner: YAML pipelines of streaming stages on a worker pool.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    propagate_version = true,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  runner pipelines/etl.yaml            run every job once\n  runner validate pipelines/*.yaml     check pipeline files\n  runner graph pipelines/etl.yaml --format dot | dot -Tsvg > etl.svg"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline (the same as `runner PIPELINE.yaml`).
    Run(RunArgs),
    /// Check pipeline files: YAML, the JSON Schema, the chain DSL and the semantic rules.
    Validate {
        /// Pipeline files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format of the diagnostics.
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
        format: DiagnosticFormat,
    },
    /// Draw the stage graph of every job.
    Graph {
        #[arg(value_name = "PIPELINE.yaml")]
        pipeline: PathBuf,
        /// An indented tree, or Graphviz DOT for `dot -Tsvg`.
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Print the JSON Schema of pipeline files.
    Schema,
    /// Inspect a state snapshot.
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print a snapshot: jobs, counters, ledger.
    Show {
        #[arg(value_name = "STATE.bin")]
        file: PathBuf,
        /// Human-readable text, or JSON.
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
        format: DiagnosticFormat,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file to run.
    #[arg(value_name = "PIPELINE.yaml", required = true)]
    pub pipeline: Option<PathBuf>,
    /// Keep running and watch the source directories.
    #[arg(long)]
    pub watch: bool,
    /// Worker threads, 1 to 1024 (overrides `workers` of the pipeline file).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// Print what would be processed or skipped, and why; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// More output: per-file lines, and the log mirrored to stderr.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print only errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// No progress bars (the summary stays).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
}
