//! Pipeline files on arbitrary UTF-8: loading, validating and rendering every diagnostic.
//!
//! Properties checked: `config::load_str`, `SourceFile::render` and `SourceFile::locate` never
//! panic; a diagnostic's line and column point inside the file; a file without errors has a plan
//! and a file with errors has none.
//!
//! Known bugs, not fixed yet, can be stepped over so that a long run finds new ones: with the
//! environment variable `RUNNER_FUZZ_SKIP_KNOWN=1` the target does not render a diagnostic that
//! hits one (see `known_bug`). Without it (the default) every diagnostic is rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::config::load_str;
use std::path::Path;

/// Whether rendering `d` would hit a known, reported bug.
///
/// Bug 1 (`SourceFile::render`, `min > max` in `usize::clamp`): a span that starts after the
/// text of its line once the trailing `\r` is trimmed, i.e. on the `\n` of a CRLF line break or
/// at the end of a file whose last line ends in `\r` (the 2-byte file `[\r`).
fn known_bug(text: &str, d: &runner::diagnostic::Diagnostic) -> bool {
    let Some(span) = &d.span else { return false };
    let mut at = span.start.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].split('\n').next().unwrap_or("");
    let line_end = line_start + line.trim_end_matches('\r').len();
    span.start > line_end
        && span.start <= text.len()
        && text[line_end..span.start].bytes().all(|b| b == b'\r')
}

fn skip_known() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("RUNNER_FUZZ_SKIP_KNOWN").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = load_str(text, Path::new("/tmp/fuzz/p.yaml"));
    let lines = text.split('\n').count();
    for d in &loaded.diagnostics {
        if skip_known() && known_bug(text, d) {
            continue;
        }
        let rendered = loaded.source.render(d);
        assert!(rendered.contains(&d.message), "the rendering lost the message");
        let at = loaded.source.locate(d);
        assert!(
            at.line >= 1 && at.line <= lines && at.column >= 1,
            "diagnostic located outside the file: {at:?} ({lines} lines)"
        );
    }
    assert_eq!(
        loaded.plan.is_some(),
        !loaded.has_errors(),
        "plan present iff no error: {:?}",
        loaded.diagnostics
    );
});
