//! The JSON Schema of pipeline files, embedded in the binary, and the mapping of its failures to
//! diagnostics that point at the offending key or value.

use super::yaml::Node;
use crate::diagnostic::{Diagnostic, did_you_mean};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value as Json;
use std::sync::OnceLock;

/// `schemas/pipeline.schema.json`, byte for byte (`runner schema` prints it).
pub const SCHEMA: &str = include_str!("../../schemas/pipeline.schema.json");

fn schema() -> &'static Json {
    static SCHEMA_JSON: OnceLock<Json> = OnceLock::new();
    SCHEMA_JSON.get_or_init(|| {
        serde_json::from_str(SCHEMA).expect("the embedded schema is valid JSON (a test checks it)")
    })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(schema())
            .expect("the embedded schema compiles (a test checks it)")
    })
}

/// Checks a document against the schema; one diagnostic per failure, at the failing node.
pub fn check(root: &Node, file: &str) -> Vec<Diagnostic> {
    let instance = root.to_json();
    let mut out: Vec<Diagnostic> = Vec::new();
    for error in validator().iter_errors(&instance) {
        let pointer = error.instance_path().as_str().to_owned();
        let node = root.pointer(&pointer).unwrap_or(root);
        let key = pointer
            .rsplit('/')
            .find(|k| k.parse::<usize>().is_err())
            .filter(|k| !k.is_empty())
            .map(unescape);
        let what = key
            .as_deref()
            .map_or(String::new(), |k| format!(" for `{k}`"));
        let diag = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let span = node
                        .entry(name)
                        .map(|(k, _)| k.span.clone())
                        .unwrap_or(node.span.clone());
                    let known = known_keys(&pointer);
                    let mut d = Diagnostic::error(format!("unknown key `{name}`"), Some(span));
                    if let Some(s) = did_you_mean(name, known.iter().map(String::as_str)) {
                        d.message.push_str(&format!("; did you mean `{s}`?"));
                    } else if !known.is_empty() {
                        d = d.with_help(format!("keys here: {}", known.join(", ")));
                    }
                    out.push(d);
                }
                continue;
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let span = key_span(root, &pointer).unwrap_or(node.span.start..node.span.start + 1);
                let place = key
                    .as_deref()
                    .map_or("the pipeline".to_owned(), |k| format!("`{k}`"));
                Diagnostic::error(
                    format!("{place} is missing the required key `{name}`"),
                    Some(span),
                )
            }
            ValidationErrorKind::Type { kind } => Diagnostic::error(
                format!(
                    "expected {}{what}, found {}",
                    type_name(&format!("{kind:?}")),
                    describe(node)
                ),
                Some(node.span.clone()),
            ),
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| o.as_str().map_or(o.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let found = node.as_str().unwrap_or_default();
                let mut d = Diagnostic::error(
                    format!(
                        "{}{what} is not one of: {}",
                        describe(node),
                        options.join(", ")
                    ),
                    Some(node.span.clone()),
                );
                if let Some(s) = did_you_mean(found, options.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                d
            }
            ValidationErrorKind::Constant { expected_value } if pointer == "/version" => {
                match node.to_json() {
                    // `version: "1"`: the right digits, quoted.
                    Json::String(s) if s == expected_value.to_string() => Diagnostic::error(
                        format!(
                            "version must be the number {expected_value}, not the string \"{s}\""
                        ),
                        Some(node.span.clone()),
                    )
                    .with_help(format!("write `version: {expected_value}`, without quotes")),
                    _ => Diagnostic::error(
                        format!(
                            "unsupported version {}: this runner reads version {expected_value}",
                            describe(node)
                        ),
                        Some(node.span.clone()),
                    ),
                }
            }
            ValidationErrorKind::Pattern { pattern } => {
                let text = node.as_str().unwrap_or_default();
                let message = literal_error(pattern, text);
                Diagnostic::error(
                    message.unwrap_or_else(|| error.to_string()),
                    Some(node.span.clone()),
                )
            }
            ValidationErrorKind::PropertyNames { .. } => {
                for (k, _) in map_entries(node) {
                    let name = k.as_str().unwrap_or_default();
                    if !is_identifier(name) {
                        out.push(
                            Diagnostic::error(format!("job name `{name}` is not an identifier"), Some(k.span.clone()))
                                .with_help("job names are letters, digits, `_` and `-`, starting with a letter or `_`"),
                        );
                    }
                }
                continue;
            }
            ValidationErrorKind::MinProperties { .. } if pointer == "/jobs" => {
                Diagnostic::error("the pipeline has no jobs", Some(node.span.clone()))
            }
            ValidationErrorKind::Minimum { limit } => Diagnostic::error(
                format!("{}{what} is below the minimum {limit}", describe(node)),
                Some(node.span.clone()),
            ),
            ValidationErrorKind::Maximum { limit } => Diagnostic::error(
                format!("{}{what} is above the maximum {limit}", describe(node)),
                Some(node.span.clone()),
            ),
            ValidationErrorKind::MinLength { .. } => Diagnostic::error(
                format!("the value{what} must not be empty"),
                Some(node.span.clone()),
            ),
            ValidationErrorKind::UniqueItems => Diagnostic::error(
                format!("the list{what} names a value twice"),
                Some(node.span.clone()),
            ),
            ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
                let at = schema_at(error.schema_path().as_str());
                let literal = at
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|alt| resolve(alt).get("pattern").and_then(Json::as_str))
                    .find_map(|pattern| literal_error(pattern, node.as_str()?));
                if let Some(d) = at.and_then(|alts| one_key_problem(alts, node)) {
                    out.push(d);
                    continue;
                }
                let message = match (literal, at.and_then(alternatives)) {
                    (Some(m), _) => m,
                    (None, Some(c)) => {
                        format!("expected {c}{what}, found {}", describe_short(node))
                    }
                    (None, None) => format!("{}{what} is not valid here", describe_short(node)),
                };
                Diagnostic::error(message, Some(node.span.clone()))
            }
            _ => Diagnostic::error(error.to_string(), Some(node.span.clone())),
        };
        out.push(diag);
    }
    let _ = file;
    out.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    out.dedup();
    out
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The span of the key under which the node at `pointer` sits in its parent mapping.
fn key_span(root: &Node, pointer: &str) -> Option<std::ops::Range<usize>> {
    let (parent, key) = pointer.rsplit_once('/')?;
    let parent = root.pointer(parent)?;
    parent.entry(&unescape(key)).map(|(k, _)| k.span.clone())
}

