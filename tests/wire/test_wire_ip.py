"""IPv4 and IPv6 headers: hand-verified bytes -> fields, construct -> bytes, round trips,
the IPv6 extension-header walk and the errors of a direct parse."""

from __future__ import annotations

import pytest

from wirekit.errors import BuildError, DecodeError, TruncatedError
from wirekit.wire import (
    IPProto,
    IPv4Header,
    IPv4Option,
    IPv6AH,
    IPv6Fragment,
    IPv6Header,
    IPv6Options,
    IPv6Routing,
)
from wire_helpers import h

# The classic example header: 20 bytes, total 115, DF, TTL 64, UDP, checksum 0xb861.
V4_PLAIN = h("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")
# IHL 6 with a Router Alert option (RFC 2113: 94 04 0000), total 32, id 0x1234, MF with
# offset 185 units = 1480 bytes, TTL 1, TCP; checksum 0xdde4 worked out by hand.
V4_OPTS = h("4600 0020 1234 20b9 0106 dde4 0a00 0001 0a00 0002 9404 0000")


def test_ipv4_plain_fields():
    ip = IPv4Header.parse(V4_PLAIN)
    assert (ip.version, ip.header_len, ip.tos, ip.total_len, ip.id) == (4, 20, 0, 115, 0)
    assert (ip.dont_fragment, ip.more_fragments, ip.frag_offset, ip.reserved_flag) == (
        True, False, 0, False)
    assert (ip.ttl, ip.proto, ip.checksum, ip.src, ip.dst) == (
        64, IPProto.UDP, 0xB861, "192.168.0.1", "192.168.0.199")
    assert ip.options == b"" and not ip.is_fragment
    assert ip.verify_checksum(V4_PLAIN)
    assert ip.build() == V4_PLAIN


def test_ipv4_options_and_fragment_fields():
    ip = IPv4Header.parse(V4_OPTS)
    assert (ip.header_len, ip.total_len, ip.id, ip.ttl, ip.proto) == (24, 32, 0x1234, 1, 6)
    assert (ip.dont_fragment, ip.more_fragments, ip.frag_offset) == (False, True, 1480)
    assert ip.options == h("94040000")
    assert ip.parsed_options() == [IPv4Option(0x94, b"\x00\x00")]
    assert ip.is_fragment and ip.verify_checksum(V4_OPTS)
    assert ip.build() == V4_OPTS
    assert str(ip) == "IP 10.0.0.1 > 10.0.0.2: proto 6, ttl 1, id 4660, len 32, frag offset 1480+"


def test_ipv4_construct_computes_lengths_and_checksum():
    ip = IPv4Header(src="192.168.0.1", dst="192.168.0.199", proto=17, ttl=64, id=0,
                    dont_fragment=True)
    assert ip.build(bytes(95)) == V4_PLAIN + bytes(95)
    opt = IPv4Header(src="10.0.0.1", dst="10.0.0.2", proto=6, ttl=1, id=0x1234,
                     more_fragments=True, frag_offset=1480,
                     options=IPv4Header.encode_options([IPv4Option(0x94, b"\x00\x00")]))
    assert opt.build(bytes(8)) == V4_OPTS + bytes(8)


def test_ipv4_option_list_parsing():
    ip = IPv4Header(options=h("01 01 83 07 04 0a000001 00"))  # NOP NOP LSRR(len 7) EOL
    assert ip.parsed_options() == [IPv4Option(1), IPv4Option(1),
                                   IPv4Option(0x83, h("04 0a000001")), IPv4Option(0)]
    with pytest.raises(DecodeError):
        IPv4Header(options=h("83 09 04 0a 00 00 01 00")).parsed_options()


