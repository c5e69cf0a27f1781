//! The pipeline file exactly as written (SPEC section 2), deserialized with serde.
//!
//! Every struct denies unknown keys. Values keep the user's units (`Size`, `Millis`); paths stay
//! relative here and are resolved against the pipeline file's directory by the plan.

use crate::units::{format_duration, format_size, parse_duration, parse_size};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A byte count, written `512`, `64KiB`, `10MiB`, `1GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

/// A duration, written `250ms`, `5s`, `2m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub Duration);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_size(self.0))
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 512, 64KiB or 10MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map(Millis).map_err(de::Error::custom)
    }
}

impl Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// The whole pipeline file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Format version; only `1` exists.
    pub version: u32,
    /// Worker threads; default: the number of cores.
    pub workers: Option<usize>,
    /// Size of the chunks streamed through the stages.
    #[serde(default = "default_chunk")]
    pub chunk: Size,
    /// Watch mode: how long in-flight files may finish after a signal.
    #[serde(default = "default_shutdown")]
    pub shutdown_timeout: Millis,
    pub logger: Option<Logger>,
    pub snapshot: Option<Snapshot>,
    /// Jobs by name, in name order.
    pub jobs: BTreeMap<String, Job>,
}

fn default_chunk() -> Size {
    Size(64 * 1024)
}
fn default_shutdown() -> Millis {
    Millis(Duration::from_secs(30))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The logger policy (SPEC section 6).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logger {
    pub path: String,
    #[serde(default = "default_level")]
    pub level: Level,
    #[serde(default = "default_format")]
    pub format: LogFormat,
    #[serde(default = "default_buffer")]
    pub buffer: Size,
    #[serde(default = "default_flush_every")]
    pub flush_every: Millis,
    #[serde(default)]
    pub rotate: Rotate,
}

fn default_level() -> Level {
    Level::Info
}
fn default_format() -> LogFormat {
    LogFormat::Text
}
fn default_buffer() -> Size {
    Size(64 * 1024)
}
fn default_flush_every() -> Millis {
    Millis(Duration::from_secs(1))
}

/// When and how the log file is rotated.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    #[serde(default = "default_max_size")]
    pub max_size: Size,
    #[serde(default = "default_keep")]
    pub keep: u32,
    #[serde(default)]
    pub compress: bool,
}

impl Default for Rotate {
    fn default() -> Self {
        Rotate {
            max_size: default_max_size(),
            keep: default_keep(),
            compress: false,
        }
    }
}

fn default_max_size() -> Size {
    Size(10 << 20)
}
fn default_keep() -> u32 {
    5
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCorrupt {
    Fail,
    Reset,
}

/// The snapshot policy (SPEC section 7).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub path: String,
    #[serde(default = "default_every")]
    pub every: Millis,
    #[serde(default = "default_on_corrupt")]
    pub on_corrupt: OnCorrupt,
}

fn default_every() -> Millis {
    Millis(Duration::from_secs(30))
}
fn default_on_corrupt() -> OnCorrupt {
    OnCorrupt::Fail
}

/// One job: where its files come from and the chain they go through.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub source: Source,
    /// The chain DSL text (grammar/GRAMMAR.md).
    pub chain: String,
}

/// Where a job's inputs come from and what happens to them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub dir: String,
    #[serde(default = "default_include")]
    pub include: Vec<String>,
    #[serde(default = "default_exclude")]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub follow_symlinks: bool,
    /// Kinds taken; `None` takes every kind.
    pub accept: Option<Vec<Kind>>,
    #[serde(default = "default_settle")]
    pub settle: Millis,
    pub poll: Option<Millis>,
    #[serde(default)]
    pub after: After,
    #[serde(default)]
    pub reject: Reject,
}

fn default_include() -> Vec<String> {
    vec!["*".into()]
}
fn default_exclude() -> Vec<String> {
    vec![".*".into()]
}
fn default_settle() -> Millis {
    Millis(Duration::from_millis(500))
}

/// What happens to an input once all its outputs are committed: `keep`, `delete`, `{move: DIR}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(from = "AfterForm")]
pub enum After {
    #[default]
    Keep,
    Delete,
    Move(String),
}

/// What happens to an input whose kind is not accepted: `skip` or `{quarantine: DIR}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(from = "RejectForm")]
pub enum Reject {
    #[default]
    Skip,
    Quarantine(String),
}

/// The two YAML spellings of `after`: a word, or a one-key mapping.
#[derive(Deserialize)]
#[serde(untagged)]
enum AfterForm {
    Word(AfterWord),
    Move {
        #[serde(rename = "move")]
        dir: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum AfterWord {
    Keep,
    Delete,
}

impl From<AfterForm> for After {
    fn from(form: AfterForm) -> Self {
        match form {
            AfterForm::Word(AfterWord::Keep) => After::Keep,
            AfterForm::Word(AfterWord::Delete) => After::Delete,
            AfterForm::Move { dir } => After::Move(dir),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RejectForm {
    Word(SkipWord),
    Quarantine { quarantine: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum SkipWord {
    Skip,
}

impl From<RejectForm> for Reject {
    fn from(form: RejectForm) -> Self {
        match form {
            RejectForm::Word(SkipWord::Skip) => Reject::Skip,
            RejectForm::Quarantine { quarantine } => Reject::Quarantine(quarantine),
        }
    }
}

/// File kinds sniffed from the first 512 bytes (SPEC section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Empty,
    Text,
    Gzip,
    Zip,
    Zstd,
    Bzip2,
    Xz,
    Pdf,
    Png,
    Jpeg,
    Gif,
    Elf,
    Binary,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Empty,
        Kind::Text,
        Kind::Gzip,
        Kind::Zip,
        Kind::Zstd,
        Kind::Bzip2,
        Kind::Xz,
        Kind::Pdf,
        Kind::Png,
        Kind::Jpeg,
        Kind::Gif,
        Kind::Elf,
        Kind::Binary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Empty => "empty",
            Kind::Text => "text",
            Kind::Gzip => "gzip",
            Kind::Zip => "zip",
            Kind::Zstd => "zstd",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Pdf => "pdf",
            Kind::Png => "png",
            Kind::Jpeg => "jpeg",
            Kind::Gif => "gif",
            Kind::Elf => "elf",
            Kind::Binary => "binary",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
