//! Turns a parsed chain into stages with typed arguments, checking the semantic rules of SPEC
//! section 3: known stages and arguments, value types and ranges, writers last, templates valid.

use super::template::Template;
use crate::diagnostic::did_you_mean;
use crate::dsl::{Arg, Chain, Span, StageCall, Value, ValueKind};
use crate::stage::{CaseMode, ChecksumAlgo};
use std::path::Path;

/// Default `gunzip` guard against decompression bombs.
pub const DEFAULT_MAX_SIZE: u64 = 64 << 30;

/// The stage names, for suggestions and docs.
pub const STAGES: [&str; 8] = [
    "checksum",
    "upper",
    "lower",
    "gzip",
    "gunzip",
    "tee",
    "write",
    "multiwrite",
];

/// A validated chain: stages in order, the last one a writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPlan {
    pub stages: Vec<StagePlan>,
}

/// One validated stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagePlan {
    Checksum {
        algo: ChecksumAlgo,
        sidecar: Option<Template>,
    },
    Case {
        upper: bool,
        mode: CaseMode,
    },
    Gzip {
        level: u32,
    },
    Gunzip {
        max_size: u64,
    },
    Tee(ChainPlan),
    Write(Template),
    MultiWrite(Vec<Template>),
}

impl StagePlan {
    pub fn is_writer(&self) -> bool {
        matches!(self, StagePlan::Write(_) | StagePlan::MultiWrite(_))
    }
}

/// A semantic error, with its span in the chain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl ChainError {
    fn new(message: impl Into<String>, span: Span) -> Self {
        ChainError {
            message: message.into(),
            span,
            help: None,
        }
    }
    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Compiles a parsed chain. `text` is the chain text the spans point into; templates resolve
/// against `base`. Every error is collected.
pub fn compile(chain: &Chain, text: &str, base: &Path) -> Result<ChainPlan, Vec<ChainError>> {
    let mut c = Compiler {
        text,
        base,
        errors: Vec::new(),
        outputs: Vec::new(),
    };
    let plan = c.chain(chain);
    if c.errors.is_empty() {
        Ok(plan)
    } else {
        Err(c.errors)
    }
}

struct Compiler<'a> {
    text: &'a str,
    base: &'a Path,
    errors: Vec<ChainError>,
    /// Output paths seen so far (resolved, placeholders kept), to refuse two writers on one path.
    outputs: Vec<(std::path::PathBuf, String)>,
}

/// The arguments of one call, bound to parameter names.
struct Bound<'c> {
    values: Vec<(&'static str, &'c Value)>,
}

impl<'c> Bound<'c> {
    fn get(&self, name: &str) -> Option<&'c Value> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

impl Compiler<'_> {
    fn chain(&mut self, chain: &Chain) -> ChainPlan {
        let mut stages = Vec::new();
        let mut writer: Option<&StageCall> = None;
        let mut reported = false;
        for call in &chain.stages {
            if let Some(w) = writer.filter(|_| !reported) {
                reported = true;
                self.errors.push(
                    ChainError::new(
                        format!("stage `{}` comes after the writer `{}`", call.name, w.name),
                        call.name_span,
                    )
                    .help("a writer ends its chain: use `tee(...)` to write a copy and go on"),
                );
            }
            if let Some(stage) = self.stage(call) {
                if stage.is_writer() {
                    writer.get_or_insert(call);
                }
                stages.push(stage);
            } else if matches!(call.name.as_str(), "write" | "multiwrite") {
                writer.get_or_insert(call);
            }
        }
        if writer.is_none() {
            let end = chain.span.end;
            let last = chain.stages.last().map_or(Span::new(end, end), |s| s.span);
            self.errors.push(
                ChainError::new("the chain does not end in a writer", last)
                    .help("end it with `write(\"DIR/{name}\")` or `multiwrite(\"A/{name}\", \"B/{name}\")`"),
            );
        }
        ChainPlan { stages }
    }

