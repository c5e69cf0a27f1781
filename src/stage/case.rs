//! The `upper` and `lower` stages: ASCII or full Unicode case mapping of the stream.
//!
//! In Unicode mode the output is exactly `str::to_uppercase` / `str::to_lowercase` of the whole
//! input, however it is cut into chunks: a character split across chunks is carried over (at most
//! 3 bytes), and a `Σ` whose lower case depends on what follows it (`σ` inside a word, `ς` at its
//! end) is held back until the next character that decides it.

use crate::stage::final_sigma::{SigmaContext, context_of};
use crate::stage::{BoxSink, CaseMode, FileReport, Sink, StageError};

/// How many bytes of output may wait behind an undecided `Σ`. A `Σ` is decided by the next
/// character that is not case-ignorable; real text has a few combining marks or an apostrophe
/// in between. After this many bytes of case-ignorable characters the `Σ` is taken as
/// word-internal (`σ`): the one place where the output can differ from `str::to_lowercase`,
/// traded for bounded memory.
pub(crate) const SIGMA_HOLD_LIMIT: usize = 64 * 1024;

/// `upper` (`Case::new(true, ..)`) or `lower` (`Case::new(false, ..)`).
pub struct Case {
    upper: bool,
    mode: CaseMode,
    next: BoxSink,
    /// Reused output buffer; in Unicode mode it may start with held-back output (see `held_sigma`).
    out: Vec<u8>,
    /// Unicode mode: the first bytes of a character cut by the end of the previous chunk.
    carry: [u8; 4],
    carry_len: usize,
    /// Input bytes received before the current chunk (for error offsets).
    received: u64,
    /// `lower` in Unicode mode: whether the last character that is not case-ignorable was cased.
    after_cased: bool,
    /// `lower` in Unicode mode: index in `out` of a `Σ` written as `σ` but not decided yet;
    /// nothing from there on has been pushed.
    held_sigma: Option<usize>,
}

impl Case {
    /// A case-mapping stage in front of `next`: upper case if `upper`, else lower case.
    pub fn new(upper: bool, mode: CaseMode, next: BoxSink) -> Self {
        Case {
            upper,
            mode,
            next,
            out: Vec::new(),
            carry: [0; 4],
            carry_len: 0,
            received: 0,
            after_cased: false,
            held_sigma: None,
        }
    }

    fn push_ascii(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.out.clear();
        self.out.extend_from_slice(chunk);
        if self.upper {
            self.out.make_ascii_uppercase();
        } else {
            self.out.make_ascii_lowercase();
        }
        self.next.push(&self.out)?;
        self.out.clear();
        Ok(())
    }

    fn push_unicode(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        let mut rest = chunk;
        let mut rest_offset = self.received;

        if self.carry_len > 0 {
            let carry_offset = self.received - self.carry_len as u64;
            let width = utf8_width(self.carry[0]);
            let take = (width - self.carry_len).min(rest.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&rest[..take]);
            self.carry_len += take;
            rest = &rest[take..];
            rest_offset += take as u64;
            let carry = self.carry;
            match std::str::from_utf8(&carry[..self.carry_len]) {
                Ok(s) => {
                    self.carry_len = 0;
                    self.map(s);
                }
                // Still a valid beginning: the chunk was too short to complete it.
                Err(e) if e.error_len().is_none() => {}
                Err(_) => {
                    return Err(StageError::InvalidUtf8 {
                        offset: carry_offset,
                    });
                }
            }
        }

        if let Some(part) = rest.utf8_chunks().next() {
            let valid = part.valid();
            self.map(valid);
            let bad = part.invalid();
            if !bad.is_empty() {
                let bad_offset = rest_offset + valid.len() as u64;
                let at_end = valid.len() + bad.len() == rest.len();
                let incomplete = std::str::from_utf8(bad).is_err_and(|e| e.error_len().is_none());
                if !(at_end && incomplete) {
                    return Err(StageError::InvalidUtf8 { offset: bad_offset });
                }
                self.carry[..bad.len()].copy_from_slice(bad);
                self.carry_len = bad.len();
            }
        }
        self.push_decided()
    }

