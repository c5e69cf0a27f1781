//! Loading and saving `state.bin` (SPEC section 7): atomic, durable saves that keep the previous
//! good copy, and the `on_corrupt` policies for a file that does not decode.

use super::State;
use super::codec::{decode, encode};
use crate::config::model::OnCorrupt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An open snapshot: where it lives, and the buffer reused by every save.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    buf: Vec<u8>,
}

/// The state loaded at start, and what the user should be told about how it was loaded.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    pub state: State,
    pub warnings: Vec<String>,
}

/// `PATH` with a suffix appended to its file name: `state.bin` -> `state.bin.prev`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Reads and decodes a snapshot file, with a message fit for the user on failure.
pub fn read(path: &Path) -> Result<State, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    decode(&bytes).map_err(|e| format!("{} is not a valid snapshot: {e}", path.display()))
}

/// Opens the snapshot at `path`, applying the `on_corrupt` policy. An `Err` is fatal (exit 3).
pub fn open(path: &Path, on_corrupt: OnCorrupt) -> Result<Opened, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state directory {}: {e}", dir.display()))?;
    }
    let store = Store {
        path: path.to_owned(),
        buf: Vec::new(),
    };
    let prev = sibling(path, ".prev");
    let mut warnings = Vec::new();
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A crash between the two renames of a save leaves only the previous copy.
            if let Ok(b) = fs::read(&prev)
                && let Ok(state) = decode(&b)
            {
                warnings.push(format!(
                    "{} is missing; loaded the previous copy {}",
                    path.display(),
                    prev.display()
                ));
                return Ok(Opened {
                    store,
                    state,
                    warnings,
                });
            }
            return Ok(Opened {
                store,
                state: State::default(),
                warnings,
            });
        }
        Err(e) => {
            return Err(format!(
                "cannot read the state file {}: {e}",
                path.display()
            ));
        }
    };
    let reason = match decode(&bytes) {
        Ok(state) => {
            return Ok(Opened {
                store,
                state,
                warnings,
            });
        }
        Err(e) => e,
    };
    match on_corrupt {
        OnCorrupt::Fail => {
            let fallback = fs::read(&prev).ok().and_then(|b| decode(&b).ok());
            let Some(state) = fallback else {
                return Err(format!(
                    "the state file {} is corrupt: {reason}; no valid previous copy ({}) to fall back to; \
                     fix: restore it from a backup, or move it away to start fresh, or set `snapshot.on_corrupt: reset` \
                     to have runner move it aside and start fresh",
                    path.display(),
                    prev.display()
                ));
            };
            let aside = move_aside(path)?;
            warnings.push(format!(
                "the state file {} is corrupt ({reason}); loaded the previous copy {} instead, and kept the corrupt file as {}",
                path.display(),
                prev.display(),
                aside.display()
            ));
            Ok(Opened {
                store,
                state,
                warnings,
            })
        }
        OnCorrupt::Reset => {
            let aside = move_aside(path)?;
            warnings.push(format!(
                "the state file {} is corrupt ({reason}); moved it to {} and started with an empty state",
                path.display(),
                aside.display()
            ));
            Ok(Opened {
                store,
                state: State::default(),
                warnings,
            })
        }
    }
}

/// Renames a corrupt file to `PATH.corrupt-TIMESTAMP` so that nothing overwrites it.
fn move_aside(path: &Path) -> Result<PathBuf, String> {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut aside = sibling(path, &format!(".corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        aside = sibling(path, &format!(".corrupt-{stamp}-{n}"));
        n += 1;
    }
    fs::rename(path, &aside).map_err(|e| {
        format!(
            "cannot move the corrupt state file {} aside to {}: {e}",
            path.display(),
            aside.display()
        )
    })?;
    Ok(aside)
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves atomically and durably: `PATH.tmp`, fsync, the current file becomes `PATH.prev`,
    /// the new one is renamed over `PATH`, and the directory is synced. Returns the bytes written.
    pub fn save(&mut self, state: &State) -> io::Result<usize> {
        encode(state, &mut self.buf);
        let tmp = sibling(&self.path, ".tmp");
        let ctx = |what: &str, p: &Path, e: io::Error| {
            io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
        };
        let mut file = File::create(&tmp).map_err(|e| ctx("cannot create", &tmp, e))?;
        file.write_all(&self.buf)
            .map_err(|e| ctx("cannot write", &tmp, e))?;
        file.sync_all().map_err(|e| ctx("cannot sync", &tmp, e))?;
        drop(file);
        if self.path.exists() {
            let prev = sibling(&self.path, ".prev");
            fs::rename(&self.path, &prev)
                .map_err(|e| ctx("cannot keep the previous copy as", &prev, e))?;
        }
        fs::rename(&tmp, &self.path)
            .map_err(|e| ctx("cannot rename the new state to", &self.path, e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(self.buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::JobState;

    fn state(runs: u64) -> State {
        let mut s = State::default();
        s.jobs.insert("j".into(), JobState::default());
        s.jobs.get_mut("j").unwrap().counters.runs = runs;
        s
    }

    #[test]
    fn saves_keep_the_previous_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/state.bin");
        let mut opened = open(&path, OnCorrupt::Fail).unwrap();
        assert_eq!(opened.state, State::default());
        opened.store.save(&state(1)).unwrap();
        opened.store.save(&state(2)).unwrap();
        assert_eq!(read(&path).unwrap(), state(2));
        assert_eq!(read(&sibling(&path, ".prev")).unwrap(), state(1));
        assert!(!sibling(&path, ".tmp").exists());
    }

    #[test]
    fn corrupt_with_fail_falls_back_to_prev_and_keeps_the_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        let mut store = open(&path, OnCorrupt::Fail).unwrap().store;
        store.save(&state(1)).unwrap();
        store.save(&state(2)).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let opened = open(&path, OnCorrupt::Fail).unwrap();
        assert_eq!(opened.state, state(1));
        assert!(
            opened.warnings[0].contains("is corrupt"),
            "{:?}",
            opened.warnings
        );
        let kept: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("state.bin.corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(fs::read(dir.path().join(&kept[0])).unwrap(), bytes);
    }

    #[test]
    fn corrupt_with_fail_and_no_prev_is_fatal_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        fs::write(&path, b"RUNSTATE garbage garbage").unwrap();
        let err = open(&path, OnCorrupt::Fail).unwrap_err();
        assert!(err.contains("is corrupt") && err.contains("fix:"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"RUNSTATE garbage garbage");
    }

    #[test]
    fn corrupt_with_reset_moves_it_aside_and_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        fs::write(&path, b"not a snapshot at all").unwrap();
        let opened = open(&path, OnCorrupt::Reset).unwrap();
        assert_eq!(opened.state, State::default());
        assert!(!path.exists());
        assert!(
            opened.warnings[0].contains("moved it to"),
            "{:?}",
            opened.warnings
        );
    }

    #[test]
    fn a_missing_file_with_a_valid_prev_loads_the_prev() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        let mut store = open(&path, OnCorrupt::Fail).unwrap().store;
        store.save(&state(1)).unwrap();
        store.save(&state(2)).unwrap();
        fs::remove_file(&path).unwrap();
        let opened = open(&path, OnCorrupt::Fail).unwrap();
        assert_eq!(opened.state, state(1));
        assert_eq!(opened.warnings.len(), 1);
    }
}
