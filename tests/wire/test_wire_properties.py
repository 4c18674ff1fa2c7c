"""Hypothesis properties: decode never raises, whatever the bytes and link type; built
headers parse back to the same fields; parse(x).build() == x."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirekit import anomalies as A
from wirekit.wire import (
    ARPHeader,
    EthernetHeader,
    ICMPHeader,
    IPv4Header,
    IPv6Fragment,
    IPv6Header,
    IPv6Options,
    IPv6Routing,
    TCPHeader,
    TCPOption,
    UDPHeader,
    VLANTag,
    build_packet,
    decode_bytes,
)
from wirekit.wire.decode import LINKTYPE_DISPATCH

LINKTYPES = sorted(LINKTYPE_DISPATCH) + [147]
# WIREKIT_FUZZ_EXAMPLES=100000 turns these into a fuzzing run.
SETTINGS = settings(max_examples=int(os.environ.get("WIREKIT_FUZZ_EXAMPLES", "200")),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def exercise(d) -> None:
    """Reads everything a user can read; nothing may raise."""
    for name in ("link", "eth", "vlan", "arp", "ip", "tcp", "udp", "icmp", "payload",
                 "anomalies", "ip_checksum_ok", "l4_checksum_ok", "unknown_payload",
                 "l3_offset", "l4_offset", "ip_len", "l4_segment"):
        getattr(d, name)
    json.dumps(d.to_json())
    d.summary_line()
    for layer in (d.link, d.ip, d.tcp, d.udp, d.icmp, d.arp, *d.vlan):
        if layer is not None:
            str(layer)
    assert set(d.anomalies) <= A.ALL


@SETTINGS
@given(st.sampled_from(LINKTYPES), st.binary(max_size=200), st.integers(0, 100))
def test_decode_never_raises_on_random_bytes(linktype, data, extra):
    exercise(decode_bytes(data, linktype, wire_len=len(data) + extra))


def _seed_frames():
    eth = EthernetHeader(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")
    ip4 = IPv4Header(src="10.0.0.1", dst="10.0.0.2", options=bytes([0x94, 4, 0, 0]))
    ip6 = IPv6Header(src="2001:db8::1", dst="2001:db8::2", ext_headers=[
        IPv6Options(0), IPv6Routing(43, data=bytes([0, 1, 0, 0, 0, 0]) + bytes(16)),
        IPv6Fragment(more_fragments=True), IPv6Options(60, data=bytes([201, 16]) + bytes(16)
                                                       + bytes([1, 2, 0, 0]))])
    tcp = TCPHeader(src_port=1, dst_port=2, options=[
        TCPOption.mss(1460), TCPOption.sack([(1, 2)]), TCPOption.timestamps(5, 6)])
    return [
        build_packet(eth, ip4, tcp, payload=b"abc"),
        build_packet(eth, VLANTag(vid=3, tpid=0x88A8), VLANTag(vid=4), ip6, tcp, payload=b"x"),
        build_packet(eth, ip6, UDPHeader(src_port=1, dst_port=2), payload=b"y" * 9),
        build_packet(eth, ip4, ICMPHeader.echo(1, 2), payload=b"z"),
        build_packet(eth, ARPHeader(sender_ip="1.1.1.1", target_ip="1.1.1.2")),
    ]


SEEDS = _seed_frames()


@SETTINGS
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)),
                                        max_size=6), st.integers(0, 300))
def test_decode_never_raises_on_mutated_frames(frame, edits, cut):
    data = bytearray(frame)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    data = bytes(data[:cut]) if cut < len(data) else bytes(data)
    exercise(decode_bytes(data, 1, wire_len=len(frame)))


u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
ip4_addr = st.tuples(u8, u8, u8, u8).map(lambda t: ".".join(map(str, t)))
mac = st.binary(min_size=6, max_size=6).map(lambda b: b.hex(":"))
tcp_option = st.one_of(
    u16.map(TCPOption.mss), u8.map(TCPOption.wscale), st.just(TCPOption.sack_permitted()),
    st.just(TCPOption.nop()), st.tuples(u32, u32).map(lambda t: TCPOption.timestamps(*t)),
    st.lists(st.tuples(u32, u32), min_size=1, max_size=4).map(TCPOption.sack),
    st.tuples(st.integers(9, 253), st.binary(max_size=6)).map(lambda t: TCPOption(*t)),
)


@SETTINGS
@given(u16, u16, u32, u32, st.integers(0, 0x1FF), u16, u16, u16,
       st.lists(tcp_option, max_size=4).filter(
           lambda o: sum(len(x.build()) for x in o) <= 40))
def test_tcp_round_trip(sport, dport, seq, ack, flags, window, checksum, urgent, options):
    t = TCPHeader(sport, dport, seq, ack, flags, window, checksum, urgent, options)
    raw = t.build()
    p = TCPHeader.parse(raw)
    assert (p.src_port, p.dst_port, p.seq, p.ack, int(p.flags), p.window, p.checksum,
            p.urgent) == (sport, dport, seq, ack, flags, window, checksum, urgent)
    assert [o for o in p.options if o.kind != 0] == options  # EOL = padding
    assert p.build() == raw


@SETTINGS
@given(ip4_addr, ip4_addr, u8, u8, u16, st.booleans(), st.booleans(),
       st.integers(0, 0x1FFF), u8, st.binary(max_size=40).map(lambda b: b + bytes(-len(b) % 4)),
       st.binary(max_size=30))
def test_ipv4_round_trip(src, dst, proto, ttl, ident, df, mf, frag, tos, options, payload):
    ip = IPv4Header(src, dst, proto, ttl, ident, df, mf, frag * 8, tos, options=options)
    raw = ip.build(payload)
    p = IPv4Header.parse(raw)
    assert (p.src, p.dst, p.proto, p.ttl, p.id, p.dont_fragment, p.more_fragments,
            p.frag_offset, p.tos, p.options, p.total_len) == (
        src, dst, proto, ttl, ident, df, mf, frag * 8, tos, options, len(raw))
    assert p.verify_checksum(raw[:p.header_len])
    assert p.build(payload) == raw


ext_header = st.one_of(
    st.just(IPv6Options(0, data=b"\x01\x04" + bytes(4))),
    st.integers(0, 3).map(lambda n: IPv6Routing(43, data=bytes([0, n, 0, 0, 0, 0])
                                                + bytes(16 * n))),
    st.tuples(st.integers(0, 0x1FFF), st.booleans(), u32).map(
        lambda t: IPv6Fragment(frag_offset=0, more_fragments=t[1], id=t[2])),
)


@SETTINGS
@given(u8, st.integers(0, 0xFFFFF), u8, st.lists(ext_header, max_size=4),
       st.sampled_from([6, 17, 58, 59]), st.binary(max_size=20))
def test_ipv6_round_trip(tc, flow, hlim, exts, upper, payload):
    ip = IPv6Header("2001:db8::1", "fe80::1", None, hlim, tc, flow, ext_headers=exts)
    raw = ip.build(payload, upper_proto=upper)
    p = IPv6Header.parse(raw)
    assert (p.traffic_class, p.flow_label, p.hop_limit, p.proto, p.payload_len) == (
        tc, flow, hlim, upper, len(raw) - 40)
    assert [type(e) for e in p.ext_headers] == [type(e) for e in exts]
    assert p.header_len == 40 + sum(e.header_len for e in exts)
    assert p.build(payload) == raw


@SETTINGS
@given(mac, mac, u16, st.integers(0, 4095), st.integers(0, 7), st.integers(0, 1),
       u16, u16, u16, u16)
def test_l2_and_udp_round_trip(dst, src, etype, vid, pcp, dei, sport, dport, length, csum):
    e = EthernetHeader(dst, src, etype)
    assert EthernetHeader.parse(e.build()) == e
    v = VLANTag(vid, pcp, dei, etype)
    assert VLANTag.parse(v.build()) == v
    u = UDPHeader(sport, dport, length, csum)
    assert UDPHeader.parse(u.build()) == u and UDPHeader.parse(u.build()).build() == u.build()


@SETTINGS
@given(st.binary(min_size=8, max_size=64))
def test_parse_build_identity_on_random_headers(raw):
    for cls in (UDPHeader, ICMPHeader, EthernetHeader, VLANTag):
        if len(raw) >= cls.header_len:
            x = raw[:cls.header_len]
            assert cls.parse(x).build() == x
