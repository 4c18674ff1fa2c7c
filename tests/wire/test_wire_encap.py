"""MPLS label stacks (RFC 3032) and PPPoE sessions (RFC 2516): hand-checked bytes decode to
the labels, the session header and the IP packet inside; the headers build back byte for byte.

The two frames below were checked with tcpdump 4.99 and tshark 4.0 (checksums correct):
  MPLS (label 254, tc 0, ttl 60) (label 99, tc 5, [S], ttl 61) IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S]
  PPPoE  [ses 0x11] IP6 2001:db8::1.5353 > 2001:db8::2.53: [udp sum ok] (pppoe.payload_length 52)
"""

from __future__ import annotations

import pytest
from wire_helpers import h
from wirekit import anomalies as A
from wirekit.errors import BuildError
from wirekit.wire import (
    EthernetHeader,
    IPv4Header,
    IPv6Header,
    MPLSLabel,
    PPPoEHeader,
    PPPProtocol,
    TCPHeader,
    UDPHeader,
    VLANTag,
    build_packet,
    decode_bytes,
)

ETH = "001122334455 66778899aabb"
MPLS_TCP = h(f"""{ETH} 8847
    000fe03c | 00063b3d
    45000028 00010000 400666cd 0a000001 0a000002
    04d20050 000003e8 00000000 50022000 72d60000""")
PPPOE_UDP = h(f"""{ETH} 8864
    11 00 0011 0034 0057
    6000000000 0a 11 40 20010db8000000000000000000000001 20010db8000000000000000000000002
    14e90035 000a 26de 6869""")


def test_mpls_two_labels_then_ipv4_tcp():
    d = decode_bytes(MPLS_TCP)
    assert [(e.label, e.tc, e.s, e.ttl) for e in d.mpls] == [(254, 0, 0, 60), (99, 5, 1, 61)]
    assert d.l3_offset == 22 and d.l4_offset == 42
    assert (d.ip.src, d.ip.dst, d.ip.total_len) == ("10.0.0.1", "10.0.0.2", 40)
    assert (d.tcp.src_port, d.tcp.dst_port, d.tcp.seq) == (1234, 80, 1000)
    assert d.anomalies == []
    assert d.ip_checksum_ok and d.l4_checksum_ok
    js = d.to_json()
    assert js["mpls"] == [{"label": 254, "tc": 0, "s": 0, "ttl": 60}, {"label": 99, "tc": 5, "s": 1, "ttl": 61}]
    assert d.summary_line().startswith(
        "MPLS (label 254, tc 0, ttl 60) (label 99, tc 5, [S], ttl 61) IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1000")


def test_mpls_entry_fields_and_build():
    e = MPLSLabel.parse(h("03eeab2c"))
    assert (e.label, e.tc, e.s, e.ttl) == (16106, 5, 1, 44)
    assert e.build(b"x") == h("03eeab2c") + b"x"
    assert MPLSLabel(label=0xFFFFF, tc=7, s=0, ttl=255).build() == h("fffffeff")
    with pytest.raises(BuildError):
        MPLSLabel(label=1 << 20).build()


def test_mpls_multicast_ethertype_and_ipv6_inside():
    inner = PPPOE_UDP[22:]  # the IPv6/UDP packet
    d = decode_bytes(h(f"{ETH} 8848 00001140") + inner)
    assert [(e.label, e.s, e.ttl) for e in d.mpls] == [(1, 1, 64)]
    assert (d.ip.version, d.ip.src, d.udp.dst_port, d.payload) == (6, "2001:db8::1", 53, b"hi")


def test_mpls_stack_cut_before_bottom_is_truncated():
    d = decode_bytes(MPLS_TCP[:18])  # the first entry only; its S bit is 0
    assert [e.label for e in d.mpls] == [254]
    assert d.ip is None
    assert d.anomalies == [A.TRUNCATED_HEADER]
    d = decode_bytes(MPLS_TCP[:22])  # the whole stack, nothing under it
    assert len(d.mpls) == 2 and d.ip is None and d.anomalies == [A.TRUNCATED_HEADER]


