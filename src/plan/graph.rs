//! Draws the stage graph of every job: an indented tree for terminals, Graphviz DOT for `dot`.

use super::{ChainPlan, JobPlan, Plan, StagePlan};
use crate::stage::CaseMode;
use std::fmt::Write as _;

/// A stage's short label: `gzip(level = 6)`.
fn label(stage: &StagePlan) -> String {
    match stage {
        StagePlan::Checksum { algo, .. } => format!("checksum({algo})"),
        StagePlan::Case { upper, mode } => {
            let name = if *upper { "upper" } else { "lower" };
            match mode {
                CaseMode::Ascii => name.to_owned(),
                CaseMode::Unicode => format!("{name}(mode = unicode)"),
            }
        }
        StagePlan::Gzip { level } => format!("gzip(level = {level})"),
        StagePlan::Gunzip { max_size } => {
            format!(
                "gunzip(max_size = {})",
                crate::units::format_size(*max_size)
            )
        }
        StagePlan::Tee(_) => "tee".to_owned(),
        StagePlan::Write(_) => "write".to_owned(),
        StagePlan::MultiWrite(_) => "multiwrite".to_owned(),
    }
}

fn source_line(job: &JobPlan) -> String {
    let s = &job.source;
    let mut line = format!("job {}: {}", job.name, s.dir.display());
    let _ = write!(line, " [{}]", s.include_patterns.join(", "));
    if s.recursive {
        line.push_str(" recursive");
    }
    if let Some(kinds) = &s.accept {
        let names: Vec<_> = kinds.iter().map(|k| k.name()).collect();
        let _ = write!(line, " accept {}", names.join(", "));
    }
    line
}

/// The indented tree of `runner graph`.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for job in &plan.jobs {
        out.push_str(&source_line(job));
        out.push('\n');
        text_chain(&job.chain, "", &mut out);
    }
    out
}

fn text_chain(chain: &ChainPlan, indent: &str, out: &mut String) {
    let n = chain.stages.len();
    for (i, stage) in chain.stages.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, child) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let _ = writeln!(out, "{indent}{branch}{}", label(stage));
        let inner = format!("{indent}{child}");
        match stage {
            StagePlan::Checksum {
                sidecar: Some(t), ..
            } => {
                let _ = writeln!(out, "{inner}└─ sidecar {}", t.text);
            }
            StagePlan::Write(t) => {
                let _ = writeln!(out, "{inner}└─ {}", t.text);
            }
            StagePlan::MultiWrite(ts) => {
                for (j, t) in ts.iter().enumerate() {
                    let b = if j + 1 == ts.len() {
                        "└─ "
                    } else {
                        "├─ "
                    };
                    let _ = writeln!(out, "{inner}{b}{}", t.text);
                }
            }
            StagePlan::Tee(nested) => text_chain(nested, &inner, out),
            _ => {}
        }
    }
}

/// The Graphviz DOT of `runner graph --format dot`.
pub fn dot(plan: &Plan) -> String {
    let mut out = String::from(
        "digraph runner {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    let mut next = 0usize;
    for job in &plan.jobs {
        let _ = writeln!(out, "  subgraph \"cluster_{}\" {{", escape(&job.name));
        let _ = writeln!(out, "    label=\"job {}\";", escape(&job.name));
        let src = format!("n{next}");
        next += 1;
        let _ = writeln!(
            out,
            "    {src} [shape=folder, label=\"{}\"];",
            escape(&job.source.dir.display().to_string())
        );
        dot_chain(&job.chain, &src, &mut next, &mut out);
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

fn dot_chain(chain: &ChainPlan, from: &str, next: &mut usize, out: &mut String) {
    let mut prev = from.to_owned();
    for stage in &chain.stages {
        let id = format!("n{next}");
        *next += 1;
        let _ = writeln!(out, "    {id} [label=\"{}\"];", escape(&label(stage)));
        let _ = writeln!(out, "    {prev} -> {id};");
        let file = |text: &str, style: &str, next: &mut usize, out: &mut String| {
            let f = format!("n{next}");
            *next += 1;
            let _ = writeln!(out, "    {f} [shape=note, label=\"{}\"];", escape(text));
            let _ = writeln!(out, "    {id} -> {f}{style};");
        };
        match stage {
            StagePlan::Checksum {
                sidecar: Some(t), ..
            } => file(&t.text, " [style=dashed]", next, out),
            StagePlan::Write(t) => file(&t.text, "", next, out),
            StagePlan::MultiWrite(ts) => ts.iter().for_each(|t| file(&t.text, "", next, out)),
            StagePlan::Tee(nested) => dot_chain(nested, &id, next, out),
            _ => {}
        }
        prev = id;
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
