//! Fault injection: a full disk under the outputs. As root (CI) the outputs go to a small tmpfs;
//! otherwise the file-size limit (RLIMIT_FSIZE) stands in for it.

use crate::harness::stderr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Mounts a tmpfs of `kib` KiB at `dir`; false if this process may not.
fn mount_tmpfs(dir: &Path, kib: u32) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(dir: &Path, fsize_limit: Option<u64>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(["p.yaml"]).current_dir(dir).stdin(Stdio::null());
    if let Some(limit) = fsize_limit {
        // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.output().unwrap()
}

#[test]
fn a_full_disk_fails_the_file_that_does_not_fit_and_only_that_one() {
    full_disk(512, 2_000_000);
}

/// The disk fills after the output's first MiB, when its writing has moved to an I/O thread:
/// the error comes back from that thread, and the file fails the same way.
#[test]
fn a_disk_that_fills_behind_the_write_behind_thread_fails_the_file_the_same_way() {
    full_disk(2048, 6_000_000);
}

/// Outputs go to a disk of `kib` KiB; the middle one of three inputs has `big` bytes, more
/// than fit.
fn full_disk(kib: u32, big: u32) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        "version: 1\nworkers: 1\njobs:\n  j:\n    source: {dir: in}\n    chain: write(\"out/{name}\")\n",
    )
    .unwrap();
    let small: Vec<u8> = b"small file\n".repeat(1000);
    let big: Vec<u8> = (0..big).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("in/a.bin"), &small).unwrap();
    std::fs::write(dir.join("in/b.bin"), &big).unwrap();
    std::fs::write(dir.join("in/c.bin"), &small).unwrap();

    let mounted = mount_tmpfs(&dir.join("out"), kib);
    let out = if mounted {
        run(dir, None)
    } else {
        run(dir, Some(u64::from(kib) * 1024 * 3 / 4))
    };
    let names: Vec<String> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let a = std::fs::read(dir.join("out/a.bin"));
    let c = std::fs::read(dir.join("out/c.bin"));
    if mounted {
        let _ = Command::new("umount").arg(dir.join("out")).status();
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let expected = if mounted {
        "No space left on device"
    } else {
        "File too large"
    };
    assert!(
        err.contains("in/b.bin: failed:") && err.contains(expected),
        "{err}"
    );
    assert_eq!(a.unwrap(), small);
    assert_eq!(
        c.unwrap(),
        small,
        "the file after the failed one still succeeds"
    );
    let mut names = names;
    names.sort();
    assert_eq!(names, ["a.bin", "c.bin"], "no partial output, no temp file");
}
