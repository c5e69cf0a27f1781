//! The `gunzip` stage: decompresses a gzip stream (RFC 1952), including multi-member files.
//!
//! The stage parses the gzip framing itself (header fields, trailer) and inflates the members
//! with `flate2`'s raw deflate decoder, so that it works on chunks of any size in bounded memory
//! and can say precisely what is wrong with a bad stream: the first member, every member, and
//! the end of the stream are checked as strictly as `gzip -d` does.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::stage::{BoxSink, FileReport, OUTPUT_BUFFER, Sink, StageError};

/// Header flag bits (RFC 1952, 2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// Decompresses a gzip stream: one member, or several concatenated (`cat a.gz b.gz`), whose
/// outputs are concatenated.
///
/// The file fails with [`StageError::CorruptGzip`] when the stream does not start with a gzip
/// header, a header is malformed (unknown method, reserved flags, bad header CRC), the deflate
/// data is invalid, a member's CRC-32 or length does not match its trailer, the stream ends
/// inside a member (truncated), or anything other than another member or zero bytes follows a
/// member (trailing garbage; zero padding is ignored, like `gzip -d` does). It fails with
/// [`StageError::TooLarge`] as soon as the output would exceed `max_size`; no more than
/// `max_size` bytes are ever pushed downstream.
///
/// **Empty input** fails too (`CorruptGzip`, "empty input"): a gzip file has at least one
/// member, and `gzip -d` and `zcat` reject an empty file the same way. A job that wants empty
/// files passed through leaves the `empty` kind out of a gunzip chain's `accept`.
pub struct Gunzip {
    max_size: u64,
    next: BoxSink,
    state: State,
    header: Header,
    inflate: Decompress,
    /// CRC-32 and length of the current member's output.
    crc: Crc,
    member_len: u64,
    trailer: [u8; 8],
    trailer_len: usize,
    /// Members completed so far.
    members: u64,
    /// Input bytes consumed so far (positions in error messages).
    consumed: u64,
    /// Output bytes produced so far, all members.
    produced: u64,
    /// Decompressed bytes not pushed yet; never grows past its initial capacity.
    out: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a member header.
    Header,
    /// Inflating a member's deflate data.
    Body,
    /// Reading the 8-byte member trailer.
    Trailer,
    /// A member is complete; the next byte starts a member or zero padding.
    AfterMember,
    /// Zero padding after the last member.
    Padding,
}

/// Incremental parser of one member header, a byte at a time.
#[derive(Debug)]
struct Header {
    field: Field,
    flags: u8,
    /// CRC-32 of the header bytes so far, for FHCRC.
    crc: Crc,
    /// Little-endian value being assembled (XLEN, header CRC).
    value: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The fixed part; the count of its bytes read so far.
    Fixed(u8),
    /// XLEN; the count of its bytes read so far.
    ExtraLen(u8),
    /// The extra field; the count of its bytes still to skip.
    Extra(u16),
    /// The zero-terminated file name.
    Name,
    /// The zero-terminated comment.
    Comment,
    /// The header CRC; the count of its bytes read so far.
    HeaderCrc(u8),
    Done,
}

/// What is wrong with a header byte.
enum HeaderError {
    /// Byte 0 or 1 is not the gzip magic number.
    Magic,
    Method(u8),
    ReservedFlags,
    HeaderCrc,
}

impl Header {
    fn new() -> Self {
        Header {
            field: Field::Fixed(0),
            flags: 0,
            crc: Crc::new(),
            value: 0,
        }
    }

