//! Turns a `log::Record` into one line of bytes: logfmt (`text`), one JSON object (`json`), or the
//! short stderr form (`runner: warning: msg key=value`), into buffers that are reused record after
//! record.
//!
//! A line never contains a raw newline or other control character: they are escaped, so one
//! record is always exactly one line of the log file.

use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::{Level, Record};
use std::fmt;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Capacity a reused buffer may keep after a record; a larger one (after a huge record) is freed,
/// so that one huge record does not pin its memory for the rest of the run.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The reusable buffers one thread formats records into.
#[derive(Debug, Default)]
pub(crate) struct LineBuf {
    /// The line being built.
    line: Vec<u8>,
    /// A value rendered with `Display` before it is escaped into `line`.
    value: Vec<u8>,
    /// The date and time up to the second, kept while the second does not change.
    clock: Clock,
}

impl LineBuf {
    /// Frees buffers that grew past `KEEP_CAPACITY` for one huge record.
    pub(crate) fn trim(&mut self) {
        for buf in [&mut self.line, &mut self.value] {
            if buf.capacity() > KEEP_CAPACITY {
                *buf = Vec::new();
            }
        }
    }

    /// logfmt: `ts=... level=info msg="file done" key=value ...`, then `target=...` for records of
    /// other crates (`foreign`), then a newline.
    pub(crate) fn text(&mut self, record: &Record<'_>, now: SystemTime, foreign: bool) -> &[u8] {
        self.line.clear();
        self.line.extend_from_slice(b"ts=");
        self.clock.write(&mut self.line, now);
        self.line.extend_from_slice(b" level=");
        self.line
            .extend_from_slice(level_name(record.level()).as_bytes());
        self.line.extend_from_slice(b" msg=");
        logfmt_args(&mut self.line, &mut self.value, record.args());
        if foreign {
            self.line.extend_from_slice(b" target=");
            logfmt_str(&mut self.line, record.target());
        }
        self.logfmt_fields(record);
        self.line.push(b'\n');
        &self.line
    }

    /// One JSON object: `{"ts":...,"level":...,"msg":...,"target":...,` then the fields, then a
    /// newline. Integers, floats and booleans stay JSON numbers and booleans.
    pub(crate) fn json(&mut self, record: &Record<'_>, now: SystemTime) -> &[u8] {
        self.line.clear();
        self.line.extend_from_slice(b"{\"ts\":\"");
        self.clock.write(&mut self.line, now);
        self.line.extend_from_slice(b"\",\"level\":\"");
        self.line
            .extend_from_slice(level_name(record.level()).as_bytes());
        self.line.extend_from_slice(b"\",\"msg\":");
        match record.args().as_str() {
            Some(s) => json_str(&mut self.line, s),
            None => {
                self.value.clear();
                // Writing into a Vec fails only if a Display impl reports an error; what was
                // written so far is kept.
                let _ = write!(self.value, "{}", record.args());
                json_bytes(&mut self.line, &self.value);
            }
        }
        self.line.extend_from_slice(b",\"target\":");
        json_str(&mut self.line, record.target());
        let mut visitor = Fields {
            syntax: Syntax::Json,
            line: &mut self.line,
            value: &mut self.value,
        };
        // Our visitor never fails; a Source that fails stops adding fields, and the line stays
        // well formed.
        let _ = record.key_values().visit(&mut visitor);
        self.line.extend_from_slice(b"}\n");
        &self.line
    }

    /// The form used on stderr without a log file: `runner: warning: msg key=value`, newline.
    pub(crate) fn stderr(&mut self, record: &Record<'_>, foreign: bool) -> &[u8] {
        self.line.clear();
        self.line.extend_from_slice(b"runner: ");
        self.line.extend_from_slice(
            match record.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            }
            .as_bytes(),
        );
        self.line.extend_from_slice(b": ");
        let start = self.line.len();
        match record.args().as_str() {
            Some(s) => self.line.extend_from_slice(s.as_bytes()),
            None => {
                let _ = write!(self.line, "{}", record.args());
            }
        }
        // A message with a newline must not fake a second line of output.
        escape_controls_from(&mut self.line, &mut self.value, start);
        if foreign {
            self.line.extend_from_slice(b" target=");
            logfmt_str(&mut self.line, record.target());
        }
        self.logfmt_fields(record);
        self.line.push(b'\n');
        &self.line
    }

    fn logfmt_fields(&mut self, record: &Record<'_>) {
        let mut visitor = Fields {
            syntax: Syntax::Logfmt,
            line: &mut self.line,
            value: &mut self.value,
        };
        let _ = record.key_values().visit(&mut visitor);
    }
}

