//! Batch link-layer to L4 decode: one flat, `Copy` summary per packet.
//!
//! Theory of operation. `decode` walks a captured frame from its link-layer header to the
//! start of the L4 payload and records offsets and the fields every engine needs (addresses,
//! protocol, ports, TCP sequence space, fragment fields, lengths). It allocates nothing, never
//! panics on any input and never reads past `data`. What cannot be parsed is not an error: it
//! stops the walk at the last good layer and sets an `ANOM_*` bit, so a batch of a million
//! packets is decoded in one tight loop and hostile input costs nothing more than an anomaly.
//!
//! Lengths are trusted in this order: the captured bytes bound every read; the IP header's
//! total length bounds the datagram (so Ethernet padding and trailers never leak into the
//! payload); when the total length is 0 (TCP segmentation offload: the NIC fills it in later,
//! so captures on the sending host show 0) or larger than the frame on the wire, the frame's
//! length is used instead and an anomaly says so.
//!
//! What it deliberately does not do: checksums (see `verify_checksums`, on request only),
//! options parsing, reassembly, tunnels (GRE, IP-in-IP stop at their header with the protocol
//! number kept). MPLS label stacks and PPPoE sessions are walked to the IP packet inside (see
//! `encapsulation`); anything else inside them stops there with the ethertype kept.

use crate::checksum;

/// A header was cut short by the captured length (snaplen or a truncated frame).
pub const ANOM_TRUNCATED: u32 = 1 << 0;
/// The IP version nibble disagrees with the link layer's protocol, or is neither 4 nor 6.
pub const ANOM_BAD_IP_VERSION: u32 = 1 << 1;
/// IPv4 IHL below 5 (20 bytes) or beyond the datagram's total length.
pub const ANOM_BAD_IP_HEADER_LEN: u32 = 1 << 2;
/// The IP total length claims more bytes than the frame carried on the wire; the frame's
/// length was used.
pub const ANOM_IP_LEN_MISMATCH: u32 = 1 << 3;
/// IPv4 total length 0 or IPv6 payload length 0 with a payload (TSO, or an IPv6 jumbogram):
/// the length was taken from the frame.
pub const ANOM_IP_LEN_ZERO_TSO: u32 = 1 << 4;
/// IP total length smaller than the IP header; the frame's length was used.
pub const ANOM_BAD_IP_LEN: u32 = 1 << 5;
/// TCP data offset below 5 (20 bytes) or beyond the IP datagram.
pub const ANOM_BAD_TCP_HEADER_LEN: u32 = 1 << 6;
/// UDP length field below 8 or beyond the IP payload.
pub const ANOM_BAD_UDP_LEN: u32 = 1 << 7;
/// An IPv6 extension header runs past the datagram or the captured bytes.
pub const ANOM_IPV6_EXT_TRUNCATED: u32 = 1 << 8;
/// More than `MAX_VLAN_TAGS` 802.1Q/802.1ad tags: the walk stopped at the last one.
pub const ANOM_TOO_MANY_VLAN_TAGS: u32 = 1 << 9;
/// A link type this decoder does not know: nothing past the link layer was decoded.
pub const ANOM_UNKNOWN_LINKTYPE: u32 = 1 << 10;
/// IPv4 header checksum wrong (set by `verify_checksums` only).
pub const ANOM_BAD_IP_CHECKSUM: u32 = 1 << 11;
/// TCP/UDP/ICMP checksum wrong (set by `verify_checksums` only).
pub const ANOM_BAD_L4_CHECKSUM: u32 = 1 << 12;
/// A fragment whose offset plus length exceeds the 65535-byte IP maximum.
pub const ANOM_FRAG_TOO_LARGE: u32 = 1 << 13;

/// Every anomaly bit with its stable code (the names in `python/wirekit/anomalies.py`).
pub const ANOMALY_CODES: &[(u32, &str)] = &[
    (ANOM_TRUNCATED, "truncated_header"),
    (ANOM_BAD_IP_VERSION, "bad_ip_version"),
    (ANOM_BAD_IP_HEADER_LEN, "bad_ip_header_len"),
    (ANOM_IP_LEN_MISMATCH, "ip_len_mismatch"),
    (ANOM_IP_LEN_ZERO_TSO, "ip_len_zero_tso"),
    (ANOM_BAD_IP_LEN, "bad_ip_len"),
    (ANOM_BAD_TCP_HEADER_LEN, "bad_tcp_header_len"),
    (ANOM_BAD_UDP_LEN, "bad_udp_len"),
    (ANOM_IPV6_EXT_TRUNCATED, "ipv6_ext_truncated"),
    (ANOM_TOO_MANY_VLAN_TAGS, "too_many_vlan_tags"),
    (ANOM_UNKNOWN_LINKTYPE, "unknown_linktype"),
    (ANOM_BAD_IP_CHECKSUM, "bad_ip_checksum"),
    (ANOM_BAD_L4_CHECKSUM, "bad_l4_checksum"),
    (ANOM_FRAG_TOO_LARGE, "frag_too_large"),
];

/// VLAN tags walked before giving up (QinQ uses 2; a few more are seen in carrier networks).
pub const MAX_VLAN_TAGS: u8 = 8;

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
/// DLT_RAW as written by some platforms (12 on most BSDs, 14 on OpenBSD).
pub const LINKTYPE_RAW_12: u32 = 12;
pub const LINKTYPE_RAW_14: u32 = 14;
pub const LINKTYPE_LOOP: u32 = 108;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_IPV4: u32 = 228;
pub const LINKTYPE_IPV6: u32 = 229;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag (Cisco/Juniper).
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// PPP protocol numbers of IPv4 (RFC 1332) and IPv6 (RFC 5072).
pub const PPP_PROTO_IPV4: u16 = 0x0021;
pub const PPP_PROTO_IPV6: u16 = 0x0057;

pub const IPPROTO_HOPOPTS: u8 = 0;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ROUTING: u8 = 43;
pub const IPPROTO_FRAGMENT: u8 = 44;
pub const IPPROTO_ESP: u8 = 50;
pub const IPPROTO_AH: u8 = 51;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_NONE: u8 = 59;
pub const IPPROTO_DSTOPTS: u8 = 60;
pub const IPPROTO_SCTP: u8 = 132;

