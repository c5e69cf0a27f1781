//! Size (`64KiB`) and duration (`250ms`) literals, shared by the pipeline file and the chain DSL.

use std::time::Duration;

/// Byte units: the binary ones are powers of two, the decimal ones powers of ten.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("kB", 1_000),
    ("KB", 1_000),
    ("B", 1),
];

/// Time units, longest suffix first so that `ms` is not read as `m`.
const TIME_UNITS: &[(&str, u64)] = &[("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];

/// `text` for a terminal line: control characters (a newline in a file name) escaped as `\n`,
/// `\t`, `\r` or `\u{..}`, so that one line of output stays one line. Everything else, other
/// scripts included, is left as it is.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Makes the error of `create_dir_all(dir)` say which part of the path is in the way when a
/// file stands where a directory is needed (the system only says "File exists" or "Not a
/// directory").
pub fn explain_create_dir(e: std::io::Error, dir: &std::path::Path) -> std::io::Error {
    if !matches!(
        e.kind(),
        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotADirectory
    ) {
        return e;
    }
    let blocker = dir
        .ancestors()
        .find(|p| p.symlink_metadata().is_ok_and(|m| !m.is_dir()) && !p.is_dir());
    match blocker {
        Some(file) => std::io::Error::new(
            e.kind(),
            format!("{} is a file, not a directory", file.display()),
        ),
        None => e,
    }
}

/// Parses `512`, `64KiB`, `10 MiB`, `1GB`. Returns a message fit for a diagnostic on error.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let unit = unit.trim_start_matches(' ');
    if digits.is_empty() {
        return Err(format!(
            "invalid size `{text}`: write it like 512, 64KiB, 10MiB or 1GiB"
        ));
    }
    let factor = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "invalid size `{text}`: unknown unit `{unit}` (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)"
                )
            })?
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// Parses `250ms`, `5s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let bad = || format!("invalid duration `{text}`: write it like 250ms, 5s, 2m or 1h");
    if digits.is_empty() || unit.is_empty() {
        return Err(bad());
    }
    let factor = TIME_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, f)| *f)
        .ok_or_else(bad)?;
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration `{text}` is too large"))
}

/// The shortest exact spelling of a size: `65536` -> `64KiB`, `1000` -> `1kB`, `7` -> `7B`.
pub fn format_size(bytes: u64) -> String {
    for (name, factor) in SIZE_UNITS {
        if *factor > 1 && bytes != 0 && bytes.is_multiple_of(*factor) {
            return format!("{}{name}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

/// The shortest exact spelling of a duration in whole milliseconds: `90s` -> `90s`, `120s` -> `2m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (name, factor) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000)] {
        if ms != 0 && ms.is_multiple_of(factor) {
            return format!("{}{name}", ms / factor);
        }
    }
    format!("{ms}ms")
}

/// A human-readable size for reports: `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(one_line("a b/é.txt"), "a b/é.txt");
        assert!(matches!(one_line("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(one_line("a\nb\tc\rd\u{1b}e"), "a\\nb\\tc\\rd\\u{1b}e");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("10 MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert!(
            parse_size("64kib")
                .unwrap_err()
                .contains("unknown unit `kib`")
        );
        assert!(parse_size("KiB").is_err());
        assert!(
            parse_size("99999999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5min").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for n in [0u64, 1, 7, 1000, 1024, 65536, 3 << 30, 123_456_789] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        for ms in [0u64, 1, 999, 1000, 90_000, 120_000, 7_200_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{ms}");
        }
        assert_eq!(format_size(65536), "64KiB");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }
}
