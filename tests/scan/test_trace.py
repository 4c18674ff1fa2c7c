"""The sans-IO TCP traceroute: probes with rising TTL, ICMP time exceeded, the target's answer."""

from __future__ import annotations

import ipaddress
import struct

from wirekit.scan.engine import probe_seq
from wirekit.scan.trace import TCPTrace

SRC, DST = "192.0.2.1", "198.51.100.9"


def time_exceeded(router: str, probe: bytes) -> bytes:
    icmp = struct.pack("!BBHI", 11, 0, 0, 0) + probe[:28]
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0,
                       ipaddress.IPv4Address(router).packed, ipaddress.IPv4Address(SRC).packed) + icmp


def answer(probe: bytes, flags: int) -> bytes:
    sport, dport, seq = struct.unpack_from("!HHI", probe, 20)
    tcp = struct.pack("!HHIIBBHHH", dport, sport, 7, seq + 1, 5 << 4, flags, 1000, 0, 0)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 61, 6, 0,
                       ipaddress.IPv4Address(DST).packed, ipaddress.IPv4Address(SRC).packed) + tcp


def test_probes_rise_in_ttl_with_keyed_sequence_numbers():
    tr = TCPTrace(DST, 80, src=SRC, max_hops=5, rate_pps=0, secret=b"t" * 16, base_port=40000)
    probes = tr.poll_send(0)
    assert [p[8] for p in probes] == [1, 2, 3, 4, 5]
    for ttl, p in enumerate(probes, 1):
        sport, dport, seq = struct.unpack_from("!HHI", p, 20)
        assert (sport, dport) == (40000 + ttl, 80)
        assert seq == probe_seq(b"t" * 16, 4, int(ipaddress.IPv4Address(DST)), 80, sport)


def test_hops_then_target_ends_the_trace():
    tr = TCPTrace(DST, 80, src=SRC, max_hops=8, rate_pps=0, retries=0, wait_ns=1000,
                  secret=b"t" * 16)
    probes = tr.poll_send(100)
    assert len(probes) == 8
    h = tr.receive(time_exceeded("10.0.0.1", probes[0]), 150)
    assert (h.hop, h.addr, h.kind, h.rtt_ns) == (1, "10.0.0.1", "time-exceeded", 50)
    # the target answers the TTL-3 and TTL-4 probes; the smallest is its distance
    assert tr.receive(answer(probes[3], 0x12), 180).hop == 4
    assert tr.receive(answer(probes[2], 0x12), 190).hop == 3
    assert tr.advance(200) is None  # hop 2 still missing
    tr.receive(time_exceeded("10.0.1.1", probes[1]), 210)
    hops = tr.advance(211)
    assert [(h.hop, h.addr, h.kind, h.reached) for h in hops] == [
        (1, "10.0.0.1", "time-exceeded", False), (2, "10.0.1.1", "time-exceeded", False),
        (3, DST, "syn-ack", True)]
    assert tr.done


def test_silent_hops_and_foreign_icmp():
    tr = TCPTrace(DST, 80, src=SRC, max_hops=3, rate_pps=0, retries=0, wait_ns=1000,
                  secret=b"t" * 16)
    probes = tr.poll_send(0)
    other = TCPTrace(DST, 80, src=SRC, max_hops=3, rate_pps=0, secret=b"x" * 16,
                     base_port=tr.base_port)
    assert tr.receive(time_exceeded("10.0.0.1", other.poll_send(0)[0]), 5) is None  # not ours
    tr.receive(answer(probes[2], 0x14), 10)  # RST from the target at TTL 3
    assert tr.advance(500) is None  # hops 1 and 2 may still answer
    hops = tr.advance(1000)
    assert [(h.hop, h.addr, h.kind) for h in hops] == [(1, None, "none"), (2, None, "none"),
                                                      (3, DST, "rst")]
