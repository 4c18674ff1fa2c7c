//! Packing expired flows into fixed-size big-endian records laid out by the caller.
//!
//! The export formats (which elements, in which order, of which size; headers, templates,
//! sets, padding, sequence numbers, clocks) are decided in Python (`wirekit.flow.export`).
//! This module only writes the per-flow values of a layout the encoder gave it, so that a
//! replay exporting hundreds of thousands of flows does not build a Python object per flow.
//! Integers wider than their field are clamped to the field's maximum (NetFlow v5's 32-bit
//! counters), never wrapped.

use crate::meter::FlowRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Src,
    Dst,
    SrcPort,
    DstPort,
    Proto,
    Tos,
    TcpFlags,
    Packets,
    Octets,
    /// ms of sysUptime (from the layout's start) of the first/last packet, 32-bit wrap.
    FirstUptimeMs,
    LastUptimeMs,
    /// Unix ms.
    FirstMs,
    LastMs,
    IfIndex,
    Vlan,
    TtlMin,
    TtlMax,
    IpVersion,
    EndReason,
    RevPackets,
    RevOctets,
    RevFirstMs,
    RevLastMs,
    RevTcpFlags,
    RevTos,
    /// Zero bytes (padding, next hop, AS numbers the meter does not know).
    Zero,
}

impl Field {
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "src" => Field::Src,
            "dst" => Field::Dst,
            "src_port" => Field::SrcPort,
            "dst_port" => Field::DstPort,
            "proto" => Field::Proto,
            "tos" => Field::Tos,
            "tcp_flags" => Field::TcpFlags,
            "packets" => Field::Packets,
            "bytes" => Field::Octets,
            "first_uptime_ms" => Field::FirstUptimeMs,
            "last_uptime_ms" => Field::LastUptimeMs,
            "first_ms" => Field::FirstMs,
            "last_ms" => Field::LastMs,
            "ifindex" => Field::IfIndex,
            "vlan" => Field::Vlan,
            "ttl_min" => Field::TtlMin,
            "ttl_max" => Field::TtlMax,
            "ip_version" => Field::IpVersion,
            "end_reason" => Field::EndReason,
            "rev_packets" => Field::RevPackets,
            "rev_bytes" => Field::RevOctets,
            "rev_first_ms" => Field::RevFirstMs,
            "rev_last_ms" => Field::RevLastMs,
            "rev_tcp_flags" => Field::RevTcpFlags,
            "rev_tos" => Field::RevTos,
            "zero" => Field::Zero,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub fields: Vec<(Field, usize)>,
}

impl Layout {
    pub fn record_len(&self) -> usize {
        self.fields.iter().map(|(_, n)| n).sum()
    }
}

#[inline]
fn put_uint(out: &mut Vec<u8>, v: u64, n: usize) {
    let v = if n < 8 { v.min((1u64 << (8 * n)) - 1) } else { v };
    let b = v.to_be_bytes();
    if n <= 8 {
        out.extend_from_slice(&b[8 - n..]);
    } else {
        out.resize(out.len() + n - 8, 0);
        out.extend_from_slice(&b);
    }
}

#[inline]
fn ms(ns: i64) -> u64 {
    if ns <= 0 {
        0
    } else {
        (ns / 1_000_000) as u64
    }
}

