"""TCP (with options), UDP, ICMP and ICMPv6 headers: hand-verified bytes -> fields,
construct -> exact bytes (checksums against an independent reference), round trips."""

from __future__ import annotations

import pytest

from wirekit.errors import BuildError, DecodeError, TruncatedError
from wirekit.wire import (
    ICMPHeader,
    ICMPType,
    ICMPv6Header,
    ICMPv6Type,
    IPv4Header,
    IPv6Header,
    TCPFlags,
    TCPHeader,
    TCPOption,
    UDPHeader,
)
from wirekit.wire.tcp import parse_options
from wire_helpers import h, ref_checksum

IP4 = IPv4Header(src="10.0.0.1", dst="10.0.0.2", proto=6)
IP6 = IPv6Header(src="2001:db8::1", dst="2001:db8::2", next_header=58)
PSEUDO4_TCP = h("0a000001 0a000002 00 06")

# SYN, ports 1234 > 80, seq 1, data offset 10 (40 bytes), window 65535, checksum 0x2eda
# (reference sum over the pseudo-header), options MSS 1460, SACK-permitted, timestamps 1/0,
# NOP, window scale 7.
SYN = h("04d2 0050 00000001 00000000 a002 ffff 2eda 0000"
        "020405b4 0402 080a 00000001 00000000 01 030307")


def test_tcp_syn_fields():
    t = TCPHeader.parse(SYN)
    assert (t.src_port, t.dst_port, t.seq, t.ack, t.header_len) == (1234, 80, 1, 0, 40)
    assert (t.flags, t.window, t.checksum, t.urgent, t.reserved) == (TCPFlags.SYN, 65535,
                                                                     0x2EDA, 0, 0)
    assert [(o.kind, o.name, o.value) for o in t.options] == [
        (2, "mss", 1460), (4, "sack_permitted", None), (8, "timestamps", (1, 0)),
        (1, "nop", None), (3, "wscale", 7)]
    assert t.mss == 1460 and t.options_ok
    assert t.verify_checksum(IP4, SYN)
    assert t.build() == SYN
    assert str(t) == ("TCP 1234 > 80: Flags [S], seq 1, ack 0, win 65535, options "
                      "[mss 1460, sackOK, TS val 1 ecr 0, wscale 7]")


def test_tcp_construct_computes_offset_and_checksum():
    t = TCPHeader(src_port=1234, dst_port=80, seq=1, flags=TCPFlags.SYN, options=[
        TCPOption.mss(1460), TCPOption.sack_permitted(), TCPOption.timestamps(1, 0),
        TCPOption.nop(), TCPOption.wscale(7)])
    assert t.build(ip=IP4) == SYN
    zeroed = SYN[:16] + b"\x00\x00" + SYN[18:]
    assert ref_checksum(PSEUDO4_TCP + len(SYN).to_bytes(2, "big") + zeroed) == 0x2EDA


def test_tcp_options_are_padded_to_words():
    t = TCPHeader(src_port=1, dst_port=2, flags=TCPFlags.ACK, checksum=0,
                  options=[TCPOption.mss(536)])
    raw = t.build(b"data")
    assert raw == h("0001 0002 00000000 00000000 6010 ffff 0000 0000 02040218") + b"data"
    t2 = TCPHeader(src_port=1, dst_port=2, checksum=0, options=[TCPOption.wscale(2)])
    assert t2.build()[20:] == h("030302 00")  # padded with a zero (EOL) byte


@pytest.mark.parametrize("flag_bytes, doff, flags, reserved", [
    (h("51ff"), 20, 0x1FF, 0),    # NS/AE and all eight flags
    (h("5e00"), 20, 0, 7),        # the three reserved bits
    (h("50c2"), 20, TCPFlags.SYN | TCPFlags.ECE | TCPFlags.CWR, 0),  # ECN setup SYN
])
def test_tcp_flag_bits(flag_bytes, doff, flags, reserved):
    raw = h("0001 0002 00000000 00000000") + flag_bytes + h("0000 0000 0000")
    t = TCPHeader.parse(raw)
    assert (t.header_len, int(t.flags), t.reserved) == (doff, int(flags), reserved)
    assert isinstance(t.flags, TCPFlags)
    assert t.build() == raw


def test_tcp_flag_names():
    assert TCPFlags.NS == TCPFlags.AE == 0x100
    assert TCPFlags(0x1FF) == (TCPFlags.FIN | TCPFlags.SYN | TCPFlags.RST | TCPFlags.PSH
                               | TCPFlags.ACK | TCPFlags.URG | TCPFlags.ECE | TCPFlags.CWR
                               | TCPFlags.NS)


@pytest.mark.parametrize("raw, expected, ok", [
    # SACK with two blocks
    (h("0101 0512 00000064 000000c8 0000012c 00000190"),
     [(1, None), (1, None), (5, [(100, 200), (300, 400)])], True),
    # MPTCP (30) and an unknown kind 99: kept raw
    (h("1e04abcd 6303ee 00"), [(30, h("abcd")), (99, h("ee")), (0, None)], True),
    # EOL followed by padding: the padding stays in the EOL's data (round trip)
    (h("020405b4 00000000"), [(2, 1460), (0, None)], True),
    # MSS with a wrong length: kept raw
    (h("0203 05 00"), [(2, h("05")), (0, None)], True),
    # a length of 0 and a length past the end: malformed, rest kept verbatim
    (h("01 0200 0000"), [(1, None), (2, h("02000000"))], False),
    (h("01 08 0a 0000"), [(1, None), (8, h("080a0000"))], False),
])
def test_tcp_option_table(raw, expected, ok):
    opts, parsed_ok = parse_options(raw)
    assert parsed_ok is ok
    assert [(o.kind, o.value) for o in opts] == expected
    assert b"".join(o.build() for o in opts) == raw


