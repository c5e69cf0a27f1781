//! The chain DSL parser and compiler on arbitrary UTF-8.
//!
//! Properties checked:
//! - `parse_chain` and `compile` never panic;
//! - every span (in the tree and in every parse or compile error) lies within the text, starts
//!   no later than it ends, and both ends are on char boundaries; a stage's `name_span` covers
//!   exactly its name;
//! - round trip: the canonical form (`Display`) parses back to the same tree (spans aside);
//! - the canonical form compiles to the same plan (or fails the same way) as the original.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::dsl::{Chain, Span, ValueKind, parse_chain};
use runner::plan::chain::compile;
use std::path::Path;

fn check_span(text: &str, span: Span, what: &str) {
    assert!(
        span.start <= span.end && span.end <= text.len(),
        "{what}: span {span:?} out of the text ({} bytes): {text:?}",
        text.len()
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: span {span:?} not on char boundaries: {text:?}"
    );
}

fn check_tree(text: &str, chain: &Chain) {
    check_span(text, chain.span, "chain");
    for stage in &chain.stages {
        check_span(text, stage.span, "stage");
        check_span(text, stage.name_span, "stage name");
        assert_eq!(
            &text[stage.name_span.start..stage.name_span.end],
            stage.name,
            "name_span does not cover the name"
        );
        for arg in &stage.args {
            check_span(text, arg.span, "argument");
            if let Some((_, span)) = &arg.name {
                check_span(text, *span, "argument name");
            }
            check_span(text, arg.value.span, "value");
            if let ValueKind::Chain(nested) = &arg.value.kind {
                check_tree(text, nested);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chain = match parse_chain(text) {
        Ok(chain) => chain,
        Err(errors) => {
            assert!(!errors.is_empty(), "Err with no error");
            for e in &errors {
                check_span(text, e.span, &format!("parse error `{}`", e.message));
            }
            return;
        }
    };
    check_tree(text, &chain);

    let base = Path::new("/base");
    let plan = compile(&chain, text, base);
    if let Err(errors) = &plan {
        assert!(!errors.is_empty(), "Err with no error");
        for e in errors {
            check_span(text, e.span, &format!("compile error `{}`", e.message));
        }
    }

    // Round trip through the canonical form.
    let printed = chain.to_string();
    let reparsed = match parse_chain(&printed) {
        Ok(c) => c,
        Err(e) => panic!(
            "the canonical form does not parse\n  input:   {text:?}\n  printed: {printed:?}\n  errors:  {e:?}"
        ),
    };
    assert_eq!(
        reparsed.without_spans(),
        chain.without_spans(),
        "round trip changed the tree\n  input:   {text:?}\n  printed: {printed:?}"
    );
    check_tree(&printed, &reparsed);

    // The canonical form means the same thing.
    let plan2 = compile(&reparsed, &printed, base);
    match (&plan, &plan2) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "plans differ\n  input:   {text:?}\n  printed: {printed:?}"),
        (Err(_), Err(errors)) => {
            for e in errors {
                check_span(&printed, e.span, &format!("compile error `{}`", e.message));
            }
        }
        _ => panic!(
            "compile outcome changed by the round trip\n  input:   {text:?}\n  printed: {printed:?}\n  original: {plan:?}\n  printed:  {plan2:?}"
        ),
    }
});
