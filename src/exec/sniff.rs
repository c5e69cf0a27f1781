//! File kinds (SPEC section 4), told from the first 512 bytes of an input.

use crate::config::model::Kind;

/// How many bytes are read to tell a file's kind; they are then streamed first.
pub const SNIFF_LEN: usize = 512;

/// The kind of a file whose first bytes are `head` (all of it if shorter than [`SNIFF_LEN`]).
pub fn sniff(head: &[u8]) -> Kind {
    let magic: &[(&[u8], Kind)] = &[
        (b"\x1f\x8b", Kind::Gzip),
        (b"PK\x03\x04", Kind::Zip),
        (b"PK\x05\x06", Kind::Zip),
        (b"PK\x07\x08", Kind::Zip),
        (b"\x28\xb5\x2f\xfd", Kind::Zstd),
        (b"\xfd7zXZ\x00", Kind::Xz),
        (b"%PDF-", Kind::Pdf),
        (b"\x89PNG\r\n\x1a\n", Kind::Png),
        (b"\xff\xd8\xff", Kind::Jpeg),
        (b"GIF87a", Kind::Gif),
        (b"GIF89a", Kind::Gif),
        (b"\x7fELF", Kind::Elf),
    ];
    if head.is_empty() {
        return Kind::Empty;
    }
    if let Some((_, kind)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return *kind;
    }
    // "BZh" is also plain text: require the block size digit and the block magic after it.
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && &head[4..10] == b"1AY&SY"
    {
        return Kind::Bzip2;
    }
    if is_text(head) {
        Kind::Text
    } else {
        Kind::Binary
    }
}

/// Valid UTF-8 without NUL. A character cut by the end of a full sniff buffer still counts as text.
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() >= SNIFF_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip_bytes() -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"hello").unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn every_kind() {
        let cases: Vec<(Vec<u8>, Kind)> = vec![
            (vec![], Kind::Empty),
            (b"hello, world\n".to_vec(), Kind::Text),
            ("naïve Ünïcödé π\n".as_bytes().to_vec(), Kind::Text),
            (gzip_bytes(), Kind::Gzip),
            (b"PK\x03\x04\x14\x00\x00\x00".to_vec(), Kind::Zip),
            (b"\x28\xb5\x2f\xfd\x04\x00".to_vec(), Kind::Zstd),
            (b"BZh91AY&SY\x00\x01".to_vec(), Kind::Bzip2),
            (b"BZh is how a sleepy bee sounds\n".to_vec(), Kind::Text),
            (b"\xfd7zXZ\x00\x00\x04".to_vec(), Kind::Xz),
            (b"%PDF-1.7\n".to_vec(), Kind::Pdf),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(), Kind::Png),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF".to_vec(), Kind::Jpeg),
            (b"GIF89a\x01\x00".to_vec(), Kind::Gif),
            (b"\x7fELF\x02\x01\x01".to_vec(), Kind::Elf),
            (b"text with a \x00 NUL".to_vec(), Kind::Binary),
            (b"\xc3\x28 invalid".to_vec(), Kind::Binary),
            (b"ends in a cut char \xc3".to_vec(), Kind::Binary),
        ];
        for (bytes, kind) in cases {
            assert_eq!(sniff(&bytes), kind, "{bytes:?}");
        }
    }

    #[test]
    fn a_character_cut_at_byte_512_is_still_text() {
        let mut head = vec![b'a'; SNIFF_LEN - 1];
        head.push(0xe2); // first byte of a three-byte character
        assert_eq!(sniff(&head), Kind::Text);
        head[SNIFF_LEN - 1] = 0xff; // never valid
        assert_eq!(sniff(&head), Kind::Binary);
    }
}
