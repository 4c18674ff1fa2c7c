//! Capture file framing: classic pcap and pcapng, sans-IO.
//!
//! Theory of operation. The caller owns the bytes: it reads the file (or a pipe) in chunks,
//! hands the framer the unconsumed tail plus the new chunk, and gets back every whole record
//! in it, each pointing into that buffer, and how many bytes were consumed. The framer keeps
//! only what must survive between chunks: the format, byte order, the interfaces of the
//! current pcapng section, and the absolute file offset and record number of the next record,
//! so that any error can say exactly where the file stopped making sense.
//!
//! Records before a corrupt one are always returned together with the error (nothing read is
//! lost). After an error the framer is stuck and repeats it: a corrupt length field leaves no
//! trustworthy way to find the next record.

use std::fmt;

pub const LINKTYPE_ETHERNET: u32 = 1;

/// Largest record or block accepted. libpcap refuses records above 256 KiB for most link
/// types; pcapng blocks carrying jumbo or reassembled frames can be larger, so the cap is
/// generous but finite: a garbage length must not make the caller buffer gigabytes.
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_OPB: u32 = 0x0000_0002;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;

/// Flag bits on a record.
pub mod record_flags {
    /// The fractional-seconds field was out of range (>= 10^6 us or >= 10^9 ns); ts_ns was
    /// still computed from the raw fields, as libpcap does.
    pub const TS_FRACTION_INVALID: u32 = 1;
    /// caplen exceeded the interface snaplen (kept: the bytes are in the file).
    pub const CAPLEN_OVER_SNAPLEN: u32 = 2;
    /// The pcapng timestamp lies beyond what i64 nanoseconds hold (year 2262); ts_ns was
    /// saturated at i64::MAX and cannot be written back as it was.
    pub const TS_OUT_OF_RANGE: u32 = 4;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

/// The global header of a classic pcap file, kept so that a writer can reproduce it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapHeader {
    pub big_endian: bool,
    pub nanosecond: bool,
    pub version_major: u16,
    pub version_minor: u16,
    pub thiszone: i32,
    pub sigfigs: u32,
    pub snaplen: u32,
    /// The whole 32-bit link-type field (FCS bits included); `linktype & 0xffff` is the type.
    pub linktype_field: u32,
}

/// One pcapng interface description, in the section where it was declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub linktype: u32,
    pub snaplen: u32,
    /// Raw if_tsresol option byte (6 = microseconds when absent).
    pub tsresol: u8,
    /// if_tsoffset in seconds.
    pub tsoffset_s: i64,
    /// if_name option when present.
    pub name: Option<String>,
    /// Index of the section (0-based) this interface belongs to.
    pub section: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub ts_ns: i64,
    pub wire_len: u32,
    pub caplen: u32,
    pub linktype: u32,
    /// pcapng: interface index across the whole file (sections concatenated); pcap: 0.
    pub interface_id: u32,
    /// Start of the packet bytes in the buffer handed to `frame`.
    pub data_start: usize,
    /// Absolute file offset of the record (or block) header.
    pub file_offset: u64,
    pub flags: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not a pcap or pcapng file (unknown magic).
    BadMagic,
    /// A length or field that cannot be right.
    Corrupt,
    /// The input ended inside a header or record.
    Truncated,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub kind: ErrorKind,
    /// Absolute byte offset of the header or record where reading stopped.
    pub offset: u64,
    /// 0-based number of the packet record that could not be read (= packets read so far).
    pub record: u64,
    pub message: String,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte offset {} (packet record {})",
            self.message, self.offset, self.record
        )
    }
}

#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    #[inline]
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }
    #[inline]
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
    #[inline]
    fn u64(self, b: &[u8], at: usize) -> u64 {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[at..at + 8]);
        if self.big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        }
    }
}

enum State {
    /// Nothing read yet: the magic decides the format.
    Start,
    Pcap { hdr: PcapHeader },
    /// Inside a pcapng file; `endian` is that of the current section.
    Pcapng { endian: Endian },
    Failed(FrameError),
}

pub struct Framer {
    state: State,
    /// Absolute offset of the first byte of the next `frame` buffer.
    offset: u64,
    records: u64,
    interfaces: Vec<Interface>,
    /// Index in `interfaces` where the current section's interfaces start.
    section_base: usize,
    sections: u32,
    pcap_header: Option<PcapHeader>,
}