/// Appends `r` packed by `layout`. `biflow_times`: first/last span both directions (a biflow
/// record), else the forward direction's. `start_ns`: the exporter's boot (uptime fields).
pub fn pack(r: &FlowRecord, layout: &Layout, start_ns: i64, biflow_times: bool, out: &mut Vec<u8>) {
    let k = &r.key;
    let (first, last) = if biflow_times && r.rev.packets > 0 {
        (r.fwd.first_ns.min(r.rev.first_ns), r.fwd.last_ns.max(r.rev.last_ns))
    } else {
        (r.fwd.first_ns, r.fwd.last_ns)
    };
    let up = |t: i64| -> u64 { (((t - start_ns).max(0) / 1_000_000) as u64) & 0xFFFF_FFFF };
    for &(f, n) in &layout.fields {
        match f {
            Field::Src | Field::Dst => {
                let a = if f == Field::Src { &k.src } else { &k.dst };
                if n == 4 {
                    out.extend_from_slice(&a[..4]);
                } else if n == 16 {
                    out.extend_from_slice(a);
                } else {
                    out.resize(out.len() + n, 0);
                }
            }
            Field::SrcPort => put_uint(out, k.src_port as u64, n),
            Field::DstPort => put_uint(out, k.dst_port as u64, n),
            Field::Proto => put_uint(out, k.proto as u64, n),
            Field::Tos => put_uint(out, r.fwd.tos as u64, n),
            Field::TcpFlags => put_uint(out, r.fwd.tcp_flags as u64, n),
            Field::Packets => put_uint(out, r.fwd.packets, n),
            Field::Octets => put_uint(out, r.fwd.octets, n),
            Field::FirstUptimeMs => put_uint(out, up(first), n),
            Field::LastUptimeMs => put_uint(out, up(last), n),
            Field::FirstMs => put_uint(out, ms(first), n),
            Field::LastMs => put_uint(out, ms(last), n),
            Field::IfIndex => put_uint(out, k.ifindex as u64, n),
            Field::Vlan => put_uint(out, (k.vlan & 0xFFF) as u64, n),
            Field::TtlMin => put_uint(out, r.fwd.ttl_min as u64, n),
            Field::TtlMax => put_uint(out, r.fwd.ttl_max as u64, n),
            Field::IpVersion => put_uint(out, k.ip_version as u64, n),
            Field::EndReason => put_uint(out, r.end_reason as u64, n),
            Field::RevPackets => put_uint(out, r.rev.packets, n),
            Field::RevOctets => put_uint(out, r.rev.octets, n),
            // No reverse packet: the flow's own times, not 0 (nfdump folds the reverse
            // times into the record's and would print 1970).
            Field::RevFirstMs => put_uint(out, if r.rev.packets > 0 { ms(r.rev.first_ns) } else { ms(first) }, n),
            Field::RevLastMs => put_uint(out, if r.rev.packets > 0 { ms(r.rev.last_ns) } else { ms(last) }, n),
            Field::RevTcpFlags => put_uint(out, r.rev.tcp_flags as u64, n),
            Field::RevTos => put_uint(out, r.rev.tos as u64, n),
            Field::Zero => out.resize(out.len() + n, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::{Counters, EndReason, FlowKey};

    #[test]
    fn packs_big_endian_and_clamps() {
        let mut key = FlowKey { src_port: 1000, dst_port: 80, proto: 6, ip_version: 4, ..Default::default() };
        key.src[..4].copy_from_slice(&[10, 0, 0, 1]);
        key.dst[..4].copy_from_slice(&[10, 0, 0, 2]);
        let fwd = Counters { packets: 5_000_000_000, octets: 300, first_ns: 2_500_000, last_ns: 9_000_000, tcp_flags: 0x1b, ..Default::default() };
        let r = FlowRecord { key, fwd, rev: Counters::default(), end_reason: EndReason::IdleTimeout };
        let layout = Layout {
            fields: vec![
                (Field::Src, 4),
                (Field::Dst, 4),
                (Field::SrcPort, 2),
                (Field::Packets, 4),
                (Field::Octets, 8),
                (Field::FirstUptimeMs, 4),
                (Field::TcpFlags, 1),
                (Field::Zero, 2),
            ],
        };
        let mut out = vec![];
        pack(&r, &layout, 1_000_000, false, &mut out);
        assert_eq!(out.len(), layout.record_len());
        assert_eq!(
            out,
            [10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xe8, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 44, 0, 0, 0, 1, 0x1b, 0, 0]
        );
    }
}
