//! Diagnostics as compilers print them: `FILE:LINE:COL: error: ...`, the source line, a caret.
//!
//! Every check of a pipeline file produces [`Diagnostic`]s holding byte ranges into the file's text;
//! [`SourceFile`] turns them into line and column (1-based, columns counted in characters) and
//! renders them as text or as JSON objects for CI tools.

use serde::Serialize;
use std::fmt::Write as _;
use std::ops::Range;

/// How bad a diagnostic is. Errors make a file invalid; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Byte range in the file's text that the caret underlines; `None` for whole-file problems.
    pub span: Option<Range<usize>>,
    /// An optional hint printed under the snippet.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic resolved to a position, as `validate --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A file's name (as the user wrote it) and text, with the starts of its lines.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp to it.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let col = self.text[self.line_starts[line]..offset].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Resolves a diagnostic to file, line and column.
    pub fn locate(&self, d: &Diagnostic) -> Located {
        let (line, column) = d.span.as_ref().map_or((1, 1), |s| self.line_col(s.start));
        Located {
            file: self.name.clone(),
            line,
            column,
            severity: d.severity,
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }

    /// Renders a diagnostic the way compilers do.
    pub fn render(&self, d: &Diagnostic) -> String {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = String::new();
        let Some(span) = &d.span else {
            let _ = writeln!(out, "{}: {severity}: {}", self.name, d.message);
            if let Some(help) = &d.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            return out;
        };
        let (line, col) = self.line_col(span.start);
        let _ = writeln!(out, "{}:{line}:{col}: {severity}: {}", self.name, d.message);
        let text = self.line_text(line);
        let gutter = " ".repeat(line.to_string().len());
        // The caret covers the span up to the end of its first line, at least one column.
        let line_end = self.line_starts[line - 1] + text.len();
        // A span may start past the shown text (on the `\r` of a CRLF or lone-CR line end).
        let start = self.floor_char_boundary(span.start.min(line_end));
        let end = self.floor_char_boundary(span.end.clamp(start, line_end.max(start)));
        let width = self.text[start..end].chars().count().max(1);
        let indent: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(out, "{gutter} | {indent}{}", "^".repeat(width));
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{gutter} = help: {help}");
        }
        out
    }
}

/// The closest candidate to a misspelt name, if one is close enough to suggest.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(dist, c)| *dist <= 2.max(c.len() / 3) && *dist < c.len().max(name.len()))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let file = SourceFile::new("p.yaml", "a: 1\n  chain: checksum | gzp(level = 6)\n");
        let start = file.text.find("gzp").unwrap();
        let d = Diagnostic::error(
            "unknown stage `gzp`; did you mean `gzip`?",
            Some(start..start + 3),
        );
        assert_eq!(
            file.render(&d),
            "p.yaml:2:21: error: unknown stage `gzp`; did you mean `gzip`?\n  |\n2 |   chain: checksum | gzp(level = 6)\n  |                     ^^^\n"
        );
        let located = file.locate(&d);
        assert_eq!((located.line, located.column), (2, 21));
    }

    #[test]
    fn columns_count_characters() {
        let file = SourceFile::new("p.yaml", "é: ü x\n");
        let x = file.text.find('x').unwrap();
        assert_eq!(file.line_col(x), (1, 6));
        assert_eq!(file.line_col(1000), (2, 1));
    }

    /// Found by the `pipeline_yaml` fuzz target: a span on the `\r` of a line made `clamp` panic.
    #[test]
    fn regression_span_on_a_carriage_return_renders() {
        let file = SourceFile::new("p.yaml", "?\n\rrs\r\r\r");
        for start in 0..file.text.len() {
            for end in start..=file.text.len() {
                let _ = file.render(&Diagnostic::error("x", Some(start..end)));
            }
        }
        let loaded = crate::config::load_str("?\n\rrs\r\r\r", std::path::Path::new("p.yaml"));
        for d in &loaded.diagnostics {
            let _ = loaded.source.render(d);
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("gzp", ["gzip", "gunzip", "write"]),
            Some("gzip")
        );
        assert_eq!(did_you_mean("chunck", ["chunk", "workers"]), Some("chunk"));
        assert_eq!(did_you_mean("zzzzzz", ["gzip", "upper"]), None);
    }
}