/// The level as it appears in the log: `error`, `warn`, `info`, `debug`, `trace`.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

// ---------------------------------------------------------------------------------------------
// logfmt

/// Bytes that make a logfmt value quoted (and a key rewritten): controls, space, `"`, `=`.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b <= b' ' as usize || b == b'"' as usize || b == b'=' as usize || b == 0x7f;
        b += 1;
    }
    t
};

fn has_special(s: &[u8]) -> bool {
    s.iter().any(|&b| SPECIAL[usize::from(b)])
}

/// A key as written by a macro is an identifier; anything that would break the `key=value`
/// syntax is replaced by `_` so that a reader never mis-splits the line.
fn logfmt_key(line: &mut Vec<u8>, key: &str) {
    let key = key.as_bytes();
    if key.is_empty() {
        line.push(b'_');
    } else if !has_special(key) {
        line.extend_from_slice(key);
    } else {
        line.extend(
            key.iter()
                .map(|&b| if SPECIAL[usize::from(b)] { b'_' } else { b }),
        );
    }
}

/// Appends `v` in decimal (the `fmt` machinery costs more than the rest of a field).
fn push_u64(line: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[i..]);
}

fn push_i64(line: &mut Vec<u8>, v: i64) {
    if v < 0 {
        line.push(b'-');
    }
    push_u64(line, v.unsigned_abs());
}

fn logfmt_args(line: &mut Vec<u8>, scratch: &mut Vec<u8>, args: &fmt::Arguments<'_>) {
    match args.as_str() {
        Some(s) => logfmt_str(line, s),
        None => {
            scratch.clear();
            let _ = write!(scratch, "{args}");
            logfmt_bytes(line, scratch);
        }
    }
}

/// Appends a logfmt value: as is, or quoted and escaped when it is empty or contains a space, a
/// `"`, a `=`, or a control character.
pub(crate) fn logfmt_str(line: &mut Vec<u8>, s: &str) {
    logfmt_bytes(line, s.as_bytes());
}

fn logfmt_bytes(line: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && !has_special(s) {
        line.extend_from_slice(s);
        return;
    }
    line.push(b'"');
    escape_into(line, s);
    line.push(b'"');
}

