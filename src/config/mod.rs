//! Loading a pipeline file: YAML syntax, the JSON Schema, the chain DSL, then the semantic rules,
//! every error collected with its position. The result is a [`Plan`](crate::plan::Plan) or the
//! list of what is wrong.

pub mod model;
pub mod schema;
pub mod yaml;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::dsl::parse_chain;
use crate::plan::{
    self, AfterPlan, JobPlan, LoggerPlan, Plan, RejectPlan, SnapshotPlan, SourcePlan,
    chain::templates,
};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use model::{After, Pipeline, Reject};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Chunk sizes a pipeline file may set.
pub const CHUNK_RANGE: std::ops::RangeInclusive<u64> = 4096..=16 << 20;

/// The outcome of loading one file: the plan if it is valid, and every diagnostic (warnings too).
#[derive(Debug)]
pub struct Loaded {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
    pub plan: Option<Plan>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads and validates a pipeline file.
pub fn load(path: &Path) -> Loaded {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Loaded {
                source: SourceFile::new(name, ""),
                diagnostics: vec![Diagnostic::error(
                    format!("cannot read the file: {e}"),
                    None,
                )],
                plan: None,
            };
        }
    };
    let (text, mut diagnostics) = match String::from_utf8(bytes) {
        Ok(t) => (t, Vec::new()),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let d = Diagnostic::error("the file is not UTF-8 text", Some(at..at + 1));
            return Loaded {
                source: SourceFile::new(name, text),
                diagnostics: vec![d],
                plan: None,
            };
        }
    };
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let plan = check(&text, path, &base, &mut diagnostics);
    diagnostics.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    Loaded {
        source: SourceFile::new(name, text),
        diagnostics,
        plan,
    }
}

/// Loads pipeline text (for tests and tools that do not read files).
pub fn load_str(text: &str, path: &Path) -> Loaded {
    let mut diagnostics = Vec::new();
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let plan = check(text, path, &base, &mut diagnostics);
    // In the order of the file (whole-file problems first), whichever check found them.
    diagnostics.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    Loaded {
        source: SourceFile::new(path.display().to_string(), text),
        diagnostics,
        plan,
    }
}

fn check(text: &str, path: &Path, base: &Path, diags: &mut Vec<Diagnostic>) -> Option<Plan> {
    // YAML allows no raw control character but tab and line breaks (write `\u0001` in a
    // double-quoted string instead); said here with its place, not by a parser at 1:1.
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        diags.push(
            Diagnostic::error(
                format!(
                    "control character U+{:04X} is not allowed in YAML",
                    c as u32
                ),
                Some(at..at + c.len_utf8()),
            )
            .with_help("remove it, or write it as an escape (`\\u0001`) in a double-quoted string"),
        );
        return None;
    }
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    diags.extend(schema::check(&root, &path.display().to_string()));

    // Chains are checked even when the schema found problems elsewhere: one pass shows everything.
    let mut chains = BTreeMap::new();
    if let Some(yaml::Value::Map(jobs)) = root.get("jobs").map(|j| &j.value) {
        for (key, job) in jobs {
            let (Some(name), Some(chain)) = (key.as_str(), job.get("chain")) else {
                continue;
            };
            let Some(chain_text) = chain.as_str() else {
                continue;
            };
            let to_file = |span: crate::dsl::Span| chain.scalar_range(text, span.start..span.end);
            match parse_chain(chain_text) {
                Err(errors) => diags.extend(errors.into_iter().map(|e| {
                    let d = Diagnostic::error(e.message, Some(widen(to_file(e.span))));
                    match e.help {
                        Some(h) => d.with_help(h),
                        None => d,
                    }
                })),
                Ok(ast) => match plan::chain::compile(&ast, chain_text, base) {
                    Err(errors) => diags.extend(errors.into_iter().map(|e| {
                        let d = Diagnostic::error(e.message, Some(widen(to_file(e.span))));
                        match e.help {
                            Some(h) => d.with_help(h),
                            None => d,
                        }
                    })),
                    Ok(plan) => {
                        chains.insert(name.to_owned(), (plan, chain_text.to_owned()));
                    }
                },
            }
        }
    }
    // Checks of single values that the schema cannot express, made on the tree so that they are
    // reported with the schema's findings, not only once those are fixed.
    top_level_values(&root, diags);
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }

    let pipeline: Pipeline = match serde_yaml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            let span = e.location().map(|l| l.index()..l.index() + 1);
            diags.push(Diagnostic::error(e.to_string(), span));
            return None;
        }
    };
    build(pipeline, &root, base, path, chains, diags)
}