/// Outcome of one `frame` call: bytes consumed and the error, if one stopped framing.
pub struct Framed {
    pub consumed: usize,
    pub error: Option<FrameError>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    pub fn new() -> Self {
        Framer {
            state: State::Start,
            offset: 0,
            records: 0,
            interfaces: Vec::new(),
            section_base: 0,
            sections: 0,
            pcap_header: None,
        }
    }

    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Pcap { .. } => Some(Format::Pcap),
            State::Pcapng { .. } => Some(Format::Pcapng),
            _ => {
                if self.pcap_header.is_some() {
                    Some(Format::Pcap)
                } else if self.sections > 0 {
                    Some(Format::Pcapng)
                } else {
                    None
                }
            }
        }
    }

    pub fn pcap_header(&self) -> Option<PcapHeader> {
        self.pcap_header
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn sections(&self) -> u32 {
        self.sections
    }

    /// Packet records returned so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Absolute offset of the first unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Frames at most `max_records` whole records from `buf`, appending them to `out`.
    pub fn frame(&mut self, buf: &[u8], out: &mut Vec<Record>, max_records: usize) -> Framed {
        let mut pos = 0usize;
        let mut n = 0usize;
        let mut fetched = 0usize;
        loop {
            if let State::Failed(e) = &self.state {
                return Framed { consumed: pos, error: Some(e.clone()) };
            }
            if n >= max_records {
                break;
            }
            fetched = prefetch_ahead(buf, pos, fetched);
            let rest = &buf[pos..];
            let step = match self.state {
                State::Start => self.start(rest),
                State::Pcap { hdr } => self.pcap_record(hdr, rest, pos, out),
                State::Pcapng { endian } => self.pcapng_block(endian, rest, pos, out),
                State::Failed(_) => unreachable!(),
            };
            match step {
                Step::Need => break,
                Step::Consumed { len, record } => {
                    pos += len;
                    self.offset += len as u64;
                    if record {
                        n += 1;
                        self.records += 1;
                    }
                }
                Step::Fail(kind, message) => {
                    let e = FrameError { kind, offset: self.offset, record: self.records, message };
                    self.state = State::Failed(e);
                }
            }
        }
        Framed { consumed: pos, error: None }
    }

    /// Call at end of input with the number of bytes left unconsumed. An empty file and a
    /// file ending cleanly between records are fine; anything else is a truncation.
    pub fn finish(&self, leftover: &[u8]) -> Result<(), FrameError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        if leftover.is_empty() {
            return Ok(());
        }
        let what = match self.state {
            State::Start => "file header",
            State::Pcap { .. } => {
                if leftover.len() < 16 {
                    "record header"
                } else {
                    "packet record"
                }
            }
            State::Pcapng { .. } => "block",
            State::Failed(_) => unreachable!(),
        };
        Err(FrameError {
            kind: ErrorKind::Truncated,
            offset: self.offset,
            record: self.records,
            message: format!(
                "file truncated inside a {} ({} bytes left over)",
                what,
                leftover.len()
            ),
        })
    }

    fn start(&mut self, b: &[u8]) -> Step {
        if b.len() < 4 {
            return Step::Need;
        }
        let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if le == PCAPNG_SHB {
            // The section header block decides byte order itself.
            self.state = State::Pcapng { endian: Endian { big: false } };
            return Step::Consumed { len: 0, record: false };
        }
        let (big, nanos) = match (le, be) {
            (PCAP_MAGIC_US, _) => (false, false),
            (PCAP_MAGIC_NS, _) => (false, true),
            (_, PCAP_MAGIC_US) => (true, false),
            (_, PCAP_MAGIC_NS) => (true, true),
            _ => {
                let hint = if le == 0xa1b2_cd34 || be == 0xa1b2_cd34 {
                    " (Kuznetzov's modified pcap format is not supported)"
                } else {
                    ""
                };
                return Step::Fail(
                    ErrorKind::BadMagic,
                    format!("not a pcap or pcapng file: magic 0x{:08x}{}", be, hint),
                );
            }
        };
        if b.len() < 24 {
            return Step::Need;
        }
        let e = Endian { big };
        let hdr = PcapHeader {
            big_endian: big,
            nanosecond: nanos,
            version_major: e.u16(b, 4),
            version_minor: e.u16(b, 6),
            thiszone: e.u32(b, 8) as i32,
            sigfigs: e.u32(b, 12),
            snaplen: e.u32(b, 16),
            linktype_field: e.u32(b, 20),
        };
        if hdr.version_major != 2 {
            return Step::Fail(
                ErrorKind::Corrupt,
                format!("unsupported pcap version {}.{}", hdr.version_major, hdr.version_minor),
            );
        }
        self.pcap_header = Some(hdr);
        self.state = State::Pcap { hdr };
        Step::Consumed { len: 24, record: false }
    }

    fn pcap_record(&mut self, hdr: PcapHeader, b: &[u8], pos: usize, out: &mut Vec<Record>) -> Step {
        if b.len() < 16 {
            return Step::Need;
        }
        let e = Endian { big: hdr.big_endian };
        let sec = e.u32(b, 0);
        let frac = e.u32(b, 4);
        let caplen = e.u32(b, 8);
        let wire_len = e.u32(b, 12);
        if caplen > MAX_RECORD_LEN {
            return Step::Fail(
                ErrorKind::Corrupt,
                format!("record caplen {} is larger than the {} byte limit", caplen, MAX_RECORD_LEN),
            );
        }
        let total = 16 + caplen as usize;
        if b.len() < total {
            return Step::Need;
        }
        let mut flags = 0;
        let (mult, limit) = if hdr.nanosecond { (1i64, 1_000_000_000u32) } else { (1000i64, 1_000_000u32) };
        if frac >= limit {
            flags |= record_flags::TS_FRACTION_INVALID;
        }
        if hdr.snaplen != 0 && caplen > hdr.snaplen.max(262_144) {
            flags |= record_flags::CAPLEN_OVER_SNAPLEN;
        }
        out.push(Record {
            ts_ns: sec as i64 * 1_000_000_000 + frac as i64 * mult,
            wire_len,
            caplen,
            linktype: hdr.linktype_field & 0xffff,
            interface_id: 0,
            data_start: pos + 16,
            file_offset: self.offset,
            flags,
        });
        Step::Consumed { len: total, record: true }
    }

    fn pcapng_block(&mut self, endian: Endian, b: &[u8], pos: usize, out: &mut Vec<Record>) -> Step {
        if b.len() < 12 {
            return Step::Need;
        }
        let raw_type = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let mut e = endian;
        if raw_type == PCAPNG_SHB {
            // A new section: its own byte-order magic decides how to read even its length.
            let bom = [b[8], b[9], b[10], b[11]];
            e = if u32::from_le_bytes(bom) == PCAPNG_BOM {
                Endian { big: false }
            } else if u32::from_be_bytes(bom) == PCAPNG_BOM {
                Endian { big: true }
            } else {
                return Step::Fail(
                    ErrorKind::Corrupt,
                    format!("pcapng section header with bad byte-order magic {:02x?}", bom),
                );
            };
        }
        let btype = e.u32(b, 0);
        let total = e.u32(b, 4);
        if total < 12 || total % 4 != 0 {
            return Step::Fail(
                ErrorKind::Corrupt,
                format!("pcapng block type 0x{:08x} has invalid total length {}", btype, total),
            );
        }
        if total > MAX_RECORD_LEN {
            return Step::Fail(
                ErrorKind::Corrupt,
                format!("pcapng block length {} is larger than the {} byte limit", total, MAX_RECORD_LEN),
            );
        }
        let total = total as usize;
        if b.len() < total {
            return Step::Need;
        }
        if e.u32(b, total - 4) as usize != total {
            return Step::Fail(
                ErrorKind::Corrupt,
                format!("pcapng block type 0x{:08x}: trailing length does not match {}", btype, total),
            );
        }
        let body = &b[8..total - 4];
        let mut record = false;
        match btype {
            PCAPNG_SHB => {
                if body.len() < 16 {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng section header too short".into());
                }
                let major = e.u16(body, 4);
                if major != 1 {
                    return Step::Fail(
                        ErrorKind::Corrupt,
                        format!("unsupported pcapng version {}.{}", major, e.u16(body, 6)),
                    );
                }
                self.section_base = self.interfaces.len();
                self.sections += 1;
                self.state = State::Pcapng { endian: e };
            }
            PCAPNG_IDB => {
                if self.sections == 0 {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng interface block before any section header".into());
                }
                if body.len() < 8 {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng interface description block too short".into());
                }
                let mut iface = Interface {
                    linktype: e.u16(body, 0) as u32,
                    snaplen: e.u32(body, 4),
                    tsresol: 6,
                    tsoffset_s: 0,
                    name: None,
                    section: self.sections - 1,
                };
                for (code, val) in Options::new(e, &body[8..]) {
                    match code {
                        2 => iface.name = Some(String::from_utf8_lossy(val).trim_end_matches('\0').to_string()),
                        9 if !val.is_empty() => iface.tsresol = val[0],
                        14 if val.len() >= 8 => iface.tsoffset_s = e.u64(val, 0) as i64,
                        _ => {}
                    }
                }
                if !tsresol_ok(iface.tsresol) {
                    return Step::Fail(
                        ErrorKind::Corrupt,
                        format!("pcapng interface has unsupported if_tsresol 0x{:02x}", iface.tsresol),
                    );
                }
                self.interfaces.push(iface);
            }
            PCAPNG_EPB | PCAPNG_OPB => {
                if body.len() < 20 {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng packet block too short".into());
                }
                let local_if = if btype == PCAPNG_EPB { e.u32(body, 0) } else { e.u16(body, 0) as u32 };
                let hi = e.u32(body, 4) as u64;
                let lo = e.u32(body, 8) as u64;
                let caplen = e.u32(body, 12);
                let wire_len = e.u32(body, 16);
                if 20 + caplen as usize > body.len() {
                    return Step::Fail(
                        ErrorKind::Corrupt,
                        format!("pcapng packet block caplen {} exceeds its block", caplen),
                    );
                }
                let gidx = self.section_base + local_if as usize;
                let Some(iface) = self.interfaces.get(gidx) else {
                    return Step::Fail(
                        ErrorKind::Corrupt,
                        format!("pcapng packet block names interface {} which was never described", local_if),
                    );
                };
                let mut flags = 0;
                if iface.snaplen != 0 && caplen > iface.snaplen.max(262_144) {
                    flags |= record_flags::CAPLEN_OVER_SNAPLEN;
                }
                // A hostile (or merely far-future) timestamp must not overflow: saturate, and
                // say so on the record.
                let ts_ns = ticks_to_ns((hi << 32) | lo, iface.tsresol)
                    .saturating_add(iface.tsoffset_s.saturating_mul(1_000_000_000));
                if ts_ns == i64::MAX || ts_ns == i64::MIN {
                    flags |= record_flags::TS_OUT_OF_RANGE;
                }
                out.push(Record {
                    ts_ns,
                    wire_len,
                    caplen,
                    linktype: iface.linktype,
                    interface_id: gidx as u32,
                    data_start: pos + 8 + 20,
                    file_offset: self.offset,
                    flags,
                });
                record = true;
            }
            PCAPNG_SPB => {
                if body.len() < 4 {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng simple packet block too short".into());
                }
                let Some(iface) = self.interfaces.get(self.section_base) else {
                    return Step::Fail(ErrorKind::Corrupt, "pcapng simple packet block with no interface".into());
                };
                let wire_len = e.u32(body, 0);
                // RFC draft: caplen is the smaller of the original length and the snaplen;
                // the block length bounds it too.
                let mut caplen = (body.len() - 4) as u32;
                caplen = caplen.min(wire_len);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen);
                }
                out.push(Record {
                    ts_ns: 0,
                    wire_len,
                    caplen,
                    linktype: iface.linktype,
                    interface_id: self.section_base as u32,
                    data_start: pos + 8 + 4,
                    file_offset: self.offset,
                    flags: 0,
                });
                record = true;
            }
            _ => {} // NRB, ISB, DSB, custom blocks: not packets, skipped.
        }
        Step::Consumed { len: total, record }
    }
}

