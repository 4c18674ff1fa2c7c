//! Fuzz the defragmenter: arbitrary frames (raw IPv4/IPv6, Ethernet) and synthesised
//! fragment trains under small caps. Invariants: no panic, buffered bytes and datagrams
//! never above their caps, every reassembled frame decodes as a non-fragment of the length
//! it claims, and everything is released once time passes the deadline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::decode::{decode, LINKTYPE_ETHERNET, LINKTYPE_RAW};
use wirekit_reasm::defrag::{CapPolicy, DefragConfig, Defragmenter, OverlapDiscard, Outcome};
use wirekit_reasm::policy::{OverlapPolicy, PolicyTable};

const MAX_BYTES: u64 = 64 * 1024;
const MAX_DATAGRAMS: u32 = 8;

/// A fragment built from 4 control bytes and some payload: IPv4 or IPv6, an id out of 4,
/// an offset in 8-byte units, the MF flag.
fn synth(ctrl: &[u8], payload: &[u8]) -> Vec<u8> {
    let v6 = ctrl[0] & 1 == 1;
    let id = (ctrl[0] >> 1) & 3;
    let more = ctrl[1] & 1 == 1;
    let offset = (u16::from_be_bytes([ctrl[2], ctrl[3]]) & 0x1fff) as u32 * 8;
    if v6 {
        let plen = 8 + payload.len();
        let mut p = vec![0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, 44, 64];
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let of = (offset as u16 & 0xfff8) | more as u16;
        p.extend_from_slice(&[ctrl[1] >> 1, 0]);
        p.extend_from_slice(&of.to_be_bytes());
        p.extend_from_slice(&(id as u32).to_be_bytes());
        p.extend_from_slice(payload);
        p
    } else {
        let total = 20 + payload.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, id];
        let fo = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&[64, ctrl[1] >> 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let policy = OverlapPolicy::ALL[data[0] as usize % OverlapPolicy::ALL.len()];
    let cap_policy = if data[1] & 1 == 0 { CapPolicy::EvictOldest } else { CapPolicy::DropNew };
    let mut d = Defragmenter::new(DefragConfig {
        max_fragments_per_datagram: 16,
        max_datagrams: MAX_DATAGRAMS,
        max_bytes: MAX_BYTES,
        timeout_ns: 1000,
        cap_policy,
        policies: PolicyTable::new(policy),
        discard_overlaps: [OverlapDiscard::Never, OverlapDiscard::Ipv6, OverlapDiscard::Always]
            [(data[1] >> 1) as usize % 3],
        ..Default::default()
    });
    let mut rest = &data[2..];
    let mut now = 0i64;
    while rest.len() >= 6 {
        let kind = rest[0];
        let len = rest[1] as usize;
        let ctrl = &rest[2..6];
        let body = &rest[6..];
        let take = len.min(body.len());
        let (payload, tail) = body.split_at(take);
        rest = tail;
        now += (kind >> 4) as i64 * 50;
        let (linktype, frame) = match kind & 3 {
            0 => (LINKTYPE_RAW, payload.to_vec()),
            1 => (LINKTYPE_ETHERNET, payload.to_vec()),
            _ => (LINKTYPE_RAW, synth(ctrl, payload)),
        };
        let s = decode(linktype, &frame);
        if let Outcome::Completed(r) = d.push(now, linktype, &frame, &s) {
            let again = decode(linktype, &r.frame);
            assert!(!again.is_fragment);
            assert_eq!(again.l3_offset, r.l3_offset);
        }
        let st = d.stats();
        assert!(st.bytes_buffered <= MAX_BYTES);
        assert!(st.datagrams_in_progress <= MAX_DATAGRAMS as u64);
        d.take_events();
    }
    d.advance(now + 1000);
    assert_eq!(d.stats().datagrams_in_progress, 0);
    assert_eq!(d.stats().bytes_buffered, 0);
    assert_eq!(d.next_deadline(), None);
});