/// The escapes shared by logfmt and JSON: `\"`, `\\`, `\n`, `\r`, `\t`, and `\u00XX` for other
/// control characters. Other bytes (UTF-8 included) are copied.
fn escape_into(line: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        line.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            line.extend_from_slice(b"\\u00");
            line.push(HEX[usize::from(b >> 4)]);
            line.push(HEX[usize::from(b & 0xf)]);
        } else {
            line.extend_from_slice(esc);
        }
        start = i + 1;
    }
    line.extend_from_slice(&s[start..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Escapes the control characters of `line[start..]` in place (for the stderr form, which is not
/// quoted): a message cannot break the one-line-per-record rule.
fn escape_controls_from(line: &mut Vec<u8>, scratch: &mut Vec<u8>, start: usize) {
    if !line[start..].iter().any(|&b| b < b' ' || b == 0x7f) {
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(&line[start..]);
    line.truncate(start);
    for &b in scratch.iter() {
        match b {
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                line.extend_from_slice(b"\\u00");
                line.push(HEX[usize::from(b >> 4)]);
                line.push(HEX[usize::from(b & 0xf)]);
            }
            _ => line.push(b),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The two syntaxes of key-value fields.
#[derive(Clone, Copy)]
enum Syntax {
    /// ` key=value`
    Logfmt,
    /// `,"key":value`
    Json,
}

/// Appends every field of a record in one syntax.
struct Fields<'a> {
    syntax: Syntax,
    line: &'a mut Vec<u8>,
    /// Scratch space for values that are formatted before they are escaped.
    value: &'a mut Vec<u8>,
}

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        match self.syntax {
            Syntax::Logfmt => {
                self.line.push(b' ');
                logfmt_key(self.line, key.as_str());
                self.line.push(b'=');
            }
            Syntax::Json => {
                self.line.push(b',');
                json_str(self.line, key.as_str());
                self.line.push(b':');
            }
        }
        value.visit(Fields {
            syntax: self.syntax,
            line: self.line,
            value: self.value,
        })
    }
}

impl Fields<'_> {
    /// A string value, quoted and escaped as the syntax wants.
    fn string(&mut self, s: &[u8]) {
        match self.syntax {
            Syntax::Logfmt => logfmt_bytes(self.line, s),
            Syntax::Json => json_bytes(self.line, s),
        }
    }
}

impl<'v> VisitValue<'v> for Fields<'_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), kv::Error> {
        let mut scratch = std::mem::take(self.value);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.string(&scratch);
        *self.value = scratch;
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.line.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_u64(&mut self, v: u64) -> Result<(), kv::Error> {
        push_u64(self.line, v);
        Ok(())
    }
    fn visit_i64(&mut self, v: i64) -> Result<(), kv::Error> {
        push_i64(self.line, v);
        Ok(())
    }
    fn visit_u128(&mut self, v: u128) -> Result<(), kv::Error> {
        let _ = write!(self.line, "{v}");
        Ok(())
    }
    fn visit_i128(&mut self, v: i128) -> Result<(), kv::Error> {
        let _ = write!(self.line, "{v}");
        Ok(())
    }
    fn visit_f64(&mut self, v: f64) -> Result<(), kv::Error> {
        if v.is_finite() {
            // Rust prints finite floats as plain decimals (`1e300` as digits): valid JSON.
            let _ = write!(self.line, "{v}");
        } else {
            // NaN and the infinities have no JSON number: a string says what they were.
            self.value.clear();
            let _ = write!(self.value, "{v}");
            let text = std::mem::take(self.value);
            self.string(&text);
            *self.value = text;
        }
        Ok(())
    }
    fn visit_bool(&mut self, v: bool) -> Result<(), kv::Error> {
        self.line
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        Ok(())
    }
    fn visit_str(&mut self, v: &str) -> Result<(), kv::Error> {
        self.string(v.as_bytes());
        Ok(())
    }
}

/// Appends a JSON string literal.
pub(crate) fn json_str(line: &mut Vec<u8>, s: &str) {
    json_bytes(line, s.as_bytes());
}

fn json_bytes(line: &mut Vec<u8>, s: &[u8]) {
    line.push(b'"');
    escape_into(line, s);
    line.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// Time

/// Formats `2026-12-04T09:15:02.117Z` (UTC, milliseconds), working out the calendar date once
/// per second only.
#[derive(Debug, Default)]
struct Clock {
    /// The second `prefix` was made for, plus one (0 = nothing cached yet).
    second: u64,
    /// `2026-12-04T09:15:02.`
    prefix: [u8; 20],
}

impl Clock {
    fn write(&mut self, line: &mut Vec<u8>, now: SystemTime) {
        // A clock set before 1970 is logged as 1970 rather than failing the record.
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        if self.second != secs.wrapping_add(1) {
            self.prefix = date_time_prefix(secs);
            self.second = secs.wrapping_add(1);
        }
        line.extend_from_slice(&self.prefix);
        let ms = since.subsec_millis();
        line.extend_from_slice(&[
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
        ]);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` for seconds since the Unix epoch (UTC; years past 9999 keep their last
/// four digits, which no running system reaches).
fn date_time_prefix(secs: u64) -> [u8; 20] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    let mut out = *b"0000-00-00T00:00:00.";
    let mut put = |at: usize, v: u64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    put(11, hh, 2);
    put(14, mm, 2);
    put(17, ss, 2);
    out
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::LevelFilter;
    use proptest::prelude::*;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    /// 2026-12-04T09:15:02.117Z
    const DEC_4_2026: u64 = 1_796_375_702_117;

    fn text(record: &Record<'_>, foreign: bool) -> String {
        let mut buf = LineBuf::default();
        String::from_utf8(buf.text(record, at(DEC_4_2026), foreign).to_vec()).unwrap()
    }

    fn json(record: &Record<'_>) -> serde_json::Value {
        let mut buf = LineBuf::default();
        let line = buf.json(record, at(DEC_4_2026)).to_vec();
        if let Some(at) = line.windows(6).position(|w| w == b"\"big\":") {
            assert!(line[at + 6..].starts_with(u128::MAX.to_string().as_bytes()));
        }
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&line).unwrap()
    }

    #[test]
    fn logfmt_line_of_the_spec() {
        let kvs: &[(&str, &dyn kv::ToValue)] = &[
            ("job", &"etl"),
            ("path", &"inbox/a.txt"),
            ("bytes_in", &123u64),
        ];
        let r = Record::builder()
            .args(format_args!("file done"))
            .level(Level::Info)
            .target("runner::exec")
            .key_values(&kvs)
            .build();
        assert_eq!(
            text(&r, false),
            "ts=2026-12-04T09:15:02.117Z level=info msg=\"file done\" job=etl path=inbox/a.txt bytes_in=123\n"
        );
    }

    #[test]
    fn logfmt_quotes_and_escapes_values() {
        let n = 7;
        let kvs: &[(&str, &dyn kv::ToValue)] = &[
            ("space", &"a b"),
            ("quote", &"say \"hi\""),
            ("eq", &"k=v"),
            ("empty", &""),
            ("newline", &"one\ntwo\r\tthree\u{1}"),
            ("backslash", &"C:\\dir"),
            ("unicode", &"héllo"),
            ("neg", &-5i64),
            ("float", &1.5f64),
            ("yes", &true),
            ("ch", &'x'),
            ("none", &Option::<u8>::None),
        ];
        assert_eq!(
            text(
                &Record::builder()
                    .args(format_args!("n={n} done"))
                    .level(Level::Warn)
                    .target("hyper::client")
                    .key_values(&kvs)
                    .build(),
                true
            ),
            "ts=2026-12-04T09:15:02.117Z level=warn msg=\"n=7 done\" target=hyper::client \
             space=\"a b\" quote=\"say \\\"hi\\\"\" eq=\"k=v\" empty=\"\" \
             newline=\"one\\ntwo\\r\\tthree\\u0001\" backslash=C:\\dir unicode=héllo neg=-5 \
             float=1.5 yes=true ch=x none=null\n"
        );
    }

    #[test]
    fn logfmt_keys_cannot_break_the_syntax() {
        let kvs: &[(&str, &dyn kv::ToValue)] = &[("a b=c\"", &1u8), ("", &2u8)];
        let r = Record::builder()
            .args(format_args!("m"))
            .key_values(&kvs)
            .build();
        assert!(text(&r, false).ends_with(" msg=m a_b_c_=1 _=2\n"));
    }

    #[test]
    fn json_object_with_typed_fields() {
        let disp = std::path::Path::new("in box/\"a\".txt");
        let kvs: &[(&str, &dyn kv::ToValue)] = &[
            ("job", &"etl"),
            ("bytes_in", &123u64),
            ("neg", &-4i32),
            ("ratio", &0.25f64),
            ("nan", &f64::NAN),
            ("ok", &true),
            ("none", &Option::<u8>::None),
            ("ctrl", &"a\u{0}\n\u{7f}b"),
            ("big", &u128::MAX),
        ];
        let shown = disp.display().to_string();
        let v = json(
            &Record::builder()
                .args(format_args!("file {} done", shown))
                .level(Level::Error)
                .target("runner::exec")
                .key_values(&kvs)
                .build(),
        );
        assert_eq!(v["ts"], "2026-12-04T09:15:02.117Z");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "file in box/\"a\".txt done");
        assert_eq!(v["target"], "runner::exec");
        assert_eq!(v["job"], "etl");
        assert_eq!(v["bytes_in"], 123);
        assert_eq!(v["neg"], -4);
        assert_eq!(v["ratio"], 0.25);
        assert_eq!(v["nan"], "NaN");
        assert_eq!(v["ok"], true);
        assert!(v["none"].is_null());
        assert_eq!(v["ctrl"], "a\u{0}\n\u{7f}b");
        // serde_json reads it back as a float: the digits are checked on the line itself.
        assert!(v["big"].is_number());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 13);
    }

    #[test]
    fn stderr_form() {
        let kvs: &[(&str, &dyn kv::ToValue)] = &[("path", &"a b.txt")];
        let r = Record::builder()
            .args(format_args!("cannot read\nthe file"))
            .level(Level::Warn)
            .target("runner")
            .key_values(&kvs)
            .build();
        let mut buf = LineBuf::default();
        assert_eq!(
            buf.stderr(&r, false),
            b"runner: warning: cannot read\\nthe file path=\"a b.txt\"\n"
        );
        let r = Record::builder()
            .args(format_args!("boom"))
            .level(Level::Error)
            .target("notify")
            .build();
        assert_eq!(buf.stderr(&r, true), b"runner: error: boom target=notify\n");
    }

    #[test]
    fn integers_in_decimal() {
        for v in [0u64, 7, 10, 99, 100, 123_456, u64::MAX] {
            let mut line = Vec::new();
            push_u64(&mut line, v);
            assert_eq!(line, v.to_string().as_bytes());
        }
        for v in [0i64, -1, -10, 42, i64::MIN, i64::MAX] {
            let mut line = Vec::new();
            push_i64(&mut line, v);
            assert_eq!(line, v.to_string().as_bytes());
        }
    }

    #[test]
    fn level_names() {
        let names: Vec<&str> = LevelFilter::iter()
            .filter_map(|l| l.to_level())
            .map(level_name)
            .collect();
        assert_eq!(names, ["error", "warn", "info", "debug", "trace"]);
    }

    #[test]
    fn buffers_are_reused_and_trimmed() {
        let mut buf = LineBuf::default();
        let r = Record::builder().args(format_args!("x")).build();
        buf.text(&r, at(0), false);
        let cap = buf.line.capacity();
        buf.text(&r, at(1), false);
        assert_eq!(buf.line.capacity(), cap);
        let huge = "y".repeat(KEEP_CAPACITY * 2);
        buf.text(
            &Record::builder().args(format_args!("{huge}")).build(),
            at(0),
            false,
        );
        buf.trim();
        assert_eq!(buf.line.capacity(), 0);
    }

    proptest! {
        /// The calendar arithmetic agrees with the `time` crate, to the millisecond, from 1970
        /// to 9999, including the cached-second path.
        #[test]
        fn timestamps_match_the_time_crate(ms in 0u64..253_402_300_799_999, step in 0u64..3000) {
            let mut clock = Clock::default();
            for t in [ms, ms + step] {
                let mut line = Vec::new();
                clock.write(&mut line, at(t));
                let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1_000_000).unwrap();
                let expected = format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                    dt.year(), u8::from(dt.month()), dt.day(),
                    dt.hour(), dt.minute(), dt.second(), dt.millisecond()
                );
                prop_assert_eq!(String::from_utf8(line).unwrap(), expected);
            }
        }

        /// Whatever the message and values, a logfmt line is one line, and a JSON line parses
        /// back to the same strings.
        #[test]
        fn any_text_stays_one_line(msg in any::<String>(), val in any::<String>()) {
            let kvs: &[(&str, &dyn kv::ToValue)] = &[("v", &val.as_str())];
            let args = format_args!("{msg}");
            let r = Record::builder().args(args).key_values(&kvs).build();
            let mut buf = LineBuf::default();
            for line in [buf.text(&r, at(0), false).to_vec(), buf.stderr(&r, false).to_vec()] {
                prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
                prop_assert_eq!(line.last(), Some(&b'\n'));
            }
            let v: serde_json::Value = serde_json::from_slice(buf.json(&r, at(0))).unwrap();
            prop_assert_eq!(v["msg"].as_str(), Some(msg.as_str()));
            prop_assert_eq!(v["v"].as_str(), Some(val.as_str()));
        }
    }
}
