//! A bounded, in-process mutation fuzz loop that runs on stable Rust (no libFuzzer), over the
//! same checks as the cargo-fuzz targets.
//!
//!     cargo test --manifest-path fuzz/Cargo.toml --release --no-default-features \
//!         -- --ignored --nocapture          # WIREKIT_FUZZ_SECS=300 for five minutes
//!
//! Seeds: every capture under the corpus (../shared/corpus or $WIREKIT_CORPUS) and a few
//! built-in ones. Mutations: byte flips, random bytes, inserts, deletes, truncation, splices of
//! two seeds, length-field nudges, and plain random buffers. Deterministic per
//! WIREKIT_FUZZ_SEED. A crashing input is written to fuzz/artifacts/stable-<target>-crash.

use std::panic;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wirekit_fuzz::{check_decode, check_framer, Rng};

fn corpus_dir() -> Option<PathBuf> {
    let p = std::env::var_os("WIREKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    p.is_dir().then_some(p)
}

fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")) {
            if let Ok(b) = std::fs::read(&p) {
                if b.len() <= 1 << 20 {
                    out.push(b);
                }
            }
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(c) = corpus_dir() {
        walk(&c, &mut out);
    }
    // A minimal pcap with one Ethernet/IPv4/TCP packet, and a minimal pcapng, so the loop has
    // something to mutate without the corpus.
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
    let pkt: Vec<u8> = [
        &[0u8; 12][..],
        &[0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2][..],
        &[0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0][..],
    ]
    .concat();
    pcap.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    pcap.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&pkt);
    out.push(pcap);
    out.push(pkt);
    out
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], buf: &mut Vec<u8>) {
    let pick = rng.below(seeds.len() as u64) as usize;
    buf.clear();
    if rng.below(20) == 0 {
        let n = rng.below(512) as usize;
        buf.extend((0..n).map(|_| rng.next() as u8));
        return;
    }
    let seed = &seeds[pick];
    // Work on a window of big seeds so each iteration stays fast.
    let start = if seed.len() > 8192 && rng.below(2) == 0 { rng.below(seed.len() as u64) as usize } else { 0 };
    let end = seed.len().min(start + 1 + rng.below(65536) as usize);
    buf.extend_from_slice(&seed[start..end]);
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let len = buf.len() as u64;
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len) as usize;
                buf[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len) as usize;
                buf[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1) as usize;
                let n = 1 + rng.below(16) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                buf.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len) as usize;
                let n = (1 + rng.below(16) as usize).min(buf.len() - i);
                buf.drain(i..i + n);
            }
            4 => buf.truncate(rng.below(len + 1) as usize),
            5 => {
                let other = &seeds[rng.below(seeds.len() as u64) as usize];
                if !other.is_empty() {
                    let s = rng.below(other.len() as u64) as usize;
                    let e = other.len().min(s + rng.below(4096) as usize);
                    let i = rng.below(len + 1) as usize;
                    buf.splice(i..i, other[s..e].iter().copied());
                }
            }
            6 if len >= 2 => {
                // Nudge a 16/32-bit value: lengths and counts are where parsers break.
                let i = rng.below(len - 1) as usize;
                let interesting = [0u8, 1, 0x7f, 0x80, 0xff, 0x40, 0x14, 0x28];
                buf[i] = interesting[rng.below(interesting.len() as u64) as usize];
                buf[i + 1] = interesting[rng.below(interesting.len() as u64) as usize];
            }
            _ => {
                if len > 0 {
                    let i = rng.below(len) as usize;
                    buf[i] = buf[i].wrapping_add(rng.below(5) as u8).wrapping_sub(2);
                }
            }
        }
    }
}

/// The packets inside the seed captures (up to 20 per file): seeds for the decode target.
fn packet_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for file in seeds() {
        let (recs, _) = wirekit_fuzz::frame_in_chunks(&file, || usize::MAX, || usize::MAX);
        out.extend(recs.into_iter().take(20).map(|r| r.data));
        if recs_is_empty_file(&file) {
            out.push(file);
        }
    }
    out
}

