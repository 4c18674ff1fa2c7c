"""The Rust batch path (SynBlaster, scan_probe_seq) against the Python engine and an
independent SipHash-2-4."""

from __future__ import annotations

import struct

from wirekit import _core
from wirekit.scan.engine import SynScanner
from wirekit.scan.targets import parse_targets

M = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M


def siphash24(key: bytes, msg: bytes) -> int:
    """SipHash-2-4 written from the paper (Aumasson & Bernstein 2012), for cross-checking."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]

    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = _rotl(v[1], 13) ^ v[0]; v[0] = _rotl(v[0], 32)  # noqa: E702
        v[2] = (v[2] + v[3]) & M; v[3] = _rotl(v[3], 16) ^ v[2]  # noqa: E702
        v[0] = (v[0] + v[3]) & M; v[3] = _rotl(v[3], 21) ^ v[0]  # noqa: E702
        v[2] = (v[2] + v[1]) & M; v[1] = _rotl(v[1], 17) ^ v[2]; v[2] = _rotl(v[2], 32)  # noqa: E702

    n = len(msg)
    tail = msg[n - n % 8:] + b"\0" * (7 - n % 8) + bytes([n & 0xFF])
    for off in list(range(0, n - n % 8, 8)) + [None]:
        m = struct.unpack("<Q", msg[off:off + 8] if off is not None else tail)[0]
        v[3] ^= m
        rnd()
        rnd()
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def test_siphash_paper_vector():
    assert siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5


def test_probe_seq_is_siphash_of_the_probe():
    key = bytes(range(16))
    for v, addr, port, sport in [(4, bytes([10, 0, 0, 1]), 80, 40000),
                                 (6, bytes(15) + b"\x01", 443, 1)]:
        msg = bytes([v]) + addr.rjust(16, b"\0") + struct.pack("!HH", port, sport)
        assert _core.scan_probe_seq(key, v, addr, port, sport) == siphash24(key, msg) & 0xFFFFFFFF


def test_blaster_builds_the_engines_packets_in_the_engines_order():
    t = parse_targets(["198.51.100.0/28", "2001:db8::/125"])
    sc = SynScanner(t, [22, 80, 443, 8080], secret=b"x" * 16, src4="192.0.2.1",
                    src6="2001:db8::ff", rate_pps=0, retries=0)
    bl = sc.blaster()
    assert bl.total == sc.total == (16 + 8) * 4
    assert [bl.permuted(c) for c in range(sc.total)] == list(sc.perm)
    sport = sc._src_port(0, 0)
    for i in range(sc.total):
        a, b = bytearray(bl.build_one(i, sport)), bytearray(sc.build_syn(i, 0))
        if a[0] >> 4 == 4:  # IP ID counters differ; compare without ID and header checksum
            a[4:6] = b[4:6] = a[10:12] = b[10:12] = b"\0\0"
        assert a == b
