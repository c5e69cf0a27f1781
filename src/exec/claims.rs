//! Which input writes each output path, so that two inputs whose templates expand to the same
//! output (`{stem}.gz` for `a.txt` and `a.csv`, or two jobs writing into one directory) are
//! caught: the second one fails with a message naming both, instead of silently replacing the
//! first one's output.
//!
//! A claim is taken when a file starts (after its kind is accepted, before anything is written)
//! for every output of its chain, sidecars included, and for the outputs of the inputs that the
//! snapshot skips as unchanged: their outputs are on disk, from an earlier run. Claims last for the
//! run; a watching runner drops the claims of inputs that are gone from their source (deleted or
//! moved by `after`), so that their names are free again and the table stays as small as the
//! sources.

use crate::exec::source::Input;
use crate::plan::chain::templates;
use crate::plan::{JobPlan, Vars, template::normalize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The input that writes an output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    job: String,
    rel: String,
    /// The source file, to tell whether it still exists.
    path: PathBuf,
}

/// The output paths claimed so far, and the inputs known, shared by the workers.
#[derive(Debug, Default)]
pub struct Claims {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Output path -> the input that writes it.
    outputs: HashMap<PathBuf, Owner>,
    /// (Job, input path resolved) -> the input: no output of a job may replace one of its own
    /// inputs. (A job may write into another job's source: that is how jobs are chained.)
    inputs: HashMap<(String, PathBuf), Owner>,
}

/// An output another input writes, or an input, is in the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub output: PathBuf,
    pub other_job: String,
    pub other_rel: String,
    pub same_job: bool,
    /// The output is an input's own path (`other_rel`, possibly the file itself).
    pub is_input: bool,
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_input {
            write!(
                f,
                "the output {} is the input `{}`",
                self.output.display(),
                self.other_rel
            )?;
            if !self.same_job {
                write!(f, " of job `{}`", self.other_job)?;
            }
            return write!(
                f,
                ": it is not overwritten; write the outputs outside the source directory, or \
                 give them other names"
            );
        }
        write!(
            f,
            "the output {} is also the output of `{}`",
            self.output.display(),
            self.other_rel
        )?;
        if !self.same_job {
            write!(f, " of job `{}`", self.other_job)?;
        }
        write!(
            f,
            ": it is not overwritten; make the output templates tell the two inputs apart \
             (`{{name}}` or `{{rel}}` rather than `{{stem}}`)"
        )
    }
}

impl std::error::Error for Collision {}

/// Every output path of `job`'s chain for the input `rel` (writers, `tee` files and sidecars),
/// resolved and with `.`/`..` folded, so that two spellings of one path compare equal.
fn outputs_of(job: &JobPlan, rel: &str, date: &str) -> Vec<PathBuf> {
    let vars = Vars {
        rel,
        job: &job.name,
        date,
    };
    templates(&job.chain)
        .into_iter()
        .map(|t| normalize(&t.expand(&vars)))
        .collect()
}

