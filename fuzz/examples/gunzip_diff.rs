//! Replays `gunzip` inputs (files in the folders given, in the target's layout) through our
//! `Gunzip` and flate2's `MultiGzDecoder`, and lists the inputs they disagree on: accepted by
//! one and refused by the other (ignoring the known cases: trailing zero padding, empty input,
//! over the limit), or different output. Not a fuzz target, a triage tool:
//!   cargo run --release --example gunzip_diff -- corpus/gunzip
use runner::stage::testutil::Collect;
use runner::stage::{FileReport, Gunzip, Sink};
use std::io::Read;

fn ours(input: &[u8], chunk: usize) -> Result<Vec<u8>, String> {
    let collect = Collect::new();
    let mut stage = Box::new(Gunzip::new(1 << 20, Box::new(collect.clone())));
    for piece in input.chunks(chunk) {
        stage.push(piece).map_err(|e| e.to_string())?;
    }
    stage.finish(&mut FileReport::default()).map_err(|e| e.to_string())?;
    Ok(collect.collected())
}

fn theirs(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(input)
        .take((1 << 20) + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn main() {
    let (mut total, mut both_ok, mut both_err, mut only_ours, mut only_theirs) = (0, 0, 0, 0, 0);
    for dir in std::env::args().skip(1) {
        for entry in std::fs::read_dir(&dir).expect("read the folder") {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("read");
            let [c, _, input @ ..] = &data[..] else { continue };
            let chunk = if *c < 128 { usize::from(*c) + 1 } else { (usize::from(*c) - 127) * 512 };
            total += 1;
            match (ours(input, chunk), theirs(input)) {
                (Ok(a), Ok(b)) => {
                    both_ok += 1;
                    if a != b {
                        println!("DIFFERENT OUTPUT {}", path.display());
                    }
                }
                (Err(_), Err(_)) => both_err += 1,
                (Ok(_), Err(e)) => {
                    only_ours += 1;
                    let padded = input.ends_with(&[0]);
                    if !padded {
                        println!("ours ok, flate2 refuses ({e}): {}", path.display());
                    }
                }
                (Err(e), Ok(out)) => {
                    only_theirs += 1;
                    let known = e.contains("trailing garbage")
                        || e.contains("empty input")
                        || e.contains("exceeds max_size")
                        || out.len() > 1 << 20;
                    if !known {
                        println!("flate2 ok, ours refuses ({e}): {}", path.display());
                    }
                }
            }
        }
    }
    println!(
        "{total} inputs: both ok {both_ok}, both refuse {both_err}, only ours ok {only_ours}, only flate2 ok {only_theirs}"
    );
}
