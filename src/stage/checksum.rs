//! The `checksum` stage: hashes the stream while passing it on unchanged, and formats sidecar lines.

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::Digest as _;
use xxhash_rust::xxh3::Xxh3Default;
use xxhash_rust::xxh64::Xxh64;

use crate::stage::{BoxSink, ChecksumAlgo, Digest, FileReport, Sink, StageError};

/// Passes every chunk to the next sink as is (the same slice, no copy) and hashes it; at the end
/// of the stream it adds a [`Digest`] to the report, then finishes the next sink.
pub struct Checksum {
    hasher: Hasher,
    sidecar: Option<PathBuf>,
    next: BoxSink,
}

/// The running state of one algorithm (XXH3 states are large, hence boxed).
enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Xxh64(Xxh64),
    Xxh3(Box<Xxh3Default>),
    Xxh128(Box<Xxh3Default>),
}

impl Checksum {
    /// A checksum stage with `algo` in front of `next`; `sidecar` is where the engine must write
    /// the [`sidecar_line`] (already expanded), carried through to the report.
    pub fn new(algo: ChecksumAlgo, sidecar: Option<PathBuf>, next: BoxSink) -> Self {
        let hasher = match algo {
            ChecksumAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            ChecksumAlgo::Xxh64 => Hasher::Xxh64(Xxh64::new(0)),
            ChecksumAlgo::Xxh3 => Hasher::Xxh3(Box::new(Xxh3Default::new())),
            ChecksumAlgo::Xxh128 => Hasher::Xxh128(Box::new(Xxh3Default::new())),
        };
        Checksum {
            hasher,
            sidecar,
            next,
        }
    }
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Xxh64(h) => h.update(bytes),
            Hasher::Xxh3(h) | Hasher::Xxh128(h) => h.update(bytes),
        }
    }

    /// The algorithm and the digest as lower-case hex, most significant byte first (the
    /// canonical form `sha256sum` and `xxhsum` print).
    fn finish(self) -> (ChecksumAlgo, String) {
        match self {
            Hasher::Sha256(h) => (ChecksumAlgo::Sha256, hex(&h.finalize())),
            Hasher::Sha512(h) => (ChecksumAlgo::Sha512, hex(&h.finalize())),
            Hasher::Xxh64(h) => (ChecksumAlgo::Xxh64, format!("{:016x}", h.digest())),
            Hasher::Xxh3(h) => (ChecksumAlgo::Xxh3, format!("{:016x}", h.digest())),
            Hasher::Xxh128(h) => (ChecksumAlgo::Xxh128, format!("{:032x}", h.digest128())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Sink for Checksum {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.hasher.update(chunk);
        self.next.push(chunk)
    }

    fn finish(self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        let Checksum {
            hasher,
            sidecar,
            next,
        } = *self;
        let (algo, hex) = hasher.finish();
        report.digests.push(Digest { algo, hex, sidecar });
        next.finish(report)
    }
}

/// The line (with its final newline) that the standard tool prints for a file called
/// `file_name` whose digest is `hex`, so that the tool's `-c` mode, run in the file's directory,
/// verifies it:
///
/// - `sha256`, `sha512`: `HEX  NAME`, as GNU `sha256sum` / `sha512sum` print it. A name that
///   contains a backslash, a newline or a carriage return is escaped (`\\`, `\n`, `\r`) and the
///   line starts with a backslash (GNU coreutils 9.x).
/// - `xxh64`, `xxh128`: `HEX  NAME`, as `xxhsum -H64` / `xxhsum -H128` print it.
/// - `xxh3`: `XXH3 (NAME) = HEX`, as `xxhsum -H3` 0.8.1 prints it. (xxhsum 0.8.2 and later print
///   `XXH3_HEX  NAME` instead, and read both forms; 0.8.1 reads only this one.)
///
/// For the xxhsum formats a backslash in the name is written as is: every xxhsum version reads
/// that line back correctly, and 0.8.1 reads no other form. A name with a newline or carriage
/// return gets the escaped form that xxhsum 0.8.2 and later print and read; no form of such a
/// name can be verified by xxhsum 0.8.1.
pub fn sidecar_line(algo: ChecksumAlgo, hex: &str, file_name: &str) -> String {
    let gnu_escape = match algo {
        ChecksumAlgo::Sha256 | ChecksumAlgo::Sha512 => file_name.contains(['\\', '\n', '\r']),
        ChecksumAlgo::Xxh64 | ChecksumAlgo::Xxh3 | ChecksumAlgo::Xxh128 => {
            file_name.contains(['\n', '\r'])
        }
    };
    let mut line = String::with_capacity(hex.len() + file_name.len() + 16);
    if gnu_escape {
        line.push('\\');
    }
    let push_name = |line: &mut String| {
        if gnu_escape {
            for c in file_name.chars() {
                match c {
                    '\\' => line.push_str("\\\\"),
                    '\n' => line.push_str("\\n"),
                    '\r' => line.push_str("\\r"),
                    c => line.push(c),
                }
            }
        } else {
            line.push_str(file_name);
        }
    };
    match algo {
        ChecksumAlgo::Xxh3 => {
            line.push_str("XXH3 (");
            push_name(&mut line);
            line.push_str(") = ");
            line.push_str(hex);
        }
        ChecksumAlgo::Sha256
        | ChecksumAlgo::Sha512
        | ChecksumAlgo::Xxh64
        | ChecksumAlgo::Xxh128 => {
            line.push_str(hex);
            line.push_str("  ");
            push_name(&mut line);
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::stage::testutil::{CHUNK_SIZES, run_chunked};

    /// Independent one-shot implementations: the hash crates' own functions.
    fn one_shot(algo: ChecksumAlgo, data: &[u8]) -> String {
        match algo {
            ChecksumAlgo::Sha256 => hex(&sha2::Sha256::digest(data)),
            ChecksumAlgo::Sha512 => hex(&sha2::Sha512::digest(data)),
            ChecksumAlgo::Xxh64 => format!("{:016x}", xxhash_rust::xxh64::xxh64(data, 0)),
            ChecksumAlgo::Xxh3 => format!("{:016x}", xxhash_rust::xxh3::xxh3_64(data)),
            ChecksumAlgo::Xxh128 => format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data)),
        }
    }

    fn checksum(algo: ChecksumAlgo) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(Checksum::new(algo, None, next))
    }

    fn sample(len: usize) -> Vec<u8> {
        // Deterministic, not periodic at any small chunk size.
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn known_answer_vectors() {
        let cases: [(ChecksumAlgo, &[u8], &str); 10] = [
            (
                ChecksumAlgo::Sha256,
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                ChecksumAlgo::Sha256,
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                ChecksumAlgo::Sha256,
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                ChecksumAlgo::Sha512,
                b"abc",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (ChecksumAlgo::Xxh64, b"", "ef46db3751d8e999"),
            (ChecksumAlgo::Xxh3, b"", "2d06800538d394c2"),
            (
                ChecksumAlgo::Xxh128,
                b"",
                "99aa06d3014798d86001c324468d497f",
            ),
            // As printed by `xxhsum -H64|-H3|-H128` 0.8.1 for a file containing "abc".
            (ChecksumAlgo::Xxh64, b"abc", "44bc2cf5ad770999"),
            (ChecksumAlgo::Xxh3, b"abc", "78af5f94892f3950"),
            (
                ChecksumAlgo::Xxh128,
                b"abc",
                "06b05ab6733a618578af5f94892f3950",
            ),
        ];
        for (algo, input, expected) in cases {
            for chunk in CHUNK_SIZES {
                let (out, report) = run_chunked(checksum(algo), input, chunk).unwrap();
                assert_eq!(out, input);
                assert_eq!(report.digests.len(), 1);
                assert_eq!(report.digests[0].algo, algo);
                assert_eq!(report.digests[0].hex, expected, "{algo} chunk {chunk}");
            }
        }
    }

    #[test]
    fn streaming_digest_equals_one_shot_at_every_chunk_size() {
        // Sizes around the hashes' internal block sizes (64, 128, 256 bytes) and a large input.
        for len in [
            0, 1, 63, 64, 65, 127, 128, 129, 240, 241, 1024, 100_003, 300_000,
        ] {
            let input = sample(len);
            for algo in ChecksumAlgo::ALL {
                let expected = one_shot(algo, &input);
                for chunk in CHUNK_SIZES {
                    let (out, report) = run_chunked(checksum(algo), &input, chunk).unwrap();
                    assert!(out == input, "{algo}: bytes changed");
                    assert_eq!(
                        report.digests[0].hex, expected,
                        "{algo} len {len} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn digests_are_reported_in_chain_order_with_their_sidecar() {
        let input = b"chain order";
        let build = |next: BoxSink| -> BoxSink {
            let inner = Box::new(Checksum::new(ChecksumAlgo::Xxh3, None, next));
            Box::new(Checksum::new(
                ChecksumAlgo::Sha256,
                Some(PathBuf::from("sums/x.sha256")),
                inner,
            ))
        };
        let (out, report) = run_chunked(build, input, 3).unwrap();
        assert_eq!(out, input);
        assert_eq!(
            report.digests,
            vec![
                Digest {
                    algo: ChecksumAlgo::Sha256,
                    hex: one_shot(ChecksumAlgo::Sha256, input),
                    sidecar: Some(PathBuf::from("sums/x.sha256")),
                },
                Digest {
                    algo: ChecksumAlgo::Xxh3,
                    hex: one_shot(ChecksumAlgo::Xxh3, input),
                    sidecar: None,
                },
            ]
        );
    }

    #[test]
    fn downstream_errors_propagate() {
        struct Full;
        impl Sink for Full {
            fn push(&mut self, _: &[u8]) -> Result<(), StageError> {
                Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full").into())
            }
            fn finish(self: Box<Self>, _: &mut FileReport) -> Result<(), StageError> {
                Ok(())
            }
        }
        let mut stage = Checksum::new(ChecksumAlgo::Sha256, None, Box::new(Full));
        assert!(matches!(stage.push(b"x"), Err(StageError::Io(_))));
    }

    #[test]
    fn sidecar_lines_are_exactly_what_the_tools_print() {
        let h64 = "44bc2cf5ad770999";
        let cases = [
            (ChecksumAlgo::Sha256, "ab", "a.txt", "ab  a.txt\n"),
            (ChecksumAlgo::Sha512, "ab", "sp ace", "ab  sp ace\n"),
            (
                ChecksumAlgo::Sha256,
                "ab",
                "back\\slash",
                "\\ab  back\\\\slash\n",
            ),
            (
                ChecksumAlgo::Sha256,
                "ab",
                "new\nline",
                "\\ab  new\\nline\n",
            ),
            (ChecksumAlgo::Sha256, "ab", "car\rret", "\\ab  car\\rret\n"),
            (ChecksumAlgo::Sha256, "ab", "*star", "ab  *star\n"),
            (
                ChecksumAlgo::Xxh64,
                h64,
                "a.txt",
                "44bc2cf5ad770999  a.txt\n",
            ),
            (ChecksumAlgo::Xxh128, "0f", "b\\s", "0f  b\\s\n"),
            (
                ChecksumAlgo::Xxh3,
                h64,
                "a.txt",
                "XXH3 (a.txt) = 44bc2cf5ad770999\n",
            ),
            (ChecksumAlgo::Xxh3, "ab", "b\\s", "XXH3 (b\\s) = ab\n"),
            (
                ChecksumAlgo::Xxh3,
                "ab",
                "n\\\nl",
                "\\XXH3 (n\\\\\\nl) = ab\n",
            ),
            (ChecksumAlgo::Xxh64, "ab", "n\nl", "\\ab  n\\nl\n"),
        ];
        for (algo, hex, name, line) in cases {
            assert_eq!(sidecar_line(algo, hex, name), line, "{algo} {name:?}");
        }
    }

    /// Runs `tool -c SUMS` in `dir`; `None` if the tool is not installed.
    fn check_with(dir: &Path, tool: &str, sums: &str) -> Option<bool> {
        match Command::new(tool)
            .arg("-c")
            .arg(sums)
            .current_dir(dir)
            .output()
        {
            Ok(out) => Some(out.status.success()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("skipping: {tool} is not installed");
                None
            }
            Err(e) => panic!("running {tool}: {e}"),
        }
    }

    fn tool_of(algo: ChecksumAlgo) -> &'static str {
        match algo {
            ChecksumAlgo::Sha256 => "sha256sum",
            ChecksumAlgo::Sha512 => "sha512sum",
            _ => "xxhsum",
        }
    }

    #[test]
    fn sidecars_verify_with_the_standard_tools() {
        let dir = tempfile::tempdir().unwrap();
        let content = sample(10_000);
        'algos: for algo in ChecksumAlgo::ALL {
            let mut names = vec![
                "plain.txt",
                "sp ace",
                "back\\slash",
                "*star",
                "-dash",
                "ünï",
            ];
            // xxhsum 0.8.1 cannot verify a name with a newline in any form (see `sidecar_line`).
            if matches!(algo, ChecksumAlgo::Sha256 | ChecksumAlgo::Sha512) {
                names.extend(["new\nline", "both\\and\nnl", "car\rret"]);
            }
            for name in names {
                fs::write(dir.path().join(name), &content).unwrap();
                let (_, report) = run_chunked(checksum(algo), &content, 4096).unwrap();
                let line = sidecar_line(algo, &report.digests[0].hex, name);
                let sums = format!("{}.sums", algo.name());
                fs::write(dir.path().join(&sums), &line).unwrap();
                let Some(ok) = check_with(dir.path(), tool_of(algo), &sums) else {
                    continue 'algos;
                };
                assert!(ok, "{} -c rejected {line:?}", tool_of(algo));

                // The check can fail: a changed file must be reported.
                fs::write(dir.path().join(name), b"changed").unwrap();
                let ok = check_with(dir.path(), tool_of(algo), &sums).unwrap();
                assert!(!ok, "{} -c accepted a changed file", tool_of(algo));
                fs::remove_file(dir.path().join(name)).unwrap();
            }
        }
    }

    #[test]
    fn sidecars_match_the_tools_own_output() {
        let dir = tempfile::tempdir().unwrap();
        let content = sample(5000);
        for name in ["plain.txt", "back\\slash", "new\nline", "sp ace"] {
            fs::write(dir.path().join(name), &content).unwrap();
            for (algo, tool, args) in [
                (ChecksumAlgo::Sha256, "sha256sum", &[][..]),
                (ChecksumAlgo::Sha512, "sha512sum", &[][..]),
                (ChecksumAlgo::Xxh64, "xxhsum", &["-H64"][..]),
                (ChecksumAlgo::Xxh3, "xxhsum", &["-H3"][..]),
                (ChecksumAlgo::Xxh128, "xxhsum", &["-H128"][..]),
            ] {
                let is_xxhsum = tool == "xxhsum";
                if is_xxhsum && name.contains('\n') {
                    continue; // xxhsum 0.8.1 prints such names raw, which nothing can parse
                }
                let out = match Command::new(tool)
                    .args(args)
                    .arg(name)
                    .current_dir(dir.path())
                    .output()
                {
                    Ok(out) => out,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("running {tool}: {e}"),
                };
                assert!(out.status.success());
                let printed = String::from_utf8(out.stdout).unwrap();
                let (_, report) = run_chunked(checksum(algo), &content, 7).unwrap();
                let ours = sidecar_line(algo, &report.digests[0].hex, name);
                if is_xxhsum && name.contains('\\') && printed.starts_with('\\') {
                    // xxhsum 0.8.2+ escapes backslashes; we write the raw form every version reads.
                    continue;
                }
                if algo == ChecksumAlgo::Xxh3 && printed.starts_with("XXH3_") {
                    continue; // xxhsum 0.8.2+: GNU form; it reads our BSD form too
                }
                assert_eq!(ours, printed, "{tool} {args:?} {name:?}");
            }
        }
    }
}
