//! The syntax tree of a chain: stage calls with their arguments, every token with its span.
//!
//! `Display` prints the canonical form (`name(arg, key = value) | ...`), which parses back to an
//! equal tree (the round trip is a property test).

use crate::units::{format_duration, format_size};
use std::fmt;
use std::time::Duration;

/// A byte range inside the chain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// `stage | stage | ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub stages: Vec<StageCall>,
    pub span: Span,
}

/// `name` or `name(args)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCall {
    pub name: String,
    pub name_span: Span,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// A positional (`name` is `None`) or named argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: Option<(String, Span)>,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    /// A double-quoted string, escapes resolved.
    Str(String),
    Int(i64),
    /// A size literal, in bytes.
    Size(u64),
    Duration(Duration),
    /// A bare identifier such as `sha256` or `unicode`.
    Ident(String),
    /// A nested chain, the argument of `tee`.
    Chain(Chain),
}

impl ValueKind {
    /// What the value is, in the user's words, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Str(_) => "a string",
            ValueKind::Int(_) => "an integer",
            ValueKind::Size(_) => "a size",
            ValueKind::Duration(_) => "a duration",
            ValueKind::Ident(_) => "a name",
            ValueKind::Chain(_) => "a chain",
        }
    }
}

impl Chain {
    /// The same tree with every span zeroed, to compare trees by content.
    pub fn without_spans(&self) -> Chain {
        Chain {
            stages: self
                .stages
                .iter()
                .map(|s| StageCall {
                    name: s.name.clone(),
                    name_span: Span::default(),
                    args: s
                        .args
                        .iter()
                        .map(|a| Arg {
                            name: a.name.as_ref().map(|(n, _)| (n.clone(), Span::default())),
                            value: Value {
                                kind: match &a.value.kind {
                                    ValueKind::Chain(c) => ValueKind::Chain(c.without_spans()),
                                    other => other.clone(),
                                },
                                span: Span::default(),
                            },
                            span: Span::default(),
                        })
                        .collect(),
                    span: Span::default(),
                })
                .collect(),
            span: Span::default(),
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl fmt::Display for StageCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.args.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some((name, _)) = &arg.name {
                write!(f, "{name} = ")?;
            }
            write!(f, "{}", arg.value.kind)?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueKind::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            ValueKind::Int(n) => write!(f, "{n}"),
            ValueKind::Size(n) => f.write_str(&format_size(*n)),
            ValueKind::Duration(d) => f.write_str(&format_duration(*d)),
            ValueKind::Ident(s) => f.write_str(s),
            // A one-stage chain without arguments would read back as a bare name: print `name()`.
            ValueKind::Chain(c) if c.stages.len() == 1 && c.stages[0].args.is_empty() => {
                write!(f, "{}()", c.stages[0].name)
            }
            ValueKind::Chain(c) => write!(f, "{c}"),
        }
    }
}
