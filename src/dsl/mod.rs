//! The chain DSL (SPEC section 3): a pest grammar (`grammar/chain.pest`) parsed into an AST that
//! keeps the byte span of every token, and printed back in canonical form.

pub mod ast;
pub mod parser;

pub use ast::{Arg, Chain, Span, StageCall, Value, ValueKind};
pub use parser::{ParseError, parse_chain};