@pytest.mark.parametrize("raw, error", [
    (V4_PLAIN[:19], TruncatedError),
    (h("65") + V4_PLAIN[1:], DecodeError),         # version 6
    (h("44") + V4_PLAIN[1:], DecodeError),         # IHL 4 < 5
    (h("46") + V4_PLAIN[1:], TruncatedError),      # IHL 6, only 20 bytes
])
def test_ipv4_parse_errors(raw, error):
    with pytest.raises(error):
        IPv4Header.parse(raw)


@pytest.mark.parametrize("kwargs", [
    dict(proto=None), dict(proto=6, ttl=256), dict(proto=6, frag_offset=7),
    dict(proto=6, src="10.0.0"), dict(proto=6, header_len=18), dict(proto=6, options=bytes(41)),
])
def test_ipv4_build_errors(kwargs):
    with pytest.raises(BuildError):
        IPv4Header(**kwargs).build()


SRC6 = "2001:db8::1"
DST6 = "2001:db8::2"
A6_SRC = h("20010db8 00000000 00000000 00000001")
A6_DST = h("20010db8 00000000 00000000 00000002")
# version 6, traffic class 0xb8, flow label 0xabcde, payload 8, UDP, hop limit 64
V6_PLAIN = h("6b8abcde 0008 11 40") + A6_SRC + A6_DST

HBH = h("2b 00 01 04 00000000")                     # -> routing; PadN(4)
RH0 = h("2c 02 00 01 00000000") + h("20010db8 0000 0000 0000 0000 0000 0009")  # -> frag
FRAG = h("3c 00 0001 deadbeef")                     # -> dest opts; offset 0, M=1, id
DST_OPTS = h("33 00 01 04 00000000")                # -> AH; PadN(4)
AH = h("06 04 0000 00000100 00000007") + bytes(12)  # -> TCP; 24 bytes: (4 + 2) * 4
CHAIN = HBH + RH0 + FRAG + DST_OPTS + AH


def test_ipv6_plain_fields():
    ip = IPv6Header.parse(V6_PLAIN)
    assert (ip.version, ip.traffic_class, ip.flow_label, ip.payload_len) == (6, 0xB8, 0xABCDE, 8)
    assert (ip.next_header, ip.proto, ip.hop_limit, ip.ttl) == (17, 17, 64, 64)
    assert (ip.src, ip.dst, ip.header_len, ip.total_len) == (SRC6, DST6, 40, 48)
    assert (ip.id, ip.frag_offset, ip.more_fragments, ip.ext_headers) == (0, 0, False, [])
    assert ip.build() == V6_PLAIN
    assert IPv6Header(src=SRC6, dst=DST6, next_header=17, hop_limit=64, traffic_class=0xB8,
                      flow_label=0xABCDE).build(bytes(8)) == V6_PLAIN + bytes(8)


def test_ipv6_extension_chain():
    raw = h("60000000") + len(CHAIN).to_bytes(2, "big") + h("00 40") + A6_SRC + A6_DST + CHAIN
    ip = IPv6Header.parse(raw)
    assert [type(e) for e in ip.ext_headers] == [IPv6Options, IPv6Routing, IPv6Fragment,
                                                 IPv6Options, IPv6AH]
    assert [e.proto for e in ip.ext_headers] == [0, 43, 44, 60, 51]
    assert [e.header_len for e in ip.ext_headers] == [8, 24, 8, 8, 24]
    assert (ip.next_header, ip.proto, ip.header_len) == (0, IPProto.TCP, 112)
    hbh, rh, frag, dst, ah = ip.ext_headers
    assert hbh.options() == [(1, b"\x00\x00\x00\x00")]
    assert (rh.routing_type, rh.segments_left, rh.addresses) == (0, 1, ["2001:db8::9"])
    assert rh.final_destination == h("20010db8 0000 0000 0000 0000 0000 0009")
    assert (frag.frag_offset, frag.more_fragments, frag.id) == (0, True, 0xDEADBEEF)
    assert (ip.id, ip.more_fragments, ip.is_fragment) == (0xDEADBEEF, True, True)
    assert (ah.spi, ah.seq) == (0x100, 7)
    assert ip.build() == raw
    # Construct: next headers and the payload length left unset are filled in.
    built = IPv6Header(src=SRC6, dst=DST6, hop_limit=64, ext_headers=[
        IPv6Options(0, data=HBH[2:]), IPv6Routing(43, data=RH0[2:]),
        IPv6Fragment(more_fragments=True, id=0xDEADBEEF), IPv6Options(60, data=DST_OPTS[2:]),
        IPv6AH(data=AH[2:])]).build(upper_proto=6)
    assert built == raw