/// Decoded summary of one packet. Offsets are bytes from the start of the captured data;
/// 0 means "not present" for `l4_offset` and `frag_header_offset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Offset of the network-layer header (IP, ARP, or whatever `ethertype` names).
    pub l3_offset: u32,
    /// Ethertype after the VLAN tags, or 0x0800 / 0x86dd when an MPLS stack or a PPPoE
    /// session carries IP (NULL/LOOP/RAW link types: 0x0800 or 0x86dd when IP).
    pub ethertype: u16,
    pub vlan_count: u8,
    /// VLAN ID (12 bits) of the outermost tag, 0 if none.
    pub vlan_outer: u16,
    /// VLAN ID (12 bits) of the second tag, 0 if fewer than two.
    pub vlan_inner: u16,
    /// MPLS label stack entries walked (RFC 3032), 0 if none.
    pub mpls_count: u8,
    /// A PPPoE session header (RFC 2516) was walked.
    pub pppoe: bool,
    /// 0 = not IP (or the IP header could not be read), 4, 6.
    pub ip_version: u8,
    /// Source address; IPv4 in the first 4 bytes, the rest zero.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// L4 protocol: IPv4 protocol field; IPv6 the next header after the extension-header walk
    /// (for a non-first fragment, the fragment header's next header).
    pub proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 TOS byte or IPv6 traffic class.
    pub tos: u8,
    /// IP datagram length in bytes, header included, as trusted (see the module notes).
    pub ip_len: u32,
    /// IPv4 IHL*4; IPv6 40 plus the extension headers walked.
    pub ip_header_len: u32,
    /// IPv4 identification, or the IPv6 fragment header's identification.
    pub ip_id: u32,
    /// Fragment offset in bytes.
    pub frag_offset: u32,
    pub more_fragments: bool,
    pub dont_fragment: bool,
    /// More-fragments set or a non-zero offset. An IPv6 atomic fragment (fragment header with
    /// offset 0 and MF clear, RFC 6946) is not a fragment; `frag_header_offset` still shows it.
    pub is_fragment: bool,
    /// IPv6: offset of the fragment header, 0 if none.
    pub frag_header_offset: u32,
    /// Offset of the L4 header; 0 when none was decoded (later fragment, unknown protocol,
    /// truncated or invalid header).
    pub l4_offset: u32,
    /// TCP/UDP/SCTP source port; ICMP/ICMPv6 type.
    pub src_port: u16,
    /// TCP/UDP/SCTP destination port; ICMP/ICMPv6 code.
    pub dst_port: u16,
    pub tcp_seq: u32,
    pub tcp_ack: u32,
    /// The 12 flag bits of the TCP header (FIN=0x01 .. CWR=0x80, AE/NS=0x100).
    pub tcp_flags: u16,
    pub tcp_window: u16,
    /// TCP data offset*4, UDP 8, ICMP 8, SCTP 12; 0 when no L4 header.
    pub l4_header_len: u32,
    /// Start of the bytes after the last decoded header: the L4 payload; for IP without a
    /// decoded L4 header, the IP payload; for non-IP, the network-layer bytes.
    pub payload_offset: u32,
    /// Payload length in bytes: inside the IP datagram (padding/trailers excluded), capped by
    /// the captured bytes.
    pub payload_len: u32,
    /// Bitmask of `ANOM_*`.
    pub anomalies: u32,
}

impl Summary {
    #[inline]
    pub fn src_v4(&self) -> [u8; 4] {
        [self.src[0], self.src[1], self.src[2], self.src[3]]
    }
    #[inline]
    pub fn dst_v4(&self) -> [u8; 4] {
        [self.dst[0], self.dst[1], self.dst[2], self.dst[3]]
    }
    /// Address length in bytes: 4, 16, or 0 when not IP.
    #[inline]
    pub fn addr_len(&self) -> usize {
        match self.ip_version {
            4 => 4,
            6 => 16,
            _ => 0,
        }
    }
}

#[inline(always)]
fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

#[inline(always)]
fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Decodes one frame whose wire length equals its captured length.
#[inline]
pub fn decode(linktype: u32, data: &[u8]) -> Summary {
    decode_record(linktype, data, data.len() as u32)
}

/// Decodes one captured frame. `wire_len` is the frame's length on the wire: when the
/// capture cut the frame (snaplen), an IP length beyond the captured bytes is expected and is
/// not an anomaly, and `ip_len` keeps the header's value.
pub fn decode_record(linktype: u32, data: &[u8], wire_len: u32) -> Summary {
    let mut s = Summary::default();
    let wire_len = (wire_len as usize).max(data.len());
    // Link layer: find the network header and its protocol. `None` = ethertype from the IP
    // version nibble (raw IP link types).
    let (l3, ethertype): (usize, Option<u16>) = match linktype {
        LINKTYPE_ETHERNET => {
            if data.len() < 14 {
                s.anomalies |= ANOM_TRUNCATED;
                s.payload_len = 0;
                return s;
            }
            (14, Some(be16(data, 12)))
        }
        LINKTYPE_RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => (0, None),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            if data.len() < 4 {
                s.anomalies |= ANOM_TRUNCATED;
                return s;
            }
            let raw = [data[0], data[1], data[2], data[3]];
            // NULL stores the address family in the capturing host's byte order, which the
            // file does not record: accept either. LOOP is always network order.
            let be = u32::from_be_bytes(raw);
            let le = u32::from_le_bytes(raw);
            let family = |af: u32| match af {
                2 => Some(ETHERTYPE_IPV4),
                // AF_INET6: 24 (NetBSD/OpenBSD/BSD/OS), 28 (FreeBSD/DragonFly), 30 (Darwin).
                24 | 28 | 30 => Some(ETHERTYPE_IPV6),
                _ => None,
            };
            let et = if linktype == LINKTYPE_LOOP { family(be) } else { family(le).or_else(|| family(be)) };
            // Some Linux captures put an EtherType in the last two bytes instead of a family
            // (Wireshark's null dissector reads a value above 1500 there as an EtherType).
            let et = match et {
                Some(et) => et,
                None if linktype == LINKTYPE_NULL && be16(data, 2) > 1500 => be16(data, 2),
                None => 0,
            };
            (4, Some(et))
        }
        LINKTYPE_LINUX_SLL => {
            if data.len() < 16 {
                s.anomalies |= ANOM_TRUNCATED;
                return s;
            }
            (16, Some(be16(data, 14)))
        }
        LINKTYPE_LINUX_SLL2 => {
            if data.len() < 20 {
                s.anomalies |= ANOM_TRUNCATED;
                return s;
            }
            (20, Some(be16(data, 0)))
        }
        _ => {
            s.anomalies |= ANOM_UNKNOWN_LINKTYPE;
            return s;
        }
    };
    let mut l3 = l3;
    let ethertype = match ethertype {
        Some(mut et) => {
            // 802.1Q / 802.1ad tags: TCI (PCP, DEI, 12-bit VID) then the next ethertype.
            while matches!(et, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
                if s.vlan_count >= MAX_VLAN_TAGS {
                    s.anomalies |= ANOM_TOO_MANY_VLAN_TAGS;
                    break;
                }
                if data.len() < l3 + 4 {
                    s.anomalies |= ANOM_TRUNCATED;
                    break;
                }
                let vid = be16(data, l3) & 0x0fff;
                match s.vlan_count {
                    0 => s.vlan_outer = vid,
                    1 => s.vlan_inner = vid,
                    _ => {}
                }
                s.vlan_count += 1;
                et = be16(data, l3 + 2);
                l3 += 4;
            }
            if matches!(et, ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST | ETHERTYPE_PPPOE_SESSION) {
                et = encapsulation(&mut s, data, &mut l3, et);
            }
            et
        }
        None => match data.first().map(|b| b >> 4) {
            Some(4) => ETHERTYPE_IPV4,
            Some(6) => ETHERTYPE_IPV6,
            Some(_) => {
                s.anomalies |= ANOM_BAD_IP_VERSION;
                0
            }
            None => {
                s.anomalies |= ANOM_TRUNCATED;
                0
            }
        },
    };
    s.l3_offset = l3 as u32;
    s.ethertype = ethertype;
    s.payload_offset = l3.min(data.len()) as u32;
    s.payload_len = data.len().saturating_sub(l3) as u32;
    // Bytes of the network-layer packet on the wire (>= captured ones).
    let frame_l3_len = wire_len.saturating_sub(l3);
    match ethertype {
        ETHERTYPE_IPV4 if s.anomalies & ANOM_TOO_MANY_VLAN_TAGS == 0 => ipv4(&mut s, data, l3, frame_l3_len),
        ETHERTYPE_IPV6 if s.anomalies & ANOM_TOO_MANY_VLAN_TAGS == 0 => ipv6(&mut s, data, l3, frame_l3_len),
        _ => {}
    }
    s
}