fn map_entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        super::yaml::Value::Map(entries) => entries,
        _ => &[],
    }
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn type_name(kind: &str) -> String {
    let lower = kind.to_lowercase();
    let pick = |t: &str| match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "nothing",
        _ => "a value",
    };
    let names: Vec<&str> = [
        "string", "integer", "number", "boolean", "array", "object", "null",
    ]
    .into_iter()
    .filter(|t| lower.contains(t))
    .map(pick)
    .collect();
    match names.as_slice() {
        [] => "a value".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The node as the user sees it: "the string `abc`", "a list".
fn describe(node: &Node) -> String {
    match node.to_json() {
        Json::String(s) => format!("`{s}`"),
        Json::Number(n) => format!("`{n}`"),
        Json::Bool(b) => format!("`{b}`"),
        Json::Null => "nothing".to_owned(),
        Json::Array(_) => "a list".to_owned(),
        Json::Object(_) => "a mapping".to_owned(),
    }
}

/// Walks the schema along an instance pointer (following `$ref`, `properties` and
/// `additionalProperties`) to the keys allowed at that place.
fn known_keys(pointer: &str) -> Vec<String> {
    let mut at = resolve(schema());
    for seg in pointer.split('/').skip(1) {
        let seg = unescape(seg);
        let next = at
            .get("properties")
            .and_then(|p| p.get(&seg))
            .or_else(|| at.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| at.get("items"))
            .or_else(|| {
                at.get("oneOf")?
                    .as_array()?
                    .iter()
                    .map(resolve)
                    .find_map(|alt| alt.get("properties").and_then(|p| p.get(&seg)))
            });
        match next {
            Some(n) => at = resolve(n),
            None => return Vec::new(),
        }
    }
    let mut keys: Vec<String> = std::iter::once(at)
        .chain(
            at.get("oneOf")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .map(resolve),
        )
        .filter_map(|s| s.get("properties").and_then(Json::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    keys.dedup();
    keys
}

fn resolve(mut node: &Json) -> &Json {
    for _ in 0..8 {
        let Some(target) = node
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match schema().pointer(target) {
            Some(t) => node = t,
            None => break,
        }
    }
    node
}

/// The schema node at a schema path as jsonschema reports it (a `$ref` segment follows the ref).
fn schema_at(path: &str) -> Option<&'static Json> {
    let mut at = schema();
    for seg in path.split('/').skip(1) {
        at = if seg == "$ref" {
            resolve(at)
        } else {
            let seg = unescape(seg);
            match at {
                Json::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => at.get(&seg)?,
            }
        };
    }
    Some(at)
}

/// Explains a string that fails the size or duration pattern, in the words of the parsers.
fn literal_error(pattern: &str, text: &str) -> Option<String> {
    // The parsers are a little more lenient than the schema (spacing): what they take but the
    // schema does not still gets a message about the literal.
    if pattern.contains("KiB") {
        Some(crate::units::parse_size(text).err().unwrap_or_else(|| {
            format!("invalid size `{text}`: write it like 512, 64KiB, 10MiB or 1GiB")
        }))
    } else if pattern.contains("ms|") {
        Some(crate::units::parse_duration(text).err().unwrap_or_else(|| {
            format!("invalid duration `{text}`: write it like 250ms, 5s, 2m or 1h")
        }))
    } else {
        None
    }
}

/// A one-key mapping (`{move: ""}`) whose key one of the alternatives takes, but whose value is
/// wrong: said of the value, not of the whole mapping.
fn one_key_problem(alts: &Json, node: &Node) -> Option<Diagnostic> {
    let crate::config::yaml::Value::Map(entries) = &node.value else {
        return None;
    };
    let [(key, value)] = entries.as_slice() else {
        return None;
    };
    let name = key.as_str()?;
    let takes = alts.as_array()?.iter().map(resolve).any(|alt| {
        alt.get("properties")
            .and_then(Json::as_object)
            .is_some_and(|p| p.contains_key(name))
    });
    if !takes {
        return None;
    }
    let message = match value.to_json() {
        Json::String(s) if s.trim().is_empty() => {
            format!("`{name}` needs a directory, found an empty string")
        }
        Json::String(_) => return None,
        _ => format!("`{name}` takes a directory path, found {}", describe(value)),
    };
    Some(Diagnostic::error(message, Some(value.span.clone())))
}

/// As [`describe`], but a mapping of one key shows that key: `{quarantine: ...}`.
fn describe_short(node: &Node) -> String {
    if let crate::config::yaml::Value::Map(entries) = &node.value
        && let [(key, _)] = entries.as_slice()
        && let Some(k) = key.as_str()
    {
        return format!("`{{{k}: ...}}`");
    }
    describe(node)
}

/// The alternatives of a `oneOf`/`anyOf` as the user writes them: `keep`, `{move: ...}`.
fn alternatives(alts: &Json) -> Option<String> {
    let mut names = Vec::new();
    for alt in alts.as_array()?.iter().map(resolve) {
        if let Some(c) = alt.get("const").and_then(Json::as_str) {
            names.push(format!("`{c}`"));
        } else if let Some(e) = alt.get("enum").and_then(Json::as_array) {
            names.extend(e.iter().filter_map(Json::as_str).map(|s| format!("`{s}`")));
        } else if let Some(props) = alt.get("properties").and_then(Json::as_object) {
            names.extend(props.keys().map(|k| format!("`{{{k}: ...}}`")));
        }
    }
    Some(match names.as_slice() {
        [] => return None,
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_compiles_and_documents_every_property() {
        let _ = validator();
        fn walk(node: &Json, path: &str, missing: &mut Vec<String>) {
            if let Some(props) = node.get("properties").and_then(Json::as_object) {
                for (k, v) in props {
                    if v.get("description").is_none() {
                        missing.push(format!("{path}/{k}"));
                    }
                    walk(v, &format!("{path}/{k}"), missing);
                }
            }
            for key in ["$defs", "items", "additionalProperties", "oneOf", "anyOf"] {
                match node.get(key) {
                    Some(Json::Object(map)) if key == "$defs" => map
                        .iter()
                        .for_each(|(k, v)| walk(v, &format!("{path}/$defs/{k}"), missing)),
                    Some(Json::Array(items)) => items.iter().for_each(|v| walk(v, path, missing)),
                    Some(v @ Json::Object(_)) => walk(v, path, missing),
                    _ => {}
                }
            }
        }
        let mut missing = Vec::new();
        walk(schema(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "properties without a description: {missing:?}"
        );
    }

    #[test]
    fn known_keys_follow_refs() {
        assert!(known_keys("").contains(&"chunk".to_owned()));
        assert!(known_keys("/jobs/etl/source").contains(&"follow_symlinks".to_owned()));
        assert!(known_keys("/logger/rotate").contains(&"max_size".to_owned()));
    }
}

#[cfg(test)]
mod literal_tests {
    use super::*;

    #[test]
    fn a_size_or_duration_the_schema_refuses_gets_a_message_about_the_literal() {
        let size = r"^[0-9]+ ?(B|KiB)$";
        assert_eq!(
            literal_error(size, "64  KiB").as_deref(),
            Some("invalid size `64  KiB`: write it like 512, 64KiB, 10MiB or 1GiB")
        );
        assert!(
            literal_error(size, "64kib")
                .unwrap()
                .contains("unknown unit")
        );
        assert!(
            literal_error(r"^[0-9]+(ms|s)$", "5  s")
                .unwrap()
                .starts_with("invalid duration")
        );
        assert_eq!(literal_error("^[a-z]+$", "x"), None);
    }
}
