//! Frames in, reassembly events out: decode -> (defragment) -> TCP reassembly / UDP / IP.
//!
//! The one place where captured frames meet the engines. Sans-IO like them: each frame comes
//! with its capture timestamp, which is also the clock (`advance` runs when a frame's time
//! passes the next deadline), so replaying a file and reading live run the same code.

use crate::defrag::{DefragConfig, Defragmenter, Outcome};
use crate::policy::Cidr;
use crate::tcp::scan::{ScanConfig, ScanDetector};
use crate::tcp::{ConnKey, Endpoint, Event, EventKind, Segment, TcpConfig, TcpReassembler};
use wirekit_core::checksum;
use wirekit_core::decode::{self, Summary, IPPROTO_TCP, IPPROTO_UDP};

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub tcp: TcpConfig,
    /// Verify TCP checksums (a bad one is an anomaly; the segment is still used unless its
    /// destination is in `checksum_drop`). Checksum offload makes locally sent packets look
    /// bad, so dropping them by default would hide the capturing host's own connections.
    pub verify_checksums: bool,
    /// Destinations whose segments with a bad checksum are dropped.
    pub checksum_drop: Vec<Cidr>,
    /// Emit a `Udp` event per UDP datagram.
    pub emit_udp: bool,
    /// Emit an `Ip` event per IP datagram (after defragmentation).
    pub emit_ip: bool,
    /// Reassemble IPv4/IPv6 fragments before the TCP/UDP layers (else fragments are
    /// skipped).
    pub defrag: Option<DefragConfig>,
    /// Port-scan detection (libnids' scan_num_hosts/ports/delay); num_hosts 0 = off.
    pub scan: ScanConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            tcp: TcpConfig::default(),
            verify_checksums: true,
            checksum_drop: Vec::new(),
            emit_udp: false,
            emit_ip: false,
            defrag: Some(DefragConfig::default()),
            scan: ScanConfig { num_hosts: 0, ..ScanConfig::default() },
        }
    }
}

pub struct Pipeline {
    pub cfg: PipelineConfig,
    pub tcp: TcpReassembler,
    pub frames: u64,
    pub non_ip: u64,
    pub checksum_dropped: u64,
    /// Capture time of the latest frame (the clock of a replay).
    pub last_ts_ns: i64,
    pub defrag: Option<Defragmenter>,
    pub scans: ScanDetector,
    deadline: Option<i64>,
}

/// The window-scale shift count in a TCP options block (RFC 7323 section 2.2), if any.
pub fn parse_wscale(opts: &[u8]) -> Option<u8> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            kind => {
                let len = *opts.get(i + 1)? as usize;
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind == 3 && len == 3 {
                    return Some(opts[i + 2]);
                }
                i += len;
            }
        }
    }
    None
}

const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// RFC 1071 sum of `data` as big-endian 16-bit words, 4 words per step.
///
/// The sum is taken over native-endian 32-bit words and byte-swapped once at the end: RFC
/// 1071 section 2(B) (byte-order independence) and 2(C) (parallel summation: the sum of
/// 32-bit words folds to the same 16-bit ones' complement sum). This is the per-segment hot
/// loop of TCP checksum verification, so it is kept here rather than the general helper.
#[inline]
fn sum_be_fast(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().unwrap());
        acc += (v & 0xffff_ffff) + (v >> 32);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u16::from_ne_bytes([w[0], w[1]]) as u64;
    }
    if let [last] = words.remainder() {
        acc += u16::from_ne_bytes([*last, 0]) as u64;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    let folded = acc as u16;
    (if cfg!(target_endian = "little") { folded.swap_bytes() } else { folded }) as u64
}

/// The TCP checksum of a complete, unfragmented segment verifies. IPv6 with extension
/// headers (whose pseudo-header may use a routing header's final destination) goes through
/// the general `decode::verify_checksums`.
fn tcp_checksum_ok(data: &[u8], s: &Summary) -> bool {
    let l4 = s.l4_offset as usize;
    let end = s.l3_offset as usize + s.ip_len as usize;
    if s.is_fragment || end > data.len() || l4 >= end {
        return true; // not checkable from this frame (truncated capture)
    }
    let seg = &data[l4..end];
    let pseudo = match s.ip_version {
        4 => checksum::pseudo_header_v4(&s.src_v4(), &s.dst_v4(), IPPROTO_TCP, seg.len() as u32),
        6 if s.ip_header_len == 40 => checksum::pseudo_header_v6(&s.src, &s.dst, IPPROTO_TCP, seg.len() as u32),
        _ => return decode::verify_checksums(data, s) & decode::ANOM_BAD_L4_CHECKSUM == 0,
    };
    checksum::fold(pseudo + sum_be_fast(seg)) == 0xffff
}

