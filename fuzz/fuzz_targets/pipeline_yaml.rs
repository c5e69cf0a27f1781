//! Pipeline files on arbitrary UTF-8: loading, validating and rendering every diagnostic.
//!
//! Properties checked: `config::load_str`, `SourceFile::render` and `SourceFile::locate` never
//! panic; a diagnostic's line and column point inside the file; a file without errors has a plan
//! and a file with errors has none.
//!
//! Found so far: `render` panicked (`min > max` in `usize::clamp`) on a span past the text of its
//! line once a trailing `\r` is trimmed, e.g. the 2-byte file `[\r` (fixed in 97c8277; the inputs
//! are kept as `corpus/pipeline_yaml/crash-render-cr-at-eof*`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::config::load_str;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = load_str(text, Path::new("/tmp/fuzz/p.yaml"));
    let lines = text.split('\n').count();
    for d in &loaded.diagnostics {
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
