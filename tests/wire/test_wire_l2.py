"""Ethernet, VLAN, ARP and the other link layers: hand-verified bytes -> fields, fields ->
exact bytes, round trips and truncation."""

from __future__ import annotations

import pytest

from wirekit.errors import BuildError, TruncatedError
from wirekit.wire import (
    ARPHeader,
    ARPOp,
    EthernetHeader,
    EtherType,
    NullHeader,
    SLL2Header,
    SLLHeader,
    VLANTag,
)
from wire_helpers import h

ETH_CASES = [
    # dst | src | type
    (h("ffffffffffff | 001122334455 | 0806"),
     EthernetHeader("ff:ff:ff:ff:ff:ff", "00:11:22:33:44:55", 0x0806)),
    (h("0a0b0c0d0e0f | 66778899aabb | 86dd"),
     EthernetHeader("0a:0b:0c:0d:0e:0f", "66:77:88:99:aa:bb", 0x86DD)),
    # unknown EtherType: kept as the number
    (h("ffffffffffff | 001122334455 | 1234"),
     EthernetHeader("ff:ff:ff:ff:ff:ff", "00:11:22:33:44:55", 0x1234)),
]


@pytest.mark.parametrize("raw, hdr", ETH_CASES)
def test_ethernet_parse_build(raw, hdr):
    parsed = EthernetHeader.parse(raw)
    assert parsed == hdr
    assert parsed.build() == raw
    assert hdr.build(b"xyz") == raw + b"xyz"


def test_ethernet_enum_keeps_unknown_values():
    assert EthernetHeader.parse(ETH_CASES[0][0]).type is EtherType.ARP
    unknown = EthernetHeader.parse(ETH_CASES[2][0]).type
    assert type(unknown) is int and unknown == 0x1234
    assert str(EthernetHeader.parse(ETH_CASES[0][0])) == (
        "Ethernet 00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff, type 0x0806")


def test_ethernet_errors():
    with pytest.raises(TruncatedError):
        EthernetHeader.parse(h("ffffffffffff 001122334455 08"))
    with pytest.raises(BuildError):
        EthernetHeader(dst="ff:ff", src="00:11:22:33:44:55", type=0x800).build()
    with pytest.raises(BuildError):
        EthernetHeader(type=0x10000).build()
    with pytest.raises(BuildError):
        EthernetHeader().build()  # type unset


@pytest.mark.parametrize("raw, vid, pcp, dei, etype", [
    (h("a064 0800"), 100, 5, 0, 0x0800),     # TCI 1010 0000 0110 0100: PCP 5, VID 100
    (h("3fff 86dd"), 4095, 1, 1, 0x86DD),    # TCI 0011 1111 1111 1111: PCP 1, DEI, VID 4095
    (h("0001 8100"), 1, 0, 0, 0x8100),       # another tag follows
])
def test_vlan_tag(raw, vid, pcp, dei, etype):
    tag = VLANTag.parse(raw, 0, 0x88A8)
    assert (tag.vid, tag.id, tag.pcp, tag.dei, tag.type, tag.tpid) == (
        vid, vid, pcp, dei, etype, 0x88A8)
    assert tag.build() == raw
    assert VLANTag(vid=vid, pcp=pcp, dei=dei, type=etype).build() == raw


def test_vlan_errors():
    with pytest.raises(TruncatedError):
        VLANTag.parse(h("a064 08"))
    with pytest.raises(BuildError):
        VLANTag(vid=4096, type=0x800).build()
    with pytest.raises(BuildError):
        VLANTag(pcp=8, type=0x800).build()


ARP_REQUEST = h("0001 0800 06 04 0001 | 001122334455 0a000001 | 000000000000 0a000002")
ARP_REPLY = h("0001 0800 06 04 0002 | 66778899aabb 0a000002 | 001122334455 0a000001")


def test_arp_request():
    a = ARPHeader.parse(ARP_REQUEST)
    assert (a.op, a.sender_mac, a.sender_ip, a.target_mac, a.target_ip) == (
        ARPOp.REQUEST, "00:11:22:33:44:55", "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2")
    assert (a.hw_type, a.proto_type, a.hw_len, a.proto_len, a.header_len) == (1, 0x800, 6, 4, 28)
    assert a.build() == ARP_REQUEST
    assert str(a) == "ARP, Request who-has 10.0.0.2 tell 10.0.0.1"
    assert ARPHeader(op=1, sender_mac="00:11:22:33:44:55", sender_ip="10.0.0.1",
                     target_ip="10.0.0.2").build() == ARP_REQUEST


def test_arp_reply_and_text():
    a = ARPHeader.parse(ARP_REPLY)
    assert a.op == ARPOp.REPLY and a.build() == ARP_REPLY
    assert str(a) == "ARP, Reply 10.0.0.2 is-at 66:77:88:99:aa:bb"


def test_arp_other_sizes_kept():
    # An ARP for IPv6-sized protocol addresses (plen 16) and 8-byte hardware addresses.
    raw = h("0018 86dd 08 10 0001") + bytes(range(8)) + bytes(16) + bytes(8) + bytes(15) + b"\x01"
    a = ARPHeader.parse(raw)
    assert (a.hw_len, a.proto_len, a.target_ip) == (8, 16, "::1")
    assert a.sender_mac == "00:01:02:03:04:05:06:07"
    assert a.build() == raw


def test_arp_truncated():
    with pytest.raises(TruncatedError):
        ARPHeader.parse(ARP_REQUEST[:7])
    with pytest.raises(TruncatedError):
        ARPHeader.parse(ARP_REQUEST[:27])


@pytest.mark.parametrize("raw, order, family, network_order, etype", [
    (h("02000000"), None, 2, False, 0x0800),   # NULL written little-endian: AF_INET
    (h("00000002"), None, 2, True, 0x0800),    # NULL written big-endian (low 16 bits zero)
    (h("1e000000"), None, 30, False, 0x86DD),  # macOS AF_INET6
    (h("00000018"), True, 24, True, 0x86DD),   # LOOP (108): network order, OpenBSD AF_INET6
    (h("07000000"), None, 7, False, None),     # unknown family
])
def test_null_loop(raw, order, family, network_order, etype):
    hdr = NullHeader.parse(raw, 0, order)
    assert (hdr.family, hdr.network_order, hdr.type) == (family, network_order, etype)
    assert hdr.build() == raw


SLL = h("0000 0001 0006 001122334455 0000 0800")
SLL2 = h("86dd 0000 00000003 0001 04 06 001122334455 0000")


def test_sll():
    s = SLLHeader.parse(SLL)
    assert (s.packet_type, s.arphrd, s.addr, s.addr_len, s.protocol, s.type) == (
        0, 1, "00:11:22:33:44:55", 6, 0x0800, 0x0800)
    assert s.build() == SLL
    assert SLLHeader(packet_type=0, arphrd=1, addr="00:11:22:33:44:55", protocol=0x800).build() \
        == SLL
    with pytest.raises(TruncatedError):
        SLLHeader.parse(SLL[:15])


def test_sll2():
    s = SLL2Header.parse(SLL2)
    assert (s.protocol, s.ifindex, s.arphrd, s.packet_type, s.addr, s.addr_len) == (
        0x86DD, 3, 1, 4, "00:11:22:33:44:55", 6)
    assert s.build() == SLL2
    assert str(s) == "ifindex 3 Out 00:11:22:33:44:55 ethertype 0x86dd"
    with pytest.raises(TruncatedError):
        SLL2Header.parse(SLL2[:19])