    fn stage(&mut self, call: &StageCall) -> Option<StagePlan> {
        let stage = match call.name.as_str() {
            "checksum" => {
                let args = self.bind(call, &["algo", "sidecar"], 2)?;
                let algo = match args.get("algo") {
                    None => ChecksumAlgo::Sha256,
                    Some(v) => self.algo(v)?,
                };
                let sidecar = match args.get("sidecar") {
                    None => None,
                    Some(v) => Some(self.template(v)?),
                };
                StagePlan::Checksum { algo, sidecar }
            }
            "upper" | "lower" => {
                let args = self.bind(call, &["mode"], 1)?;
                let mode = match args.get("mode") {
                    None => CaseMode::Ascii,
                    Some(v) => match self.ident(v, "a mode: `ascii` or `unicode`")? {
                        "ascii" => CaseMode::Ascii,
                        "unicode" => CaseMode::Unicode,
                        other => {
                            let hint = did_you_mean(other, ["ascii", "unicode"])
                                .map_or("modes are `ascii` and `unicode`".to_owned(), |s| {
                                    format!("did you mean `{s}`?")
                                });
                            self.errors.push(
                                ChainError::new(format!("unknown mode `{other}`"), v.span)
                                    .help(hint),
                            );
                            return None;
                        }
                    },
                };
                StagePlan::Case {
                    upper: call.name == "upper",
                    mode,
                }
            }
            "gzip" => {
                let args = self.bind(call, &["level"], 1)?;
                let level = match args.get("level") {
                    None => 6,
                    Some(v) => match v.kind {
                        ValueKind::Int(n @ 0..=9) => n as u32,
                        ValueKind::Int(n) => {
                            self.errors.push(ChainError::new(
                                format!("gzip level {n} is out of range 0..9"),
                                v.span,
                            ));
                            return None;
                        }
                        _ => return self.expected(v, "an integer level 0..9"),
                    },
                };
                StagePlan::Gzip { level }
            }
            "gunzip" => {
                let args = self.bind(call, &["max_size"], 1)?;
                let max_size = match args.get("max_size") {
                    None => DEFAULT_MAX_SIZE,
                    Some(v) => match v.kind {
                        ValueKind::Size(n) if n > 0 => n,
                        ValueKind::Int(n) if n > 0 => n as u64,
                        ValueKind::Size(_) | ValueKind::Int(_) => {
                            self.errors
                                .push(ChainError::new("max_size must be more than 0", v.span));
                            return None;
                        }
                        _ => return self.expected(v, "a size such as 1GiB"),
                    },
                };
                StagePlan::Gunzip { max_size }
            }
            "tee" => {
                let args = self.bind(call, &["to"], 1)?;
                let Some(v) = args.get("to") else {
                    self.errors.push(
                        ChainError::new("`tee` needs a target", call.span).help(
                            "`tee(\"DIR/{name}\")` or `tee(gzip | write(\"DIR/{name}.gz\"))`",
                        ),
                    );
                    return None;
                };
                match &v.kind {
                    ValueKind::Str(_) => StagePlan::Tee(ChainPlan {
                        stages: vec![StagePlan::Write(self.template(v)?)],
                    }),
                    ValueKind::Chain(nested) => {
                        let before = self.errors.len();
                        let plan = self.chain(nested);
                        if self.errors.len() > before {
                            return None;
                        }
                        StagePlan::Tee(plan)
                    }
                    ValueKind::Ident(name) if is_stage(name) => {
                        self.errors.push(
                            ChainError::new(
                                format!("the branch `{name}` does not end in a writer"),
                                v.span,
                            )
                            .help("`tee(STAGE | write(\"DIR/{name}\"))`"),
                        );
                        return None;
                    }
                    _ => return self.expected(v, "an output path or a chain"),
                }
            }
            "write" => {
                let args = self.bind(call, &["path"], 1)?;
                let Some(v) = args.get("path") else {
                    self.errors.push(
                        ChainError::new("`write` needs an output path", call.span)
                            .help("`write(\"DIR/{name}\")`"),
                    );
                    return None;
                };
                StagePlan::Write(self.template(v)?)
            }
            "multiwrite" => {
                let mut templates = Vec::new();
                for arg in &call.args {
                    if let Some((name, span)) = &arg.name {
                        self.errors.push(ChainError::new(
                            format!("`multiwrite` takes output paths only, not `{name} = ...`"),
                            *span,
                        ));
                        continue;
                    }
                    if let Some(t) = self.template(&arg.value) {
                        templates.push(t);
                    }
                }
                if call.args.len() < 2 {
                    self.errors.push(
                        ChainError::new("`multiwrite` needs two or more output paths", call.span)
                            .help("use `write(...)` for a single output"),
                    );
                    return None;
                }
                if templates.len() != call.args.len() {
                    return None;
                }
                StagePlan::MultiWrite(templates)
            }
            other => {
                let mut e = ChainError::new(format!("unknown stage `{other}`"), call.name_span);
                if let Some(s) = did_you_mean(other, STAGES) {
                    e.message.push_str(&format!("; did you mean `{s}`?"));
                } else {
                    e = e.help("stages are checksum, upper, lower, gzip, gunzip, tee, write and multiwrite");
                }
                self.errors.push(e);
                return None;
            }
        };
        Some(stage)
    }