/// Walks an MPLS label stack or a PPPoE session header at `*l3`. When IP is inside, moves
/// `*l3` to it and returns its ethertype; otherwise (other payload, cut header) leaves `*l3`
/// at the encapsulation and returns `et`.
fn encapsulation(s: &mut Summary, d: &[u8], l3: &mut usize, et: u16) -> u16 {
    let (inner, inner_et) = match et {
        ETHERTYPE_PPPOE_SESSION => {
            // RFC 2516 section 4: ver/type, code, session id, length (6 bytes), then the PPP
            // protocol field. Its length field does not bound the IP packet: the IP header's
            // own length does, as on Ethernet (tcpdump does the same).
            if d.len() < *l3 + 8 {
                s.anomalies |= ANOM_TRUNCATED;
                return et;
            }
            s.pppoe = true;
            match be16(d, *l3 + 6) {
                PPP_PROTO_IPV4 => (*l3 + 8, ETHERTYPE_IPV4),
                PPP_PROTO_IPV6 => (*l3 + 8, ETHERTYPE_IPV6),
                _ => return et,
            }
        }
        _ => {
            // RFC 3032 section 2.1: 4-byte entries (label 20 bits, TC 3, S 1, TTL 8) down to
            // the one with the bottom-of-stack bit S. What lies under the stack is bound to
            // the label, not written in the packet: like tcpdump and Wireshark, IP is
            // recognised by its version nibble.
            let mut off = *l3;
            loop {
                if d.len() < off + 4 {
                    s.anomalies |= ANOM_TRUNCATED;
                    return et;
                }
                s.mpls_count = s.mpls_count.saturating_add(1);
                off += 4;
                if d[off - 2] & 1 != 0 {
                    break;
                }
            }
            match d.get(off).map(|b| b >> 4) {
                Some(4) => (off, ETHERTYPE_IPV4),
                Some(6) => (off, ETHERTYPE_IPV6),
                Some(_) => return et,
                None => {
                    s.anomalies |= ANOM_TRUNCATED;
                    return et;
                }
            }
        }
    };
    *l3 = inner;
    inner_et
}

/// Sets the trusted datagram length from the header's claim, `min_len` (the header length
/// it must at least cover) and the frame length on the wire.
#[inline]
fn trusted_ip_len(s: &mut Summary, claimed: usize, min_len: usize, frame_l3_len: usize) -> usize {
    if claimed < min_len {
        s.anomalies |= ANOM_BAD_IP_LEN;
        frame_l3_len
    } else if claimed > frame_l3_len {
        s.anomalies |= ANOM_IP_LEN_MISMATCH;
        frame_l3_len
    } else {
        claimed
    }
}

fn ipv4(s: &mut Summary, d: &[u8], l3: usize, frame_l3_len: usize) {
    if d.len() < l3 + 20 {
        s.anomalies |= ANOM_TRUNCATED;
        return;
    }
    let b0 = d[l3];
    if b0 >> 4 != 4 {
        s.anomalies |= ANOM_BAD_IP_VERSION;
        return;
    }
    let ihl = ((b0 & 0x0f) as usize) * 4;
    if ihl < 20 {
        s.anomalies |= ANOM_BAD_IP_HEADER_LEN;
        return;
    }
    s.ip_version = 4;
    s.tos = d[l3 + 1];
    s.ip_id = be16(d, l3 + 4) as u32;
    let frag = be16(d, l3 + 6);
    s.dont_fragment = frag & 0x4000 != 0;
    s.more_fragments = frag & 0x2000 != 0;
    s.frag_offset = ((frag & 0x1fff) as u32) * 8;
    s.is_fragment = s.more_fragments || s.frag_offset != 0;
    s.ttl = d[l3 + 8];
    s.proto = d[l3 + 9];
    s.src[..4].copy_from_slice(&d[l3 + 12..l3 + 16]);
    s.dst[..4].copy_from_slice(&d[l3 + 16..l3 + 20]);
    s.ip_header_len = ihl as u32;
    let total = be16(d, l3 + 2) as usize;
    let ip_len = if total == 0 {
        // RFC 791 has no zero length; a sending host's capture with TSO shows 0 because the
        // NIC fills it in (tcpdump prints "[was 0, presumed TSO]").
        s.anomalies |= ANOM_IP_LEN_ZERO_TSO;
        frame_l3_len
    } else {
        trusted_ip_len(s, total, ihl, frame_l3_len)
    };
    s.ip_len = ip_len as u32;
    if ihl > ip_len {
        s.anomalies |= ANOM_BAD_IP_HEADER_LEN;
        s.payload_offset = d.len().min(l3 + ip_len) as u32;
        s.payload_len = 0;
        return;
    }
    if s.is_fragment && s.frag_offset as usize + ip_len - ihl > 65535 {
        s.anomalies |= ANOM_FRAG_TOO_LARGE;
    }
    if d.len() < l3 + ihl {
        // Options cut by the capture.
        s.anomalies |= ANOM_TRUNCATED;
        s.payload_offset = d.len() as u32;
        s.payload_len = 0;
        return;
    }
    let l4 = l3 + ihl;
    let ip_end = l3 + ip_len;
    s.payload_offset = l4 as u32;
    s.payload_len = (ip_end.min(d.len()) - l4) as u32;
    if s.frag_offset == 0 {
        transport(s, d, l4, ip_end);
    }
}