fn endpoint(addr: [u8; 16], port: u16) -> Endpoint {
    Endpoint { addr, port }
}

impl Pipeline {
    pub fn new(cfg: PipelineConfig) -> Self {
        let tcp = TcpReassembler::new(cfg.tcp.clone());
        let defrag = cfg.defrag.clone().map(Defragmenter::new);
        let scans = ScanDetector::new(cfg.scan);
        Pipeline { cfg, tcp, frames: 0, non_ip: 0, checksum_dropped: 0, last_ts_ns: 0, defrag, scans, deadline: None }
    }

    /// Feeds one captured frame (`data` from the link-layer header).
    pub fn push_frame(&mut self, ts_ns: i64, linktype: u32, data: &[u8], wire_len: u32) {
        self.frames += 1;
        if ts_ns > self.last_ts_ns {
            self.last_ts_ns = ts_ns;
        }
        if let Some(d) = self.deadline {
            if ts_ns >= d {
                self.tcp.advance(ts_ns);
                self.deadline = None;
            }
        }
        let mut s = decode::decode_record(linktype, data, wire_len);
        let (mut data, mut linktype) = (data, linktype);
        if s.ip_version == 0 && s.ethertype == ETHERTYPE_PPPOE_SESSION {
            // PPPoE session (RFC 2516): 6-byte PPPoE header, then the 2-byte PPP protocol
            // (0x0021 IPv4, 0x0057 IPv6, RFC 1332 / RFC 5072). Decode the IP inside as raw IP.
            let l3 = s.l3_offset as usize;
            if data.len() >= l3 + 8 && matches!(u16::from_be_bytes([data[l3 + 6], data[l3 + 7]]), 0x0021 | 0x0057) {
                data = &data[l3 + 8..];
                linktype = decode::LINKTYPE_RAW;
                s = decode::decode(linktype, data);
            }
        }
        if s.ip_version == 0 {
            self.non_ip += 1;
            return;
        }
        if s.is_fragment || s.frag_header_offset != 0 {
            let Some(df) = self.defrag.as_mut() else { return };
            let outcome = df.push(ts_ns, linktype, data, &s);
            if df.pending_events() > 0 {
                let evs = df.take_events();
                self.defrag_events(ts_ns, evs);
            }
            match outcome {
                Outcome::NotFragment => self.push_datagram(ts_ns, data, &s, true),
                Outcome::Held | Outcome::Dropped => {}
                Outcome::Completed(r) => {
                    // The reassembled frame flows on as if it had come whole.
                    let s2 = decode::decode(linktype, &r.frame);
                    self.push_datagram(ts_ns, &r.frame, &s2, false);
                }
            }
        } else {
            self.push_datagram(ts_ns, data, &s, true);
        }
        if self.deadline.is_none() {
            self.deadline = self.tcp.next_deadline();
        }
    }

    fn defrag_events(&mut self, ts_ns: i64, events: Vec<crate::defrag::DefragEvent>) {
        for e in events {
            let ev = connless_event(
                EventKind::Anomaly,
                ConnKey {
                    ip_version: e.key.ip_version,
                    client: endpoint(e.key.src, 0),
                    server: endpoint(e.key.dst, 0),
                },
                ts_ns,
                e.frag_offset as u64,
                0,
                e.anomaly.code(),
            );
            self.tcp.push_external(ev, &[]);
        }
    }

