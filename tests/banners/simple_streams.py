"""A deliberately small TCP stream extractor for the banner tests: it feeds a BannerEngine
from a capture file without the reassembly engine, so the detectors can be tested on real
captures independently of it (and the CLI's results cross-checked against it).

Per direction it delivers in-sequence payload only: the first data byte's sequence number
anchors the direction (the SYN's ISN+1 when seen), retransmitted bytes are skipped, and
segments arriving early wait (bounded) until the hole before them fills. The client is the
SYN sender (the SYN/ACK's receiver); without a handshake, the lower port is the server.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import wirekit
from wirekit.banners import Banner, BannerEngine, Direction

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
MAX_PENDING = 64


@dataclass
class _Half:
    next_seq: int | None = None
    pending: dict = field(default_factory=dict)


@dataclass
class _Conn:
    client: tuple
    server: tuple
    halves: dict = field(default_factory=lambda: {Direction.CLIENT: _Half(), Direction.SERVER: _Half()})
    closed: bool = False


def _addr(raw: bytes, version: int) -> str:
    return str(ipaddress.ip_address(raw[:4] if version == 4 else raw[:16]))


def run(path, engine: BannerEngine | None = None) -> tuple[list[Banner], BannerEngine]:
    engine = engine or BannerEngine()
    conns: dict = {}
    out: list[Banner] = []
    last_ts = 0
    for batch in wirekit.open(str(path)).batches():
        cols = batch.summaries()
        n = len(cols["ts_ns"])
        for i in range(n):
            if cols["ip_version"][i] == 0 or cols["proto"][i] != 6 or cols["l4_offset"][i] == 0:
                continue
            ver = cols["ip_version"][i]
            src = _addr(cols["src"][16 * i:16 * i + 16], ver)
            dst = _addr(cols["dst"][16 * i:16 * i + 16], ver)
            sp, dp = cols["src_port"][i], cols["dst_port"][i]
            flags = cols["tcp_flags"][i]
            seq = cols["tcp_seq"][i]
            ts = cols["ts_ns"][i]
            last_ts = ts
            a, b = (src, sp), (dst, dp)
            key = (a, b) if a <= b else (b, a)
            conn = conns.get(key)
            if conn is None or (flags & SYN and not flags & ACK and conn.closed):
                if flags & SYN and not flags & ACK:
                    client, server = a, b
                elif flags & SYN and flags & ACK:
                    client, server = b, a
                else:
                    client, server = (a, b) if sp > dp else (b, a)
                conn = conns[key] = _Conn(client, server)
                engine.open_stream(key, client=client, server=server)
            direction = Direction.CLIENT if a == conn.client else Direction.SERVER
            half = conn.halves[direction]
            if flags & SYN:
                half.next_seq = (seq + 1) & 0xFFFFFFFF
                continue
            plen = cols["payload_len"][i]
            if plen:
                off = cols["payload_offset"][i]
                data = bytes(batch.data(i)[off:off + plen])
                if half.next_seq is None:
                    half.next_seq = seq
                half.pending[seq] = data
                if len(half.pending) > MAX_PENDING:
                    half.pending.pop(next(iter(half.pending)))
                progressed = True
                while progressed and engine.wants(key, direction):
                    progressed = False
                    for s, d in list(half.pending.items()):
                        delta = (half.next_seq - s) & 0xFFFFFFFF
                        if delta < len(d):  # starts at or before next_seq, covers it
                            del half.pending[s]
                            chunk = d[delta:]
                            half.next_seq = (half.next_seq + len(chunk)) & 0xFFFFFFFF
                            out += engine.feed(key, direction, chunk, ts)
                            progressed = True
                            break
                        if delta < 0x80000000:  # entirely old: a retransmission
                            del half.pending[s]
            if flags & (FIN | RST):
                conn.closed = True
    out += engine.close_all(last_ts)
    return out, engine
