//! Parses chain text into the AST with pest, and turns pest's failures into messages in the
//! user's words ("expected a stage name"), each with the byte span it is about.

use super::ast::{Arg, Chain, Span, StageCall, Value, ValueKind};
use crate::units::{parse_duration, parse_size};
use pest::Parser as _;
use pest::iterators::Pair;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "../grammar/chain.pest"]
struct ChainParser;

/// A syntax error in a chain, with its span in the chain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl ParseError {
    fn new(message: impl Into<String>, span: Span) -> Self {
        ParseError {
            message: message.into(),
            span,
            help: None,
        }
    }
}

/// Parses one chain. Syntax errors stop at the first; value errors (bad escapes, numbers out of
/// range) are all collected.
pub fn parse_chain(text: &str) -> Result<Chain, Vec<ParseError>> {
    if text.trim().is_empty() || only_comments(text) {
        return Err(vec![
            ParseError::new("the chain is empty", Span::new(0, text.len().min(1))).with_help(
                "write stages separated by `|`, ending in a writer, e.g. `gzip | write(\"out/{name}.gz\")`",
            ),
        ]);
    }
    if let Some(e) = too_large(text) {
        return Err(vec![e]);
    }
    pest::set_error_detail(true);
    let mut pairs = ChainParser::parse(Rule::chain, text).map_err(|e| vec![convert(text, e)])?;
    let chain = pairs.next().and_then(|p| p.into_inner().next());
    let Some(pipeline) = chain else {
        return Err(vec![ParseError::new("the chain is empty", Span::new(0, 0))]);
    };
    let mut errors = Vec::new();
    let chain = build_pipeline(pipeline, &mut errors);
    if errors.is_empty() {
        Ok(chain)
    } else {
        Err(errors)
    }
}

impl ParseError {
    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The most stages a chain may have, nested ones included.
pub const MAX_STAGES: usize = 256;
/// The deepest nesting of parentheses (`tee(... tee(...) ...)`) a chain may have.
pub const MAX_DEPTH: usize = 32;

/// A chain too large to run: more than [`MAX_STAGES`] stages or parentheses nested deeper than
/// [`MAX_DEPTH`]. Checked on the text (outside strings and comments) before parsing, so that
/// neither the parser nor the run can exhaust the stack on a pathological chain.
fn too_large(text: &str) -> Option<ParseError> {
    let (mut depth, mut stages) = (0usize, 1usize);
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                // Skip the string, escapes included (an unterminated one is the parser's to report).
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(
                        ParseError::new(
                            format!("the chain nests deeper than {MAX_DEPTH} levels"),
                            Span::new(i, i + 1),
                        )
                        .with_help("nest fewer `tee(...)` branches"),
                    );
                }
            }
            ')' => depth = depth.saturating_sub(1),
            '|' => {
                stages += 1;
                if stages > MAX_STAGES {
                    return Some(
                        ParseError::new(
                            format!("the chain has more than {MAX_STAGES} stages"),
                            Span::new(i, i + 1),
                        )
                        .with_help("split the work into several jobs"),
                    );
                }
            }
            _ => {}
        }
    }
    None
}

fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    })
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn build_pipeline(pair: Pair<'_, Rule>, errors: &mut Vec<ParseError>) -> Chain {
    let span = span_of(&pair);
    let stages = pair
        .into_inner()
        .map(|p| match p.as_rule() {
            // The first stage of a nested chain such as `upper | write("x")` is a bare name.
            Rule::ident => StageCall {
                name: p.as_str().to_owned(),
                name_span: span_of(&p),
                args: Vec::new(),
                span: span_of(&p),
            },
            _ => build_stage(p, errors),
        })
        .collect();
    Chain { stages, span }
}

fn build_stage(pair: Pair<'_, Rule>, errors: &mut Vec<ParseError>) -> StageCall {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let ident = inner.next().expect("grammar: a stage starts with its name");
    let args = inner
        .next()
        .map(|args| args.into_inner().map(|a| build_arg(a, errors)).collect())
        .unwrap_or_default();
    StageCall {
        name: ident.as_str().to_owned(),
        name_span: span_of(&ident),
        args,
        span,
    }
}

fn build_arg(pair: Pair<'_, Rule>, errors: &mut Vec<ParseError>) -> Arg {
    let span = span_of(&pair);
    let inner = pair
        .into_inner()
        .next()
        .expect("grammar: an argument has content");
    match inner.as_rule() {
        Rule::named => {
            let mut parts = inner.into_inner();
            let key = parts.next().expect("grammar: a named argument has a name");
            let value = parts.next().expect("grammar: a named argument has a value");
            Arg {
                name: Some((key.as_str().to_owned(), span_of(&key))),
                value: build_value(value, errors),
                span,
            }
        }
        _ => Arg {
            name: None,
            value: build_value(inner, errors),
            span,
        },
    }
}

