"""Two-ended TCP test helpers (h11's ConnectionPair style): craft client and server segments
with explicit time, feed them to a Reassembler, and summarise events for exact asserts."""

from __future__ import annotations

import socket
import struct

from conftest import oracle_checksum
from wirekit import Packet
from wirekit.reasm import (
    Anomaly,
    Reassembler,
    StreamClosed,
    StreamData,
    StreamGap,
    StreamOpened,
    StreamReset,
    StreamTimedOut,
)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10



def tcp_frame(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
              payload: bytes = b"", window: int = 65535, wscale: int | None = None,
              bad_checksum: bool = False) -> bytes:
    """Ethernet + IPv4/IPv6 + TCP frame with correct checksums (unless `bad_checksum`)."""
    v6 = ":" in src
    opts = b""
    if wscale is not None:
        opts = bytes([1, 3, 3, wscale])
    hl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hl // 4) << 4,
                      flags, window, 0, 0) + opts + payload
    if v6:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        pseudo = s + d + struct.pack("!IxxxB", len(tcp), 6)
    else:
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        pseudo = s + d + struct.pack("!xBH", 6, len(tcp))
    c = oracle_checksum(pseudo + tcp)
    if bad_checksum:
        c ^= 0x5555
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + s + d
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, s, d)
        ip = ip[:10] + struct.pack("!H", oracle_checksum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
    return eth + ip + tcp


class Pair:
    """A client and a server talking through a Reassembler, with explicit time."""

    def __init__(self, client=("10.0.0.1", 40000), server=("10.0.0.2", 80), **kw):
        self.client, self.server = client, server
        self.r = Reassembler(**kw)
        self.now_ns = 1_000_000_000
        self.events: list = []

    def _send(self, src, dst, flags, seq, ack=0, data=b"", **kw):
        self.now_ns += 1000
        pkt = Packet(tcp_frame(src[0], dst[0], src[1], dst[1], seq, ack, flags, data, **kw), ts_ns=self.now_ns)
        evs = self.r.feed(pkt)
        self.events.extend(evs)
        return evs

    def c(self, flags, seq, ack=0, data=b"", **kw):
        """Client -> server segment; returns its events."""
        return self._send(self.client, self.server, flags, seq, ack, data, **kw)

    def s(self, flags, seq, ack=0, data=b"", **kw):
        """Server -> client segment; returns its events."""
        return self._send(self.server, self.client, flags, seq, ack, data, **kw)

    def handshake(self, cisn=1000, sisn=5000, **kw):
        self.c(SYN, cisn, **kw)
        self.s(SYN | ACK, sisn, cisn + 1, **kw)
        return self.c(ACK, cisn + 1, sisn + 1)

    def finish(self):
        evs = self.r.finish()
        self.events.extend(evs)
        return evs


def summary(events) -> list[tuple]:
    """Compact, exact view of events: ('open',), ('data', dir, offset, bytes), ('gap', dir,
    offset, length), ('closed', reason), ('reset', dir), ('timeout',), ('anomaly', code)."""
    out = []
    for e in events:
        if isinstance(e, StreamOpened):
            out.append(("open", e.midstream) if e.midstream else ("open",))
        elif isinstance(e, StreamData):
            out.append(("data", int(e.direction), e.offset, e.data))
        elif isinstance(e, StreamGap):
            out.append(("gap", int(e.direction), e.offset, e.length))
        elif isinstance(e, StreamClosed):
            out.append(("closed", e.reason))
        elif isinstance(e, StreamReset):
            out.append(("reset", int(e.direction)))
        elif isinstance(e, StreamTimedOut):
            out.append(("timeout",))
        elif isinstance(e, Anomaly):
            out.append(("anomaly", e.code))
        else:
            out.append((type(e).__name__,))
    return out


def stream_bytes(events, direction: int) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, StreamData) and e.direction == direction)
