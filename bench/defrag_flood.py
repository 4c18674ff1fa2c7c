#!/usr/bin/env python3
"""Defragmentation under a flood of never-completed fragment trains.

Writes a synthetic capture to /tmp (never commit it): mostly lone first fragments of
distinct datagrams (each opens a reassembly buffer that never completes: the classic
fragment-flood DoS), interleaved with well-formed 3-fragment trains that must still
reassemble. Then runs, each in its own process so peak RSS is its own:

  * wirekit: `Defragmenter.feed(batch)` over the file, with a byte cap (`--max-bytes`);
  * a read-only wirekit pass (the same batches, no defragmenter): the RSS baseline;
  * peers on the same file: tshark with IPv4 reassembly on, and scapy's `defragment()`
    (scapy only on the first `--scapy-packets` packets: it is very slow).

Prints fragments/s, peak RSS, the cap anomalies counted and ratios.

    python bench/defrag_flood.py [--fragments 2000000] [--max-bytes 33554432]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time

FRAG_PAYLOAD = 1480  # bytes of payload per legit fragment (a full Ethernet MTU)
FLOOD_PAYLOAD = 512  # bytes of payload per flood fragment (keeps the file small)


def ipv4(src: int, dst: int, ip_id: int, offset: int, more: bool, payload: bytes) -> bytes:
    flags_offset = (0x2000 if more else 0) | (offset // 8)
    h = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ip_id, flags_offset, 64, 17, 0, src, dst)
    return h + payload


def generate(path: str, fragments: int, flood_share: bool = True) -> dict:
    """One legit 3-fragment train every 30 flood fragments (only trains without
    `flood_share`); 10 µs of capture time between packets."""
    eth = bytes.fromhex("020000000002020000000001") + b"\x08\x00"
    body = bytes(range(256)) * 16
    flood_payload = body[:FLOOD_PAYLOAD]
    rec = struct.Struct("<IIII")
    n = flood = trains = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        def write(frame: bytes) -> None:
            nonlocal n
            ts_ns = 1_700_000_000_000_000_000 + n * 10_000
            f.write(rec.pack(ts_ns // 1_000_000_000, ts_ns % 1_000_000_000, len(frame), len(frame)))
            f.write(frame)
            n += 1
        while n < fragments:
            if not flood_share or n % 33 == 0:
                # A legit train: 2 full fragments + a short last one.
                src, ip_id = 0x0A000001 + (trains % 200), trains & 0xFFFF
                data = body[: 2 * FRAG_PAYLOAD + 100]
                write(eth + ipv4(src, 0xC0A80001, ip_id, 0, True, data[:FRAG_PAYLOAD]))
                write(eth + ipv4(src, 0xC0A80001, ip_id, FRAG_PAYLOAD, True, data[FRAG_PAYLOAD:2 * FRAG_PAYLOAD]))
                write(eth + ipv4(src, 0xC0A80001, ip_id, 2 * FRAG_PAYLOAD, False, data[2 * FRAG_PAYLOAD:]))
                trains += 1
            else:
                # Flood: a first fragment from a fresh (source, id), never followed up.
                src = 0xAC100000 + (flood >> 16)
                write(eth + ipv4(src, 0xC0A80002, flood & 0xFFFF, 0, True, flood_payload))
                flood += 1
    return {"packets": n, "flood_fragments": flood, "legit_trains": trains}


WIREKIT_RUN = r"""
import json, resource, sys, time
import wirekit
from wirekit.reasm.defrag import Defragmenter
path, max_bytes, defrag, max_datagrams = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
d = Defragmenter(max_bytes=max_bytes, max_datagrams=max_datagrams) if defrag else None
n = done = 0
t0, c0 = time.perf_counter(), time.process_time()
for batch in wirekit.open(path).batches():
    n += len(batch)
    if d is not None:
        done += sum(isinstance(o, wirekit.Packet) for o in d.feed(batch))
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
out = {"packets": n, "seconds": dt, "cpu_seconds": cpu,
       "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
if d is not None:
    s = d.stats
    out.update(reassembled=done, peak_bytes_buffered=s.peak_bytes_buffered,
               frag_cap_hit=s.anomalies["frag_cap_hit"], evicted=s.datagrams_evicted)
print(json.dumps(out))
"""

SCAPY_RUN = r"""
import json, resource, sys, time
from scapy.all import PcapReader, defrag
path, limit = sys.argv[1], int(sys.argv[2])
pkts = []
with PcapReader(path) as r:
    for i, p in enumerate(r):
        if i >= limit:
            break
        pkts.append(p)
t0, c0 = time.perf_counter(), time.process_time()
nofrag, whole_list, missing = defrag(pkts)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
whole = len(whole_list)
print(json.dumps({"packets": len(pkts), "seconds": dt, "cpu_seconds": cpu, "reassembled": whole,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_child(args: list[str]) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), time.perf_counter() - t0


def run_tshark(path: str) -> dict | None:
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = ru0.ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(
        [tshark, "-n", "-r", path, "-o", "ip.defragment:TRUE", "-Y", "ip.reassembled.length",
         "-T", "fields", "-e", "frame.number"],
        check=True, capture_output=True, text=True,
    ).stdout
    dt = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    peak = ru.ru_maxrss
    return {"seconds": dt, "cpu_seconds": cpu, "reassembled": len(out.split()),
            "peak_rss_kib": peak if peak > before else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fragments", type=int, default=2_000_000)
    ap.add_argument("--max-bytes", type=int, default=32 << 20, help="wirekit's byte cap")
    ap.add_argument("--max-datagrams", type=int, default=8192, help="wirekit's datagram cap")
    ap.add_argument("--scapy-packets", type=int, default=20_000)
    ap.add_argument("--tshark-packets", type=int, default=200_000, help="tshark reads a file this long")
    ap.add_argument("--pcap", default="/tmp/wirekit_defrag_flood.pcap")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--legit-only", action="store_true", help="no flood: well-formed trains only")
    a = ap.parse_args()

    t0 = time.perf_counter()
    info = generate(a.pcap, a.fragments, flood_share=not a.legit_only)
    print(f"capture: {a.pcap}: {info['packets']} packets ({info['flood_fragments']} flood fragments, "
          f"{info['legit_trains']} legit 3-fragment trains), {os.path.getsize(a.pcap) / 1e6:.0f} MB, "
          f"written in {time.perf_counter() - t0:.1f} s")

    base, _ = run_child([sys.executable, "-c", WIREKIT_RUN, a.pcap, "0", "0", "0"])
    wk, _ = run_child([sys.executable, "-c", WIREKIT_RUN, a.pcap, str(a.max_bytes), "1", str(a.max_datagrams)])
    # Rates are per CPU second of the process (wall time in brackets): on a shared machine
    # wall time swings with load, CPU time much less.
    rate = wk["packets"] / wk["cpu_seconds"]
    print("\nrates per CPU second (per wall second in brackets)")
    print(f"wirekit read only      : {base['packets'] / base['cpu_seconds'] / 1e6:6.2f} M packets/s "
          f"[{base['packets'] / base['seconds'] / 1e6:.2f}], "
          f"peak RSS {base['peak_rss_kib'] / 1024:7.1f} MiB")
    print(f"wirekit Defragmenter   : {rate / 1e6:6.2f} M fragments/s [{wk['packets'] / wk['seconds'] / 1e6:.2f}], peak RSS {wk['peak_rss_kib'] / 1024:7.1f} MiB "
          f"(+{(wk['peak_rss_kib'] - base['peak_rss_kib']) / 1024:.1f} MiB over read-only; "
          f"caps {a.max_bytes / 2**20:.0f} MiB / {a.max_datagrams} datagrams, peak buffered {wk['peak_bytes_buffered'] / 2**20:.1f} MiB)")
    print(f"  reassembled {wk['reassembled']} of {info['legit_trains']} legit trains; "
          f"frag_cap_hit {wk['frag_cap_hit']}, datagrams evicted {wk['evicted']}")
    if a.no_peers:
        return 0

    small = a.pcap.replace(".pcap", f".{a.tshark_packets}.pcap")
    small_info = generate(small, a.tshark_packets, flood_share=not a.legit_only)
    wk_small, _ = run_child([sys.executable, "-c", WIREKIT_RUN, small, str(a.max_bytes), "1", str(a.max_datagrams)])
    ts = run_tshark(small)
    print(f"\nsame run, {small_info['packets']}-packet prefix of the same workload ({small}):")
    wk_rate = small_info["packets"] / wk_small["cpu_seconds"]
    print(f"  wirekit : {wk_rate / 1e6:6.3f} M fragments/s, "
          f"peak RSS {wk_small['peak_rss_kib'] / 1024:.0f} MiB, reassembled {wk_small['reassembled']}")
    if ts:
        ts_rate = small_info["packets"] / ts["cpu_seconds"]
        rss = f"{ts['peak_rss_kib'] / 1024:.0f} MiB" if ts["peak_rss_kib"] else "n/a"
        print(f"  tshark  : {ts_rate / 1e6:6.3f} M fragments/s (whole process), peak RSS {rss}, "
              f"reassembled {ts['reassembled']}; wirekit/tshark = {wk_rate / ts_rate:.0f}x")
    try:
        sc, _ = run_child([sys.executable, "-c", SCAPY_RUN, small, str(a.scapy_packets)])
        sc_rate = sc["packets"] / sc["cpu_seconds"]
        print(f"  scapy   : {sc_rate / 1e6:6.4f} M fragments/s (defragment() on {sc['packets']} packets, "
              f"read excluded), reassembled {sc['reassembled']}; "
              f"wirekit/scapy = {wk_rate / sc_rate:.0f}x")
    except subprocess.CalledProcessError as e:
        print(f"  scapy   : failed ({e.stderr.strip().splitlines()[-1] if e.stderr else e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