    /// Takes the next header byte; returns whether the header is complete.
    fn feed(&mut self, byte: u8) -> Result<bool, HeaderError> {
        if !matches!(self.field, Field::HeaderCrc(_)) {
            self.crc.update(&[byte]);
        }
        self.field = match self.field {
            Field::Fixed(n) => {
                match (n, byte) {
                    (0, 0x1f) | (1, 0x8b) => {}
                    (0 | 1, _) => return Err(HeaderError::Magic),
                    (2, 8) => {}
                    (2, method) => return Err(HeaderError::Method(method)),
                    (3, flags) if flags & FRESERVED != 0 => return Err(HeaderError::ReservedFlags),
                    (3, flags) => self.flags = flags,
                    _ => {} // MTIME, XFL, OS
                }
                if n < 9 {
                    Field::Fixed(n + 1)
                } else {
                    self.after(Field::Fixed(n))
                }
            }
            Field::ExtraLen(0) => {
                self.value = u16::from(byte);
                Field::ExtraLen(1)
            }
            Field::ExtraLen(_) => {
                let len = self.value | u16::from(byte) << 8;
                if len == 0 {
                    self.after(Field::Extra(0))
                } else {
                    Field::Extra(len)
                }
            }
            Field::Extra(1) => self.after(Field::Extra(0)),
            Field::Extra(n) => Field::Extra(n - 1),
            Field::Name if byte == 0 => self.after(Field::Name),
            Field::Comment if byte == 0 => self.after(Field::Comment),
            field @ (Field::Name | Field::Comment) => field,
            Field::HeaderCrc(0) => {
                self.value = u16::from(byte);
                Field::HeaderCrc(1)
            }
            Field::HeaderCrc(_) => {
                let stored = self.value | u16::from(byte) << 8;
                if stored != self.crc.sum() as u16 {
                    return Err(HeaderError::HeaderCrc);
                }
                Field::Done
            }
            Field::Done => Field::Done,
        };
        Ok(self.field == Field::Done)
    }

    /// The field that follows `field`, given the flags.
    fn after(&self, field: Field) -> Field {
        let order = [
            (FEXTRA, Field::ExtraLen(0)),
            (FNAME, Field::Name),
            (FCOMMENT, Field::Comment),
            (FHCRC, Field::HeaderCrc(0)),
        ];
        let rank = |f: Field| match f {
            Field::Fixed(_) => 0,
            Field::ExtraLen(_) | Field::Extra(_) => 1,
            Field::Name => 2,
            Field::Comment => 3,
            Field::HeaderCrc(_) | Field::Done => 4,
        };
        order
            .into_iter()
            .skip(rank(field))
            .find(|(flag, _)| self.flags & flag != 0)
            .map_or(Field::Done, |(_, next)| next)
    }

    fn describe(&self) -> &'static str {
        match self.field {
            Field::Fixed(_) | Field::Done => "header",
            Field::ExtraLen(_) | Field::Extra(_) => "header's extra field",
            Field::Name => "header's file name",
            Field::Comment => "header's comment",
            Field::HeaderCrc(_) => "header's CRC",
        }
    }
}

impl Gunzip {
    /// A gunzip stage in front of `next` that fails the file once the decompressed output would
    /// exceed `max_size` bytes.
    pub fn new(max_size: u64, next: BoxSink) -> Self {
        Gunzip {
            max_size,
            next,
            state: State::Header,
            header: Header::new(),
            inflate: Decompress::new(false),
            crc: Crc::new(),
            member_len: 0,
            trailer: [0; 8],
            trailer_len: 0,
            members: 0,
            consumed: 0,
            produced: 0,
            out: Vec::with_capacity(OUTPUT_BUFFER),
        }
    }

    fn corrupt(&self, detail: String) -> StageError {
        StageError::CorruptGzip { detail }
    }

    /// 1-based number of the member being read.
    fn member(&self) -> u64 {
        self.members + 1
    }