fn ipv6(s: &mut Summary, d: &[u8], l3: usize, frame_l3_len: usize) {
    if d.len() < l3 + 40 {
        s.anomalies |= ANOM_TRUNCATED;
        return;
    }
    let b0 = d[l3];
    if b0 >> 4 != 6 {
        s.anomalies |= ANOM_BAD_IP_VERSION;
        return;
    }
    s.ip_version = 6;
    s.tos = ((b0 & 0x0f) << 4) | (d[l3 + 1] >> 4);
    let payload_len = be16(d, l3 + 4) as usize;
    let mut nh = d[l3 + 6];
    s.ttl = d[l3 + 7];
    s.src.copy_from_slice(&d[l3 + 8..l3 + 24]);
    s.dst.copy_from_slice(&d[l3 + 24..l3 + 40]);
    let jumbo = if payload_len == 0 && nh == IPPROTO_HOPOPTS { jumbo_payload_len(d, l3 + 40) } else { None };
    let ip_len = if let Some(j) = jumbo {
        // RFC 2675: a jumbogram (or Linux BIG TCP over IPv6) carries its length in the
        // hop-by-hop Jumbo Payload option.
        trusted_ip_len(s, 40 + j as usize, 40, frame_l3_len)
    } else if payload_len == 0 && nh != IPPROTO_NONE && frame_l3_len > 40 {
        // Payload length 0 with something after the header: a jumbogram (RFC 2675) or a
        // segmentation-offload capture. Either way the frame says how long it is. (A bare
        // header with padding after it has next header 59 or is only padding: not flagged.)
        s.anomalies |= ANOM_IP_LEN_ZERO_TSO;
        frame_l3_len
    } else {
        trusted_ip_len(s, 40 + payload_len, 40, frame_l3_len)
    };
    s.ip_len = ip_len as u32;
    let ip_end = l3 + ip_len;
    // Extension headers must lie inside the datagram and inside the captured bytes.
    let limit = ip_end.min(d.len());
    let mut off = l3 + 40;
    let mut later_fragment = false;
    // Each header is at least 8 bytes, so the walk ends within limit/8 steps.
    while matches!(nh, IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_FRAGMENT | IPPROTO_AH) {
        if off + 8 > limit {
            s.anomalies |= ANOM_IPV6_EXT_TRUNCATED;
            s.proto = nh;
            s.ip_header_len = (off - l3) as u32;
            s.payload_offset = off.min(d.len()) as u32;
            s.payload_len = 0;
            return;
        }
        let next = d[off];
        let len = match nh {
            IPPROTO_FRAGMENT => {
                let fo = be16(d, off + 2);
                s.frag_header_offset = off as u32;
                s.frag_offset = (fo & 0xfff8) as u32;
                s.more_fragments = fo & 1 != 0;
                s.ip_id = be32(d, off + 4);
                s.is_fragment = s.more_fragments || s.frag_offset != 0;
                later_fragment = s.frag_offset != 0;
                8
            }
            // RFC 4302 section 2.2: AH's length is in 4-byte units, minus 2.
            IPPROTO_AH => (d[off + 1] as usize + 2) * 4,
            // RFC 8200 section 4.3: 8-byte units, not counting the first 8 bytes.
            _ => (d[off + 1] as usize + 1) * 8,
        };
        if off + len > limit {
            s.anomalies |= ANOM_IPV6_EXT_TRUNCATED;
            s.proto = nh;
            s.ip_header_len = (off - l3) as u32;
            s.payload_offset = off.min(d.len()) as u32;
            s.payload_len = 0;
            return;
        }
        off += len;
        nh = next;
        if later_fragment {
            // The rest of the chain belongs to the reassembled datagram.
            break;
        }
    }
    s.proto = nh;
    s.ip_header_len = (off - l3) as u32;
    if s.is_fragment && s.frag_offset as usize + (ip_end - off) > 65535 {
        s.anomalies |= ANOM_FRAG_TOO_LARGE;
    }
    s.payload_offset = off as u32;
    s.payload_len = (limit - off) as u32;
    if !later_fragment {
        transport(s, d, off, ip_end);
    }
}

/// The Jumbo Payload option (type 0xc2, 4-byte length) of the hop-by-hop header at `off`.
fn jumbo_payload_len(d: &[u8], off: usize) -> Option<u32> {
    if d.len() < off + 8 {
        return None;
    }
    let end = (off + (d[off + 1] as usize + 1) * 8).min(d.len());
    let mut o = off + 2;
    while o < end {
        let t = d[o];
        if t == 0 {
            o += 1; // Pad1
            continue;
        }
        if o + 2 > end {
            return None;
        }
        let len = d[o + 1] as usize;
        if t == 0xc2 && len == 4 && o + 6 <= end {
            return Some(be32(d, o + 2));
        }
        o += 2 + len;
    }
    None
}

/// Decodes the L4 header at `l4`; the datagram ends at `ip_end` (maybe past the capture).
fn transport(s: &mut Summary, d: &[u8], l4: usize, ip_end: usize) {
    let cap_end = ip_end.min(d.len());
    let avail = cap_end.saturating_sub(l4);
    let in_ip = ip_end.saturating_sub(l4);
    let fixed = match s.proto {
        IPPROTO_TCP => 20,
        IPPROTO_UDP => 8,
        // Type, code, checksum; the 4 bytes after them depend on the type.
        IPPROTO_ICMP | IPPROTO_ICMPV6 => 4,
        IPPROTO_SCTP => 12,
        _ => return,
    };
    if in_ip < fixed && s.more_fragments {
        // A first fragment too short for the L4 header: the rest of the header is in the next
        // fragment (a "tiny fragment", RFC 1858, which the defragmenter reports). Nothing
        // here is malformed; the header is decoded after reassembly.
        return;
    }
    if in_ip < fixed {
        // The datagram itself is too short for the header: malformed, not a capture cut.
        s.anomalies |= if s.proto == IPPROTO_TCP { ANOM_BAD_TCP_HEADER_LEN } else { ANOM_TRUNCATED };
        if s.proto == IPPROTO_UDP {
            s.anomalies |= ANOM_BAD_UDP_LEN;
        }
        return;
    }
    if avail < fixed {
        s.anomalies |= ANOM_TRUNCATED;
        return;
    }
    let hlen = match s.proto {
        IPPROTO_TCP => {
            let doff = ((d[l4 + 12] >> 4) as usize) * 4;
            if doff < 20 || doff > in_ip {
                s.anomalies |= ANOM_BAD_TCP_HEADER_LEN;
                return;
            }
            s.src_port = be16(d, l4);
            s.dst_port = be16(d, l4 + 2);
            s.tcp_seq = be32(d, l4 + 4);
            s.tcp_ack = be32(d, l4 + 8);
            s.tcp_flags = be16(d, l4 + 12) & 0x0fff;
            s.tcp_window = be16(d, l4 + 14);
            if doff > avail {
                // Options cut by the snaplen (tcpdump's old 68-byte default does this): the
                // fixed header is good, so ports and sequence space stay usable, as Zeek and
                // tshark use them; there is no payload to show.
                s.anomalies |= ANOM_TRUNCATED;
                s.l4_offset = l4 as u32;
                s.l4_header_len = doff as u32;
                s.payload_offset = cap_end as u32;
                s.payload_len = 0;
                return;
            }
            doff
        }
        IPPROTO_UDP => {
            s.src_port = be16(d, l4);
            s.dst_port = be16(d, l4 + 2);
            let ulen = be16(d, l4 + 4) as usize;
            // RFC 768: length covers header and data. 0 is what UDP GSO/jumbograms show
            // (RFC 2675 section 4); trust the IP length then.
            if ulen != 0 && (ulen < 8 || ulen > in_ip) {
                s.anomalies |= ANOM_BAD_UDP_LEN;
            }
            s.l4_offset = l4 as u32;
            s.l4_header_len = 8;
            s.payload_offset = (l4 + 8) as u32;
            let mut plen = in_ip - 8;
            if ulen >= 8 && ulen - 8 < plen {
                plen = ulen - 8;
            }
            s.payload_len = plen.min(avail - 8) as u32;
            return;
        }
        IPPROTO_SCTP => {
            s.src_port = be16(d, l4);
            s.dst_port = be16(d, l4 + 2);
            12
        }
        _ => {
            // ICMP / ICMPv6: type and code in the port slots.
            s.src_port = d[l4] as u16;
            s.dst_port = d[l4 + 1] as u16;
            if avail < 8 {
                s.anomalies |= ANOM_TRUNCATED;
                s.l4_offset = l4 as u32;
                s.l4_header_len = 8;
                s.payload_offset = cap_end as u32;
                s.payload_len = 0;
                return;
            }
            8
        }
    };
    s.l4_offset = l4 as u32;
    s.l4_header_len = hlen as u32;
    s.payload_offset = (l4 + hlen) as u32;
    s.payload_len = (avail - hlen) as u32;
}

