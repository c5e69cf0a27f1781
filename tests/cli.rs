//! The commands other than running: validate, schema, graph, help and version.

use crate::harness::{root, runner, stderr, stdout};

#[test]
fn every_shipped_pipeline_validates() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = runner(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches(": ok\n").count(), files.len());
}

#[test]
fn every_shipped_pipeline_names_the_schema_on_its_first_line() {
    for entry in std::fs::read_dir(root().join("pipelines")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                text.lines().next(),
                Some("# yaml-language-server: $schema=../schemas/pipeline.schema.json"),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn schema_command_prints_the_schema_file_byte_for_byte() {
    let out = runner(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let file = std::fs::read(root().join("schemas/pipeline.schema.json")).unwrap();
    assert!(
        out.stdout == file,
        "`runner schema` differs from schemas/pipeline.schema.json"
    );
}

#[test]
fn validate_json_lists_every_diagnostic_with_position() {
    let bad = root().join("tests/data/bad/many-errors.yaml");
    let good = root().join("pipelines/etl.yaml");
    let out = runner(&[
        "validate",
        "--format",
        "json",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["file"], bad.to_str().unwrap());
    assert_eq!(
        (items[0]["line"].as_u64(), items[0]["column"].as_u64()),
        (Some(2), Some(10))
    );
    assert_eq!(items[2]["message"], "unknown checksum algorithm `md5`");
    assert_eq!(
        (items[2]["line"].as_u64(), items[2]["column"].as_u64()),
        (Some(6), Some(21))
    );
    assert_eq!(items[2]["severity"], "error");
}

#[test]
fn validate_without_files_is_a_usage_error() {
    let out = runner(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_file_is_reported() {
    let out = runner(&["validate", "no/such/pipeline.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("no/such/pipeline.yaml: error: cannot read the file:"),
        "{}",
        stderr(&out)
    );
    let out = runner(&["no/such/pipeline.yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn graph_text_and_dot() {
    let out = runner(&["graph", "pipelines/branches.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("job fanout: pipelines/data/inbox [*.txt, *.csv] accept text, empty\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "├─ tee\n│  ├─ gzip(level = 9)\n│  └─ write\n│     └─ ../out/branches/raw/{name}.gz\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("└─ write\n   └─ ../out/branches/upper/{stem}.upper.{ext}\n"),
        "{text}"
    );

    let out = runner(&["graph", "--format", "dot", "pipelines/etl.yaml"]);
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph runner {"), "{dot}");
    assert!(dot.contains("[label=\"gzip(level = 6)\"]"), "{dot}");
    assert_eq!(dot.matches("shape=note").count(), 4, "{dot}");
    assert!(dot.ends_with("  }\n}\n"), "{dot}");
}

#[test]
fn help_and_version() {
    for args in [
        &["--help"][..],
        &["validate", "--help"],
        &["graph", "--help"],
        &["run", "--help"],
    ] {
        let out = runner(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(stdout(&out).contains("Usage: runner"), "{args:?}");
    }
    let out = runner(&["--version"]);
    assert_eq!(
        stdout(&out),
        format!("runner {}\n", env!("CARGO_PKG_VERSION"))
    );
    // `--version` works everywhere, as `--help` does.
    for args in [
        &["validate", "--version"][..],
        &["state", "show", "--version"],
        &["graph", "--version"],
    ] {
        let out = runner(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(env!("CARGO_PKG_VERSION")),
            "{args:?}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn workers_on_the_command_line_has_the_pipeline_files_range() {
    let out = runner(&["--workers", "1025", "pipelines/etl.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("1..=1024"), "{}", stderr(&out));
}

#[test]
fn garbage_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: &[&[u8]] = &[
        b"\x00\x01\x02",
        b"[[[[",
        b"version: 1\njobs: {a: {source: {dir: x}, chain: \"\\x00\"}}",
        b"version: 1\njobs:\n  a:\n    source: {dir: x}\n    chain: \"tee(tee(tee(\"\n",
        b"&a [*a]",
        b"version: &v 1\njobs: *v\n",
        b"- - - -",
        b"version: 1\njobs: {a: {source: {dir: x}, chain: write(\"\xc3\xa9{name}\")}}\n",
    ];
    for (i, bytes) in inputs.iter().enumerate() {
        let path = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&path, bytes).unwrap();
        let out = runner(&["validate", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{i}: {err}");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{i}: {err}");
    }
}