    fn flush(&mut self) -> Result<(), StageError> {
        if !self.out.is_empty() {
            self.next.push(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Consumes header bytes from `input`; returns how many.
    fn read_header(&mut self, input: &[u8]) -> Result<usize, StageError> {
        for (i, &byte) in input.iter().enumerate() {
            let at = self.consumed + i as u64;
            match self.header.feed(byte) {
                Ok(false) => {}
                Ok(true) => {
                    self.state = State::Body;
                    return Ok(i + 1);
                }
                Err(HeaderError::Magic) if self.members == 0 => {
                    return Err(self.corrupt(format!(
                        "not in gzip format (no gzip magic number at byte {at})"
                    )));
                }
                Err(HeaderError::Magic) => {
                    return Err(self.corrupt(format!(
                        "trailing garbage after member {} at byte {at}",
                        self.members
                    )));
                }
                Err(HeaderError::Method(method)) => {
                    return Err(self.corrupt(format!(
                        "member {}: unknown compression method {method} at byte {at}",
                        self.member()
                    )));
                }
                Err(HeaderError::ReservedFlags) => {
                    return Err(self.corrupt(format!(
                        "member {}: reserved header flags set at byte {at}",
                        self.member()
                    )));
                }
                Err(HeaderError::HeaderCrc) => {
                    return Err(
                        self.corrupt(format!("member {}: header CRC mismatch", self.member()))
                    );
                }
            }
        }
        Ok(input.len())
    }

    /// Inflates once from `input`; returns how many input bytes were consumed.
    fn inflate(&mut self, input: &[u8]) -> Result<usize, StageError> {
        if self.out.len() == self.out.capacity() {
            self.flush()?;
        }
        let (in_before, out_before) = (self.inflate.total_in(), self.out.len());
        let status = self
            .inflate
            .decompress_vec(input, &mut self.out, FlushDecompress::None)
            .map_err(|e| self.corrupt(format!("member {}: {e}", self.member())))?;
        let consumed = (self.inflate.total_in() - in_before) as usize;
        let new = &self.out[out_before..];
        self.crc.update(new);
        self.member_len += new.len() as u64;
        self.produced += new.len() as u64;
        if self.produced > self.max_size {
            return Err(StageError::TooLarge {
                limit: self.max_size,
            });
        }
        if status == Status::StreamEnd {
            self.state = State::Trailer;
            self.trailer_len = 0;
        } else if consumed == 0 && new.is_empty() {
            // Cannot happen with input and room in `out`; guards against spinning forever.
            return Err(self.corrupt(format!(
                "member {}: the deflate decoder made no progress",
                self.member()
            )));
        }
        Ok(consumed)
    }

    /// Consumes trailer bytes from `input`; returns how many.
    fn read_trailer(&mut self, input: &[u8]) -> Result<usize, StageError> {
        let take = (8 - self.trailer_len).min(input.len());
        self.trailer[self.trailer_len..self.trailer_len + take].copy_from_slice(&input[..take]);
        self.trailer_len += take;
        if self.trailer_len < 8 {
            return Ok(take);
        }
        let [c0, c1, c2, c3, l0, l1, l2, l3] = self.trailer;
        let stored_crc = u32::from_le_bytes([c0, c1, c2, c3]);
        let stored_len = u32::from_le_bytes([l0, l1, l2, l3]);
        if stored_crc != self.crc.sum() {
            return Err(self.corrupt(format!(
                "member {}: CRC mismatch (stored {stored_crc:08x}, computed {:08x})",
                self.member(),
                self.crc.sum()
            )));
        }
        if stored_len != self.member_len as u32 {
            return Err(self.corrupt(format!(
                "member {}: length mismatch (stored {stored_len} bytes modulo 2^32, decompressed {})",
                self.member(),
                self.member_len
            )));
        }
        self.members += 1;
        self.state = State::AfterMember;
        Ok(take)
    }

    fn start_member(&mut self) {
        self.header = Header::new();
        self.inflate.reset(false);
        self.crc.reset();
        self.member_len = 0;
        self.state = State::Header;
    }
}

impl Sink for Gunzip {
    fn push(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        let mut input = chunk;
        while !input.is_empty() {
            let consumed = match self.state {
                State::Header => self.read_header(input)?,
                State::Body => self.inflate(input)?,
                State::Trailer => self.read_trailer(input)?,
                State::AfterMember => {
                    if input[0] == 0 {
                        self.state = State::Padding;
                    } else {
                        self.start_member();
                    }
                    0
                }
                State::Padding => match input.iter().position(|&b| b != 0) {
                    None => input.len(),
                    Some(i) => {
                        return Err(self.corrupt(format!(
                            "trailing garbage after member {} at byte {}",
                            self.members,
                            self.consumed + i as u64
                        )));
                    }
                },
            };
            self.consumed += consumed as u64;
            input = &input[consumed..];
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, report: &mut FileReport) -> Result<(), StageError> {
        let cut_in = match self.state {
            State::Header if self.consumed == 0 => {
                return Err(
                    self.corrupt("empty input (a gzip file has at least one member)".to_owned())
                );
            }
            State::Header => self.header.describe(),
            State::Body => "compressed data",
            State::Trailer => "trailer",
            State::AfterMember | State::Padding => {
                self.flush()?;
                return self.next.finish(report);
            }
        };
        Err(self.corrupt(format!(
            "truncated: the input ends inside the {cut_in} of member {} (after {} bytes)",
            self.member(),
            self.consumed
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder};
    use proptest::prelude::*;

    use super::*;
    use crate::stage::gzip::Gzip;
    use crate::stage::testutil::{CHUNK_SIZES, Collect, run_chunked, run_split};

    const NO_LIMIT: u64 = u64::MAX;

    fn gunzip(max_size: u64) -> impl Fn(BoxSink) -> BoxSink {
        move |next| Box::new(Gunzip::new(max_size, next))
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x: u32 = 7;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    b"abcabd"[i % 6]
                }
            })
            .collect()
    }

    /// Independent encoder: flate2's writer.
    fn flate2_gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(level));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// The system's `gzip -c` (with a file name in the header); `None` if not installed.
    fn system_gz(data: &[u8], args: &[&str]) -> Option<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.txt");
        std::fs::write(&path, data).unwrap();
        let out = match Command::new("gzip")
            .args(args)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::piped())
            .output()
        {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("skipping: gzip is not installed");
                return None;
            }
            Err(e) => panic!("running gzip: {e}"),
        };
        assert!(out.status.success());
        Some(out.stdout)
    }

