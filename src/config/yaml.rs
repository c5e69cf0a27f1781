//! A YAML document as a tree of nodes that remember where they are in the file.
//!
//! `serde_yaml` gives the typed model but forgets positions; this tree (built from the events of
//! `saphyr-parser`) lets every later check point at the exact line and column: schema errors by
//! their JSON pointer, chain DSL errors by an offset inside a scalar, whatever its YAML style.

use crate::diagnostic::Diagnostic;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;
use std::ops::Range;

/// Anchors expanded beyond this many nodes are refused (a "billion laughs" document).
const MAX_NODES: usize = 100_000;

/// One node of the document with its byte range in the file.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Scalar { text: String, style: ScalarStyle },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value of a mapping's key, if this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node of a mapping entry.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Follows a JSON pointer (`/jobs/etl/source/dir`) as jsonschema reports instance paths.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Map(_) => node.get(&seg)?,
                Value::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                Value::Scalar { .. } => return None,
            };
        }
        Some(node)
    }

    /// The byte offset in `file` of the character at byte `index` of this scalar's value.
    ///
    /// Works for every scalar style (plain, quoted, folded `>`, literal `|`): the characters of the
    /// value appear in the source in order, with only quotes, escapes, indentation and line breaks
    /// in between, so each non-blank character is matched to its next occurrence in the source.
    pub fn scalar_offset(&self, file: &str, index: usize) -> usize {
        let Value::Scalar { text, style } = &self.value else {
            return self.span.start;
        };
        let end = self.span.end.min(file.len());
        let mut pos = match style {
            // The span may start at the `|`/`>` header or at the content, depending on the parser.
            ScalarStyle::Literal | ScalarStyle::Folded
                if is_block_header(&file[self.span.start..end]) =>
            {
                file[self.span.start..end]
                    .find('\n')
                    .map_or(self.span.start, |nl| self.span.start + nl + 1)
            }
            ScalarStyle::Literal | ScalarStyle::Folded => self.span.start,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => self.span.start + 1,
            ScalarStyle::Plain => self.span.start,
        }
        .min(end);
        for (i, c) in text.char_indices() {
            let found = if c.is_whitespace() {
                file[pos..end].starts_with(c).then_some(pos)
            } else {
                file[pos..end].find(c).map(|at| pos + at)
            };
            if i >= index {
                return found.unwrap_or(pos);
            }
            if let Some(at) = found {
                pos = at + c.len_utf8();
            }
        }
        pos
    }

    /// The byte range in `file` of the value bytes `range` of this scalar.
    pub fn scalar_range(&self, file: &str, range: Range<usize>) -> Range<usize> {
        let start = self.scalar_offset(file, range.start);
        if range.end <= range.start {
            return start..start;
        }
        let last = self.scalar_offset(file, range.end - 1);
        let last_len = file[last..].chars().next().map_or(0, char::len_utf8);
        let end = (last + last_len).max(start);
        start..end
    }

    /// This node as JSON, with plain scalars typed by the YAML 1.2 core schema, for the schema check.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar { text, style } => match style {
                ScalarStyle::Plain => resolve_plain(text),
                _ => J::String(text.clone()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (key_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Whether a line starts with a block scalar header: `|`, `>-`, `|2+ # comment`.
fn is_block_header(text: &str) -> bool {
    let line = text.lines().next().unwrap_or("");
    let rest = line.trim_start_matches(['|', '>']);
    rest.len() < line.len()
        && rest
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
            .trim_start()
            .chars()
            .next()
            .is_none_or(|c| c == '#')
}

fn key_text(key: &Node) -> String {
    match &key.value {
        Value::Scalar { text, .. } => text.clone(),
        _ => String::from("<complex key>"),
    }
}

/// Types a plain scalar as YAML 1.2's core schema does (as serde_yaml does).
fn resolve_plain(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return J::Null,
        "true" | "True" | "TRUE" => return J::Bool(true),
        "false" | "False" | "FALSE" => return J::Bool(false),
        _ => {}
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return J::from(n);
        }
        if let Ok(n) = text.parse::<u64>() {
            return J::from(n);
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return J::from(n);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(n) = i64::from_str_radix(oct, 8)
    {
        return J::from(n);
    }
    let looks_float = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if looks_float
        && let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return J::Number(n);
    }
    J::String(text.to_owned())
}

/// Parses a whole file into one document tree. Syntax errors come back as diagnostics with positions.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let bytes = CharToByte::new(text);
    let mut builder = Builder::default();
    let parser = Parser::new_from_str(text);
    for item in parser {
        let (event, span) = item.map_err(|e| {
            let at = bytes.of(e.marker().index());
            Diagnostic::error(format!("YAML syntax error: {}", e.info()), Some(at..at + 1))
        })?;
        let range = bytes.of(span.start.index())..bytes.of(span.end.index());
        builder.event(event, span, range)?;
    }
    builder.root.ok_or_else(|| {
        Diagnostic::error(
            "the file is empty: a pipeline needs at least `version: 1` and `jobs`",
            None,
        )
    })
}