/// Checks the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6 checksum of a decoded packet
/// and returns the `ANOM_BAD_IP_CHECKSUM` / `ANOM_BAD_L4_CHECKSUM` bits that apply. Only
/// complete, unfragmented segments whose bytes were all captured are checked (the L4 checksum
/// covers the whole datagram). A UDP checksum of 0 over IPv4 means "none" (RFC 768).
///
/// IPv6: the pseudo-header uses the final destination, i.e. the last address of a type 0 or
/// type 2 routing header with segments left (RFC 8200 section 8.1), and the home address from
/// a Home Address destination option replaces the source (RFC 6275 section 6.3).
pub fn verify_checksums(data: &[u8], s: &Summary) -> u32 {
    let mut out = 0;
    let l3 = s.l3_offset as usize;
    let ip_end = l3 + s.ip_len as usize;
    match s.ip_version {
        4 => {
            let ihl = s.ip_header_len as usize;
            if data.len() >= l3 + ihl && !checksum::ipv4_header_ok(&data[l3..l3 + ihl]) {
                out |= ANOM_BAD_IP_CHECKSUM;
            }
        }
        6 => {}
        _ => return 0,
    }
    if s.l4_offset == 0 || s.is_fragment || ip_end > data.len() {
        return out;
    }
    let l4 = s.l4_offset as usize;
    let seg = &data[l4..ip_end];
    let ok = match (s.ip_version, s.proto) {
        (4, IPPROTO_ICMP) => checksum::checksum(seg) == 0,
        (4, p @ (IPPROTO_TCP | IPPROTO_UDP)) => {
            (p == IPPROTO_UDP && be16(seg, 6) == 0)
                || checksum::l4_checksum_v4(&s.src_v4(), &s.dst_v4(), p, seg) == 0
        }
        (6, p @ (IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMPV6)) => {
            let (src, dst) = ipv6_pseudo_addresses(data, s);
            checksum::l4_checksum_v6(&src, &dst, p, seg) == 0
        }
        _ => true,
    };
    if !ok {
        out |= ANOM_BAD_L4_CHECKSUM;
    }
    out
}

/// The source and destination an IPv6 upper-layer checksum covers (see `verify_checksums`).
fn ipv6_pseudo_addresses(d: &[u8], s: &Summary) -> ([u8; 16], [u8; 16]) {
    let (mut src, mut dst) = (s.src, s.dst);
    let l3 = s.l3_offset as usize;
    let end = l3 + s.ip_header_len as usize;
    let mut nh = d[l3 + 6];
    let mut off = l3 + 40;
    while off + 8 <= end {
        let len = if nh == IPPROTO_AH { (d[off + 1] as usize + 2) * 4 } else if nh == IPPROTO_FRAGMENT { 8 } else { (d[off + 1] as usize + 1) * 8 };
        if off + len > end {
            break;
        }
        match nh {
            IPPROTO_ROUTING => {
                let rtype = d[off + 2];
                let segs_left = d[off + 3];
                // Type 0 (deprecated, RFC 5095) and type 2 (RFC 6275) carry plain addresses.
                if (rtype == 0 || rtype == 2) && segs_left > 0 && len >= 24 {
                    let n = (len - 8) / 16;
                    let last = off + 8 + (n - 1) * 16;
                    dst.copy_from_slice(&d[last..last + 16]);
                }
            }
            IPPROTO_DSTOPTS | IPPROTO_HOPOPTS => {
                // TLV options; type 0xc9 = Home Address (RFC 6275 section 6.3).
                let mut o = off + 2;
                while o < off + len {
                    let t = d[o];
                    if t == 0 {
                        o += 1;
                        continue;
                    }
                    if o + 2 > off + len {
                        break;
                    }
                    let olen = d[o + 1] as usize;
                    if t == 0xc9 && olen == 16 && o + 18 <= off + len {
                        src.copy_from_slice(&d[o + 2..o + 18]);
                    }
                    o += 2 + olen;
                }
            }
            _ => {}
        }
        nh = d[off];
        off += len;
    }
    (src, dst)
}