    fn assert_corrupt(result: Result<(Vec<u8>, FileReport), StageError>, needle: &str) {
        match result {
            Err(StageError::CorruptGzip { detail }) => {
                assert!(
                    detail.contains(needle),
                    "{detail:?} does not mention {needle:?}"
                )
            }
            other => panic!("expected CorruptGzip ({needle}), got {other:?}"),
        }
    }

    #[test]
    fn decodes_flate2_streams_at_every_chunk_size() {
        for len in [0, 1, 1000, 200_000] {
            let data = sample(len);
            for level in [0, 1, 6, 9] {
                let gz = flate2_gz(&data, level);
                for chunk in CHUNK_SIZES {
                    let (out, _) = run_chunked(gunzip(NO_LIMIT), &gz, chunk).unwrap();
                    assert!(out == data, "len {len} level {level} chunk {chunk}");
                }
            }
        }
    }

    #[test]
    fn decodes_system_gzip_output() {
        let data = sample(100_000);
        for args in [&["-6"][..], &["-1", "-n"][..], &["-9"][..]] {
            let Some(gz) = system_gz(&data, args) else {
                return;
            };
            let has_name = gz[3] & FNAME != 0;
            assert_eq!(
                has_name,
                !args.contains(&"-n"),
                "gzip stores the name unless -n"
            );
            for chunk in CHUNK_SIZES {
                let (out, _) = run_chunked(gunzip(NO_LIMIT), &gz, chunk).unwrap();
                assert!(out == data, "{args:?} chunk {chunk}");
            }
        }
    }

    #[test]
    fn round_trips_the_gzip_stage() {
        let data = sample(150_000);
        let build = |next: BoxSink| -> BoxSink {
            Box::new(Gzip::new(6, Box::new(Gunzip::new(NO_LIMIT, next))))
        };
        for chunk in CHUNK_SIZES {
            let (out, _) = run_chunked(build, &data, chunk).unwrap();
            assert!(out == data, "chunk {chunk}");
        }
    }

    #[test]
    fn concatenated_members_decode_to_the_concatenation() {
        let (a, b, c) = (sample(70_000), b"second member\n".to_vec(), Vec::new());
        let mut gz = flate2_gz(&a, 6);
        gz.extend(flate2_gz(&b, 1));
        gz.extend(flate2_gz(&c, 9)); // an empty member
        let mut want = [a.as_slice(), &b, &c].concat();
        if let Some(d) = system_gz(b"from system gzip\n", &["-9"]) {
            gz.extend(d);
            want.extend_from_slice(b"from system gzip\n");
        }
        for chunk in CHUNK_SIZES {
            let (out, _) = run_chunked(gunzip(NO_LIMIT), &gz, chunk).unwrap();
            assert!(out == want, "chunk {chunk}");
        }
    }