    /// Binds positional arguments (to the first `positional` parameters, in order) and named ones.
    fn bind<'c>(
        &mut self,
        call: &'c StageCall,
        params: &[&'static str],
        positional: usize,
    ) -> Option<Bound<'c>> {
        let mut bound = Bound { values: Vec::new() };
        let mut ok = true;
        let mut next_positional = 0;
        for Arg { name, value, span } in &call.args {
            let param = match name {
                None => {
                    if next_positional >= positional {
                        let msg = match positional {
                            0 => format!("`{}` takes no arguments", call.name),
                            1 => format!("`{}` takes one argument", call.name),
                            n => format!("`{}` takes at most {n} positional arguments", call.name),
                        };
                        self.errors.push(ChainError::new(msg, *span));
                        ok = false;
                        continue;
                    }
                    next_positional += 1;
                    params[next_positional - 1]
                }
                Some((key, key_span)) => match params.iter().find(|p| **p == key) {
                    Some(p) => p,
                    None => {
                        let mut e = ChainError::new(
                            format!("`{}` has no argument `{key}`", call.name),
                            *key_span,
                        );
                        e.help = Some(match did_you_mean(key, params.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("its arguments: {}", params.join(", ")),
                        });
                        self.errors.push(e);
                        ok = false;
                        continue;
                    }
                },
            };
            if bound.get(param).is_some() {
                self.errors.push(ChainError::new(
                    format!("argument `{param}` is given twice"),
                    *span,
                ));
                ok = false;
                continue;
            }
            bound.values.push((param, value));
        }
        ok.then_some(bound)
    }

    fn algo(&mut self, v: &Value) -> Option<ChecksumAlgo> {
        let name = self.ident(v, "an algorithm such as `sha256`")?;
        match name.parse::<ChecksumAlgo>() {
            Ok(a) => Some(a),
            Err(_) => {
                let algos = ["sha256", "sha512", "xxh64", "xxh3", "xxh128"];
                let hint = did_you_mean(name, algos)
                    .map_or(format!("algorithms: {}", algos.join(", ")), |s| {
                        format!("did you mean `{s}`?")
                    });
                self.errors.push(
                    ChainError::new(format!("unknown checksum algorithm `{name}`"), v.span)
                        .help(hint),
                );
                None
            }
        }
    }

    fn ident<'v>(&mut self, v: &'v Value, what: &str) -> Option<&'v str> {
        match &v.kind {
            ValueKind::Ident(s) => Some(s),
            _ => self.expected(v, what),
        }
    }

    fn expected<T>(&mut self, v: &Value, what: &str) -> Option<T> {
        self.errors.push(ChainError::new(
            format!("expected {what}, found {}", v.kind.describe()),
            v.span,
        ));
        None
    }

    fn template(&mut self, v: &Value) -> Option<Template> {
        let ValueKind::Str(s) = &v.kind else {
            return self.expected(v, "an output path in double quotes");
        };
        match Template::compile(s, self.base) {
            Ok(t) => {
                let key = t.key();
                if let Some((_, first)) = self.outputs.iter().find(|(k, _)| *k == key) {
                    self.errors.push(
                        ChainError::new(
                            format!("two writers of this job write the same path `{s}`"),
                            v.span,
                        )
                        .help(format!("`{first}` is already written earlier in the chain")),
                    );
                    return None;
                }
                self.outputs.push((key, s.clone()));
                Some(t)
            }
            Err(errors) => {
                for e in errors {
                    if e.range.start == 0 && e.range.end >= s.len() {
                        self.errors.push(ChainError {
                            message: e.message,
                            span: v.span,
                            help: e.help,
                        });
                        continue;
                    }
                    let start = raw_offset(self.text, v.span, e.range.start);
                    let end = raw_offset(self.text, v.span, e.range.end).max(start + 1);
                    self.errors.push(ChainError {
                        message: e.message,
                        span: Span::new(start, end.min(v.span.end)),
                        help: e.help,
                    });
                }
                None
            }
        }
    }
}

fn is_stage(name: &str) -> bool {
    STAGES.contains(&name)
}

/// Where byte `index` of a string literal's unescaped value lies in the chain text.
fn raw_offset(text: &str, literal: Span, index: usize) -> usize {
    let raw = &text[literal.start + 1..literal.end.saturating_sub(1).max(literal.start + 1)];
    let mut unescaped = 0;
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if unescaped >= index {
            return literal.start + 1 + i;
        }
        let c = if c == '\\' {
            chars.next().map_or(c, |(_, e)| e)
        } else {
            c
        };
        unescaped += c.len_utf8();
    }
    literal.start + 1 + raw.len()
}

