//! Fuzz the TCP pipeline (decode -> TCP reassembly) with synthesised segments of a few
//! connections (sequence numbers near 2^32, arbitrary flags, lengths, times) mixed with
//! arbitrary raw frames, collect switches and timer advances, under small caps.
//! Invariants: no panic; per (connection, direction) Data and Gap events are contiguous
//! (each starts where the previous ended) and their bytes lie in the buffer they point to
//! (the frame, with `borrow_frames`, or the engine's data); bytes delivered per directed
//! 4-tuple never exceed the TCP payload bytes fed on it; buffered bytes stay under the total
//! cap; after `finish` nothing is left in the table or the buffers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use wirekit_core::decode::{decode, IPPROTO_TCP, LINKTYPE_RAW};
use wirekit_reasm::pipeline::{Pipeline, PipelineConfig};
use wirekit_reasm::policy::OverlapPolicy;
use wirekit_reasm::tcp::{CapPolicy, Delivery, EventKind, TcpConfig};

const MAX_TOTAL: usize = 8 * 1024;
const CLIENT_ISN: u32 = 0xffff_ff00; // wraps after 256 bytes
const SERVER_ISN: u32 = 0x0000_1000;

type Tuple = ([u8; 16], u16, [u8; 16], u16);

fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let total = 40 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0x10, 0x00, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fn key_of(a: &[u8; 16], ap: u16, b: &[u8; 16], bp: u16) -> Tuple {
    (*a, ap, *b, bp)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let c = data[0];
    let tcp = TcpConfig {
        policy: OverlapPolicy::ALL[(c as usize) % OverlapPolicy::ALL.len()],
        midstream: c & 0x08 != 0,
        delivery: if c & 0x10 != 0 { Delivery::OnAck } else { Delivery::Immediate },
        max_conns: 3,
        max_buffer_per_stream: 2048,
        max_buffer_total: MAX_TOTAL,
        buffer_cap_policy: [CapPolicy::EvictOldest, CapPolicy::Drop, CapPolicy::StopCollecting][(data[1] % 3) as usize],
        conn_cap_policy: if data[1] & 4 != 0 { CapPolicy::Drop } else { CapPolicy::EvictOldest },
        idle_timeout_ns: 5_000_000_000,
        handshake_timeout_ns: 1_000_000_000,
        borrow_frames: data[1] & 8 != 0,
        ..TcpConfig::default()
    };
    let cfg = PipelineConfig { tcp, verify_checksums: false, defrag: None, ..PipelineConfig::default() };
    let mut p = Pipeline::new(cfg);

    let server = [10u8, 0, 0, 2];
    let clients = [[10u8, 0, 0, 1], [10u8, 0, 0, 3]];
    let mut fed: HashMap<Tuple, u64> = HashMap::new();
    let mut delivered: HashMap<Tuple, u64> = HashMap::new();
    let mut ends: HashMap<(u64, u8), (u64, bool)> = HashMap::new();
    let mut conn_ids: Vec<u64> = Vec::new();
    let mut now: i64 = 1_000_000_000;

    let mut i = 2;
    while i + 8 <= data.len() {
        let op = &data[i..i + 8];
        i += 8;
        now += ((op[7] as i64) << (op[7] & 7)) * 1_000_000;
        match (op[0] >> 2) & 3 {
            0 | 1 => {
                let from_client = op[0] & 1 == 0;
                let cl = clients[((op[0] >> 1) & 1) as usize];
                let cport = 40000 + ((op[0] >> 4) & 1) as u16;
                let flags = op[1];
                let delta = i16::from_be_bytes([op[2], op[3]]) as i32;
                let adelta = i16::from_be_bytes([op[4], op[5]]) as i32;
                let len = (op[6] & 63) as usize;
                let take = len.min(data.len() - i);
                let payload = &data[i..i + take];
                i += take;
                let (src, dst, sp, dp, isn, peer) = if from_client {
                    (cl, server, cport, 80u16, CLIENT_ISN, SERVER_ISN)
                } else {
                    (server, cl, 80u16, cport, SERVER_ISN, CLIENT_ISN)
                };
                let frame = ipv4_tcp(src, dst, sp, dp, isn.wrapping_add(delta as u32), peer.wrapping_add(adelta as u32), flags, payload);
                count_fed(&mut fed, &frame);
                p.push_frame(now, LINKTYPE_RAW, &frame, frame.len() as u32);
                check(&mut p, &mut conn_ids, &fed, &mut delivered, &mut ends, &frame);
                continue;
            }
            2 => {
                // An arbitrary frame (bytes of the input).
                let len = (op[6] as usize).min(data.len() - i);
                let frame = &data[i..i + len];
                i += len;
                count_fed(&mut fed, frame);
                p.push_frame(now, LINKTYPE_RAW, frame, frame.len() as u32);
                check(&mut p, &mut conn_ids, &fed, &mut delivered, &mut ends, frame);
                continue;
            }
            _ => {
                if op[1] & 1 == 0 && !conn_ids.is_empty() {
                    let id = conn_ids[op[2] as usize % conn_ids.len()];
                    p.tcp.set_collect(id, op[3] & 1 != 0, op[3] & 2 != 0, now);
                    for d in 0..2u8 {
                        ends.entry((id, d)).or_insert((0, false)).1 = true;
                    }
                } else {
                    p.advance(now);
                }
            }
        }
        check(&mut p, &mut conn_ids, &fed, &mut delivered, &mut ends, &[]);
    }
    p.finish(now);
    check(&mut p, &mut conn_ids, &fed, &mut delivered, &mut ends, &[]);
    assert_eq!(p.tcp.conn_count(), 0);
    assert_eq!(p.tcp.buffered_bytes(), 0);
});