    /// Maps complete characters into `out`.
    fn map(&mut self, s: &str) {
        if self.upper {
            for c in s.chars() {
                if c.is_ascii() {
                    self.out.push(c.to_ascii_uppercase() as u8);
                } else {
                    for u in c.to_uppercase() {
                        push_char(&mut self.out, u);
                    }
                }
            }
        } else {
            for c in s.chars() {
                self.lower(c);
            }
        }
    }

    /// Lower-cases one character, applying the final-sigma rule of `str::to_lowercase`.
    fn lower(&mut self, c: char) {
        let context = context_of(c);
        if let Some(at) = self.held_sigma {
            match context {
                SigmaContext::Ignorable => {}
                // A cased letter follows: the word goes on, `σ` stays.
                SigmaContext::Cased => self.held_sigma = None,
                SigmaContext::Other => {
                    set_final_sigma(&mut self.out, at);
                    self.held_sigma = None;
                }
            }
        }
        if c == 'Σ' {
            // Final only after a cased letter; then it depends on what follows.
            if self.after_cased {
                self.held_sigma = Some(self.out.len());
            }
            push_char(&mut self.out, 'σ');
        } else if c.is_ascii() {
            self.out.push(c.to_ascii_lowercase() as u8);
        } else {
            for l in c.to_lowercase() {
                push_char(&mut self.out, l);
            }
        }
        if context != SigmaContext::Ignorable {
            self.after_cased = context == SigmaContext::Cased;
        }
        if let Some(at) = self.held_sigma
            && self.out.len() - at > SIGMA_HOLD_LIMIT
        {
            self.held_sigma = None;
        }
    }

    /// Pushes the output that is decided, keeps a held-back `Σ` and what follows it.
    fn push_decided(&mut self) -> Result<(), StageError> {
        let decided = self.held_sigma.unwrap_or(self.out.len());
        if decided > 0 {
            self.next.push(&self.out[..decided])?;
        }
        self.out.drain(..decided);
        if self.held_sigma.is_some() {
            self.held_sigma = Some(0);
        }
        Ok(())
    }
}

impl Sink for Case {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        let result = match self.mode {
            CaseMode::Ascii => self.push_ascii(chunk),
            CaseMode::Unicode => self.push_unicode(chunk),
        };
        self.received += chunk.len() as u64;
        result
    }

    fn finish(mut self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        if self.carry_len > 0 {
            return Err(StageError::InvalidUtf8 {
                offset: self.received - self.carry_len as u64,
            });
        }
        if let Some(at) = self.held_sigma.take() {
            // Nothing cased follows: the end of the stream ends the word.
            set_final_sigma(&mut self.out, at);
        }
        if !self.out.is_empty() {
            self.next.push(&self.out)?;
        }
        self.next.finish(report)
    }
}

