//! Fuzz checks shared by the cargo-fuzz targets (nightly, libFuzzer) and the stable
//! in-process loop in tests/stable_loop.rs. Each check panics on a violated invariant.

use wirekit_core::decode::{self, Summary};
use wirekit_core::framer::{FrameError, Framer, Record};

/// A framed record with its bytes copied out (buffers differ between split schedules).
#[derive(Debug, PartialEq, Eq)]
pub struct Owned {
    pub ts_ns: i64,
    pub wire_len: u32,
    pub caplen: u32,
    pub linktype: u32,
    pub interface_id: u32,
    pub file_offset: u64,
    pub flags: u32,
    pub data: Vec<u8>,
}

fn own(buf: &[u8], r: &Record) -> Owned {
    Owned {
        ts_ns: r.ts_ns,
        wire_len: r.wire_len,
        caplen: r.caplen,
        linktype: r.linktype,
        interface_id: r.interface_id,
        file_offset: r.file_offset,
        flags: r.flags,
        data: buf[r.data_start..r.data_start + r.caplen as usize].to_vec(),
    }
}

/// Frames `input` fed in chunks of the sizes `chunk_sizes` yields (cycled), as
/// python/wirekit/capture/files.py does: unconsumed tail + next chunk, `finish` at the end.
pub fn frame_in_chunks(
    input: &[u8],
    mut chunk_size: impl FnMut() -> usize,
    mut max_records: impl FnMut() -> usize,
) -> (Vec<Owned>, Option<FrameError>) {
    let mut framer = Framer::new();
    let mut out = Vec::new();
    let mut leftover: Vec<u8> = Vec::new();
    let mut pos = 0;
    loop {
        let n = chunk_size().max(1).min(input.len() - pos);
        if n == 0 {
            let err = framer.finish(&leftover).err();
            return (out, err);
        }
        leftover.extend_from_slice(&input[pos..pos + n]);
        pos += n;
        // Frame what we hold, possibly in several calls when max_records is small.
        loop {
            let mut recs = Vec::new();
            let framed = framer.frame(&leftover, &mut recs, max_records().max(1));
            assert!(framed.consumed <= leftover.len());
            for r in &recs {
                assert!(r.data_start + r.caplen as usize <= framed.consumed, "record past consumed bytes");
                out.push(own(&leftover, r));
            }
            leftover.drain(..framed.consumed);
            if let Some(e) = framed.error {
                // Stuck after an error: it repeats it.
                let again = framer.frame(&leftover, &mut Vec::new(), usize::MAX);
                assert_eq!(again.error.as_ref(), Some(&e));
                assert_eq!(framer.finish(&leftover).err().as_ref(), Some(&e));
                return (out, Some(e));
            }
            if recs.is_empty() || framed.consumed == 0 {
                break;
            }
        }
    }
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// xorshift64*: split schedules derived from the input itself.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// The framer never panics, and chunk splits and record limits do not change what it yields.
pub fn check_framer(input: &[u8]) {
    let (whole, whole_err) = frame_in_chunks(input, || usize::MAX, || usize::MAX);
    for r in &whole {
        assert!(r.caplen as usize == r.data.len());
        check_decode_one(r.linktype, &r.data, r.wire_len);
    }
    let mut rng = Rng(fnv(input));
    for schedule in 0..3 {
        let mut rng2 = Rng(rng.next());
        let mut rng3 = Rng(rng.next());
        let (parts, err) = match schedule {
            0 => frame_in_chunks(input, || 1 + rng2.below(64) as usize, || usize::MAX),
            1 => frame_in_chunks(input, || 1 + rng2.below(4096) as usize, || 1 + rng3.below(3) as usize),
            _ if input.len() <= 4096 => frame_in_chunks(input, || 1, || usize::MAX),
            _ => frame_in_chunks(input, || 1 + rng2.below(1 << 16) as usize, || usize::MAX),
        };
        assert_eq!(parts, whole, "records differ under split schedule {schedule}");
        assert_eq!(err, whole_err, "error differs under split schedule {schedule}");
    }
}

const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999];

fn check_summary(data: &[u8], s: &Summary) {
    let n = data.len();
    assert!(s.payload_offset as usize + s.payload_len as usize <= n, "payload past data: {s:?}");
    assert!(s.l4_offset as usize <= n);
    if s.l4_offset != 0 {
        assert!(s.ip_version != 0);
        // At least the fixed part needed for ports (ICMP type/code) was captured.
        assert!(s.l4_offset as usize + 4 <= n, "{s:?}");
        assert!(s.l4_offset >= s.l3_offset + s.ip_header_len);
        assert!(s.payload_offset >= s.l4_offset);
    }
    if s.ip_version == 4 {
        assert!(s.l3_offset as usize + 20 <= n);
        assert!(s.ip_header_len >= 20 && s.ip_header_len <= 60);
    }
    if s.ip_version == 6 {
        assert!(s.l3_offset as usize + 40 <= n);
        assert!(s.ip_header_len >= 40);
        assert!(s.l3_offset as usize + s.ip_header_len as usize <= n);
    }
    if s.ip_version == 0 {
        assert_eq!((s.l4_offset, s.src_port, s.dst_port, s.ip_len), (0, 0, 0, 0));
    }
    assert_eq!(s.anomalies & !decode::ANOMALY_CODES.iter().fold(0, |a, (b, _)| a | b), 0);
    assert!(s.vlan_count <= decode::MAX_VLAN_TAGS);
}

fn check_decode_one(linktype: u32, data: &[u8], wire_len: u32) {
    let s = decode::decode_record(linktype, data, wire_len);
    check_summary(data, &s);
    let bits = decode::verify_checksums(data, &s);
    assert_eq!(bits & !(decode::ANOM_BAD_IP_CHECKSUM | decode::ANOM_BAD_L4_CHECKSUM), 0);
}

/// Decode never panics under any link type, and its offsets stay inside the data.
pub fn check_decode(data: &[u8]) {
    for lt in LINKTYPES {
        let s = decode::decode(lt, data);
        assert_eq!(s, decode::decode_record(lt, data, data.len() as u32));
        check_summary(data, &s);
        let _ = decode::verify_checksums(data, &s);
        // As if the capture had cut the frame: same checks.
        check_decode_one(lt, data, data.len() as u32 + 1500);
        // Every prefix of a short input (snaplen cuts anywhere).
        if data.len() <= 128 {
            for k in 0..data.len() {
                check_decode_one(lt, &data[..k], data.len() as u32);
            }
        }
    }
}
