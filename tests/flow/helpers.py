"""Shared helpers for the flow tests: metering a capture, reading nfdump CSV and Zeek logs."""

from __future__ import annotations

import csv
import struct

import wirekit
from wirekit.flow import FlowMeter


def meter_file(path, **kw):
    m = FlowMeter(**kw)
    out = []
    for b in wirekit.open(str(path)).batches():
        out += m.feed_batch(b)
    out += m.flush()
    return out, m.stats()


def nfdump_csv(path):
    """Flow rows of `nfdump -o csv` (its trailing Summary block left out)."""
    with open(path, newline="") as f:
        lines = []
        for line in f:
            if not line.strip() or line.startswith("Summary"):
                break
            lines.append(line)
    return list(csv.DictReader(lines))


def zeek_log(path):
    rows, fields = [], None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#"):
            continue
        elif line.startswith("ts\t"):
            fields = line.split("\t")
        elif fields:
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def eth_ipv4(src, dst, proto, l4, *, ttl=64, tos=0, ip_id=1, frag=0, mf=False):
    """An Ethernet + IPv4 frame around `l4` (checksums left 0: the meter does not check them)."""
    import socket

    flags_frag = (0x2000 if mf else 0) | (frag // 8)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), ip_id, flags_frag, ttl, proto, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + l4


def tcp(sp, dp, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sp, dp, payload=b""):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