    /// A complete (unfragmented or reassembled) IP datagram, decoded as `s`; `is_frame`:
    /// `data` is the frame given to `push_frame` (not a reassembled copy).
    pub fn push_datagram(&mut self, ts_ns: i64, data: &[u8], s: &Summary, is_frame: bool) {
        if self.cfg.emit_ip {
            let l3 = s.l3_offset as usize;
            let end = (l3 + s.ip_len as usize).min(data.len());
            let ev = connless_event(
                EventKind::Ip,
                ConnKey {
                    ip_version: s.ip_version,
                    client: endpoint(s.src, s.src_port),
                    server: endpoint(s.dst, s.dst_port),
                },
                ts_ns,
                0,
                s.proto as u32,
                "",
            );
            self.tcp.push_external(ev, &data[l3.min(end)..end]);
        }
        if s.l4_offset == 0 {
            return;
        }
        let p0 = s.payload_offset as usize;
        let payload = &data[p0.min(data.len())..(p0 + s.payload_len as usize).min(data.len())];
        match s.proto {
            IPPROTO_TCP => {
                let mut bad = false;
                if self.cfg.verify_checksums && !tcp_checksum_ok(data, s) {
                    bad = true;
                    if self.cfg.checksum_drop.iter().any(|c| c.contains(s.ip_version, &s.dst)) {
                        self.checksum_dropped += 1;
                        let ev = connless_event(
                            EventKind::Anomaly,
                            ConnKey {
                                ip_version: s.ip_version,
                                client: endpoint(s.src, s.src_port),
                                server: endpoint(s.dst, s.dst_port),
                            },
                            ts_ns,
                            0,
                            0,
                            crate::tcp::anomaly::BAD_CHECKSUM,
                        );
                        self.tcp.push_external(ev, &[]);
                        return;
                    }
                }
                let l4 = s.l4_offset as usize;
                let hl = s.l4_header_len as usize;
                let wscale = if s.tcp_flags & crate::tcp::SYN != 0 && hl > 20 && l4 + hl <= data.len() {
                    parse_wscale(&data[l4 + 20..l4 + hl])
                } else {
                    None
                };
                if s.tcp_flags & (crate::tcp::SYN | crate::tcp::ACK) == crate::tcp::SYN {
                    if let Some(scan) = self.scans.on_syn(ts_ns, s.ip_version, s.src, s.dst, s.dst_port) {
                        let ev = connless_event(
                            EventKind::Anomaly,
                            ConnKey {
                                ip_version: scan.ip_version,
                                client: endpoint(scan.src, 0),
                                server: endpoint(scan.dst, scan.dst_port),
                            },
                            ts_ns,
                            scan.probes as u64,
                            0,
                            "tcp_port_scan",
                        );
                        self.tcp.push_external(ev, &[]);
                    }
                }
                let seg = Segment {
                    ip_version: s.ip_version,
                    src: s.src,
                    dst: s.dst,
                    src_port: s.src_port,
                    dst_port: s.dst_port,
                    seq: s.tcp_seq,
                    ack: s.tcp_ack,
                    flags: s.tcp_flags,
                    window: s.tcp_window,
                    wscale,
                    payload,
                    frame_offset: if is_frame && !payload.is_empty() { Some(p0) } else { None },
                    bad_checksum: bad,
                };
                self.tcp.push(ts_ns, &seg);
            }
            IPPROTO_UDP if self.cfg.emit_udp => {
                let ev = connless_event(
                    EventKind::Udp,
                    ConnKey {
                        ip_version: s.ip_version,
                        client: endpoint(s.src, s.src_port),
                        server: endpoint(s.dst, s.dst_port),
                    },
                    ts_ns,
                    0,
                    0,
                    "",
                );
                self.tcp.push_external(ev, payload);
            }
            _ => {}
        }
    }

    /// Runs timers up to `now_ns` (live capture with no traffic).
    pub fn advance(&mut self, now_ns: i64) {
        if let Some(df) = self.defrag.as_mut() {
            let evs = df.advance(now_ns);
            self.defrag_events(now_ns, evs);
        }
        self.tcp.advance(now_ns);
        self.deadline = self.tcp.next_deadline();
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.tcp.next_deadline()
    }

    /// End of input: open streams are delivered with their state.
    pub fn finish(&mut self, now_ns: i64) {
        self.tcp.finish(now_ns);
        self.deadline = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sum_matches_rfc1071_helper() {
        let mut x: u32 = 12345;
        for len in 0..300usize {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            assert_eq!(sum_be_fast(&data) as u16, checksum::fold(checksum::sum(&data, 0)), "len {len}");
        }
        assert_eq!(sum_be_fast(&[0xff; 64]) as u16, checksum::fold(checksum::sum(&[0xff; 64], 0)));
    }

    /// A raw-IPv4 TCP segment (linktype RAW), checksums left zero; `frag` = (offset in
    /// 8-byte units, more fragments) cuts it into an IPv4 fragment of `tcp_and_payload`.
    fn ipv4_tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        ipv4(&t, 0, false, 7)
    }

