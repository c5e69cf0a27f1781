//! A validated pipeline, ready to run: paths resolved, globs and templates compiled, chains typed.
//!
//! A `Plan` can only be built by `config::load`, which checks everything first; nothing downstream
//! re-checks what a plan guarantees.

pub mod chain;
pub mod graph;
pub mod template;

pub use chain::{ChainPlan, StagePlan};
pub use template::{Template, Vars};

use crate::config::model::{Kind, Level, LogFormat, OnCorrupt};
use globset::GlobSet;
use std::path::PathBuf;
use std::time::Duration;

/// A whole pipeline file, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The pipeline file as given on the command line.
    pub file: PathBuf,
    /// Directory that relative paths in the file resolve against.
    pub base_dir: PathBuf,
    /// Worker threads: from the file, else the number of cores (the CLI may override).
    pub workers: usize,
    /// Chunk size in bytes.
    pub chunk: usize,
    pub shutdown_timeout: Duration,
    pub logger: Option<LoggerPlan>,
    pub snapshot: Option<SnapshotPlan>,
    /// Jobs in name order.
    pub jobs: Vec<JobPlan>,
}

#[derive(Debug, Clone)]
pub struct LoggerPlan {
    pub path: PathBuf,
    pub level: Level,
    pub format: LogFormat,
    pub buffer: usize,
    pub flush_every: Duration,
    pub max_size: u64,
    pub keep: u32,
    pub compress: bool,
}

#[derive(Debug, Clone)]
pub struct SnapshotPlan {
    pub path: PathBuf,
    pub every: Duration,
    pub on_corrupt: OnCorrupt,
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub name: String,
    pub source: SourcePlan,
    /// The chain text as written, for display.
    pub chain_text: String,
    pub chain: ChainPlan,
}

#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub dir: PathBuf,
    pub include: GlobSet,
    pub exclude: GlobSet,
    /// The patterns as written, for display.
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
    pub recursive: bool,
    pub follow_symlinks: bool,
    /// Kinds taken; `None` takes every kind.
    pub accept: Option<Vec<Kind>>,
    pub settle: Duration,
    pub poll: Option<Duration>,
    pub after: AfterPlan,
    pub reject: RejectPlan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterPlan {
    Keep,
    Delete,
    Move(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectPlan {
    Skip,
    Quarantine(PathBuf),
}

impl SourcePlan {
    /// Whether a file of this kind is taken.
    pub fn accepts(&self, kind: Kind) -> bool {
        self.accept
            .as_ref()
            .is_none_or(|kinds| kinds.contains(&kind))
    }

    /// Whether a path relative to the source dir (`/`-separated) is selected by the globs.
    pub fn selects(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let included = self.include.is_match(rel) || self.include.is_match(name);
        let excluded = self.exclude.is_match(rel) || self.exclude.is_match(name);
        included && !excluded
    }
}