fn build_value(pair: Pair<'_, Rule>, errors: &mut Vec<ParseError>) -> Value {
    let span = span_of(&pair);
    let inner = pair
        .into_inner()
        .next()
        .expect("grammar: a value has content");
    let text = inner.as_str();
    let kind = match inner.as_rule() {
        Rule::string => {
            let body = inner
                .into_inner()
                .next()
                .expect("grammar: a string has a body");
            ValueKind::Str(unescape(body.as_str(), body.as_span().start(), errors))
        }
        Rule::integer => match text.parse::<i64>() {
            Ok(n) => ValueKind::Int(n),
            Err(_) => {
                errors.push(ParseError::new(
                    format!("integer `{text}` is out of range"),
                    span,
                ));
                ValueKind::Int(0)
            }
        },
        Rule::size => match parse_size(text) {
            Ok(n) => ValueKind::Size(n),
            Err(message) => {
                errors.push(ParseError::new(message, span));
                ValueKind::Size(0)
            }
        },
        Rule::duration => match parse_duration(text) {
            Ok(d) => ValueKind::Duration(d),
            Err(message) => {
                errors.push(ParseError::new(message, span));
                ValueKind::Duration(Default::default())
            }
        },
        Rule::nested => ValueKind::Chain(build_pipeline(inner, errors)),
        _ => ValueKind::Ident(text.to_owned()),
    };
    Value { kind, span }
}

/// Resolves `\"` and `\\`; any other escape is an error at its exact position.
fn unescape(body: &str, offset: usize, errors: &mut Vec<ParseError>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, e @ ('"' | '\\'))) => out.push(e),
            Some((j, other)) => {
                errors.push(
                    ParseError::new(
                        format!("unknown escape `\\{other}` in a string"),
                        Span::new(offset + i, offset + j + other.len_utf8()),
                    )
                    .with_help("strings know two escapes: `\\\"` and `\\\\`"),
                );
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// How a rule reads in a message.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::pipeline | Rule::stage | Rule::stage_call => "a stage",
        Rule::ident => "a name",
        Rule::arg | Rule::named | Rule::value | Rule::nested => "a value",
        Rule::string | Rule::inner => "a string",
        Rule::integer | Rule::size | Rule::duration => "a number",
        _ => return None,
    })
}

fn convert(text: &str, e: pest::error::Error<Rule>) -> ParseError {
    use pest::error::InputLocation;
    let (pos, mut expected) = match e.parse_attempts() {
        Some(attempts) => {
            let mut names: Vec<String> = Vec::new();
            for stack in &attempts.call_stacks {
                let rule = stack.deepest.get_rule().copied().or(stack.parent);
                if let Some(name) = rule.and_then(rule_name) {
                    names.push(name.to_owned());
                }
            }
            for token in attempts.expected_tokens() {
                let token = token.to_string();
                if matches!(token.as_str(), "|" | "," | "(" | ")" | "=") {
                    names.push(format!("`{token}`"));
                }
            }
            (attempts.max_position, names)
        }
        None => match e.location {
            InputLocation::Pos(p) => (p, Vec::new()),
            InputLocation::Span((s, _)) => (s, Vec::new()),
        },
    };
    expected.sort_by_key(|n| (n.starts_with('`'), n.clone()));
    expected.dedup();
    if expected.iter().any(|n| n == "a value") {
        expected.retain(|n| !matches!(n.as_str(), "a string" | "a number" | "a name" | "a stage"));
    }
    if expected.iter().any(|n| n == "`)`" || n == "`|`") {
        // A number or name that could have gone on (`6` -> `6KiB`) is noise next to punctuation.
        expected.retain(|n| n.starts_with('`') || n == "a value");
    }
    let rest = &text[pos..];
    let found = describe_found(rest);
    let width = rest.chars().next().map_or(0, char::len_utf8);
    let span = Span::new(pos, pos + width);
    if let Some(open) = open_quote(text) {
        return ParseError::new("unterminated string", Span::new(open, open + 1))
            .with_help("add the closing `\"`");
    }
    let before = text[..pos].trim_end();
    if expected == ["a name"] && (before.is_empty() || before.ends_with('|')) {
        expected = vec!["a stage".to_owned()];
    }
    let pipe = expected.iter().any(|n| n == "`|`");
    if pipe && rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '"') {
        return ParseError::new(format!("expected `|` between stages, found {found}"), span)
            .with_help("stages are separated by `|`");
    }
    if pipe && rest.starts_with([')', ',']) {
        return ParseError::new(format!("unexpected {found}"), span)
            .with_help("this closes nothing: check the parentheses");
    }
    let mut err = if expected.is_empty() {
        ParseError::new(format!("unexpected {found}"), span)
    } else {
        ParseError::new(
            format!("expected {}, found {found}", join_or(&expected)),
            span,
        )
    };
    if rest.is_empty() && expected.iter().any(|n| n == "`)`") {
        err.help = Some("an argument list is not closed: add `)`".to_owned());
    }
    // `1kib`, `64 kb`: digits, then a unit that is not one (units are case-sensitive).
    if before.ends_with(|c: char| c.is_ascii_digit()) && rest.starts_with(char::is_alphabetic) {
        err.help = Some(
            "a size is digits and one of B, KiB, MiB, GiB, TiB, kB, MB, GB, TB (`64KiB`); a \
             duration digits and one of ms, s, m, h (`500ms`); units are case-sensitive"
                .to_owned(),
        );
    }
    err
}