/// saphyr reports positions in characters; diagnostics use bytes.
struct CharToByte(Vec<usize>);

impl CharToByte {
    fn new(text: &str) -> Self {
        CharToByte(
            text.char_indices()
                .map(|(b, _)| b)
                .chain([text.len()])
                .collect(),
        )
    }
    fn of(&self, char_index: usize) -> usize {
        self.0
            .get(char_index)
            .copied()
            .unwrap_or(*self.0.last().unwrap_or(&0))
    }
}

enum Open {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
}

impl Builder {
    fn event(
        &mut self,
        event: Event<'_>,
        _span: Span,
        range: Range<usize>,
    ) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::error(
                        "a pipeline file holds a single YAML document; remove this one or split the file",
                        Some(range.start..range.start + 3),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        style,
                    },
                    span: range,
                };
                self.add(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq(Vec::new(), anchor, range.start))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Open::Map(Vec::new(), None, anchor, range.start))
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(items, anchor, start)) = self.stack.pop() {
                    let node = Node {
                        value: Value::Seq(items),
                        span: start..range.end.max(start),
                    };
                    self.add(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(entries, _, anchor, start)) = self.stack.pop() {
                    let node = Node {
                        value: Value::Map(entries),
                        span: start..range.end.max(start),
                    };
                    self.add(node, anchor)?;
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Diagnostic::error("alias to an unknown anchor", Some(range.clone()))
                })?;
                self.nodes += count(&node);
                if self.nodes > MAX_NODES {
                    return Err(Diagnostic::error(
                        format!(
                            "the document expands to more than {MAX_NODES} nodes through aliases"
                        ),
                        Some(range),
                    ));
                }
                self.add(node, 0)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Some(name) = key.as_str()
                        && entries.iter().any(|(k, _)| k.as_str() == Some(name))
                    {
                        return Err(Diagnostic::error(
                            format!("duplicate key `{name}`"),
                            Some(key.span.clone()),
                        )
                        .with_help("the keys of a mapping must be unique: keep one of the two"));
                    }
                    entries.push((key, node));
                }
            },
        }
        Ok(())
    }
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_offset(src: &str, needle: &str) -> (usize, usize) {
        let root = parse(src).unwrap();
        let node = root.get("chain").unwrap();
        let value = node.as_str().unwrap();
        let index = value.find(needle).unwrap();
        let at = node.scalar_offset(src, index);
        let file = crate::diagnostic::SourceFile::new("x", src);
        file.line_col(at)
    }

    #[test]
    fn offsets_in_every_scalar_style() {
        assert_eq!(chain_offset("chain: a | gzp | w\n", "gzp"), (1, 12));
        assert_eq!(
            chain_offset("chain: \"a | \\\"q\\\" | gzp\"\n", "gzp"),
            (1, 21)
        );
        assert_eq!(chain_offset("chain: 'it''s | gzp'\n", "gzp"), (1, 17));
        assert_eq!(
            chain_offset("chain: >\n  a\n  | b\n  | gzp(x)\n", "gzp"),
            (4, 5)
        );
        assert_eq!(chain_offset("chain: |\n  a\n\n  | gzp(x)\n", "gzp"), (4, 5));
        assert_eq!(chain_offset("chain: a\n  | b\n  | gzp\n", "gzp"), (3, 5));
    }

    #[test]
    fn json_typing() {
        let root = parse("a: 1\nb: '1'\nc: true\nd: 64KiB\ne: ~\nf: 1.5\n").unwrap();
        let json = root.to_json();
        assert_eq!(json["a"], serde_json::json!(1));
        assert_eq!(json["b"], serde_json::json!("1"));
        assert_eq!(json["c"], serde_json::json!(true));
        assert_eq!(json["d"], serde_json::json!("64KiB"));
        assert!(json["e"].is_null());
        assert_eq!(json["f"], serde_json::json!(1.5));
    }

    #[test]
    fn syntax_errors_and_duplicates_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(
            err.message.starts_with("YAML syntax error"),
            "{}",
            err.message
        );
        assert!(err.span.is_some());
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.span, Some(5..6));
        assert!(parse("").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn pointers() {
        let root = parse("jobs:\n  etl:\n    include: [\"a\", \"b/c\"]\n").unwrap();
        assert_eq!(
            root.pointer("/jobs/etl/include/1").unwrap().as_str(),
            Some("b/c")
        );
        assert!(root.pointer("/jobs/nope").is_none());
    }
}