enum Step {
    Need,
    Consumed { len: usize, record: bool },
    Fail(ErrorKind, String),
}

fn tsresol_ok(r: u8) -> bool {
    if r & 0x80 != 0 {
        (r & 0x7f) <= 63
    } else {
        r <= 19
    }
}

/// Converts pcapng timestamp ticks to nanoseconds for an `if_tsresol` byte: MSB clear means
/// 10^-n seconds per tick, set means 2^-n.
pub fn ticks_to_ns(ticks: u64, tsresol: u8) -> i64 {
    // Saturate rather than wrap: a hostile timestamp must not turn into a small one.
    let ns: u128 = if tsresol & 0x80 != 0 {
        let n = (tsresol & 0x7f) as u32;
        (ticks as u128 * 1_000_000_000u128) >> n
    } else {
        let n = tsresol as u32;
        if n <= 9 {
            ticks as u128 * 10u128.pow(9 - n)
        } else {
            (ticks / 10u64.pow(n - 9)) as u128
        }
    };
    ns.min(i64::MAX as u128) as i64
}

/// Iterator over pcapng options (code, value) until opt_endofopt or the end of the area.
struct Options<'a> {
    e: Endian,
    b: &'a [u8],
}

impl<'a> Options<'a> {
    fn new(e: Endian, b: &'a [u8]) -> Self {
        Options { e, b }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.b.len() < 4 {
            return None;
        }
        let code = self.e.u16(self.b, 0);
        let len = self.e.u16(self.b, 2) as usize;
        if code == 0 || 4 + len > self.b.len() {
            return None;
        }
        let val = &self.b[4..4 + len];
        let padded = (4 + len + 3) & !3;
        self.b = &self.b[padded.min(self.b.len())..];
        Some((code, val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_le(nanos: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(if nanos { PCAP_MAGIC_NS } else { PCAP_MAGIC_US }).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (s, f, d) in records {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(&(d.len() as u32 + 4).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    #[test]
    fn pcap_microseconds_two_records() {
        let f = pcap_le(false, &[(1, 500_000, b"abc"), (2, 7, b"defg")]);
        let mut fr = Framer::new();
        let mut out = Vec::new();
        let r = fr.frame(&f, &mut out, usize::MAX);
        assert!(r.error.is_none());
        assert_eq!(r.consumed, f.len());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].ts_ns, 1_500_000_000);
        assert_eq!(out[1].ts_ns, 2_000_007_000);
        assert_eq!(&f[out[1].data_start..out[1].data_start + 4], b"defg");
        assert_eq!(out[1].wire_len, 8);
        assert_eq!(out[1].file_offset, 24 + 16 + 3);
        assert!(fr.finish(&f[r.consumed..]).is_ok());
    }

    #[test]
    fn pcap_byte_at_a_time_gives_same_records() {
        let f = pcap_le(true, &[(1, 5, b"abc"), (2, 999_999_999, b"defg")]);
        let mut fr = Framer::new();
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut all = Vec::new();
        for &byte in &f {
            buf.push(byte);
            out.clear();
            let r = fr.frame(&buf, &mut out, usize::MAX);
            assert!(r.error.is_none());
            for rec in &out {
                all.push((rec.ts_ns, buf[rec.data_start..rec.data_start + rec.caplen as usize].to_vec()));
            }
            buf.drain(..r.consumed);
        }
        assert_eq!(all, vec![(1_000_000_005, b"abc".to_vec()), (2_999_999_999, b"defg".to_vec())]);
    }

    #[test]
    fn truncated_record_reports_offset_and_record() {
        let f = pcap_le(false, &[(1, 0, b"abc"), (2, 0, b"defg")]);
        let cut = &f[..f.len() - 2];
        let mut fr = Framer::new();
        let mut out = Vec::new();
        let r = fr.frame(cut, &mut out, usize::MAX);
        assert_eq!(out.len(), 1);
        let e = fr.finish(&cut[r.consumed..]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
        assert_eq!(e.offset, 24 + 16 + 3);
        assert_eq!(e.record, 1);
    }

    #[test]
    fn bad_magic() {
        let mut fr = Framer::new();
        let r = fr.frame(b"GIF89a-not-a-capture-file", &mut Vec::new(), usize::MAX);
        assert_eq!(r.error.unwrap().kind, ErrorKind::BadMagic);
    }

    #[test]
    fn tsresol_conversions() {
        assert_eq!(ticks_to_ns(1_500_000, 6), 1_500_000_000);
        assert_eq!(ticks_to_ns(3, 9), 3);
        assert_eq!(ticks_to_ns(12_345, 12), 12);
        assert_eq!(ticks_to_ns(1 << 20, 0x80 | 20), 1_000_000_000);
    }
}

/// Asks for every cache line up to a few KiB ahead of `pos` (`fetched`: where the last
/// call stopped; returns where this one did): records are read in file order, and the
/// hardware's own prefetcher stops at every 4 KiB page of a mapped file.
#[inline(always)]
fn prefetch_ahead(buf: &[u8], pos: usize, fetched: usize) -> usize {
    const AHEAD: usize = 4096;
    let end = (pos + AHEAD).min(buf.len());
    let mut at = fetched.max(pos + AHEAD / 2);
    #[cfg(target_arch = "x86_64")]
    while at < end {
        // SAFETY: the address is inside `buf`; a prefetch never faults or writes.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(buf.as_ptr().add(at) as *const i8);
        }
        at += 64;
    }
    at.max(end)
}