fn recs_is_empty_file(file: &[u8]) -> bool {
    // Raw frames among the seeds (not capture files) are kept as they are.
    !matches!(file.get(..4), Some([0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] | [0x0a, 0x0d, 0x0d, 0x0a]))
}

fn run(target: &str, check: fn(&[u8]), default_secs: u64) {
    let secs: u64 = std::env::var("WIREKIT_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(default_secs);
    let seed: u64 = std::env::var("WIREKIT_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let seeds = if target == "decode" { packet_seeds() } else { seeds() };
    let mut rng = Rng(seed ^ target.len() as u64);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = Vec::new();
    let mut iters: u64 = 0;
    let mut bytes: u64 = 0;
    // Seeds themselves first.
    for s in &seeds {
        check(s);
    }
    while Instant::now() < deadline {
        for _ in 0..64 {
            mutate(&mut rng, &seeds, &mut buf);
            let input = buf.clone();
            let r = panic::catch_unwind(|| check(&input));
            if r.is_err() {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("stable-{target}-crash"));
                let _ = std::fs::write(&path, &input);
                panic!("{target}: check failed after {iters} inputs; input saved to {}", path.display());
            }
            iters += 1;
            bytes += input.len() as u64;
        }
    }
    eprintln!(
        "stable fuzz {target}: {iters} inputs ({} MB) in {secs} s from {} seeds, no finding",
        bytes / 1_000_000,
        seeds.len()
    );
}

#[test]
#[ignore]
fn fuzz_framer_stable() {
    run("framer_chunks", check_framer, 60);
}

#[test]
#[ignore]
fn fuzz_decode_stable() {
    run("decode", check_decode, 60);
}

/// A short run that is part of the normal `cargo test` of this crate.
#[test]
fn smoke() {
    for s in seeds().iter().take(50) {
        check_framer(s);
        check_decode(&s[..s.len().min(2048)]);
    }
}

/// Found by the stable loop: an IDB with if_tsoffset = i64::MAX overflowed the timestamp
/// arithmetic (a panic with overflow checks, a wrapped timestamp without).
#[test]
fn regression_tsoffset_overflow() {
    let block = |btype: u32, body: &[u8]| {
        let mut b = body.to_vec();
        b.resize(body.len() + (4 - body.len() % 4) % 4, 0);
        let total = (12 + b.len()) as u32;
        [&btype.to_le_bytes()[..], &total.to_le_bytes(), &b, &total.to_le_bytes()].concat()
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = vec![1, 0, 0, 0, 0, 0, 4, 0];
    idb.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
    idb.extend_from_slice(&8u16.to_le_bytes());
    idb.extend_from_slice(&i64::MAX.to_le_bytes());
    idb.extend_from_slice(&[0, 0, 0, 0]);
    let mut epb = vec![0u8; 20];
    epb[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    epb[12..16].copy_from_slice(&4u32.to_le_bytes());
    epb[16..20].copy_from_slice(&4u32.to_le_bytes());
    epb.extend_from_slice(&[1, 2, 3, 4]);
    let file = [block(0x0a0d_0d0a, &shb), block(1, &idb), block(6, &epb)].concat();
    check_framer(&file);
    let (recs, err) = wirekit_fuzz::frame_in_chunks(&file, || usize::MAX, || usize::MAX);
    assert!(err.is_none());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].ts_ns, i64::MAX);
}

/// Inputs saved by earlier runs (fuzz/artifacts, not committed) still pass.
#[test]
fn replay_artifacts() {
    let mut files = Vec::new();
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"), &mut files);
    for p in files {
        let name = p.to_string_lossy().to_string();
        let data = std::fs::read(&p).unwrap();
        if name.contains("framer") {
            check_framer(&data);
        } else if name.contains("decode") {
            check_decode(&data);
        }
    }
}
