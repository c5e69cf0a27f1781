//! Output path templates: `../out/gz/{date}/{name}.gz`, compiled once, expanded per file.

use crate::diagnostic::did_you_mean;
use std::path::{Component, Path, PathBuf};

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 6] = ["name", "stem", "ext", "rel", "job", "date"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Name,
    Stem,
    Ext,
    Rel,
    Job,
    Date,
}

/// A compiled template, resolved against the pipeline file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template as the user wrote it.
    pub text: String,
    base: PathBuf,
    parts: Vec<Part>,
}

/// The values of the placeholders for one input file.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    /// Path of the input relative to the source dir, `/`-separated.
    pub rel: &'a str,
    pub job: &'a str,
    /// `YYYY-MM-DD`, UTC, when the file is processed.
    pub date: &'a str,
}

/// A problem in a template, with the byte range (in the template text) it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub range: std::ops::Range<usize>,
    pub help: Option<String>,
}

impl TemplateError {
    fn new(message: impl Into<String>, range: std::ops::Range<usize>) -> Self {
        TemplateError {
            message: message.into(),
            range,
            help: None,
        }
    }
}

impl Template {
    /// Compiles `text`; relative templates are resolved against `base`.
    pub fn compile(text: &str, base: &Path) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut first_placeholder: Option<usize> = None;
        let mut rest = text.char_indices().peekable();
        while let Some((i, c)) = rest.next() {
            match c {
                '{' => {
                    let close = text[i + 1..].find(['}', '{']).map(|j| i + 1 + j);
                    let Some(close) = close.filter(|&j| text.as_bytes()[j] == b'}') else {
                        errors.push(
                            TemplateError::new("unbalanced `{` in template", i..i + 1).help(
                                "placeholders are written `{name}`; braces cannot appear otherwise",
                            ),
                        );
                        continue;
                    };
                    let name = &text[i + 1..close];
                    let part = match name {
                        "name" => Part::Name,
                        "stem" => Part::Stem,
                        "ext" => Part::Ext,
                        "rel" => Part::Rel,
                        "job" => Part::Job,
                        "date" => Part::Date,
                        _ => {
                            let mut e = TemplateError::new(
                                format!("unknown placeholder `{{{name}}}`"),
                                i..close + 1,
                            );
                            e.help = Some(match did_you_mean(name, PLACEHOLDERS) {
                                Some(s) => format!("did you mean `{{{s}}}`?"),
                                None => "placeholders are {name}, {stem}, {ext}, {rel}, {job} and {date}".into(),
                            });
                            errors.push(e);
                            Part::Lit(String::new())
                        }
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(part);
                    first_placeholder.get_or_insert(i);
                    while rest.next_if(|&(j, _)| j <= close).is_some() {}
                }
                '}' => errors.push(
                    TemplateError::new("unbalanced `}` in template", i..i + 1)
                        .help("placeholders are written `{name}`; braces cannot appear otherwise"),
                ),
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        if text.is_empty() {
            errors.push(TemplateError::new("the output path is empty", 0..0));
        } else if text.ends_with('/') {
            errors.push(TemplateError::new(
                "the output path ends in `/`: it must name a file",
                text.len() - 1..text.len(),
            ));
        }
        if let Some(first) = first_placeholder {
            let mut offset = first;
            for component in text[first..].split('/') {
                if component == ".." {
                    errors.push(
                        TemplateError::new(
                            "`..` after a placeholder could take the output out of its directory",
                            offset..offset + 2,
                        )
                        .help("put every `..` before the first placeholder"),
                    );
                }
                offset += component.len() + 1;
            }
        }
        let per_file = parts
            .iter()
            .any(|p| matches!(p, Part::Name | Part::Stem | Part::Rel));
        if !per_file && errors.is_empty() {
            errors.push(
                TemplateError::new(
                    "the output path has no `{name}`, `{stem}` or `{rel}`",
                    0..text.len(),
                )
                .help("every input of the job would write the same file"),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Template {
            text: text.to_owned(),
            base: base.to_owned(),
            parts,
        })
    }

    /// The path for one input file.
    pub fn expand(&self, vars: &Vars<'_>) -> PathBuf {
        let name = vars.rel.rsplit('/').next().unwrap_or(vars.rel);
        let (stem, ext) = match name.rfind('.') {
            Some(dot) if dot > 0 => (&name[..dot], &name[dot + 1..]),
            _ => (name, ""),
        };
        let mut out = String::with_capacity(self.text.len() + vars.rel.len());
        for part in &self.parts {
            out.push_str(match part {
                Part::Lit(s) => s,
                Part::Name => name,
                Part::Stem => stem,
                Part::Ext => ext,
                Part::Rel => vars.rel,
                Part::Job => vars.job,
                Part::Date => vars.date,
            });
        }
        self.base.join(out)
    }

    /// The resolved path with placeholders left in, `.` and `..` folded: two templates of one job
    /// that give the same key would write the same files.
    pub fn key(&self) -> PathBuf {
        normalize(&self.base.join(&self.text))
    }

    /// The directory part before the first placeholder, resolved: where this template writes.
    pub fn fixed_dir(&self) -> PathBuf {
        normalize(&self.base.join(&self.text[..self.fixed_len()]))
    }

    /// How many directory levels below [`fixed_dir`](Self::fixed_dir) the outputs may land in
    /// (1 for `out/{name}`, 2 for `out/{date}/{name}`; `{rel}` may add any number).
    pub fn depth(&self) -> usize {
        let levels = self.text[self.fixed_len()..]
            .trim_start_matches('/')
            .matches('/')
            .count();
        if self.parts.contains(&Part::Rel) {
            usize::MAX
        } else {
            levels + 1
        }
    }

    /// Length of the text up to the last `/` before the first placeholder.
    fn fixed_len(&self) -> usize {
        let fixed = match self.parts.first() {
            Some(Part::Lit(s)) if self.parts.len() > 1 => s.as_str(),
            _ => "",
        };
        fixed.rfind('/').unwrap_or(0)
    }
}

impl TemplateError {
    fn help(mut self, help: &str) -> Self {
        self.help = Some(help.to_owned());
        self
    }
}

/// Folds `.` and `..` components without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                // Above the start of a relative path: kept (`../../x` stays as it is).
                None | Some(Component::ParentDir) => out.push(".."),
                // Above the root is the root.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(_) => {
                    out.pop();
                }
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_the_parents_of_a_relative_path() {
        let n = |p: &str| normalize(Path::new(p));
        assert_eq!(n("../../out/x"), PathBuf::from("../../out/x"));
        assert_eq!(n("./a/../../b"), PathBuf::from("../b"));
        assert_eq!(n("a/b/../c/./d"), PathBuf::from("a/c/d"));
        assert_eq!(n("/../x"), PathBuf::from("/x"));
        assert_ne!(n("../../out/x"), n("out/x"));
    }

    fn vars(rel: &str) -> Vars<'_> {
        Vars {
            rel,
            job: "etl",
            date: "2026-12-04",
        }
    }