/// TCP payload bytes of a whole (non-fragment) frame, by directed 4-tuple.
fn count_fed(fed: &mut HashMap<Tuple, u64>, frame: &[u8]) {
    let s = decode(LINKTYPE_RAW, frame);
    if s.ip_version != 0 && s.proto == IPPROTO_TCP && !s.is_fragment && s.l4_offset != 0 {
        *fed.entry(key_of(&s.src, s.src_port, &s.dst, s.dst_port)).or_insert(0) += s.payload_len as u64;
    }
}

/// Drains the pipeline's events, checking the invariants.
/// `frame`: the frame just pushed (what borrowed Data events point into).
fn check(p: &mut Pipeline, conn_ids: &mut Vec<u64>, fed: &HashMap<Tuple, u64>, delivered: &mut HashMap<Tuple, u64>,
     ends: &mut HashMap<(u64, u8), (u64, bool)>, frame: &[u8]) {
    for e in p.tcp.events() {
        match e.kind {
            EventKind::Opened => conn_ids.push(e.conn_id),
            EventKind::Data | EventKind::Gap => {
                let (end, resync) = ends.entry((e.conn_id, e.dir)).or_insert((0, false));
                if *resync {
                    // Collecting restarted (set_collect): it resumes at the sender's next byte.
                    assert!(e.offset >= *end, "offset went back {:?}", e.kind);
                    *resync = false;
                } else {
                    assert_eq!(e.offset, *end, "non-contiguous {:?}", e.kind);
                }
                *end = e.offset + e.len;
                assert!(e.len > 0);
                if e.kind == EventKind::Data {
                    let (s, d) = if e.dir == 0 { (e.key.client, e.key.server) } else { (e.key.server, e.key.client) };
                    let k = key_of(&s.addr, s.port, &d.addr, d.port);
                    *delivered.entry(k).or_insert(0) += e.len;
                    assert!(delivered[&k] <= fed.get(&k).copied().unwrap_or(0), "delivered more than fed");
                    let source = if e.in_frame { frame } else { p.tcp.data() };
                    assert!(e.data_start + e.len as usize <= source.len());
                }
            }
            _ => {}
        }
    }
    p.tcp.clear_events();
    assert!(p.tcp.buffered_bytes() <= MAX_TOTAL);
}