    /// A member with every optional header field, built by hand.
    fn member_with_all_fields(data: &[u8], break_header_crc: bool) -> Vec<u8> {
        let mut header = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            1,
            2,
            3,
            4,
            0,
            3,
        ];
        header.extend_from_slice(&5u16.to_le_bytes());
        header.extend_from_slice(b"AB\x01\x00Z");
        header.extend_from_slice(b"name.txt\0");
        header.extend_from_slice(b"a comment\0");
        let mut crc = Crc::new();
        crc.update(&header);
        let hcrc = (crc.sum() as u16) ^ u16::from(break_header_crc);
        header.extend_from_slice(&hcrc.to_le_bytes());
        let mut deflate = DeflateEncoder::new(header, Compression::default());
        deflate.write_all(data).unwrap();
        let mut gz = deflate.finish().unwrap();
        let mut crc = Crc::new();
        crc.update(data);
        gz.extend_from_slice(&crc.sum().to_le_bytes());
        gz.extend_from_slice(&(data.len() as u32).to_le_bytes());
        gz
    }

    #[test]
    fn parses_every_optional_header_field() {
        let data = sample(5000);
        let gz = member_with_all_fields(&data, false);
        for chunk in CHUNK_SIZES {
            let (out, _) = run_chunked(gunzip(NO_LIMIT), &gz, chunk).unwrap();
            assert!(out == data, "chunk {chunk}");
        }
        // Also what flate2's builder writes (extra, name, comment, mtime).
        let mut enc = flate2::GzBuilder::new()
            .extra(vec![9; 300])
            .filename("f.txt")
            .comment("c")
            .mtime(7)
            .write(Vec::new(), Compression::fast());
        enc.write_all(&data).unwrap();
        let gz = enc.finish().unwrap();
        for chunk in CHUNK_SIZES {
            assert!(run_chunked(gunzip(NO_LIMIT), &gz, chunk).unwrap().0 == data);
        }
    }

    #[test]
    fn rejects_a_wrong_header_crc() {
        let gz = member_with_all_fields(b"x", true);
        assert_corrupt(run_chunked(gunzip(NO_LIMIT), &gz, 7), "header CRC mismatch");
    }

    #[test]
    fn rejects_bad_headers() {
        let gz = flate2_gz(b"hello", 6);
        assert_corrupt(
            run_chunked(gunzip(NO_LIMIT), b"hello world", 4096),
            "not in gzip format",
        );
        let mut bad = gz.clone();
        bad[2] = 7;
        assert_corrupt(
            run_chunked(gunzip(NO_LIMIT), &bad, 1),
            "unknown compression method 7 at byte 2",
        );
        let mut bad = gz.clone();
        bad[3] = 0x20;
        assert_corrupt(
            run_chunked(gunzip(NO_LIMIT), &bad, 1),
            "reserved header flags",
        );
    }

    #[test]
    fn rejects_a_flipped_byte_anywhere_that_matters() {
        let data = sample(3000);
        let gz = flate2_gz(&data, 6);
        let n = gz.len();
        // No gzip reader can notice a change of MTIME, XFL or OS (bytes 4..10), or of the FTEXT
        // hint (bit 0 of byte 3, the bit flipped here).
        for i in (0..3).chain(10..n) {
            let mut bad = gz.clone();
            bad[i] ^= 0x01;
            for chunk in [1, 4096] {
                let result = run_chunked(gunzip(NO_LIMIT), &bad, chunk);
                assert!(
                    matches!(result, Err(StageError::CorruptGzip { .. })),
                    "flipped byte {i} of {n}, chunk {chunk}: {result:?}"
                );
            }
        }
        let mut bad = gz.clone();
        bad[n - 8] ^= 0xff;
        assert_corrupt(
            run_chunked(gunzip(NO_LIMIT), &bad, 7),
            "member 1: CRC mismatch",
        );
        let mut bad = gz.clone();
        bad[n - 1] ^= 0x01;
        assert_corrupt(run_chunked(gunzip(NO_LIMIT), &bad, 7), "length mismatch");
        let mut bad = gz.clone();
        bad[n / 2] ^= 0x10;
        assert!(run_chunked(gunzip(NO_LIMIT), &bad, 65536).is_err());
    }

    #[test]
    fn corruption_in_a_later_member_names_it() {
        let mut gz = flate2_gz(b"first", 6);
        let second = flate2_gz(b"second", 6);
        let n = gz.len() + second.len();
        gz.extend(second);
        gz[n - 8] ^= 0xff;
        assert_corrupt(
            run_chunked(gunzip(NO_LIMIT), &gz, 3),
            "member 2: CRC mismatch",
        );
    }

    #[test]
    fn rejects_every_truncation() {
        let data = sample(2000);
        let mut gz = flate2_gz(&data, 6);
        let one = gz.len();
        gz.extend(flate2_gz(b"more", 6));
        for len in 1..gz.len() {
            if len == one {
                continue; // a complete first member
            }
            for chunk in [1, 7, 4096] {
                assert_corrupt(
                    run_chunked(gunzip(NO_LIMIT), &gz[..len], chunk),
                    "truncated",
                );
            }
        }
        let (out, _) = run_chunked(gunzip(NO_LIMIT), &gz[..one], 7).unwrap();
        assert!(out == data);
    }

    #[test]
    fn empty_input_fails_like_gzip_d() {
        assert_corrupt(run_chunked(gunzip(NO_LIMIT), b"", 1), "empty input");
        assert_corrupt(run_split(gunzip(NO_LIMIT), b"", &[0, 0]), "empty input");
    }

    #[test]
    fn trailing_garbage_fails_but_zero_padding_is_ignored() {
        let gz = flate2_gz(b"payload", 6);
        let with = |tail: &[u8]| [gz.as_slice(), tail].concat();
        for chunk in [1, 7, 4096] {
            let (out, _) = run_chunked(gunzip(NO_LIMIT), &with(&[0; 1000]), chunk).unwrap();
            assert_eq!(out, b"payload");
            assert_corrupt(
                run_chunked(gunzip(NO_LIMIT), &with(b"garbage"), chunk),
                &format!("trailing garbage after member 1 at byte {}", gz.len()),
            );
            assert_corrupt(
                run_chunked(gunzip(NO_LIMIT), &with(b"\0\0x"), chunk),
                &format!("trailing garbage after member 1 at byte {}", gz.len() + 2),
            );
            // Padding ends the stream: a member after it is garbage too (as gzip -d says).
            let member_after_padding = with(&[&[0][..], &gz].concat());
            assert_corrupt(
                run_chunked(gunzip(NO_LIMIT), &member_after_padding, chunk),
                "garbage",
            );
            let (out, _) = run_chunked(gunzip(NO_LIMIT), &with(&with(&[0])), chunk).unwrap();
            assert_eq!(out, b"payloadpayload");
            assert_corrupt(
                run_chunked(gunzip(NO_LIMIT), &with(b"\x1f"), chunk),
                "truncated",
            );
        }
    }

    #[test]
    fn output_beyond_max_size_fails_and_is_never_pushed() {
        let data = sample(100_000);
        let gz = flate2_gz(&data, 6);
        for chunk in CHUNK_SIZES {
            assert!(run_chunked(gunzip(data.len() as u64), &gz, chunk).is_ok());
            let limit = data.len() as u64 - 1;
            let collect = Collect::new();
            let mut stage = Gunzip::new(limit, Box::new(collect.clone()));
            let result = gz
                .chunks(chunk)
                .try_for_each(|c| stage.push(c))
                .and_then(|()| Box::new(stage).finish(&mut FileReport::default()));
            assert!(
                matches!(result, Err(StageError::TooLarge { limit: l }) if l == limit),
                "chunk {chunk}: {result:?}"
            );
            assert!(collect.collected().len() as u64 <= limit);
        }
    }

    #[test]
    fn a_decompression_bomb_stops_at_max_size() {
        let zeros = vec![0; 20 << 20];
        let gz = flate2_gz(&zeros, 9);
        assert!(gz.len() < 64 * 1024);
        let collect = Collect::new();
        let mut stage = Gunzip::new(1 << 20, Box::new(collect.clone()));
        let result = stage.push(&gz);
        assert!(matches!(result, Err(StageError::TooLarge { limit }) if limit == 1 << 20));
        assert!(collect.collected().len() <= 1 << 20);
    }

    #[test]
    fn max_size_counts_all_members() {
        let mut gz = flate2_gz(&[b'a'; 600], 6);
        gz.extend(flate2_gz(&[b'b'; 600], 6));
        assert!(run_chunked(gunzip(1200), &gz, 7).is_ok());
        assert!(matches!(
            run_chunked(gunzip(1000), &gz, 7),
            Err(StageError::TooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn output_is_batched_in_large_pushes() {
        let data = sample(400_000);
        let gz = flate2_gz(&data, 6);
        let collect = Collect::new();
        let mut stage = Gunzip::new(NO_LIMIT, Box::new(collect.clone()));
        for byte in gz.chunks(1) {
            stage.push(byte).unwrap();
        }
        Box::new(stage).finish(&mut FileReport::default()).unwrap();
        assert!(collect.collected() == data);
        assert!(collect.push_count() <= data.len() / OUTPUT_BUFFER + 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_members_random_cuts_round_trip(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..4),
            cuts in proptest::collection::vec(0usize..10_000, 0..12),
            level in 0u32..=9,
        ) {
            let gz: Vec<u8> = parts.iter().flat_map(|p| flate2_gz(p, level)).collect();
            let (out, _) = run_split(gunzip(NO_LIMIT), &gz, &cuts).unwrap();
            prop_assert_eq!(out, parts.concat());
        }
    }
}