/// How paths are compared: absolute (from the current directory), with `.` and `..` folded, so
/// that a watcher's absolute event paths and a template's relative ones compare equal.
fn key(path: &Path) -> PathBuf {
    normalize(&std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
}

impl Claims {
    /// Claims every output of `job`'s chain for `input`, processed on `date` (see
    /// [`claim`](Self::claim)).
    pub fn claim_input(&self, job: &JobPlan, input: &Input, date: &str) -> Result<(), Collision> {
        let outputs = outputs_of(job, &input.rel, date);
        self.claim(&job.name, &input.rel, &input.path, &outputs)
    }

    /// Claims `outputs` for the input `rel` of `job` (found at `path`): all of them, or none if
    /// one is already another input's. The same input may claim its outputs again (it is
    /// processed again after a change).
    pub fn claim(
        &self,
        job: &str,
        rel: &str,
        path: &Path,
        outputs: &[PathBuf],
    ) -> Result<(), Collision> {
        let mut table = self.lock();
        let own = key(path);
        let keys: Vec<PathBuf> = outputs.iter().map(|o| key(o)).collect();
        for (out, k) in outputs.iter().zip(&keys) {
            let collision = |owner: &Owner, is_input: bool| Collision {
                output: out.clone(),
                other_job: owner.job.clone(),
                other_rel: owner.rel.clone(),
                same_job: owner.job == job,
                is_input,
            };
            if *k == own {
                return Err(collision(
                    &Owner {
                        job: job.to_owned(),
                        rel: rel.to_owned(),
                        path: path.to_owned(),
                    },
                    true,
                ));
            }
            if let Some(owner) = table.inputs.get(&(job.to_owned(), k.clone())) {
                return Err(collision(owner, true));
            }
            if let Some(owner) = table.outputs.get(k)
                && (owner.job != job || owner.rel != rel)
            {
                return Err(collision(owner, false));
            }
        }
        for k in keys {
            table.outputs.insert(
                k,
                Owner {
                    job: job.to_owned(),
                    rel: rel.to_owned(),
                    path: path.to_owned(),
                },
            );
        }
        Ok(())
    }

    /// Notes an input of `job` (listed or seen by the watcher): no output of `job` may replace
    /// it.
    pub fn note_input(&self, job: &str, rel: &str, path: &Path) {
        self.lock().inputs.insert(
            (job.to_owned(), key(path)),
            Owner {
                job: job.to_owned(),
                rel: rel.to_owned(),
                path: path.to_owned(),
            },
        );
    }

    /// The input of `job` whose output `path` is, if any: a file that a job wrote into its own
    /// source directory, not an input for it (a watching runner would otherwise take its own
    /// outputs as new inputs, without end).
    pub fn output_of(&self, job: &str, path: &Path) -> Option<String> {
        self.lock()
            .outputs
            .get(&key(path))
            .filter(|owner| owner.job == job)
            .map(|owner| owner.rel.clone())
    }

    /// Drops the claims and notes of inputs that no longer exist (one `stat` per input).
    pub fn forget_gone(&self) {
        let mut table = self.lock();
        let mut exists: HashMap<PathBuf, bool> = HashMap::new();
        let mut alive = |owner: &Owner| {
            *exists
                .entry(owner.path.clone())
                .or_insert_with(|| owner.path.symlink_metadata().is_ok())
        };
        table.outputs.retain(|_, owner| alive(owner));
        table.inputs.retain(|_, owner| alive(owner));
    }

    /// How many output paths are claimed.
    pub fn len(&self) -> usize {
        self.lock().outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn a_second_input_cannot_take_an_output_and_claims_nothing_then() {
        let c = Claims::default();
        let p = Path::new("/in/a.txt");
        c.claim(
            "etl",
            "a.txt",
            p,
            &paths(&["/out/a.gz", "/out/a.txt.sha256"]),
        )
        .unwrap();
        // The same input again (changed, processed again): fine.
        c.claim(
            "etl",
            "a.txt",
            p,
            &paths(&["/out/a.gz", "/out/a.txt.sha256"]),
        )
        .unwrap();
        let err = c
            .claim(
                "etl",
                "a.csv",
                Path::new("/in/a.csv"),
                &paths(&["/out/a.csv.sha256", "/out/a.gz"]),
            )
            .unwrap_err();
        assert_eq!(err.output, PathBuf::from("/out/a.gz"));
        assert_eq!(err.other_rel, "a.txt");
        assert!(err.same_job);
        let msg = err.to_string();
        assert!(
            msg.contains("/out/a.gz") && msg.contains("`a.txt`"),
            "{msg}"
        );
        assert!(!msg.contains("job"), "{msg}");
        // All or nothing: a.csv's sidecar was not claimed.
        assert_eq!(c.len(), 2);
        // Another job's input.
        let err = c
            .claim("other", "a.txt", p, &paths(&["/out/a.txt.sha256"]))
            .unwrap_err();
        assert!(err.to_string().contains("of job `etl`"), "{err}");
    }

    #[test]
    fn no_output_may_replace_an_input() {
        let c = Claims::default();
        c.note_input("etl", "b.txt", Path::new("./in/b.txt"));
        // Its own path, spelled differently.
        let err = c
            .claim(
                "etl",
                "a.txt",
                Path::new("./in/a.txt"),
                &paths(&["in/a.txt"]),
            )
            .unwrap_err();
        assert!(err.is_input && err.other_rel == "a.txt", "{err:?}");
        assert!(err.to_string().contains("is the input `a.txt`"), "{err}");
        // Another input's path.
        let err = c
            .claim("etl", "c.txt", Path::new("in/c.txt"), &paths(&["in/b.txt"]))
            .unwrap_err();
        assert!(err.to_string().contains("is the input `b.txt`:"), "{err}");
        assert!(c.is_empty());
        // Another job may write into this job's source: that is how jobs are chained.
        c.claim(
            "first",
            "b.txt",
            Path::new("up/b.txt"),
            &paths(&["in/b.txt"]),
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        // An output of a job in its own source is that job's, not a new input for it.
        c.claim(
            "etl",
            "a.txt",
            Path::new("in/a.txt"),
            &paths(&["in/a.txt.gz"]),
        )
        .unwrap();
        assert_eq!(
            c.output_of("etl", Path::new("./in/a.txt.gz")).as_deref(),
            Some("a.txt")
        );
        assert_eq!(c.output_of("next", Path::new("in/a.txt.gz")), None);
    }

    #[test]
    fn claims_of_inputs_that_are_gone_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let c = Claims::default();
        c.claim("etl", "a.txt", &a, &paths(&["/out/a.gz", "/out/a.sum"]))
            .unwrap();
        c.claim("etl", "b.txt", &b, &paths(&["/out/b.gz"])).unwrap();
        std::fs::remove_file(&a).unwrap();
        c.forget_gone();
        assert_eq!(c.len(), 1);
        c.claim(
            "etl",
            "a2.txt",
            &dir.path().join("a2.txt"),
            &paths(&["/out/a.gz"]),
        )
        .expect("a.txt is gone: its name is free");
    }
}