/// `chunk` within its range, `workers` a whole number (the schema's `integer` takes `2.0`).
fn top_level_values(root: &yaml::Node, diags: &mut Vec<Diagnostic>) {
    // A value the schema already refused is not reported twice.
    let refused = |node: &yaml::Node, diags: &Vec<Diagnostic>| {
        diags.iter().any(|d| d.span.as_ref() == Some(&node.span))
    };
    if let Some(node) = root.get("chunk")
        && !refused(node, diags)
        && let Some(text) = node.as_str()
        && let Ok(bytes) = crate::units::parse_size(text)
        && !CHUNK_RANGE.contains(&bytes)
    {
        diags.push(Diagnostic::error(
            format!("chunk {text} is out of range 4KiB..16MiB"),
            Some(node.span.clone()),
        ));
    }
    if let Some(node) = root.get("workers")
        && !refused(node, diags)
        && let Some(text) = node.as_str()
        && text.contains(['.', 'e', 'E'])
        && text.parse::<f64>().is_ok()
    {
        diags.push(
            Diagnostic::error(
                format!("workers must be written as a whole number, found `{text}`"),
                Some(node.span.clone()),
            )
            .with_help("write it without a decimal point, e.g. `workers: 2`"),
        );
    }
}

/// A zero-width span still gets a caret.
fn widen(r: Range<usize>) -> Range<usize> {
    if r.is_empty() {
        r.start..r.start + 1
    } else {
        r
    }
}

fn span_at(root: &yaml::Node, pointer: &str) -> Option<Range<usize>> {
    root.pointer(pointer).map(|n| n.span.clone())
}