/// Every writer template of a chain (sidecars, tee branches, writers), in order.
pub fn templates(chain: &ChainPlan) -> Vec<&Template> {
    let mut out = Vec::new();
    for stage in &chain.stages {
        match stage {
            StagePlan::Checksum {
                sidecar: Some(t), ..
            }
            | StagePlan::Write(t) => out.push(t),
            StagePlan::MultiWrite(ts) => out.extend(ts),
            StagePlan::Tee(nested) => out.extend(templates(nested)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::parse_chain;

    fn errors(text: &str) -> Vec<(String, (usize, usize))> {
        let chain = parse_chain(text).expect("syntax");
        compile(&chain, text, Path::new("/base"))
            .expect_err(text)
            .into_iter()
            .map(|e| (e.message, (e.span.start, e.span.end)))
            .collect()
    }

    #[test]
    fn compiles_the_flagship_chain() {
        let text = r#"checksum(sha256, sidecar = "s/{name}.sha256") | tee("p/{name}") | upper | gzip(level = 6) | multiwrite("a/{name}.gz", "b/{date}/{name}.gz")"#;
        let plan = compile(&parse_chain(text).unwrap(), text, Path::new("/base")).unwrap();
        assert_eq!(plan.stages.len(), 5);
        assert!(matches!(
            plan.stages[0],
            StagePlan::Checksum {
                algo: ChecksumAlgo::Sha256,
                sidecar: Some(_)
            }
        ));
        assert_eq!(
            plan.stages[2],
            StagePlan::Case {
                upper: true,
                mode: CaseMode::Ascii
            }
        );
        assert_eq!(plan.stages[3], StagePlan::Gzip { level: 6 });
        assert_eq!(templates(&plan).len(), 4);
    }

    /// input, then every expected (message, span).
    #[test]
    fn semantic_errors_with_positions() {
        type Expected<'a> = &'a [(&'a str, (usize, usize))];
        let table: &[(&str, Expected)] = &[
            (
                "gzp | write(\"{name}\")",
                &[("unknown stage `gzp`; did you mean `gzip`?", (0, 3))],
            ),
            (
                "gzip(level = 12) | write(\"{name}\")",
                &[("gzip level 12 is out of range 0..9", (13, 15))],
            ),
            (
                "gzip(levl = 1) | write(\"{name}\")",
                &[("`gzip` has no argument `levl`", (5, 9))],
            ),
            (
                "gzip(\"6\") | write(\"{name}\")",
                &[("expected an integer level 0..9, found a string", (5, 8))],
            ),
            (
                "checksum(md5) | write(\"{name}\")",
                &[("unknown checksum algorithm `md5`", (9, 12))],
            ),
            ("upper", &[("the chain does not end in a writer", (0, 5))]),
            (
                "write(\"{name}\") | upper",
                &[("stage `upper` comes after the writer `write`", (18, 23))],
            ),
            (
                "tee(upper) | write(\"{name}\")",
                &[("the branch `upper` does not end in a writer", (4, 9))],
            ),
            (
                "tee(upper() | gzip) | write(\"{name}\")",
                &[("the chain does not end in a writer", (14, 18))],
            ),
            (
                "multiwrite(\"{name}\")",
                &[("`multiwrite` needs two or more output paths", (0, 20))],
            ),
            (
                "write(\"out/{nmae}\")",
                &[("unknown placeholder `{nmae}`", (11, 17))],
            ),
            (
                "write(\"a\\\"b/{nmae}\")",
                &[("unknown placeholder `{nmae}`", (12, 18))],
            ),
            (
                "upper(mode = utf8) | write(\"{name}\")",
                &[("unknown mode `utf8`", (13, 17))],
            ),
            (
                "gzip(1, 2) | write(\"{name}\")",
                &[("`gzip` takes one argument", (8, 9))],
            ),
            (
                "gzip(1, level = 2) | write(\"{name}\")",
                &[("argument `level` is given twice", (8, 17))],
            ),
            (
                "tee(\"o/{name}\") | write(\"./o/{name}\")",
                &[(
                    "two writers of this job write the same path `./o/{name}`",
                    (24, 36),
                )],
            ),
            (
                "gzp | checksum(md6) | write(\"x\")",
                &[
                    ("unknown stage `gzp`; did you mean `gzip`?", (0, 3)),
                    ("unknown checksum algorithm `md6`", (15, 18)),
                    (
                        "the output path has no `{name}`, `{stem}` or `{rel}`",
                        (28, 31),
                    ),
                ],
            ),
        ];
        for (input, expected) in table {
            let got = errors(input);
            let expected: Vec<_> = expected.iter().map(|(m, s)| (m.to_string(), *s)).collect();
            assert_eq!(got, expected, "{input}");
        }
    }
}