/// Length of the UTF-8 sequence that starts with `lead` (a valid lead byte).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Turns the `σ` at `out[at..at + 2]` into `ς` (both are two bytes in UTF-8).
fn set_final_sigma(out: &mut [u8], at: usize) {
    let mut buf = [0; 4];
    out[at..at + 2].copy_from_slice('ς'.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::stage::testutil::{CHUNK_SIZES, run_chunked, run_split};

    fn case(upper: bool, mode: CaseMode) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(Case::new(upper, mode, next))
    }

    /// The independent implementation: std's one-shot mapping of the whole text.
    fn expected(upper: bool, text: &str) -> String {
        if upper {
            text.to_uppercase()
        } else {
            text.to_lowercase()
        }
    }

    fn assert_unicode_matches_std(text: &str) {
        for upper in [true, false] {
            let want = expected(upper, text);
            let mut sizes = CHUNK_SIZES.to_vec();
            sizes.extend([2, 3, 5]);
            for chunk in sizes {
                let (out, _) =
                    run_chunked(case(upper, CaseMode::Unicode), text.as_bytes(), chunk).unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    want,
                    "upper={upper} chunk={chunk} text={text:?}"
                );
            }
        }
    }

    #[test]
    fn ascii_mode_maps_only_ascii_letters_and_is_binary_safe() {
        let input: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        for upper in [true, false] {
            let want: Vec<u8> = input
                .iter()
                .map(|b| {
                    if upper {
                        b.to_ascii_uppercase()
                    } else {
                        b.to_ascii_lowercase()
                    }
                })
                .collect();
            for chunk in CHUNK_SIZES {
                let (out, _) = run_chunked(case(upper, CaseMode::Ascii), &input, chunk).unwrap();
                assert!(out == want, "upper={upper} chunk={chunk}");
            }
        }
        let (out, _) = run_chunked(case(true, CaseMode::Ascii), "straße ÿ".as_bytes(), 1).unwrap();
        assert_eq!(out, "STRAßE ÿ".as_bytes());
    }

    #[test]
    fn unicode_mode_matches_std_at_every_chunk_size() {
        let texts = [
            "",
            "plain ascii text\n",
            "straße → STRASSE",                  // ß -> SS (one char becomes two)
            "ǅungla ǈ ǋ ﬃ ŉ ΐ",                  // titlecase and multi-char expansions
            "İstanbul ı I i",                    // İ lower-cases to two chars
            "日本語のテキスト、中文",            // 3-byte chars
            "emoji 😀🎉 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐀𐐨",             // 4-byte chars, Deseret has case
            "ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ Σ ΑΣ. ΑΣ' ΑΣ ΑΣ́ Σ̈Α", // final sigma in many contexts
        ];
        for text in texts {
            assert_unicode_matches_std(text);
        }
        let long: String = texts.concat().repeat(300);
        assert_unicode_matches_std(&long);
    }

    #[test]
    fn multibyte_chars_straddling_every_boundary() {
        // Every char at every offset relative to every chunk size up to 9 bytes.
        for c in ['é', 'ß', 'ŉ', '€', 'ﬃ', '😀', '𐐀', 'Σ', 'ǅ'] {
            for pad in 0..8 {
                let text = format!("{}{c}x{c}", "a".repeat(pad));
                for upper in [true, false] {
                    let want = expected(upper, &text);
                    for chunk in 1..10 {
                        let (out, _) =
                            run_chunked(case(upper, CaseMode::Unicode), text.as_bytes(), chunk)
                                .unwrap();
                        assert_eq!(String::from_utf8(out).unwrap(), want, "{text:?} {chunk}");
                    }
                }
            }
        }
    }

    #[test]
    fn final_sigma_is_decided_across_chunk_boundaries() {
        let cases = [
            ("ΑΣ", "ας"),
            ("ΑΣ ", "ας "),
            ("ΑΣΑ", "ασα"),
            ("Σ", "σ"),
            (" Σ ", " σ "),
            ("ΑΣΣ", "ασς"),
            ("ΑΣ'", "ας'"),   // apostrophe is case-ignorable, then end of stream
            ("ΑΣ'Α", "ασ'α"), // ... and here a cased letter follows it
            ("Α'Σ", "α'ς"),   // case-ignorable before, cased before that
            ("ΑΣ\u{301}.", "ας\u{301}."),
            ("ΑΣ\u{301}\u{301}Β", "ασ\u{301}\u{301}β"),
            ("1Σ", "1σ"),
        ];
        for (input, want) in cases {
            assert_eq!(input.to_lowercase(), want, "the test's own expectation");
            assert_unicode_matches_std(input);
        }
        // A long run of case-ignorable characters between Σ and its decider, across chunks.
        let marks = "\u{301}".repeat(5000);
        assert_unicode_matches_std(&format!("ΛΟΓΟΣ{marks} ΛΟΓΟΣ{marks}Α"));
    }

    #[test]
    fn sigma_hold_is_bounded() {
        // Beyond the hold limit Σ is taken as word-internal: σ instead of std's ς.
        let marks = "\u{301}".repeat(SIGMA_HOLD_LIMIT);
        let text = format!("ΑΣ{marks} ");
        let (out, _) = run_chunked(case(false, CaseMode::Unicode), text.as_bytes(), 4096).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("ασ{marks} "));
    }

    #[test]
    fn invalid_utf8_fails_at_the_exact_offset() {
        let cases: [&[u8]; 9] = [
            b"abc\xffdef",
            b"\x80",
            b"ok \xe2\x82",          // truncated at end of stream
            b"ok \xe2\x82x",         // truncated by an ASCII byte
            b"\xf0\x9f\x98",         // truncated 4-byte char
            b"caf\xc3\xa9 \xc3\x28", // invalid continuation
            b"\xed\xa0\x80",         // surrogate
            b"\xc0\xaf",             // overlong
            b"\xf4\x90\x80\x80",     // above U+10FFFF
        ];
        for input in cases {
            let want = std::str::from_utf8(input).unwrap_err().valid_up_to() as u64;
            for upper in [true, false] {
                for chunk in [1, 2, 3, 4, 7, 4096] {
                    let err = run_chunked(case(upper, CaseMode::Unicode), input, chunk)
                        .expect_err("invalid UTF-8 must fail");
                    assert!(
                        matches!(err, StageError::InvalidUtf8 { offset } if offset == want),
                        "{input:?} chunk {chunk}: {err:?}, want offset {want}"
                    );
                }
            }
        }
        // ASCII mode does not care.
        assert!(run_chunked(case(true, CaseMode::Ascii), b"\xff\xfe", 1).is_ok());
    }

    #[test]
    fn empty_chunks_are_harmless() {
        let text = "ΑΣ ß😀";
        let bytes = text.as_bytes();
        let cuts: Vec<usize> = (0..=bytes.len()).flat_map(|i| [i, i]).collect();
        for upper in [true, false] {
            let (out, _) = run_split(case(upper, CaseMode::Unicode), bytes, &cuts).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected(upper, text));
        }
    }

    #[test]
    fn ascii_output_buffer_is_reused() {
        let mut stage = Case::new(
            true,
            CaseMode::Ascii,
            Box::new(crate::stage::testutil::Collect::new()),
        );
        stage.push(&[b'a'; 4096]).unwrap();
        let buffer = stage.out.as_ptr();
        for _ in 0..10 {
            stage.push(&[b'b'; 4096]).unwrap();
        }
        assert_eq!(stage.out.as_ptr(), buffer);
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let interesting = prop_oneof![
            Just('Σ'),
            Just('σ'),
            Just('ς'),
            Just('\u{301}'),
            Just('\''),
            Just('.'),
            Just(' '),
            Just('ß'),
            Just('İ'),
            Just('ǅ'),
            Just('😀'),
            Just('€'),
            proptest::char::range('a', 'z'),
            proptest::char::range('Α', 'ω'),
            any::<char>(),
        ];
        proptest::collection::vec(interesting, 0..200).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn random_text_random_cuts_equal_one_shot(
            text in text_strategy(),
            cuts in proptest::collection::vec(0usize..1000, 0..20),
            upper in any::<bool>(),
        ) {
            let (out, _) = run_split(case(upper, CaseMode::Unicode), text.as_bytes(), &cuts).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected(upper, &text));
        }

        #[test]
        fn random_bytes_fail_or_match_std(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(0usize..64, 0..8),
            upper in any::<bool>(),
        ) {
            let got = run_split(case(upper, CaseMode::Unicode), &bytes, &cuts);
            match std::str::from_utf8(&bytes) {
                Ok(text) => prop_assert_eq!(got.unwrap().0, expected(upper, text).into_bytes()),
                Err(e) => {
                    let want = e.valid_up_to() as u64;
                    let ok = matches!(got, Err(StageError::InvalidUtf8 { offset }) if offset == want);
                    prop_assert!(ok, "got {:?}, want offset {}", got, want);
                }
            }
        }
    }
}
