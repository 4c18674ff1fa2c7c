"""RFC 1071 checksum and the IPv4/IPv6 pseudo-headers, including the IPv6 final-destination
(type 0 routing header) and Home Address option rules, on Zeek's checksum captures."""

from __future__ import annotations

import random

import pytest

import wirekit
from wirekit import anomalies as A
from wirekit.wire import IPv4Header, IPv6Header, IPv6Options, IPv6Routing, TCPHeader
from wirekit.wire.checksum import (
    internet_checksum,
    ipv6_pseudo_addresses,
    ones_sum,
    pseudo_header_v4,
    pseudo_header_v6,
    verify_l4_checksum,
)
from wire_helpers import DATA, h, ref_checksum


@pytest.mark.parametrize("data, expected", [
    # RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to 0xddf2, checksum 0x220d.
    (h("00 01 f2 03 f4 f5 f6 f7"), 0x220D),
    # The classic IPv4 header (checksum field zeroed) whose checksum is 0xb861.
    (h("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7"), 0xB861),
    (b"", 0xFFFF),
    (b"\x00\x00", 0xFFFF),
    (b"\xff\xff", 0x0000),          # sum is "negative zero"
    (h("01"), 0xFEFF),               # odd length: padded with a zero byte on the right
    (h("ab cd ef"), ~(0xABCD + 0xEF00 - 0xFFFF) & 0xFFFF),
])
def test_internet_checksum_table(data, expected):
    assert internet_checksum(data) == expected
    assert ref_checksum(data) == expected


def test_internet_checksum_matches_reference_on_random_data():
    rng = random.Random(1071)
    for n in list(range(0, 70)) + [1500, 1501, 9000]:
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert internet_checksum(data) == ref_checksum(data), n


def test_ones_sum_composes():
    a, b = h("4500 0073 0000 4000"), h("4011 0000 c0a8 0001 c0a8 00c7")
    assert internet_checksum(b, ones_sum(a)) == 0xB861


def test_ipv4_header_with_checksum_verifies():
    raw = h("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")
    assert ones_sum(raw) == 0xFFFF
    assert IPv4Header.parse(raw).verify_checksum(raw)
    bad = raw[:10] + b"\xb8\x62" + raw[12:]
    assert not IPv4Header.parse(bad).verify_checksum(bad)


def test_pseudo_headers_layout():
    assert pseudo_header_v4(h("c0a80001"), h("c0a800c7"), 6, 40) == h(
        "c0a80001 c0a800c7 00 06 0028")
    src, dst = bytes(range(16)), bytes(range(16, 32))
    assert pseudo_header_v6(src, dst, 17, 0x10203) == src + dst + h("00010203 000000 11")


def _addr(i: int) -> str:
    return f"2001:db8::{i}"


def test_ipv6_pseudo_addresses_rules():
    import ipaddress
    packed = lambda a: ipaddress.IPv6Address(a).packed  # noqa: E731
    base = dict(src=_addr(1), dst=_addr(2))
    assert ipv6_pseudo_addresses(IPv6Header(**base)) == (packed(_addr(1)), packed(_addr(2)))
    # Type 0 routing header, segments left 2: the last address is the final destination.
    rh0 = IPv6Routing(43, 6, bytes([0, 2, 0, 0, 0, 0]) + packed(_addr(7)) + packed(_addr(8)))
    assert ipv6_pseudo_addresses(IPv6Header(**base, ext_headers=[rh0])) == (
        packed(_addr(1)), packed(_addr(8)))
    # Segments left 0: the header's destination already is the final one.
    rh0_done = IPv6Routing(43, 6, bytes([0, 0, 0, 0, 0, 0]) + packed(_addr(7)))
    assert ipv6_pseudo_addresses(IPv6Header(**base, ext_headers=[rh0_done]))[1] == packed(
        _addr(2))
    # Home Address destination option (201, 16 bytes) replaces the source (RFC 6275 6.3).
    hao = IPv6Options(60, 6, h("01 02 0000") + bytes([201, 16]) + packed(_addr(9)))
    assert ipv6_pseudo_addresses(IPv6Header(**base, ext_headers=[hao])) == (
        packed(_addr(9)), packed(_addr(2)))


CHECKSUM_FILES = {
    # file: (expected anomalies, per Zeek's core.checksums / core.mobility-checksums)
    "ip4-bad-chksum.pcap": [A.BAD_IP_CHECKSUM],
    "ip4-tcp-bad-chksum.pcap": [A.BAD_L4_CHECKSUM],
    "ip4-tcp-good-chksum.pcap": [],
    "ip6-tcp-bad-chksum.pcap": [A.BAD_L4_CHECKSUM],
    "ip6-route0-tcp-bad-chksum.pcap": [A.IPV6_ROUTING0_HDR, A.BAD_L4_CHECKSUM],
    "ip6-route0-tcp-good-chksum.pcap": [A.IPV6_ROUTING0_HDR],
    "ip6-hoa-tcp-bad-chksum.pcap": [A.BAD_L4_CHECKSUM],
    "ip6-hoa-tcp-good-chksum.pcap": [],
}


@pytest.mark.parametrize("name", sorted(CHECKSUM_FILES))
def test_zeek_checksum_captures(name):
    pkts = list(wirekit.open(DATA / "checksums" / name))
    assert len(pkts) == 1
    d = pkts[0].decode()
    assert d.anomalies == CHECKSUM_FILES[name]
    if "ip6" in name:
        assert d.ip_checksum_ok is None
    else:
        assert d.ip_checksum_ok is (A.BAD_IP_CHECKSUM not in CHECKSUM_FILES[name])
    if d.tcp is not None:
        assert d.l4_checksum_ok is (A.BAD_L4_CHECKSUM not in CHECKSUM_FILES[name])


@pytest.mark.parametrize("name", ["ip6-route0-tcp-good-chksum.pcap",
                                  "ip6-hoa-tcp-good-chksum.pcap"])
def test_ipv6_special_checksums_fail_with_naive_pseudo_header(name):
    """The good captures verify only with the RFC 8200 8.1 / RFC 6275 6.3 addresses: a
    pseudo-header built from the plain header addresses gets them wrong."""
    d = next(iter(wirekit.open(DATA / "checksums" / name))).decode()
    seg = d.l4_segment
    assert verify_l4_checksum(d.ip, 6, seg)
    naive = IPv6Header(src=d.ip.src, dst=d.ip.dst)
    assert not verify_l4_checksum(naive, 6, seg)


def test_rebuilt_tcp_checksum_equals_captured_one():
    d = next(iter(wirekit.open(DATA / "checksums" / "ip6-route0-tcp-good-chksum.pcap"))).decode()
    t = d.tcp
    rebuilt = TCPHeader(t.src_port, t.dst_port, t.seq, t.ack, t.flags, t.window, None, t.urgent,
                        t.options, t.header_len).build(d.payload, ip=d.ip)
    assert rebuilt == d.l4_segment
