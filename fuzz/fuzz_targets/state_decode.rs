//! The snapshot decoder on arbitrary bytes.
//!
//! Every snapshot ends with the xxh3-64 of what comes before it, so random bytes almost never get
//! past the checksum. The first input byte therefore picks a mode:
//! - even: the rest is the whole file, as is (header, records, checksum);
//! - odd: the rest is the record area; the target puts a valid header (magic, version 1, flags 0)
//!   in front and the right checksum after it, so the fuzzer explores the record parser.
//!
//! Properties checked: `decode` never panics; when it decodes, `encode` then `decode` gives the
//! same state, and encoding that state again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::state::codec::{MAGIC, VERSION, decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let framed;
    let bytes = if mode & 1 == 0 {
        rest
    } else {
        let mut b = Vec::with_capacity(rest.len() + 20);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(rest);
        let sum = xxhash_rust::xxh3::xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        framed = b;
        &framed[..]
    };
    let Ok(state) = decode(bytes) else {
        return;
    };
    let mut buf = Vec::new();
    encode(&state, &mut buf);
    let again = match decode(&buf) {
        Ok(s) => s,
        Err(e) => panic!("re-encoded snapshot does not decode: {e}"),
    };
    assert_eq!(again, state, "encode/decode round trip changed the state");
    let mut buf2 = Vec::new();
    encode(&again, &mut buf2);
    assert_eq!(buf2, buf, "encoding is not deterministic");
});