    #[test]
    fn expands_every_placeholder() {
        let t = Template::compile(
            "../out/{job}/{date}/{stem}.{ext}/{name}|{rel}",
            Path::new("/p/pipelines"),
        )
        .unwrap();
        assert_eq!(
            t.expand(&vars("sub/a.tar.gz")),
            PathBuf::from("/p/pipelines/../out/etl/2026-12-04/a.tar.gz/a.tar.gz|sub/a.tar.gz")
        );
        let t = Template::compile("{stem}-{ext}", Path::new("/b")).unwrap();
        assert_eq!(t.expand(&vars("README")), PathBuf::from("/b/README-"));
        assert_eq!(t.expand(&vars(".hidden")), PathBuf::from("/b/.hidden-"));
        assert_eq!(t.key(), PathBuf::from("/b/{stem}-{ext}"));
        let t = Template::compile("../out/gz/{name}.gz", Path::new("/p/pipelines")).unwrap();
        assert_eq!(t.fixed_dir(), PathBuf::from("/p/out/gz"));
        assert_eq!(t.depth(), 1);
        let t = Template::compile("out/{date}/{name}.gz", Path::new("/p")).unwrap();
        assert_eq!((t.fixed_dir(), t.depth()), (PathBuf::from("/p/out"), 2));
        let t = Template::compile("{name}", Path::new("/p")).unwrap();
        assert_eq!((t.fixed_dir(), t.depth()), (PathBuf::from("/p"), 1));
    }

    #[test]
    fn rejects_bad_templates() {
        let err = |t: &str| Template::compile(t, Path::new("/b")).unwrap_err().remove(0);
        assert_eq!(err("out/{nam}").message, "unknown placeholder `{nam}`");
        assert_eq!(
            err("out/{nam}").help.as_deref(),
            Some("did you mean `{name}`?")
        );
        assert_eq!(err("out/{nam}").range, 4..9);
        assert_eq!(err("out/{name").range, 4..5);
        assert_eq!(err("out/name}").message, "unbalanced `}` in template");
        assert_eq!(err("out/{name}/../../x").range, 11..13);
        assert!(err("out/all.txt").message.contains("no `{name}`"));
        assert!(err("out/{name}/").message.contains("ends in `/`"));
        assert!(err("").message.contains("empty"));
        assert!(Template::compile("../../up/{name}", Path::new("/b")).is_ok());
    }
}
