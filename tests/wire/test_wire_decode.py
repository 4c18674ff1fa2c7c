"""decode_packet / decode_bytes: laziness, dispatch, length rules, anomalies (never raised),
to_json and summary_line."""

from __future__ import annotations

import pytest

import wirekit
from wirekit import anomalies as A
from wirekit.errors import DecodeError
from wirekit.wire import (
    ARPHeader,
    EthernetHeader,
    ICMPHeader,
    ICMPv6Header,
    IPv4Header,
    IPv6Fragment,
    IPv6Header,
    IPv6Options,
    NullHeader,
    SLL2Header,
    SLLHeader,
    TCPFlags,
    TCPHeader,
    TCPOption,
    UDPHeader,
    VLANTag,
    build_packet,
    decode_bytes,
    decode_packet,
)
from wirekit.wire import decode as D
from wire_helpers import h

ETH = EthernetHeader(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")
IP4 = IPv4Header(src="10.0.0.1", dst="10.0.0.2", id=7, dont_fragment=True)
IP6 = IPv6Header(src="2001:db8::1", dst="2001:db8::2")
SYN = TCPHeader(src_port=1234, dst_port=80, seq=1, flags=TCPFlags.SYN,
                options=[TCPOption.mss(1460)])


def tcp_frame(payload=b""):
    return build_packet(ETH, IP4, SYN, payload=payload)


@pytest.fixture
def restore_tables():
    saved = (dict(D.ETHERTYPE_DISPATCH), dict(D.IP_PROTO_DISPATCH), dict(D.LINKTYPE_DISPATCH))
    yield
    for table, old in zip((D.ETHERTYPE_DISPATCH, D.IP_PROTO_DISPATCH, D.LINKTYPE_DISPATCH),
                          saved):
        table.clear()
        table.update(old)


def test_decode_is_lazy_and_parses_once(restore_tables):
    calls = []

    def handler(d, data, offset):
        calls.append(offset)
        d.set_payload(offset, len(data))

    D.register_ethertype(0x88B5, handler)  # IEEE local experimental EtherType
    frame = build_packet(EthernetHeader(type=0x88B5), payload=b"hello")
    d = decode_packet(wirekit.Packet(frame))
    assert calls == []                     # nothing parsed at creation
    assert d.eth.type == 0x88B5
    assert calls == [14]
    assert d.payload == b"hello" and d.ip is None and d.anomalies == []
    assert calls == [14]                   # parsed once


def test_packet_decode_uses_the_wire_layer():
    d = wirekit.Packet(tcp_frame(b"hi")).decode()
    assert isinstance(d, D.Decoded)
    assert (d.ip.src, d.tcp.dst_port, d.payload) == ("10.0.0.1", 80, b"hi")


def test_tcp_packet_json_and_summary():
    d = decode_bytes(tcp_frame(b"hello"))
    assert d.to_json() == {
        "eth": {"src": "66:77:88:99:aa:bb", "dst": "00:11:22:33:44:55", "type": 0x0800},
        "ip": {"version": 4, "src": "10.0.0.1", "dst": "10.0.0.2", "proto": 6, "ttl": 64,
               "len": 49, "id": 7, "frag_offset": 0, "more_fragments": False,
               "dont_fragment": True, "header_len": 20},
        "tcp": {"src_port": 1234, "dst_port": 80, "seq": 1, "ack": 0, "flags": 2,
                "window": 65535, "header_len": 24,
                "options": [{"kind": 2, "name": "mss", "value": 1460}], "payload_len": 5},
    }
    assert d.summary_line() == ("IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1:6, win 65535,"
                                " options [mss 1460], length 5")
    assert (d.l3_offset, d.l4_offset, d.ip_len) == (14, 34, 49)
    assert d.ip_checksum_ok is True and d.l4_checksum_ok is True


def test_pure_ack_line_has_no_seq():
    ack = TCPHeader(src_port=1, dst_port=2, seq=9, ack=5, flags=TCPFlags.ACK, window=512)
    d = decode_bytes(build_packet(ETH, IP4, ack))
    assert d.summary_line() == "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [.], ack 5, win 512, length 0"


def test_ethernet_padding_never_reaches_the_payload():
    frame = tcp_frame(b"ab") + b"\x00" * 6 + b"TRAILER"  # short frame padding plus a trailer
    d = decode_bytes(frame)
    assert d.payload == b"ab"
    assert d.to_json()["tcp"]["payload_len"] == 2
    assert d.anomalies == []  # checksum covers the datagram only


def test_tso_zero_total_length():
    frame = bytearray(tcp_frame(b"x" * 100))
    frame[16:18] = b"\x00\x00"  # total length 0, as a sender's capture with TSO shows it
    d = decode_bytes(bytes(frame))
    assert d.payload == b"x" * 100
    assert d.to_json()["ip"]["len"] == len(frame) - 14
    assert d.to_json()["tcp"]["payload_len"] == 100
    assert A.IP_LEN_ZERO_TSO in d.anomalies
    assert A.BAD_IP_CHECKSUM in d.anomalies  # the header changed under its checksum


def test_ip_length_beyond_frame_is_a_mismatch():
    frame = bytearray(tcp_frame(b"abc"))
    frame[16:18] = (200).to_bytes(2, "big")
    d = decode_bytes(bytes(frame))
    assert d.anomalies[0] == A.IP_LEN_MISMATCH
    assert d.payload == b"abc"


def test_snaplen_cut_is_not_an_anomaly():
    frame = tcp_frame(b"y" * 100)
    d = decode_bytes(frame[:70], wire_len=len(frame))
    assert d.anomalies == []
    assert d.payload == b"y" * (70 - 58)
    assert d.to_json()["tcp"]["payload_len"] == 100   # what the IP header says, as tshark
    assert d.l4_checksum_ok is None                   # not all bytes were captured


@pytest.mark.parametrize("cut, layers, anomaly", [
    (10, (True, False, False), A.TRUNCATED_HEADER),   # inside Ethernet: nothing
    (30, (True, False, False), A.TRUNCATED_HEADER),   # inside IPv4
    (40, (True, True, False), A.TRUNCATED_HEADER),    # inside TCP's fixed header
    (55, (True, True, False), A.TRUNCATED_HEADER),    # inside TCP's options
])
def test_truncated_layers(cut, layers, anomaly):
    frame = tcp_frame()
    d = decode_bytes(frame[:cut], wire_len=len(frame))
    has = (d.eth is not None or cut < 14, d.ip is not None, d.tcp is not None)
    assert has == layers
    assert d.anomalies == [anomaly]


def test_summary_when_the_network_header_fails():
    frame = tcp_frame()
    assert decode_bytes(frame[:30], wire_len=len(frame)).summary_line() == (
        "ethertype 0x0800, length 30 [truncated_header]")
    assert decode_bytes(frame[:10]).summary_line() == "linktype 1, length 10 [truncated_header]"


def test_bad_tcp_header_len():
    frame = bytearray(tcp_frame())
    frame[46] = 0x40  # data offset 4
    d = decode_bytes(bytes(frame))
    assert d.tcp is None and d.ip is not None
    assert d.anomalies == [A.BAD_TCP_HEADER_LEN]


def test_bad_tcp_option_keeps_the_header():
    t = TCPHeader(src_port=1, dst_port=2, options=[TCPOption(2, h("02000000"), malformed=True)])
    d = decode_bytes(build_packet(ETH, IP4, t))
    assert d.tcp is not None and d.tcp.options[0].malformed
    assert A.BAD_TCP_OPTION in d.anomalies


def test_fragments():
    first = build_packet(ETH, IPv4Header(src="10.0.0.1", dst="10.0.0.2", id=9,
                                         more_fragments=True),
                         UDPHeader(src_port=1, dst_port=2, length=2008, checksum=0x1234),
                         payload=b"a" * 16)
    d = decode_bytes(first)
    assert d.udp is not None and d.udp.length == 2008
    assert d.anomalies == []          # a first fragment's UDP length covers the datagram
    assert d.l4_checksum_ok is None   # not checkable on a fragment
    later = build_packet(ETH, IPv4Header(src="10.0.0.1", dst="10.0.0.2", id=9, proto=17,
                                         frag_offset=24), payload=b"b" * 16)
    d = decode_bytes(later)
    assert d.udp is None and d.ip.frag_offset == 24 and d.payload == b"b" * 16
    assert d.to_json()["ip"]["frag_offset"] == 24
    assert d.summary_line() == ("IP 10.0.0.1 > 10.0.0.2: ip-proto-17 (frag id 9, offset 24),"
                                " length 16")


def test_ipv6_fragments_and_ext_headers():
    first = build_packet(ETH, IPv6Header(src="2001:db8::1", dst="2001:db8::2", ext_headers=[
        IPv6Options(0), IPv6Fragment(more_fragments=True, id=77)]), UDPHeader(
        src_port=5, dst_port=6, length=100, checksum=1), payload=b"z" * 8)
    d = decode_bytes(first)
    js = d.to_json()["ip"]
    assert (js["proto"], js["id"], js["more_fragments"], js["header_len"], js["len"]) == (
        17, 77, True, 56, 72)
    assert d.udp.dst_port == 6 and d.anomalies == []
    later = build_packet(ETH, IPv6Header(src="2001:db8::1", dst="2001:db8::2", ext_headers=[
        IPv6Fragment(next_header=17, frag_offset=16, id=77)]), payload=b"w" * 8)
    d = decode_bytes(later)
    assert d.udp is None and d.payload == b"w" * 8 and d.ip.frag_offset == 16


def test_ipv6_ext_truncated():
    frame = build_packet(ETH, IPv6Header(src="::1", dst="::2", ext_headers=[IPv6Options(0)]),
                         UDPHeader(src_port=1, dst_port=2), payload=b"")
    d = decode_bytes(frame[:14 + 44], wire_len=len(frame))
    assert d.ip is not None and d.udp is None
    assert d.anomalies == [A.IPV6_EXT_TRUNCATED]


def test_qinq_and_too_many_tags():
    frame = build_packet(ETH, VLANTag(vid=200, tpid=0x88A8), VLANTag(vid=2001, pcp=3),
                         ARPHeader(sender_ip="1.1.1.1", target_ip="1.1.1.2"))
    d = decode_bytes(frame)
    assert d.eth.type == 0x88A8
    assert d.to_json()["vlan"] == [{"id": 200, "pcp": 0, "type": 0x8100},
                                   {"id": 2001, "pcp": 3, "type": 0x0806}]
    assert d.to_json()["arp"] == {"op": 1, "sender_mac": "00:00:00:00:00:00",
                                  "sender_ip": "1.1.1.1", "target_mac": "00:00:00:00:00:00",
                                  "target_ip": "1.1.1.2"}
    assert d.summary_line() == ("vlan 200, p 0, vlan 2001, p 3, ARP, Request who-has 1.1.1.2 "
                                "tell 1.1.1.1, length 28")
    many = build_packet(ETH, *[VLANTag(vid=i) for i in range(9)], IP4, SYN)
    d = decode_bytes(many)
    assert len(d.vlan) == D.MAX_VLAN_TAGS and d.ip is None
    assert d.anomalies == [A.TOO_MANY_VLAN_TAGS]


def test_unknown_numbers_keep_number_and_payload():
    d = decode_bytes(build_packet(EthernetHeader(type=0x88CC), payload=b"lldp"))
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == ("ethertype", 0x88CC, b"lldp")
    gre = build_packet(ETH, IPv4Header(src="1.1.1.1", dst="2.2.2.2", proto=47),
                       payload=b"gre!") + b"\x00" * 10
    d = decode_bytes(gre)
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == ("ip_proto", 47, b"gre!")
    assert d.summary_line() == "IP 1.1.1.1 > 2.2.2.2: ip-proto-47, length 4"
    d = decode_bytes(b"\x01\x02\x03", linktype=147)
    assert d.anomalies == [A.UNKNOWN_LINKTYPE]
    assert (d.unknown_layer, d.unknown_type, d.unknown_payload) == (
        "linktype", 147, b"\x01\x02\x03")


def test_llc_snap_carries_ip():
    ip_bytes = build_packet(IP4, SYN)
    llc = h("aa aa 03 000000 0800") + ip_bytes
    frame = EthernetHeader(dst="ff:ff:ff:ff:ff:ff", src="00:11:22:33:44:55",
                           type=len(llc)).build(llc)
    d = decode_bytes(frame)
    assert d.eth.type == len(llc) and d.tcp.dst_port == 80 and d.anomalies == []


UDP_IP = build_packet(IPv4Header(src="192.0.2.1", dst="192.0.2.2"),
                      UDPHeader(src_port=53, dst_port=999), payload=b"dns")
UDP_IP6 = build_packet(IPv6Header(src="2001:db8::1", dst="2001:db8::2"),
                       UDPHeader(src_port=53, dst_port=999), payload=b"dns")


@pytest.mark.parametrize("linktype, frame, link_type", [
    (1, build_packet(ETH, IPv4Header(src="192.0.2.1", dst="192.0.2.2"),
                     UDPHeader(src_port=53, dst_port=999), payload=b"dns"), EthernetHeader),
    (0, NullHeader(2).build(UDP_IP), NullHeader),
    (0, NullHeader(2, network_order=True).build(UDP_IP), NullHeader),
    (108, NullHeader(2, network_order=True).build(UDP_IP), NullHeader),
    (113, SLLHeader(addr="00:11:22:33:44:55", protocol=0x800).build(UDP_IP), SLLHeader),
    (276, SLL2Header(protocol=0x800, ifindex=2).build(UDP_IP), SLL2Header),
    (101, UDP_IP, type(None)), (12, UDP_IP, type(None)), (14, UDP_IP, type(None)),
    (228, UDP_IP, type(None)),
    (101, UDP_IP6, type(None)), (229, UDP_IP6, type(None)),
    (0, NullHeader(30).build(UDP_IP6), NullHeader),
])
def test_every_linktype(linktype, frame, link_type):
    d = decode_bytes(frame, linktype)
    assert isinstance(d.link, link_type)
    assert (d.udp.src_port, d.udp.dst_port, d.payload, d.anomalies) == (53, 999, b"dns", [])
    assert d.ip.dst in ("192.0.2.2", "2001:db8::2")


@pytest.mark.parametrize("linktype", [101, 228, 229])
def test_raw_ip_with_a_wrong_version(linktype):
    d = decode_bytes(b"\x50" + bytes(60), linktype)
    assert d.ip is None and d.anomalies == [A.BAD_IP_VERSION]


def test_icmp_lines():
    d = decode_bytes(build_packet(ETH, IP4, ICMPHeader.echo(3, 4), payload=b"p" * 8))
    assert d.to_json()["icmp"] == {"type": 8, "code": 0}
    assert d.summary_line() == "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 3, seq 4, length 16"
    d6 = decode_bytes(build_packet(ETH, IP6, ICMPv6Header(type=135, rest=bytes(4)),
                                   payload=bytes(16)))
    assert d6.to_json()["icmp"] == {"type": 135, "code": 0} and d6.anomalies == []
    assert d6.summary_line() == ("IP6 2001:db8::1 > 2001:db8::2: ICMP6 neighbor solicitation,"
                                 " length 24")


def test_bad_checksums_are_anomalies_not_errors():
    frame = bytearray(tcp_frame(b"data"))
    frame[-1] ^= 0xFF        # payload changed: TCP checksum wrong
    frame[24] ^= 0x01        # IP checksum field changed
    d = decode_bytes(bytes(frame))
    assert d.anomalies == [A.BAD_IP_CHECKSUM, A.BAD_L4_CHECKSUM]
    assert d.to_json()["anomalies"] == ["bad_ip_checksum", "bad_l4_checksum"]
    assert d.summary_line().endswith("[bad_ip_checksum, bad_l4_checksum]")


def test_bad_udp_len():
    frame = build_packet(ETH, IP4, UDPHeader(src_port=1, dst_port=2, length=4), payload=b"abcd")
    d = decode_bytes(frame)
    assert A.BAD_UDP_LEN in d.anomalies and d.payload == b"abcd"


def test_a_raising_handler_becomes_an_anomaly(restore_tables):
    def bad(d, data, offset, end):
        raise DecodeError("my protocol is broken")

    D.register_ip_proto(132, bad)
    d = decode_bytes(build_packet(ETH, IPv4Header(src="1.1.1.1", dst="2.2.2.2", proto=132),
                                  payload=b"sctp"))
    assert d.ip is not None and d.anomalies == [A.MALFORMED_HEADER]


def test_registered_linktype(restore_tables):
    def link_custom(d, data):  # a 2-byte header then IPv4
        D.dispatch_ethertype(d, data, 2, 0x0800)

    D.register_linktype(147, link_custom)
    d = decode_bytes(b"\xab\xcd" + UDP_IP, 147)
    assert d.udp.dst_port == 999 and d.anomalies == []


def test_missing_attribute_is_an_attribute_error():
    d = decode_bytes(tcp_frame())
    with pytest.raises(AttributeError):
        d.no_such_layer
    with pytest.raises(AttributeError):
        d._private
