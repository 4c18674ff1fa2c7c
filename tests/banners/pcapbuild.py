"""Crafts small TCP conversations as pcap files (Ethernet, IPv4, TCP with valid checksums)
for CLI tests: a handshake, the given payloads in order, then FIN/ACKs."""

from __future__ import annotations

import socket
import struct

from conftest import oracle_checksum
from wirekit import PcapWriter



def _frame(src, dst, sport, dport, seq, ack, flags, payload=b"") -> bytes:
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = s + d + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", oracle_checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", oracle_checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp


def conversation(client, server, steps, *, ts_ns=1_700_000_000_000_000_000, isn=(1000, 5000)):
    """client/server: (addr, port); steps: ("c"|"s", bytes). Returns [(ts_ns, frame)]."""
    (ca, cp), (sa, sp) = client, server
    cseq, sseq = isn
    frames = []
    t = ts_ns

    def add(f):
        nonlocal t
        frames.append((t, f))
        t += 1_000_000

    add(_frame(ca, sa, cp, sp, cseq, 0, 0x02))
    add(_frame(sa, ca, sp, cp, sseq, cseq + 1, 0x12))
    cseq += 1
    sseq += 1
    add(_frame(ca, sa, cp, sp, cseq, sseq, 0x10))
    for who, data in steps:
        if who == "c":
            add(_frame(ca, sa, cp, sp, cseq, sseq, 0x18, data))
            cseq += len(data)
        else:
            add(_frame(sa, ca, sp, cp, sseq, cseq, 0x18, data))
            sseq += len(data)
    add(_frame(ca, sa, cp, sp, cseq, sseq, 0x11))
    add(_frame(sa, ca, sp, cp, sseq, cseq + 1, 0x11))
    add(_frame(ca, sa, cp, sp, cseq + 1, sseq + 1, 0x10))
    return frames


def write_pcap(path, conversations) -> None:
    frames = sorted(f for conv in conversations for f in conv)
    w = PcapWriter(str(path))
    try:
        for ts, data in frames:
            w.write(data=data, ts_ns=ts)
    finally:
        w.close()