def test_mpls_non_ip_payload_is_kept_raw():
    # A pseudowire control word (first nibble 0, RFC 4385) under the stack.
    d = decode_bytes(h(f"{ETH} 8847 00001140 00000000 aabbccdd"))
    assert d.ip is None
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == ("mpls_payload", 0, h("00000000 aabbccdd"))
    assert d.payload == h("00000000 aabbccdd")


def test_pppoe_session_ipv6_udp():
    d = decode_bytes(PPPOE_UDP)
    p = d.pppoe
    assert (p.version, p.type, p.code, p.session_id, p.length, p.protocol) == (1, 1, 0, 0x11, 52, 0x0057)
    assert p.protocol is PPPProtocol.IPV6
    assert d.l3_offset == 22
    assert (d.ip.version, d.ip.dst, d.udp.src_port, d.udp.dst_port) == (6, "2001:db8::2", 5353, 53)
    assert d.payload == b"hi" and d.anomalies == []
    assert d.to_json()["pppoe"] == {"code": 0, "session_id": 17, "len": 52, "protocol": 0x57}
    assert d.summary_line() == "PPPoE  [ses 0x11] IP6 2001:db8::1.5353 > 2001:db8::2.53: UDP, length 2"


def test_pppoe_session_ipv4_over_qinq():
    ip_tcp = MPLS_TCP[22:]
    frame = h(f"{ETH} 8100 0e78 8100 09aa 8864 11 00 0f07 002a 0021") + ip_tcp
    d = decode_bytes(frame)
    assert [t.vid for t in d.vlan] == [0xE78, 0x9AA]
    assert (d.pppoe.session_id, d.pppoe.length, d.pppoe.protocol) == (0xF07, 42, 0x21)
    assert (d.l3_offset, d.ip.src, d.tcp.dst_port) == (30, "10.0.0.1", 80)


def test_pppoe_lcp_is_kept_raw():
    lcp = h("01 01 000a 0104 05d4 0000")  # Conf-Request, MRU 1492
    d = decode_bytes(h(f"{ETH} 8864 11 00 0011 000e c021") + lcp)
    assert d.pppoe.protocol is PPPProtocol.LCP
    assert d.ip is None
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == ("ppp_protocol", 0xC021, lcp)
    assert d.summary_line() == "PPPoE  [ses 0x11] ppp_protocol 0xc021, length 10"


def test_pppoe_truncated_and_discovery():
    d = decode_bytes(h(f"{ETH} 8864 11 00 0011 00"))
    assert d.pppoe is None and d.anomalies == [A.TRUNCATED_HEADER]
    padi = h("11 09 0000 0004 0101 0000")
    d = decode_bytes(h(f"{ETH} 8863") + padi)
    assert d.pppoe is None
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == ("ethertype", 0x8863, padi)


def test_build_packet_stacks_rebuild_the_checked_bytes():
    eth = EthernetHeader(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")
    assert build_packet(
        eth, MPLSLabel(label=254, tc=0, s=0, ttl=60), MPLSLabel(label=99, tc=5, s=1, ttl=61),
        IPv4Header(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=1),
        TCPHeader(src_port=1234, dst_port=80, seq=1000, ack=0, flags=0x02, window=8192)) == MPLS_TCP
    # PPPoE: the PPP protocol and the PPPoE length come from the layers above.
    assert build_packet(eth, PPPoEHeader(session_id=0x11),
                        IPv6Header(src="2001:db8::1", dst="2001:db8::2", hop_limit=64),
                        UDPHeader(src_port=5353, dst_port=53), payload=b"hi") == PPPOE_UDP
    # A parsed header builds back to its bytes.
    assert PPPoEHeader.parse(PPPOE_UDP, 14).build() == PPPOE_UDP[14:22]
    with pytest.raises(BuildError):
        build_packet(eth, PPPoEHeader(session_id=1), payload=b"x")
    tagged = build_packet(eth, VLANTag(vid=5), MPLSLabel(label=7), IPv4Header(src="1.2.3.4", dst="5.6.7.8", proto=253))
    d = decode_bytes(tagged)
    assert [t.vid for t in d.vlan] == [5] and [e.label for e in d.mpls] == [7] and d.ip.dst == "5.6.7.8"