    fn ipv4(l4: &[u8], frag_units: u16, more: bool, id: u16) -> Vec<u8> {
        let total = 20 + l4.len();
        let fo = frag_units | if more { 0x2000 } else { 0 };
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, (id >> 8) as u8, id as u8, (fo >> 8) as u8, fo as u8, 64, 6, 0, 0];
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        if l4.len() >= 4 && l4[0..2] == 80u16.to_be_bytes() {
            p[12..20].copy_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        }
        p.extend_from_slice(l4);
        p
    }

    /// Runs the frames through a pipeline; per direction, the bytes of the Data events in
    /// order, and how many of those events were borrowed from the frame.
    fn streams(frames: &[Vec<u8>], borrow: bool) -> ([Vec<u8>; 2], usize) {
        let tcp = TcpConfig { borrow_frames: borrow, ..TcpConfig::default() };
        let mut p = Pipeline::new(PipelineConfig { tcp, verify_checksums: false, ..PipelineConfig::default() });
        let mut out = [Vec::new(), Vec::new()];
        let mut borrowed = 0;
        let mut ts = 1_000_000_000;
        let mut take = |p: &mut Pipeline, frame: &[u8]| {
            for e in p.tcp.events() {
                if e.kind == EventKind::Data {
                    let src = if e.in_frame { frame } else { p.tcp.data() };
                    borrowed += e.in_frame as usize;
                    out[e.dir as usize].extend_from_slice(&src[e.data_start..e.data_start + e.len as usize]);
                }
            }
            p.tcp.clear_events();
        };
        for f in frames {
            ts += 1000;
            p.push_frame(ts, decode::LINKTYPE_RAW, f, f.len() as u32);
            take(&mut p, f);
        }
        p.finish(ts + 1);
        take(&mut p, &[]);
        (out, borrowed)
    }

    #[test]
    fn borrowed_frames_give_the_same_streams() {
        let (c, s) = (1000u32, 5000u32);
        let (syn, ack, psh) = (0x02, 0x10, 0x18);
        // The third client segment comes whole as two IPv4 fragments: its bytes live in
        // the defragmenter's copy, never in a frame.
        let mut frag_seg = ipv4_tcp(40000, 80, c + 1 + 10, s + 1, psh, b"fragmented!!");
        let l4 = frag_seg.split_off(20);
        let frames = vec![
            ipv4_tcp(40000, 80, c, 0, syn, b""),
            ipv4_tcp(80, 40000, s, c + 1, syn | ack, b""),
            ipv4_tcp(40000, 80, c + 1, s + 1, ack, b""),
            ipv4_tcp(40000, 80, c + 1, s + 1, psh, b"GET / HTTP"),
            ipv4(&l4[..16], 0, true, 9),
            ipv4(&l4[16..], 2, false, 9),
            // Out of order: "world" arrives before "hello ", then a retransmission overlaps.
            ipv4_tcp(80, 40000, s + 1 + 6, c + 1, psh, b"world"),
            ipv4_tcp(80, 40000, s + 1, c + 1, psh, b"hello "),
            ipv4_tcp(80, 40000, s + 1 + 3, c + 1, psh, b"lo world, again"),
            ipv4_tcp(40000, 80, c + 23, s + 22, 0x11, b""),
        ];
        let (copied, none) = streams(&frames, false);
        let (borrowed, count) = streams(&frames, true);
        assert_eq!(none, 0);
        assert_eq!(copied[0], b"GET / HTTPfragmented!!");
        assert_eq!(copied[1], b"hello world, again");
        assert_eq!(borrowed, copied);
        // "GET / HTTP" and ", again" (the new tail of the overlap) came from frames; the
        // fragment, the queued "world" and "hello " (which found "world" queued, so went
        // through the queue) were copied.
        assert_eq!(count, 2);
    }

    #[test]
    fn wscale_option_parsing() {
        assert_eq!(parse_wscale(&[2, 4, 5, 0xb4, 1, 3, 3, 7]), Some(7));
        assert_eq!(parse_wscale(&[1, 1, 0, 3, 3, 7]), None);
        assert_eq!(parse_wscale(&[3, 9, 7]), None);
    }
}

/// An event that belongs to no connection (an anomaly, an IP packet, a UDP datagram): no
/// stream offset of its own, no payload in the event buffer.
fn connless_event(kind: EventKind, key: ConnKey, ts_ns: i64, offset: u64, flags: u32, anomaly: &'static str) -> Event {
    Event { kind, conn_id: 0, key, dir: 0, offset, len: 0, data_start: 0, in_frame: false, ts_ns, flags, anomaly }
}