/// The start of a string literal that is never closed, if the text has one.
fn open_quote(text: &str) -> Option<usize> {
    let mut open = None;
    let mut comment = false;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match (open, c) {
            (None, _) if comment => comment = c != '\n',
            (None, '#') => comment = true,
            (None, '"') => open = Some(i),
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(_), '"') => open = None,
            _ => {}
        }
    }
    open
}

fn describe_found(rest: &str) -> String {
    match rest.chars().next() {
        None => "the end of the chain".to_owned(),
        Some('\n') => "the end of the line".to_owned(),
        Some(c) => format!("`{c}`"),
    }
}

fn join_or(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Chain {
        parse_chain(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn a_unit_in_the_wrong_case_gets_the_list_of_units() {
        let e = parse_chain("gunzip(max_size = 1kib) | write(\"o/{name}\")").unwrap_err();
        let help = e[0].help.as_deref().unwrap_or_default();
        assert!(
            help.contains("KiB") && help.contains("case-sensitive"),
            "{e:?}"
        );
    }

    #[test]
    fn chains_too_large_to_run_are_refused_before_parsing() {
        let long = format!("{}write(\"o/{{name}}\")", "upper | ".repeat(MAX_STAGES));
        let e = parse_chain(&long).unwrap_err();
        assert_eq!(
            e[0].message,
            format!("the chain has more than {MAX_STAGES} stages")
        );
        ok(&format!(
            "{}write(\"o/{{name}}\")",
            "upper | ".repeat(MAX_STAGES - 1)
        ));

        let nested = |n: usize| {
            format!(
                "{}write(\"o/{{name}}\"){} | write(\"p/{{name}}\")",
                "tee(".repeat(n),
                ")".repeat(n)
            )
        };
        let e = parse_chain(&nested(4000)).unwrap_err();
        assert_eq!(
            e[0].message,
            format!("the chain nests deeper than {MAX_DEPTH} levels")
        );
        ok(&nested(MAX_DEPTH - 1)); // and `write(` is one more level
        // Parentheses and bars in strings and comments do not count.
        let text = format!(
            "upper # {} \n | write(\"o/{}{{name}}\")",
            "(|".repeat(300),
            "(|".repeat(300)
        );
        assert!(
            !parse_chain(&text)
                .err()
                .into_iter()
                .flatten()
                .any(|e| e.message.contains("more than") || e.message.contains("deeper"))
        );
    }

    #[test]
    fn parses_the_flagship_chain() {
        let src = r#"checksum(sha256, sidecar = "../out/sums/{name}.sha256")
              | tee("../out/plain/{name}") | upper | gzip(level = 6)
              | multiwrite("a/{name}.gz", "b/{date}/{name}.gz")"#;
        let c = ok(src);
        let names: Vec<_> = c.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["checksum", "tee", "upper", "gzip", "multiwrite"]);
        assert_eq!(
            c.stages[0].args[0].value.kind,
            ValueKind::Ident("sha256".into())
        );
        assert_eq!(c.stages[0].args[1].name.as_ref().unwrap().0, "sidecar");
        assert_eq!(c.stages[3].args[0].value.kind, ValueKind::Int(6));
        let at = src.find("upper").unwrap();
        assert_eq!(c.stages[2].name_span, Span::new(at, at + 5));
    }

    #[test]
    fn values_and_nested_chains() {
        let c = ok(
            r#"gunzip(max_size = 1GiB) | tee(gzip(level = 9) | write("raw/{name}.gz")) | x(5s, -3, "a\"b\\c", upper()) # trailing comment"#,
        );
        assert_eq!(c.stages[0].args[0].value.kind, ValueKind::Size(1 << 30));
        let ValueKind::Chain(nested) = &c.stages[1].args[0].value.kind else {
            panic!("tee takes a chain")
        };
        assert_eq!(nested.stages.len(), 2);
        let args: Vec<_> = c.stages[2]
            .args
            .iter()
            .map(|a| a.value.kind.clone())
            .collect();
        assert_eq!(
            args[0],
            ValueKind::Duration(std::time::Duration::from_secs(5))
        );
        assert_eq!(args[1], ValueKind::Int(-3));
        assert_eq!(args[2], ValueKind::Str("a\"b\\c".into()));
        assert!(matches!(args[3], ValueKind::Chain(_)));
    }

    /// name, input, expected message, expected span.
    #[test]
    fn syntax_errors_have_exact_positions() {
        let cases: &[(&str, &str, &str, (usize, usize))] = &[
            ("empty", "   ", "the chain is empty", (0, 1)),
            (
                "missing pipe",
                "upper write(\"x\")",
                "expected `|` between stages, found `w`",
                (6, 7),
            ),
            (
                "dangling pipe",
                "upper |",
                "expected a stage, found the end of the chain",
                (7, 7),
            ),
            (
                "double pipe",
                "upper || write(\"x\")",
                "expected a stage, found `|`",
                (7, 8),
            ),
            (
                "unclosed paren",
                "gzip(level = 6",
                "expected `)` or `,`, found the end of the chain",
                (14, 14),
            ),
            (
                "missing value",
                "gzip(level = )",
                "expected a value, found `)`",
                (13, 14),
            ),
            (
                "unterminated string",
                "write(\"out/{name}",
                "unterminated string",
                (6, 7),
            ),
            (
                "bad escape",
                "write(\"a\\nb\")",
                "unknown escape `\\n` in a string",
                (8, 10),
            ),
            (
                "stray close",
                "upper) | write(\"x\")",
                "unexpected `)`",
                (5, 6),
            ),
            ("digit name", "9gzip", "expected a stage, found `9`", (0, 1)),
            (
                "huge integer",
                "gzip(level = 99999999999999999999)",
                "integer `99999999999999999999` is out of range",
                (13, 33),
            ),
        ];
        for (name, input, message, (start, end)) in cases {
            let errors = parse_chain(input).expect_err(name);
            assert_eq!(errors[0].message, *message, "{name}");
            assert_eq!(
                errors[0].span,
                Span::new(*start, *end),
                "{name}: {}",
                errors[0].message
            );
        }
    }

    #[test]
    fn printing_is_canonical() {
        let c = ok("tee( upper() |write( \"x\" ) )|gzip(level=6,)|write(\"y\")");
        assert_eq!(
            c.to_string(),
            "tee(upper | write(\"x\")) | gzip(level = 6) | write(\"y\")"
        );
        assert_eq!(ok(&c.to_string()).without_spans(), c.without_spans());
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-z_][a-z0-9_]{0,6}"
    }

    fn value(depth: u32) -> BoxedStrategy<ValueKind> {
        let leaf = prop_oneof![
            "[ -~éπ\"\\\\]{0,12}".prop_map(ValueKind::Str),
            any::<i64>().prop_map(ValueKind::Int),
            (0u64..1 << 40).prop_map(ValueKind::Size),
            (0u64..100_000_000)
                .prop_map(|ms| ValueKind::Duration(std::time::Duration::from_millis(ms))),
            name().prop_map(ValueKind::Ident),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        prop_oneof![4 => leaf, 1 => chain(depth - 1).prop_map(ValueKind::Chain)].boxed()
    }

    fn chain(depth: u32) -> BoxedStrategy<Chain> {
        let arg = (proptest::option::of(name()), value(depth)).prop_map(|(n, v)| Arg {
            name: n.map(|n| (n, Span::default())),
            value: Value {
                kind: v,
                span: Span::default(),
            },
            span: Span::default(),
        });
        let stage =
            (name(), proptest::collection::vec(arg, 0..4)).prop_map(|(name, args)| StageCall {
                name,
                name_span: Span::default(),
                args,
                span: Span::default(),
            });
        proptest::collection::vec(stage, 1..4)
            .prop_map(|stages| Chain {
                stages,
                span: Span::default(),
            })
            .boxed()
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_tree(c in chain(2)) {
            let text = c.to_string();
            let parsed = parse_chain(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
            prop_assert_eq!(parsed.without_spans(), c, "{}", text);
        }

        #[test]
        fn any_text_parses_or_fails_cleanly(text in "\\PC{0,40}") {
            if let Err(errors) = parse_chain(&text) {
                for e in errors {
                    prop_assert!(e.span.start <= e.span.end && e.span.end <= text.len());
                    prop_assert!(text.is_char_boundary(e.span.start));
                }
            }
        }
    }
}