def test_ipv6_walk_stops_at_esp_and_no_next_header():
    esp = h("60000000 0010 00 40") + A6_SRC + A6_DST + h("32 00 01 04 00000000") + bytes(8)
    ip = IPv6Header.parse(esp)
    assert (ip.proto, len(ip.ext_headers), ip.header_len) == (IPProto.ESP, 1, 48)
    none = h("60000000 0000 3b 40") + A6_SRC + A6_DST
    assert IPv6Header.parse(none).proto == IPProto.IPV6_NONXT


def test_ipv6_later_fragment_stops_the_walk():
    # Fragment at offset 8 whose next header claims hop-by-hop: that is fragment data.
    raw = h("60000000 0010 2c 40") + A6_SRC + A6_DST + h("00 00 0008 00000001") + bytes(8)
    ip = IPv6Header.parse(raw)
    assert (len(ip.ext_headers), ip.frag_offset, ip.proto, ip.header_len) == (1, 8, 0, 48)


@pytest.mark.parametrize("raw, error", [
    (V6_PLAIN[:39], TruncatedError),
    (h("4b8abcde") + V6_PLAIN[4:], DecodeError),
    # hop-by-hop claiming 16 bytes, 8 present
    (h("60000000 0008 00 40") + A6_SRC + A6_DST + h("11 01 01 04 00000000"), TruncatedError),
    # AH claiming (9 + 2) * 4 = 44 bytes
    (h("60000000 0010 33 40") + A6_SRC + A6_DST + h("06 09") + bytes(14), TruncatedError),
])
def test_ipv6_parse_errors(raw, error):
    with pytest.raises(error):
        IPv6Header.parse(raw)


def test_ipv6_too_many_extension_headers():
    n = 17
    chain = b"".join(h("00 00 01 04 00000000") for _ in range(n - 1)) + h("3b 00 01 04 00000000")
    raw = h("60000000") + len(chain).to_bytes(2, "big") + h("00 40") + A6_SRC + A6_DST + chain
    with pytest.raises(DecodeError):
        IPv6Header.parse(raw)
    hdr, problem = IPv6Header.parse_partial(raw)
    assert (problem, len(hdr.ext_headers)) == ("too_many", 16)


def test_ipv6_home_address_option():
    hao = IPv6Options(60, 6, h("01 02 0000 c9 10") + A6_SRC)
    assert hao.options() == [(1, b"\x00\x00"), (201, A6_SRC)]
    assert hao.home_address == A6_SRC
    assert IPv6Options(0, 6, h("01 02 0000 c9 10") + A6_SRC).home_address is None  # HBH


@pytest.mark.parametrize("hdr", [
    IPv6Header(src=SRC6, dst=DST6),  # next header unset, nothing to infer
    IPv6Header(src="1.2.3.4", dst=DST6, next_header=6),
    IPv6Header(src=SRC6, dst=DST6, next_header=6, flow_label=1 << 20),
    IPv6Header(src=SRC6, dst=DST6, ext_headers=[IPv6Options(0, data=b"\x00" * 5)]),
    IPv6Header(src=SRC6, dst=DST6, ext_headers=[IPv6Fragment(6, frag_offset=3)]),
])
def test_ipv6_build_errors(hdr):
    with pytest.raises(BuildError):
        hdr.build(upper_proto=6 if hdr.ext_headers else None)
