"""Overlap geometries, each under every policy, IPv4 and IPv6, with the bytes each policy
must give written out.

A datagram of six 8-byte units: unit 0 ('0') first, then an existing fragment A, then a new
fragment B overlapping it as the geometry says, then '.' fragments filling the units A and B
leave empty, then the last unit ('L'). The expected string has one letter per unit.
"""

from __future__ import annotations

import struct

import pytest

import wirekit
from wirekit.reasm.defrag import Defragmenter, Outcome

LINKTYPE_RAW = 101

# name: (A units [start, end), B units [start, end))
GEOMETRIES = {
    "overlap_left": ((2, 4), (1, 3)),
    "overlap_right": ((1, 3), (2, 4)),
    "contained": ((1, 4), (2, 3)),
    "containing": ((2, 3), (1, 4)),
    "exact_duplicate": ((1, 3), (1, 3)),
    "same_start_shorter": ((1, 4), (1, 2)),
    "same_start_longer": ((1, 2), (1, 4)),
    "same_end_shorter": ((1, 4), (3, 4)),
    "same_end_longer": ((3, 4), (1, 4)),
    "adjacent": ((1, 2), (2, 3)),
}

EXPECTED = {
    #                     first     last      bsd       linux     bsd-right windows   solaris
    "overlap_left":       ("0BAA.L", "0BBA.L", "0BBA.L", "0BBA.L", "0BAA.L", "0BAA.L", "0BAA.L"),
    "overlap_right":      ("0AAB.L", "0ABB.L", "0AAB.L", "0AAB.L", "0ABB.L", "0AAB.L", "0AAB.L"),
    "contained":          ("0AAA.L", "0ABA.L", "0AAA.L", "0AAA.L", "0AAA.L", "0AAA.L", "0AAA.L"),
    "containing":         ("0BAB.L", "0BBB.L", "0BBB.L", "0BBB.L", "0BBB.L", "0BBB.L", "0BBB.L"),
    "exact_duplicate":    ("0AA..L", "0BB..L", "0AA..L", "0BB..L", "0BB..L", "0AA..L", "0AA..L"),
    "same_start_shorter": ("0AAA.L", "0BAA.L", "0AAA.L", "0BAA.L", "0AAA.L", "0AAA.L", "0AAA.L"),
    "same_start_longer":  ("0ABB.L", "0BBB.L", "0ABB.L", "0BBB.L", "0BBB.L", "0ABB.L", "0ABB.L"),
    "same_end_shorter":   ("0AAA.L", "0AAB.L", "0AAA.L", "0AAA.L", "0AAA.L", "0AAA.L", "0AAA.L"),
    "same_end_longer":    ("0BBA.L", "0BBB.L", "0BBB.L", "0BBB.L", "0BBB.L", "0BBA.L", "0BBB.L"),
    "adjacent":           ("0AB..L", "0AB..L", "0AB..L", "0AB..L", "0AB..L", "0AB..L", "0AB..L"),
}
POLICIES = ["first", "last", "bsd", "linux", "bsd-right", "windows", "solaris"]

SRC4, DST4 = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def ipv4_fragment(ip_id: int, offset: int, more: bool, payload: bytes, proto: int = 17) -> bytes:
    flags_offset = (0x2000 if more else 0) | (offset // 8)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ip_id, flags_offset, 64, proto, 0, SRC4, DST4)
    return header + payload


def ipv6_fragment(ip_id: int, offset: int, more: bool, payload: bytes, proto: int = 17) -> bytes:
    frag = struct.pack("!BBHI", proto, 0, offset | int(more), ip_id)
    fixed = struct.pack("!IHBB16s16s", 0x60000000, len(frag) + len(payload), 44, 64, SRC6, DST6)
    return fixed + frag + payload


def fragments(build, a, b, a_fill=b"A", b_fill=b"B"):
    """The fragment sequence of a geometry, as (offset, more, payload) units."""
    covered = set(range(*a)) | set(range(*b))
    seq = [(0, True, b"0" * 8)]
    seq.append((a[0] * 8, True, a_fill * 8 * (a[1] - a[0])))
    seq.append((b[0] * 8, True, b_fill * 8 * (b[1] - b[0])))
    seq += [(u * 8, True, b"." * 8) for u in range(1, 5) if u not in covered]
    seq.append((40, False, b"L" * 8))
    return [build(77, off, more, data) for off, more, data in seq]


def reassemble(policy: str, frames: list[bytes]):
    d = Defragmenter(policy=policy)
    done, events = [], []
    for i, frame in enumerate(frames):
        outcome, pkt, ev = d.push(wirekit.Packet(frame, ts_ns=1000 + i, linktype=LINKTYPE_RAW))
        events += ev
        if i < len(frames) - 1:
            assert outcome is Outcome.HELD, (i, outcome)
        else:
            assert outcome is Outcome.COMPLETED
            done.append(pkt)
    return done[0], [e.code for e in events], d


@pytest.mark.parametrize("ip_version", [4, 6])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_geometry_under_policy(geometry, policy, ip_version):
    a, b = GEOMETRIES[geometry]
    build, header_len = (ipv4_fragment, 20) if ip_version == 4 else (ipv6_fragment, 40)
    pkt, codes, d = reassemble(policy, fragments(build, a, b))
    payload = pkt.data[header_len:]
    assert "".join(chr(payload[i]) for i in range(0, 48, 8)) == EXPECTED[geometry][POLICIES.index(policy)]
    # Every unit is uniform: no fragment was cut mid-unit.
    assert all(payload[i : i + 8] == payload[i : i + 1] * 8 for i in range(0, 48, 8))
    assert len(payload) == 48
    overlaps = geometry != "adjacent"
    assert codes == (["overlap_different_data"] if overlaps else [])
    assert pkt.ts_ns == 1000 + len(fragments(build, a, b)) - 1
    assert d.stats.datagrams_in_progress == 0 and d.stats.bytes_buffered == 0


@pytest.mark.parametrize("policy", POLICIES)
def test_exact_duplicate_with_same_bytes_is_a_duplicate_not_an_overlap(policy):
    pkt, codes, _ = reassemble(policy, fragments(ipv4_fragment, (1, 3), (1, 3), b_fill=b"A"))
    assert pkt.data[20:].startswith(b"0" * 8 + b"A" * 16)
    assert codes == ["duplicate_fragment"]


def test_reassembled_ipv4_header_fields():
    pkt, _, _ = reassemble("bsd", fragments(ipv4_fragment, (1, 2), (2, 3)))
    version_ihl, _, total_len, ip_id, flags_offset, ttl, proto = struct.unpack("!BBHHHBB", pkt.data[:10])
    assert (version_ihl, total_len, ip_id, flags_offset, ttl, proto) == (0x45, 68, 77, 0, 64, 17)
    assert pkt.data[12:20] == SRC4 + DST4
    assert pkt.decode().ip.verify_checksum()


def test_reassembled_ipv6_has_no_fragment_header():
    pkt, _, _ = reassemble("bsd", fragments(ipv6_fragment, (1, 2), (2, 3)))
    payload_len, next_header = struct.unpack("!HB", pkt.data[4:7])
    assert (payload_len, next_header, len(pkt.data)) == (48, 17, 88)
    assert pkt.data[8:40] == SRC6 + DST6