fn build(
    p: Pipeline,
    root: &yaml::Node,
    base: &Path,
    path: &Path,
    mut chains: BTreeMap<String, (plan::ChainPlan, String)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Plan> {
    let resolve = |s: &str| base.join(s);
    let mut jobs = Vec::new();
    for (name, job) in p.jobs {
        let ptr = format!("/jobs/{name}/source");
        let include = globs(&job.source.include, root, &format!("{ptr}/include"), diags);
        let exclude = globs(&job.source.exclude, root, &format!("{ptr}/exclude"), diags);
        let dir = resolve(&job.source.dir);
        let Some((chain, chain_text)) = chains.remove(&name) else {
            continue;
        };
        let source_dir = plan::template::normalize(&dir);
        for t in templates(&chain) {
            // Into the source itself, or (with `recursive`) anywhere below it.
            let fixed = t.fixed_dir();
            if fixed == source_dir || (job.source.recursive && fixed.starts_with(&source_dir)) {
                diags.push(
                    Diagnostic::warning(
                        format!(
                            "job `{name}` writes `{}` into its own source directory",
                            t.text
                        ),
                        span_at(root, &format!("/jobs/{name}/chain")),
                    )
                    .with_help("those outputs would be taken as inputs by the next run"),
                );
            }
        }
        let (Some(include), Some(exclude)) = (include, exclude) else {
            continue;
        };
        jobs.push(JobPlan {
            name,
            source: SourcePlan {
                dir,
                include,
                exclude,
                include_patterns: job.source.include,
                exclude_patterns: job.source.exclude,
                recursive: job.source.recursive,
                follow_symlinks: job.source.follow_symlinks,
                accept: job.source.accept,
                settle: job.source.settle.0,
                poll: job.source.poll.map(|d| d.0),
                after: match job.source.after {
                    After::Keep => AfterPlan::Keep,
                    After::Delete => AfterPlan::Delete,
                    After::Move(d) => AfterPlan::Move(resolve(&d)),
                },
                reject: match job.source.reject {
                    Reject::Skip => RejectPlan::Skip,
                    Reject::Quarantine(d) => RejectPlan::Quarantine(resolve(&d)),
                },
            },
            chain_text,
            chain,
        });
    }
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    let workers = p
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    Some(Plan {
        file: path.to_owned(),
        base_dir: base.to_owned(),
        workers,
        chunk: p.chunk.0 as usize,
        shutdown_timeout: p.shutdown_timeout.0,
        logger: p.logger.map(|l| LoggerPlan {
            path: resolve(&l.path),
            level: l.level,
            format: l.format,
            buffer: l.buffer.0 as usize,
            flush_every: l.flush_every.0,
            max_size: l.rotate.max_size.0,
            keep: l.rotate.keep,
            compress: l.rotate.compress,
        }),
        snapshot: p.snapshot.map(|s| SnapshotPlan {
            path: resolve(&s.path),
            every: s.every.0,
            on_corrupt: s.on_corrupt,
        }),
        jobs,
    })
}

/// Compiles a list of globs; `*` does not cross `/` (a pattern without `/` matches file names).
fn globs(
    patterns: &[String],
    root: &yaml::Node,
    pointer: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<GlobSet> {
    let mut set = GlobSetBuilder::new();
    let mut ok = true;
    for (i, pattern) in patterns.iter().enumerate() {
        match GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(g) => {
                set.add(g);
            }
            Err(e) => {
                ok = false;
                diags.push(Diagnostic::error(
                    format!("invalid glob `{pattern}`: {}", e.kind()),
                    span_at(root, &format!("{pointer}/{i}")),
                ));
            }
        }
    }
    if !ok {
        return None;
    }
    match set.build() {
        Ok(s) => Some(s),
        Err(e) => {
            diags.push(Diagnostic::error(
                format!("invalid globs: {e}"),
                span_at(root, pointer),
            ));
            None
        }
    }
}

#[cfg(test)]
mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of real pipelines, so that random files reach past the YAML parser.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("version: 1\n".to_owned()),
            Just("jobs:\n  j:\n    source: {dir: in}\n".to_owned()),
            Just(
                "    chain: checksum(sha256) | gzip(level = 6) | write(\"out/{name}.gz\")\n"
                    .to_owned()
            ),
            Just("chunk: 64KiB\n".to_owned()),
            Just("    chain: >\n      tee(\"a/{name}\")\n      | upper\n".to_owned()),
            "\\PC{0,20}",
            "[ \\t\\r\\n:{}\\[\\],|\"'#>-]{0,10}",
        ]
    }

    proptest! {
        /// The property of the `pipeline_yaml` fuzz target, run in CI.
        #[test]
        fn any_text_loads_and_renders_without_panic(parts in proptest::collection::vec(fragment(), 0..8)) {
            let text = parts.concat();
            let loaded = load_str(&text, Path::new("p.yaml"));
            for d in &loaded.diagnostics {
                let _ = loaded.source.render(d);
                let located = loaded.source.locate(d);
                prop_assert!(located.line >= 1 && located.column >= 1);
            }
            prop_assert_eq!(loaded.plan.is_some(), !loaded.has_errors());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(text: &str) -> Vec<String> {
        load_str(text, Path::new("p.yaml"))
            .diagnostics
            .into_iter()
            .filter(|d| !d.is_error())
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn a_raw_control_character_is_reported_where_it_is() {
        let text = "version: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"o/\u{1}/{name}\")\n";
        let loaded = load_str(text, Path::new("p.yaml"));
        let d = &loaded.diagnostics[0];
        assert_eq!(d.message, "control character U+0001 is not allowed in YAML");
        let at = text.find('\u{1}').unwrap();
        assert_eq!(d.span, Some(at..at + 1));
        assert!(loaded.plan.is_none());
    }

    #[test]
    fn outputs_into_the_source_are_warned_about() {
        let into = |source: &str, chain: &str| {
            warnings(&format!(
                "version: 1\njobs:\n  j:\n    source: {source}\n    chain: {chain}\n"
            ))
        };
        let w = "job `j` writes";
        assert!(into("{dir: in}", "write(\"in/{name}.gz\")")[0].starts_with(w));
        // Below the source: taken again only with `recursive`.
        assert!(into("{dir: in}", "write(\"in/out/{name}\")").is_empty());
        assert!(into("{dir: in, recursive: true}", "write(\"in/out/{rel}\")")[0].starts_with(w));
        assert!(into("{dir: in, recursive: true}", "write(\"out/{rel}\")").is_empty());
    }
}
