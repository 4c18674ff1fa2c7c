"""Hand-built IPv4/IPv6 TCP segments for fingerprint tests (no wirekit code involved)."""

from __future__ import annotations

import struct

MSS = lambda v: struct.pack("!BBH", 2, 4, v)  # noqa: E731
WS = lambda v: struct.pack("!BBB", 3, 3, v)  # noqa: E731
SOK = b"\x04\x02"
NOP = b"\x01"
EOL = b"\x00"
TS = lambda a, b=0: struct.pack("!BBII", 8, 10, a, b)  # noqa: E731


def tcp(*, sport=40000, dport=80, seq=1, ack=0, flags=0x02, win=65535, urg=0, opts=b"",
        payload=b"") -> bytes:
    assert len(opts) % 4 == 0, "pad options to 32-bit words"
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIHHHH", sport, dport, seq, ack, (doff << 12) | flags, win, 0,
                       urg) + opts + payload


def ipv4(seg: bytes, *, ttl=64, df=True, ip_id=1, tos=0, mbz=False, ip_opts=b"",
         src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02") -> bytes:
    ihl = 5 + len(ip_opts) // 4
    flags = (0x4000 if df else 0) | (0x8000 if mbz else 0)
    tot = ihl * 4 + len(seg)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tot, ip_id, flags, ttl, 6, 0, src,
                       dst) + ip_opts + seg


def ipv6(seg: bytes, *, hlim=64, tclass=0, flow=0, src=b"\x20\x01" + b"\x00" * 13 + b"\x01",
         dst=b"\x20\x01" + b"\x00" * 13 + b"\x02") -> bytes:
    vtf = (6 << 28) | (tclass << 20) | flow
    return struct.pack("!IHBB16s16s", vtf, len(seg), 6, hlim, src, dst) + seg