/// The anomaly codes set in `bits`, in bit order.
pub fn anomaly_codes(bits: u32) -> impl Iterator<Item = &'static str> {
    ANOMALY_CODES.iter().filter(move |(b, _)| bits & b != 0).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_hdr(proto: u8, total_len: u16, frag: u16) -> Vec<u8> {
        let mut h = vec![0x45, 0x10];
        h.extend_from_slice(&total_len.to_be_bytes());
        h.extend_from_slice(&0x1234u16.to_be_bytes());
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let c = checksum::checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    fn tcp_hdr(flags: u8, doff_words: u8) -> Vec<u8> {
        let mut t = vec![0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, doff_words << 4, flags, 0x72, 0x10, 0, 0, 0, 0];
        t.resize(doff_words as usize * 4, 1);
        t
    }

    fn v4_tcp(payload: &[u8]) -> Vec<u8> {
        let t = tcp_hdr(0x18, 5);
        let mut ip = ipv4_hdr(6, (20 + t.len() + payload.len()) as u16, 0x4000);
        ip.extend_from_slice(&t);
        ip.extend_from_slice(payload);
        ip
    }

    #[test]
    fn ethernet_ipv4_tcp_with_padding() {
        let mut f = eth(0x0800, &v4_tcp(b"hi"));
        f.extend_from_slice(&[0; 6]); // Ethernet padding to 60 bytes
        let s = decode(1, &f);
        assert_eq!(s.l3_offset, 14);
        assert_eq!(s.ethertype, 0x0800);
        assert_eq!(s.ip_version, 4);
        assert_eq!(&s.src[..4], &[10, 0, 0, 1]);
        assert_eq!(&s.dst[..4], &[10, 0, 0, 2]);
        assert_eq!(&s.src[4..], &[0; 12]);
        assert_eq!((s.proto, s.ttl, s.tos, s.ip_id), (6, 64, 0x10, 0x1234));
        assert_eq!((s.ip_len, s.ip_header_len), (42, 20));
        assert!(s.dont_fragment && !s.more_fragments && !s.is_fragment);
        assert_eq!((s.l4_offset, s.src_port, s.dst_port), (34, 1234, 80));
        assert_eq!((s.tcp_seq, s.tcp_ack, s.tcp_flags, s.tcp_window), (1, 2, 0x18, 0x7210));
        assert_eq!((s.l4_header_len, s.payload_offset, s.payload_len), (20, 54, 2));
        assert_eq!(&f[54..56], b"hi");
        assert_eq!(s.anomalies, 0);
        assert_eq!(verify_checksums(&f, &s) & ANOM_BAD_IP_CHECKSUM, 0);
    }

    #[test]
    fn vlan_tags() {
        let mut inner = 0x8100u16.to_be_bytes().to_vec();
        // outer 802.1ad tag VID 100, inner 802.1Q VID 200 (PCP 5), then IPv4.
        let mut tags = vec![0x00, 0x64];
        tags.extend_from_slice(&inner);
        tags.extend_from_slice(&[0xa0, 0xc8, 0x08, 0x00]);
        tags.extend_from_slice(&v4_tcp(b""));
        let f = eth(0x88a8, &tags);
        let s = decode(1, &f);
        assert_eq!((s.vlan_count, s.vlan_outer, s.vlan_inner), (2, 100, 200));
        assert_eq!((s.ethertype, s.l3_offset, s.l4_offset), (0x0800, 22, 42));
        assert_eq!(s.anomalies, 0);
        inner.clear();
        // Nine tags: too many.
        let mut many = Vec::new();
        for _ in 0..9 {
            many.extend_from_slice(&[0x00, 0x01, 0x81, 0x00]);
        }
        many.extend_from_slice(&v4_tcp(b""));
        let s = decode(1, &eth(0x8100, &many));
        assert_eq!(s.vlan_count, MAX_VLAN_TAGS);
        assert_eq!(s.ip_version, 0);
        assert_eq!(s.anomalies, ANOM_TOO_MANY_VLAN_TAGS);
    }

    #[test]
    fn raw_linktypes_use_version_nibble() {
        let p = v4_tcp(b"x");
        for lt in [101, 12, 14, 228, 229] {
            let s = decode(lt, &p);
            assert_eq!((s.l3_offset, s.ethertype, s.ip_version, s.dst_port), (0, 0x0800, 4, 80), "lt {lt}");
        }
        let s = decode(101, &[0x55; 30]);
        assert_eq!((s.ip_version, s.anomalies), (0, ANOM_BAD_IP_VERSION));
        let s = decode(101, &[]);
        assert_eq!(s.anomalies, ANOM_TRUNCATED);
    }

    #[test]
    fn null_and_loop() {
        let p = v4_tcp(b"x");
        let mut le = 2u32.to_le_bytes().to_vec();
        le.extend_from_slice(&p);
        let mut be = 2u32.to_be_bytes().to_vec();
        be.extend_from_slice(&p);
        for (lt, f, ok) in [(0, &le, true), (0, &be, true), (108, &be, true), (108, &le, false)] {
            let s = decode(lt, f);
            assert_eq!(s.l3_offset, 4);
            assert_eq!(s.ip_version == 4, ok, "lt {lt}");
        }
        let mut et = vec![0, 0, 0x08, 0x00];
        et.extend_from_slice(&p);
        assert_eq!(decode(0, &et).ip_version, 4);
        assert_eq!(decode(108, &et).ip_version, 0);
        let mut v6 = 30u32.to_le_bytes().to_vec();
        v6.extend_from_slice(&v6_udp(&[]));
        let s = decode(0, &v6);
        assert_eq!((s.ethertype, s.ip_version, s.proto, s.dst_port), (0x86dd, 6, 17, 53));
    }

    #[test]
    fn sll_and_sll2() {
        let p = v4_tcp(b"x");
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&p);
        let s = decode(113, &sll);
        assert_eq!((s.l3_offset, s.ip_version, s.l4_offset), (16, 4, 36));
        let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
        sll2.resize(20, 0);
        sll2.extend_from_slice(&p);
        let s = decode(276, &sll2);
        assert_eq!((s.l3_offset, s.ip_version, s.l4_offset), (20, 4, 40));
        let s = decode(147, &sll2);
        assert_eq!(s.anomalies, ANOM_UNKNOWN_LINKTYPE);
    }

    #[test]
    fn ipv4_tso_zero_length() {
        let mut p = v4_tcp(b"payload");
        p[2] = 0;
        p[3] = 0;
        let s = decode(101, &p);
        assert_eq!(s.anomalies, ANOM_IP_LEN_ZERO_TSO);
        assert_eq!((s.ip_len, s.payload_len), (47, 7));
    }

    #[test]
    fn ipv4_length_beyond_frame_and_snaplen() {
        let p = v4_tcp(b"payload");
        let cut = &p[..44];
        // The wire frame was whole: the header lies.
        let s = decode(101, cut);
        assert_eq!(s.anomalies, ANOM_IP_LEN_MISMATCH);
        assert_eq!((s.ip_len, s.payload_len), (44, 4));
        // Snaplen cut: expected, ip_len keeps the header's value.
        let s = decode_record(101, cut, 47);
        assert_eq!(s.anomalies, 0);
        assert_eq!((s.ip_len, s.payload_len), (47, 4));
    }

    #[test]
    fn ipv4_bad_headers() {
        let mut p = v4_tcp(b"");
        p[0] = 0x44;
        assert_eq!(decode(1, &eth(0x0800, &p)).anomalies, ANOM_BAD_IP_HEADER_LEN);
        p[0] = 0x55;
        assert_eq!(decode(1, &eth(0x0800, &p)).anomalies, ANOM_BAD_IP_VERSION);
        let mut p = v4_tcp(b"");
        p[0] = 0x4f; // 60-byte header in a 40-byte datagram
        let s = decode(101, &p);
        assert_eq!(s.ip_version, 4);
        assert_eq!((s.l4_offset, s.anomalies), (0, ANOM_BAD_IP_HEADER_LEN | ANOM_BAD_IP_LEN));
        let mut p = v4_tcp(b"");
        p[20 + 12] = 0x40; // TCP data offset 16 bytes
        let s = decode(101, &p);
        assert_eq!((s.l4_offset, s.src_port, s.anomalies), (0, 0, ANOM_BAD_TCP_HEADER_LEN));
        let mut p = v4_tcp(b"");
        p[2] = 0;
        p[3] = 10; // total length below the header
        let s = decode(101, &p);
        assert_eq!(s.anomalies & ANOM_BAD_IP_LEN, ANOM_BAD_IP_LEN);
        assert_eq!(s.ip_len, 40);
        let p = v4_tcp(b"");
        let s = decode_record(101, &p[..30], 40);
        assert_eq!((s.ip_version, s.l4_offset, s.anomalies), (4, 0, ANOM_TRUNCATED));
        let s = decode(101, &p[..30]);
        assert_eq!((s.l4_offset, s.anomalies), (0, ANOM_IP_LEN_MISMATCH | ANOM_BAD_TCP_HEADER_LEN));
    }

    #[test]
    fn tcp_options_cut_by_snaplen_keep_fixed_header() {
        let t = tcp_hdr(0x02, 10); // 40-byte header
        let mut p = ipv4_hdr(6, 60, 0x4000);
        p.extend_from_slice(&t);
        let s = decode_record(101, &p[..54], 60);
        assert_eq!(s.anomalies, ANOM_TRUNCATED);
        assert_eq!((s.l4_offset, s.src_port, s.dst_port, s.tcp_flags, s.l4_header_len), (20, 1234, 80, 2, 40));
        assert_eq!((s.payload_offset, s.payload_len, s.ip_len), (54, 0, 60));
        // Fewer than 20 bytes: no TCP fields.
        let s = decode_record(101, &p[..39], 60);
        assert_eq!((s.l4_offset, s.src_port, s.anomalies), (0, 0, ANOM_TRUNCATED));
        // ICMP with only type/code/checksum captured.
        let mut p = ipv4_hdr(1, 28, 0);
        p.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]);
        let s = decode_record(101, &p[..24], 28);
        assert_eq!((s.l4_offset, s.src_port, s.dst_port, s.payload_offset, s.anomalies), (20, 3, 1, 24, ANOM_TRUNCATED));
    }

    #[test]
    fn ipv4_fragments() {
        // First fragment: L4 decoded.
        let t = tcp_hdr(0x02, 5);
        let mut first = ipv4_hdr(6, 20 + 20 + 8, 0x2000);
        first.extend_from_slice(&t);
        first.extend_from_slice(&[9; 8]);
        let s = decode(101, &first);
        assert!(s.is_fragment && s.more_fragments);
        assert_eq!((s.frag_offset, s.l4_offset, s.dst_port, s.payload_len), (0, 20, 80, 8));
        // Later fragment: stops at IP, payload = fragment data.
        let mut later = ipv4_hdr(6, 20 + 16, 3);
        later.extend_from_slice(&[7; 16]);
        // Tiny first fragment: 8 bytes of TCP header, no anomaly, no L4.
        let mut tiny = ipv4_hdr(6, 28, 0x2000);
        tiny.extend_from_slice(&t[..8]);
        let s = decode(101, &tiny);
        assert_eq!((s.l4_offset, s.src_port, s.anomalies, s.payload_len), (0, 0, 0, 8));
        let s = decode(101, &later);
        assert!(s.is_fragment && !s.more_fragments);
        assert_eq!((s.frag_offset, s.l4_offset, s.src_port), (24, 0, 0));
        assert_eq!((s.payload_offset, s.payload_len), (20, 16));
    }

    fn v6_hdr(nh: u8, payload_len: u16) -> Vec<u8> {
        let mut h = vec![0x6a, 0xb0, 0x00, 0x01];
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.extend_from_slice(&[nh, 33]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h
    }

    fn v6_udp(payload: &[u8]) -> Vec<u8> {
        let mut p = v6_hdr(17, (8 + payload.len()) as u16);
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35]);
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv6_udp() {
        let f = eth(0x86dd, &v6_udp(b"abc"));
        let s = decode(1, &f);
        assert_eq!((s.ip_version, s.proto, s.ttl, s.tos), (6, 17, 33, 0xab));
        assert_eq!(s.src[15], 1);
        assert_eq!(s.dst[15], 2);
        assert_eq!((s.ip_len, s.ip_header_len, s.l4_offset), (51, 40, 54));
        assert_eq!((s.src_port, s.dst_port, s.l4_header_len), (12345, 53, 8));
        assert_eq!((s.payload_offset, s.payload_len, s.anomalies), (62, 3, 0));
    }

    #[test]
    fn ipv6_extension_chain() {
        // hop-by-hop (8) -> routing (24) -> AH (len 4 -> 24 bytes) -> dstopts (8) -> TCP
        let t = tcp_hdr(0x10, 8);
        let ext_len = 8 + 24 + 24 + 8;
        let mut p = v6_hdr(0, (ext_len + t.len()) as u16);
        p.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        let mut rh = vec![51, 2, 0, 0, 0, 0, 0, 0];
        rh.resize(24, 0);
        p.extend_from_slice(&rh);
        let mut ah = vec![60, 4];
        ah.resize(24, 0xaa);
        p.extend_from_slice(&ah);
        p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&t);
        let s = decode(229, &p);
        assert_eq!(s.anomalies, 0);
        assert_eq!((s.proto, s.ip_header_len, s.l4_offset, s.l4_header_len), (6, 104, 104, 32));
        assert_eq!((s.payload_offset, s.payload_len), (136, 0));
        // Cut inside the AH header.
        let s = decode_record(229, &p[..80], p.len() as u32);
        assert_eq!((s.proto, s.l4_offset, s.anomalies), (51, 0, ANOM_IPV6_EXT_TRUNCATED));
        // ESP stops the walk.
        let mut esp = v6_hdr(50, 16);
        esp.extend_from_slice(&[0x11; 16]);
        let s = decode(229, &esp);
        assert_eq!((s.proto, s.l4_offset, s.payload_offset, s.payload_len), (50, 0, 40, 16));
    }

    #[test]
    fn ipv6_jumbogram_length_from_hop_by_hop() {
        // payload length 0, HBH with PadN(0) then Jumbo Payload 70000 (RFC 2675).
        let mut p = v6_hdr(0, 0);
        p.extend_from_slice(&[17, 0, 0xc2, 4]);
        p.extend_from_slice(&(70000u32).to_be_bytes());
        let mut udp = vec![0x30, 0x39, 0x00, 0x35, 0, 0, 0, 0];
        udp.resize(70000 - 8, 0x61);
        p.extend_from_slice(&udp);
        let s = decode(229, &p);
        assert_eq!(s.anomalies, 0);
        assert_eq!((s.ip_len, s.ip_header_len, s.proto, s.payload_len), (70040, 48, 17, 70000 - 16));
        // BIG TCP over IPv4: total length 0, not a fragment: no frag_too_large.
        let mut q = ipv4_hdr(17, 0, 0);
        q.extend_from_slice(&udp);
        let s = decode(101, &q);
        assert_eq!(s.anomalies, ANOM_IP_LEN_ZERO_TSO);
        assert_eq!(s.ip_len, 20 + 70000 - 8);
    }

    #[test]
    fn ipv6_fragments() {
        let udp = v6_udp(b"");
        // First fragment: MF set, L4 decoded.
        let mut p = v6_hdr(44, 8 + 8);
        p.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&udp[40..48]);
        let s = decode(229, &p);
        assert!(s.is_fragment && s.more_fragments);
        assert_eq!((s.frag_header_offset, s.ip_id, s.proto, s.dst_port), (40, 0xdeadbeef, 17, 53));
        // Later fragment (offset 1448): stops at IP.
        let mut p = v6_hdr(44, 8 + 4);
        p.extend_from_slice(&[17, 0, 0x05, 0xa8, 0, 0, 0, 7]);
        p.extend_from_slice(&[1, 2, 3, 4]);
        let s = decode(229, &p);
        assert_eq!((s.frag_offset, s.l4_offset, s.proto, s.payload_len, s.ip_header_len), (1448, 0, 17, 4, 48));
        // Atomic fragment: decoded, not a fragment.
        let mut p = v6_hdr(44, 16);
        p.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 9]);
        p.extend_from_slice(&udp[40..48]);
        let s = decode(229, &p);
        assert!(!s.is_fragment);
        assert_eq!((s.frag_header_offset, s.dst_port), (40, 53));
    }

    #[test]
    fn icmp_type_code_in_ports() {
        let mut p = ipv4_hdr(1, 28, 0);
        p.extend_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]);
        let s = decode(101, &p);
        assert_eq!((s.src_port, s.dst_port, s.l4_header_len, s.payload_len), (8, 0, 8, 0));
        assert_eq!(verify_checksums(&p, &s), ANOM_BAD_IP_CHECKSUM * 0);
    }

    #[test]
    fn checksum_verification_v4_udp_and_v6() {
        let mut p = ipv4_hdr(17, 31, 0);
        p.extend_from_slice(&[0x04, 0xd2, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, b'a', b'b', b'c']);
        let s = decode(101, &p);
        assert_eq!(verify_checksums(&p, &s), 0); // UDP checksum 0 = none
        let c = checksum::l4_checksum_v4(&s.src_v4(), &s.dst_v4(), 17, &p[20..]);
        p[26..28].copy_from_slice(&c.to_be_bytes());
        assert_eq!(verify_checksums(&p, &s), 0);
        p[30] ^= 1;
        assert_eq!(verify_checksums(&p, &s), ANOM_BAD_L4_CHECKSUM);
        p[8] ^= 1;
        assert_eq!(verify_checksums(&p, &s), ANOM_BAD_L4_CHECKSUM | ANOM_BAD_IP_CHECKSUM);
        let mut q = v6_udp(b"xyz");
        let s = decode(229, &q);
        let c = checksum::l4_checksum_v6(&s.src, &s.dst, 17, &q[40..]);
        q[46..48].copy_from_slice(&c.to_be_bytes());
        assert_eq!(verify_checksums(&q, &s), 0);
    }

    #[test]
    fn never_panics_on_prefixes() {
        let mut f = eth(0x86dd, &v6_udp(b"abc"));
        f.extend_from_slice(&[0; 5]);
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999] {
            for n in 0..f.len() {
                let s = decode(lt, &f[..n]);
                assert!(s.payload_offset as usize + s.payload_len as usize <= n, "lt {lt} n {n}");
                let _ = verify_checksums(&f[..n], &s);
            }
        }
    }

    fn hex(text: &str) -> Vec<u8> {
        let t: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        t.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }

    // The frames of tests/wire/test_wire_encap.py, checked with tcpdump and tshark.
    const ETH: &str = "001122334455 66778899aabb";
    const V4_TCP: &str = "45000028 00010000 400666cd 0a000001 0a000002 04d20050 000003e8 00000000 50022000 72d60000";
    const V6_UDP: &str = "6000000000 0a 11 40 20010db8000000000000000000000001 20010db8000000000000000000000002 14e90035 000a 26de 6869";

    #[test]
    fn mpls_stack_then_ip() {
        // label 254 (S=0, TTL 60), label 99 (TC 5, S=1, TTL 61), then IPv4/TCP.
        let f = hex(&format!("{ETH} 8847 000fe03c 00063b3d {V4_TCP}"));
        let s = decode(1, &f);
        assert_eq!((s.ethertype, s.mpls_count, s.pppoe, s.l3_offset, s.ip_version), (0x0800, 2, false, 22, 4));
        assert_eq!((s.src_v4(), s.dst_v4(), s.proto, s.ip_len), ([10, 0, 0, 1], [10, 0, 0, 2], 6, 40));
        assert_eq!((s.l4_offset, s.src_port, s.dst_port, s.tcp_seq, s.tcp_flags), (42, 1234, 80, 1000, 0x02));
        assert_eq!((s.payload_offset, s.payload_len, s.anomalies), (62, 0, 0));
        assert_eq!(verify_checksums(&f, &s), 0);
        // Multicast MPLS over a VLAN tag, IPv6 inside.
        let f = hex(&format!("{ETH} 8100 0005 8848 00001140 {V6_UDP}"));
        let s = decode(1, &f);
        assert_eq!((s.vlan_count, s.vlan_outer, s.mpls_count, s.ethertype, s.l3_offset), (1, 5, 1, 0x86dd, 22));
        assert_eq!((s.ip_version, s.proto, s.dst_port, s.payload_offset, s.payload_len), (6, 17, 53, 70, 2));
        assert_eq!(verify_checksums(&f, &s), 0);
    }

    #[test]
    fn mpls_cut_or_not_ip() {
        let f = hex(&format!("{ETH} 8847 000fe03c 00063b3d {V4_TCP}"));
        // Cut inside the stack, and right after it.
        for n in [18, 22] {
            let s = decode(1, &f[..n]);
            assert_eq!((s.ethertype, s.l3_offset, s.ip_version, s.anomalies), (0x8847, 14, 0, ANOM_TRUNCATED), "n {n}");
        }
        // A pseudowire control word (first nibble 0) under the stack: kept at the MPLS header.
        let s = decode(1, &hex(&format!("{ETH} 8847 00001140 00000000 aabbccdd")));
        assert_eq!((s.ethertype, s.mpls_count, s.l3_offset, s.ip_version, s.anomalies), (0x8847, 1, 14, 0, 0));
        assert_eq!((s.payload_offset, s.payload_len), (14, 12));
    }

    #[test]
    fn pppoe_session_then_ip() {
        let f = hex(&format!("{ETH} 8864 11 00 0011 0034 0057 {V6_UDP}"));
        let s = decode(1, &f);
        assert_eq!((s.ethertype, s.pppoe, s.mpls_count, s.l3_offset, s.ip_version), (0x86dd, true, 0, 22, 6));
        assert_eq!((s.proto, s.src_port, s.dst_port, s.payload_offset, s.payload_len, s.anomalies), (17, 5353, 53, 70, 2, 0));
        assert_eq!(verify_checksums(&f, &s), 0);
        // Over QinQ, IPv4 inside.
        let f = hex(&format!("{ETH} 8100 0e78 8100 09aa 8864 11 00 0f07 002a 0021 {V4_TCP}"));
        let s = decode(1, &f);
        assert_eq!((s.vlan_count, s.vlan_outer, s.vlan_inner, s.pppoe, s.l3_offset), (2, 0xe78, 0x9aa, true, 30));
        assert_eq!((s.ethertype, s.ip_version, s.dst_port, s.l4_offset), (0x0800, 4, 80, 50));
    }

    #[test]
    fn pppoe_not_ip_cut_or_discovery() {
        // LCP inside the session: kept at the PPPoE header.
        let s = decode(1, &hex(&format!("{ETH} 8864 11 00 0011 000e c021 0101000a010405d40000")));
        assert_eq!((s.ethertype, s.pppoe, s.l3_offset, s.ip_version, s.anomalies), (0x8864, true, 14, 0, 0));
        let s = decode(1, &hex(&format!("{ETH} 8864 11 00 0011 00")));
        assert_eq!((s.ethertype, s.pppoe, s.l3_offset, s.anomalies), (0x8864, false, 14, ANOM_TRUNCATED));
        // Discovery (PADI) is not walked.
        let s = decode(1, &hex(&format!("{ETH} 8863 1109 0000 0004 0101 0000")));
        assert_eq!((s.ethertype, s.pppoe, s.l3_offset, s.ip_version, s.anomalies), (0x8863, false, 14, 0, 0));
    }

    #[test]
    fn codes_cover_every_bit() {
        let mut all = 0;
        for (b, _) in ANOMALY_CODES {
            assert_eq!(b.count_ones(), 1);
            assert_eq!(all & b, 0);
            all |= b;
        }
        assert_eq!(anomaly_codes(ANOM_TRUNCATED | ANOM_BAD_UDP_LEN).collect::<Vec<_>>(), ["truncated_header", "bad_udp_len"]);
    }
}
