//! The corpus of bad pipeline files: each file, and exactly what `runner validate` says of it.

use crate::harness::{data, runner};

/// (file under tests/data/bad, expected stderr with the file name written FILE)
const CORPUS: &[(&str, &str)] = &[
    (
        "after-move-empty.yaml",
        r#"FILE:4:40: error: `move` needs a directory, found an empty string
  |
4 |     source: {dir: inbox, after: {move: ""}, reject: {quarantine: 5}}
  |                                        ^^
FILE:4:66: error: `quarantine` takes a directory path, found `5`
  |
4 |     source: {dir: inbox, after: {move: ""}, reject: {quarantine: 5}}
  |                                                                  ^
"#,
    ),
    (
        "after-writer.yaml",
        r#"FILE:7:9: error: stage `gzip` comes after the writer `write`
  |
7 |       | gzip
  |         ^^^^
  = help: a writer ends its chain: use `tee(...)` to write a copy and go on
"#,
    ),
    (
        "bad-enum.yaml",
        r#"FILE:4:10: error: `verbose` for `level` is not one of: error, warn, info, debug, trace
  |
4 |   level: verbose
  |          ^^^^^^^
FILE:9:22: error: `jpg` for `accept` is not one of: empty, text, gzip, zip, zstd, bzip2, xz, pdf, png, jpeg, gif, elf, binary
  |
9 |       accept: [text, jpg]
  |                      ^^^
  = help: did you mean `jpeg`?
FILE:10:14: error: expected `keep`, `delete` or `{move: ...}` for `after`, found `{mv: ...}`
   |
10 |       after: {mv: done}
   |              ^^^^^^^^^^
"#,
    ),
    (
        "bad-glob.yaml",
        r#"FILE:4:36: error: invalid glob `*.{txt`: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)
  |
4 |     source: {dir: inbox, include: ["*.{txt"]}
  |                                    ^^^^^^^^
"#,
    ),
    (
        "bad-job-name.yaml",
        r#"FILE:3:3: error: job name `my job` is not an identifier
  |
3 |   "my job":
  |   ^^^^^^^^
  = help: job names are letters, digits, `_` and `-`, starting with a letter or `_`
"#,
    ),
    (
        "bad-placeholder.yaml",
        r#"FILE:5:32: error: unknown placeholder `{nmae}`
  |
5 |     chain: "gzip | write(\"out/{nmae}.gz\")"
  |                                ^^^^^^
  = help: did you mean `{name}`?
"#,
    ),
    (
        "bad-size.yaml",
        r#"FILE:2:8: error: invalid size `64kb`: unknown unit `kb` (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)
  |
2 | chunk: 64kb
  |        ^^^^
"#,
    ),
    (
        "chunk-out-of-range.yaml",
        r#"FILE:2:8: error: chunk 32MiB is out of range 4KiB..16MiB
  |
2 | chunk: 32MiB
  |        ^^^^^
"#,
    ),
    (
        "duplicate-writers.yaml",
        r#"FILE:5:64: error: two writers of this job write the same path `out/{name}`
  |
5 |     chain: tee("out/{name}") | upper | multiwrite("up/{name}", "out/{name}")
  |                                                                ^^^^^^^^^^^^
  = help: `out/{name}` is already written earlier in the chain
"#,
    ),
    (
        "empty.yaml",
        r#"FILE: error: the file is empty: a pipeline needs at least `version: 1` and `jobs`
"#,
    ),
    (
        "escaping-template.yaml",
        r#"FILE:5:30: error: `..` after a placeholder could take the output out of its directory
  |
5 |     chain: write("out/{name}/../../../etc/passwd")
  |                              ^^
  = help: put every `..` before the first placeholder
FILE:5:33: error: `..` after a placeholder could take the output out of its directory
  |
5 |     chain: write("out/{name}/../../../etc/passwd")
  |                                 ^^
  = help: put every `..` before the first placeholder
FILE:5:36: error: `..` after a placeholder could take the output out of its directory
  |
5 |     chain: write("out/{name}/../../../etc/passwd")
  |                                    ^^
  = help: put every `..` before the first placeholder
"#,
    ),
    (
        // Value checks beyond the schema are reported with the schema's findings.
        "every-value-error.yaml",
        r#"FILE:2:10: error: workers must be written as a whole number, found `2.0`
  |
2 | workers: 2.0
  |          ^^^
  = help: write it without a decimal point, e.g. `workers: 2`
FILE:3:8: error: chunk 1KiB is out of range 4KiB..16MiB
  |
3 | chunk: 1KiB
  |        ^^^^
FILE:4:1: error: unknown key `workrs`; did you mean `workers`?
  |
4 | workrs: 2
  | ^^^^^^
"#,
    ),
    (
        "level-out-of-range.yaml",
        r#"FILE:5:25: error: gzip level 11 is out of range 0..9
  |
5 |     chain: gzip(level = 11) | write("out/{name}.gz")
  |                         ^^
"#,
    ),
    (
        "many-errors.yaml",
        r#"FILE:2:10: error: `0` for `workers` is below the minimum 1
  |
2 | workers: 0
  |          ^
FILE:5:26: error: unknown key `inclde`; did you mean `include`?
  |
5 |     source: {dir: inbox, inclde: ["*"]}
  |                          ^^^^^^
FILE:6:21: error: unknown checksum algorithm `md5`
  |
6 |     chain: checksum(md5) | write("out/{name}")
  |                     ^^^
  = help: algorithms: sha256, sha512, xxh64, xxh3, xxh128
FILE:9:25: error: unknown mode `utf8`
  |
9 |     chain: upper(mode = utf8) | multiwrite("x/{name}")
  |                         ^^^^
  = help: modes are `ascii` and `unicode`
FILE:9:33: error: `multiwrite` needs two or more output paths
  |
9 |     chain: upper(mode = utf8) | multiwrite("x/{name}")
  |                                 ^^^^^^^^^^^^^^^^^^^^^^
  = help: use `write(...)` for a single output
"#,
    ),
    (
        "missing-chain.yaml",
        r#"FILE:3:3: error: `etl` is missing the required key `chain`
  |
3 |   etl:
  |   ^^^
"#,
    ),
    (
        "missing-pipe.yaml",
        r#"FILE:7:7: error: expected `|` between stages, found `u`
  |
7 |       upper
  |       ^
  = help: stages are separated by `|`
"#,
    ),
    (
        "missing-version.yaml",
        r#"FILE:1:1: error: the pipeline is missing the required key `version`
  |
1 | jobs:
  | ^
"#,
    ),
    (
        "no-writer.yaml",
        r#"FILE:8:9: error: the chain does not end in a writer
  |
8 |       | gzip
  |         ^^^^
  = help: end it with `write("DIR/{name}")` or `multiwrite("A/{name}", "B/{name}")`
"#,
    ),
    (
        "not-utf8.yaml",
        r#"FILE:4:22: error: the file is not UTF-8 text
  |
4 |     source: {dir: "in�box"}
  |                      ^
"#,
    ),
    (
        "unbalanced-brace.yaml",
        r#"FILE:5:30: error: unbalanced `{` in template
  |
5 |     chain: gzip | write("out/{name.gz")
  |                              ^
  = help: placeholders are written `{name}`; braces cannot appear otherwise
"#,
    ),
    (
        "unknown-argument.yaml",
        r#"FILE:5:21: error: `checksum` has no argument `algorithm`
  |
5 |     chain: checksum(algorithm = sha256) | write("out/{name}")
  |                     ^^^^^^^^^
  = help: its arguments: algo, sidecar
"#,
    ),
    (
        "unknown-stage.yaml",
        r#"FILE:6:31: error: unknown stage `gzp`; did you mean `gzip`?
  |
6 |     chain: checksum(sha256) | gzp(level = 6) | write("out/{name}.gz")
  |                               ^^^
"#,
    ),
    (
        "unknown-top-key.yaml",
        r#"FILE:2:1: error: unknown key `chunck`; did you mean `chunk`?
  |
2 | chunck: 64KiB
  | ^^^^^^
"#,
    ),
    (
        "unterminated-string.yaml",
        r#"FILE:5:26: error: unterminated string
  |
5 |     chain: 'gzip | write("out/{name}.gz)'
  |                          ^
  = help: add the closing `"`
"#,
    ),
    (
        "version-quoted.yaml",
        r#"FILE:1:10: error: version must be the number 1, not the string "1"
  |
1 | version: "1"
  |          ^^^
  = help: write `version: 1`, without quotes
"#,
    ),
    (
        "wrong-type.yaml",
        r#"FILE:2:10: error: expected an integer for `workers`, found `two`
  |
2 | workers: two
  |          ^^^
FILE:5:37: error: expected true or false for `recursive`, found `yes`
  |
5 |     source: {dir: inbox, recursive: "yes"}
  |                                     ^^^^^
"#,
    ),
    (
        "wrong-version.yaml",
        r#"FILE:1:10: error: unsupported version `2`: this runner reads version 1
  |
1 | version: 2
  |          ^
"#,
    ),
    (
        "yaml-syntax.yaml",
        r#"FILE:5:10: error: YAML syntax error: while parsing a flow mapping, did not find expected ',' or '}'
  |
5 |     chain: write("out/{name}")
  |          ^
"#,
    ),
];

#[test]
fn every_bad_file_gives_its_diagnostics_and_exit_1() {
    for (name, expected) in CORPUS {
        let path = data(&format!("bad/{name}"));
        let out = runner(&["validate", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr).replace(path.to_str().unwrap(), "FILE");
        assert_eq!(stderr, *expected, "diagnostics of {name}");
        assert_eq!(out.status.code(), Some(1), "exit status of {name}");
    }
}

#[test]
fn the_corpus_lists_every_bad_file() {
    let mut files: Vec<String> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let listed: Vec<String> = CORPUS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(files, listed);
    assert!(files.len() >= 15);
}

#[test]
fn running_a_bad_file_exits_2_with_the_same_diagnostics() {
    let path = data("bad/unknown-stage.yaml");
    let out = runner(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":6:31: error: unknown stage `gzp`; did you mean `gzip`?"),
        "{stderr}"
    );
}
