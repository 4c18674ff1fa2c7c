#!/usr/bin/env python3
"""Hostile input for the TCP engine: a SYN flood of N distinct 4-tuples, then N half-open
connections each sending out-of-order data behind a hole. Checks that memory stays under the
configured caps (peak RSS of a fresh process per run) and that the cap anomalies are counted.

usage: bench/reasm_synflood.py [N] [--max-conns M] [--max-buffer-total BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile



def frame(i: int, flags: int, seq: int, ack: int, payload: bytes = b"") -> bytes:
    src = struct.pack("!I", 0x0A000000 + (i >> 8))  # 10.x.y.z
    dst = bytes([192, 0, 2, 1])
    sport = 1024 + (i & 0xFF) * 200 + (i >> 24)
    tcp = struct.pack("!HHIIBBHHH", sport, 80, seq, ack, 0x50, flags, 65535, 0, 0) + payload
    # Checksums left 0: the engine is told not to verify (this measures state, not checksums).
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst)
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp


def write_pcap(path: str, n: int, data: bool) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        ts = 0
        for i in range(n):
            ts += 1000
            for fr in ([frame(i, 0x02, 1000, 0)] if not data else
                       [frame(i, 0x02, 1000, 0), frame(i, 0x12 ^ 0x12 | 0x10, 1011, 1, b"X" * 200)]):
                f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(fr), len(fr)) + fr)


def child(path: str, max_conns: int, max_total: int) -> None:
    import wirekit
    from wirekit import _core

    p = _core.TcpPipeline(max_conns=max_conns, max_buffer_total=max_total, verify_checksums=False, midstream=True)
    # Read in 1 MiB chunks, not through feed_file_count's mapping of the file: a mapped
    # capture on tmpfs counts in RSS, and this measures the engine's memory.
    frames = 0
    for batch in wirekit.open(path).batches():
        p.feed_batch_count(batch)
        frames += len(batch)
    st = p.stats()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"frames": frames, "conns_in_table": st["conns_in_table"], "anomalies": st["anomalies"],
                      "buffered_bytes": st["buffered_bytes"], "peak_rss_mb": round(rss_kb / 1024, 1)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--max-conns", type=int, default=100_000)
    ap.add_argument("--max-buffer-total", type=int, default=8 << 20)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), int(a.child[2]))
        return 0
    tmp = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    for label, data in (("SYN flood", False), ("half-open + data behind a hole", True)):
        path = os.path.join(tmp, f"wirekit_synflood_{a.n}_{int(data)}.pcap")
        if not os.path.exists(path):
            write_pcap(path, a.n, data)
        for max_conns, max_total in ((a.max_conns, a.max_buffer_total), (10 * a.n, 1 << 40)):
            r = subprocess.run([sys.executable, __file__, "--child", path, str(max_conns), str(max_total)],
                               capture_output=True, text=True, check=True)
            print(f"{label:32s} n={a.n} max_conns={max_conns} max_buffer_total={max_total}: {r.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
