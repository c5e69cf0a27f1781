//! Lists the inputs of a job: the files of its source directory that its globs select.

use crate::plan::SourcePlan;
use std::path::PathBuf;
use std::time::SystemTime;

/// One input file, as found by the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    /// Path relative to the source dir, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// What the listing found: inputs in path order, and entries it could not read.
#[derive(Debug, Default)]
pub struct Listing {
    pub inputs: Vec<Input>,
    pub problems: Vec<String>,
}

/// Lists a source directory. A missing or unreadable directory is an error; an unreadable entry
/// inside it is a problem that the run reports and goes on.
pub fn list(source: &SourcePlan) -> Result<Listing, String> {
    let meta = std::fs::metadata(&source.dir)
        .map_err(|e| format!("source directory {}: {e}", source.dir.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "source {} is not a directory",
            source.dir.display()
        ));
    }
    let walker = walkdir::WalkDir::new(&source.dir)
        .min_depth(1)
        .max_depth(if source.recursive { usize::MAX } else { 1 })
        .follow_links(source.follow_symlinks)
        .sort_by_file_name();
    let mut listing = Listing::default();
    let walk = walker.into_iter().filter_entry(|e| {
        // Directories that the exclude globs match (hidden ones by default) are not entered.
        e.depth() == 0 || !e.file_type().is_dir() || !source.exclude.is_match(e.file_name())
    });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                listing.problems.push(e.to_string());
                continue;
            }
        };
        if entry.path_is_symlink() && !source.follow_symlinks {
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(&source.dir) else {
            continue;
        };
        let Some(rel) = rel.to_str() else {
            listing.problems.push(format!(
                "{}: the name is not UTF-8; skipped",
                entry.path().display()
            ));
            continue;
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        if !source.selects(&rel) {
            continue;
        }
        match entry.metadata() {
            Ok(meta) => listing.inputs.push(Input {
                path: entry.path().to_owned(),
                rel,
                size: meta.len(),
                mtime: meta.modified().ok(),
            }),
            Err(e) => listing
                .problems
                .push(format!("{}: {e}", entry.path().display())),
        }
    }
    Ok(listing)
}