def test_tcp_option_text():
    opts, _ = parse_options(h("0101 0512 00000064 000000c8 0000012c 00000190 0402 1e04abcd"))
    assert [str(o) for o in opts] == ["nop", "nop", "sack 2 {100:200}{300:400}", "sackOK",
                                      "mptcp-30 0xabcd"]


def test_tcp_option_json():
    opts, _ = parse_options(h("020405b4 0402 080a 00000001 00000002 0101 050a 0000000a 00000014"
                              " 0303 07 6303ee"))
    assert [o.to_json() for o in opts] == [
        {"kind": 2, "name": "mss", "value": 1460},
        {"kind": 4, "name": "sack_permitted"},
        {"kind": 8, "name": "timestamps", "value": [1, 2]},
        {"kind": 1, "name": "nop"}, {"kind": 1, "name": "nop"},
        {"kind": 5, "name": "sack", "value": [[10, 20]]},
        {"kind": 3, "name": "wscale", "value": 7},
        {"kind": 99, "name": "unknown", "value": "ee"},
    ]


@pytest.mark.parametrize("raw, error", [
    (SYN[:19], TruncatedError),
    (SYN[:39], TruncatedError),                       # options cut
    (SYN[:12] + h("4002") + SYN[14:20], DecodeError),  # data offset 4
])
def test_tcp_parse_errors(raw, error):
    with pytest.raises(error):
        TCPHeader.parse(raw)


@pytest.mark.parametrize("hdr", [
    TCPHeader(src_port=70000, checksum=0),
    TCPHeader(seq=1 << 32, checksum=0),
    TCPHeader(flags=0x200, checksum=0),
    TCPHeader(header_len=22, checksum=0),
    TCPHeader(options=[TCPOption(2, bytes(41))], checksum=0),
    TCPHeader(),  # checksum unset and no IP header given
])
def test_tcp_build_errors(hdr):
    with pytest.raises(BuildError):
        hdr.build()


# ports 53 > 54321, length 12, checksum 0x52a6 (reference), payload "abcd"
UDP = h("0035 d431 000c 52a6") + b"abcd"


def test_udp():
    u = UDPHeader.parse(UDP)
    assert (u.src_port, u.dst_port, u.length, u.len, u.checksum) == (53, 54321, 12, 12, 0x52A6)
    ip = IPv4Header(src="10.0.0.1", dst="10.0.0.2", proto=17)
    assert u.verify_checksum(ip, UDP)
    assert u.build(b"abcd") == UDP
    assert UDPHeader(src_port=53, dst_port=54321).build(b"abcd", ip=ip) == UDP
    assert str(u) == "UDP 53 > 54321: length 12"
    # Checksum 0 over IPv4 = none (RFC 768); over IPv6 it is wrong (RFC 8200 8.1).
    none = UDP[:6] + b"\x00\x00" + UDP[8:]
    assert UDPHeader.parse(none).verify_checksum(ip, none)
    assert not UDPHeader.parse(none).verify_checksum(IP6, none)
    with pytest.raises(TruncatedError):
        UDPHeader.parse(UDP[:7])
    with pytest.raises(BuildError):
        UDPHeader(src_port=1, dst_port=2).build(b"")


def test_udp_zero_checksum_is_sent_as_all_ones():
    # A segment whose checksum computes to 0 is sent as 0xFFFF (RFC 768).
    ip = IPv4Header(src="0.0.0.0", dst="0.0.0.0", proto=17)
    # pseudo (0x11 + 8) + header (8) ... choose ports so the sum is 0xFFFF: 0x11+8+8=0x21
    u = UDPHeader(src_port=0xFFFF - 0x21, dst_port=0, length=8)
    raw = u.build(b"", ip=ip)
    assert raw[6:8] == b"\xff\xff"
    assert UDPHeader.parse(raw).verify_checksum(ip, raw)


ECHO = h("0800 f7fd 0001 0001")  # echo request id 1 seq 1; checksum ~0x0802


def test_icmp_echo():
    i = ICMPHeader.parse(ECHO)
    assert (i.type, i.code, i.checksum, i.id, i.seq) == (ICMPType.ECHO_REQUEST, 0, 0xF7FD, 1, 1)
    assert i.verify_checksum(None, ECHO)
    assert i.build() == ECHO
    assert ICMPHeader.echo(1, 1).build() == ECHO
    assert str(i) == "ICMP echo request, id 1, seq 1"
    assert str(ICMPHeader(type=3, code=3, checksum=0)) == "ICMP unreachable, code 3"
    unknown = ICMPHeader.parse(h("2a 05 0000 00000000"))
    assert type(unknown.type) is int and str(unknown) == "ICMP type 42, code 5"
    with pytest.raises(TruncatedError):
        ICMPHeader.parse(ECHO[:7])


# ICMPv6 echo request id 0x1234 seq 1 + "ping", checksum 0x333e over the IPv6 pseudo-header
ECHO6 = h("8000 333e 1234 0001") + b"ping"


def test_icmpv6_echo():
    i = ICMPv6Header.parse(ECHO6)
    assert (i.type, i.code, i.id, i.seq) == (ICMPv6Type.ECHO_REQUEST, 0, 0x1234, 1)
    assert i.verify_checksum(IP6, ECHO6)
    assert not i.verify_checksum(IPv6Header(src="2001:db8::3", dst="2001:db8::2"), ECHO6)
    assert ICMPv6Header.echo(0x1234, 1).build(b"ping", ip=IP6) == ECHO6
    assert str(i) == "ICMP6 echo request, id 4660, seq 1"
    with pytest.raises(BuildError):
        ICMPv6Header.echo(1, 1).build(b"")  # pseudo-header needs the IP header
