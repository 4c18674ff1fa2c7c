#!/usr/bin/env python3
"""Userland BPF filtering of a capture file: wirekit vs `tcpdump -r FILE -w /dev/null FILTER`.

    python bench/bpf_filter.py [PCAP] [--packets 1000000] [--filter "tcp port 80"] ...

Without PCAP, makes one under /tmp with /work/shared/bench/gen_synth.py (or ../shared/bench
relative to the repository). For each filter: wall time, packets/s and matches of
  - tcpdump: libpcap reading the file and running its own BPF interpreter;
  - wirekit: wirekit.open(...).batches() + compile(FILTER).filter_batch (Rust interpreter,
    one call per batch), counting matches;
and the wirekit/tcpdump speed ratio. Matches must be equal (same libpcap-compiled program).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILTERS = ["tcp port 80", "udp", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
           "host 10.0.0.1 or net 192.168.0.0/16", "ip and greater 1000"]


def _gen(path: str, packets: int) -> None:
    for base in (Path("/work/shared/bench"), ROOT / ".." / "shared" / "bench"):
        gen = base / "gen_synth.py"
        if gen.exists():
            subprocess.run([sys.executable, str(gen), path, str(packets)], check=True)
            return
    raise SystemExit("bpf_filter: no PCAP given and gen_synth.py not found")


def _tcpdump(pcap: str, expr: str) -> float:
    """Seconds for tcpdump to read, filter and write the matches to /dev/null."""
    t0 = time.perf_counter()
    subprocess.run(["tcpdump", "-r", pcap, "-w", "/dev/null", expr], capture_output=True, check=True)
    return time.perf_counter() - t0


def _tcpdump_matches(pcap: str, expr: str) -> int:
    """How many packets tcpdump selects (untimed: its matches written to a pipe and counted)."""
    r = subprocess.run(["tcpdump", "-r", pcap, "-w", "-", expr], capture_output=True, check=True)
    import io

    import wirekit

    return sum(len(b) for b in wirekit.open(io.BytesIO(r.stdout)).batches())


def _wirekit(pcap: str, expr: str) -> tuple[float, int, int]:
    import wirekit
    from wirekit.capture import bpf

    t0 = time.perf_counter()
    cap = wirekit.open(pcap)
    prog = bpf.compile(expr, linktype=cap.linktype or 1)
    total = matched = 0
    for batch in cap.batches():
        total += len(batch)
        matched += len(prog.filter_batch(batch))
    return time.perf_counter() - t0, total, matched


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pcap", nargs="?")
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets to generate without PCAP")
    ap.add_argument("--filter", action="append", help="filter(s) to time (default: a built-in set)")
    args = ap.parse_args()
    pcap = args.pcap
    if pcap is None:
        pcap = f"/tmp/wirekit_bpf_bench.{args.packets}.pcap"
        if not os.path.exists(pcap):
            _gen(pcap, args.packets)
    filters = args.filter or FILTERS
    print(f"file {pcap} ({os.path.getsize(pcap) / 1e6:.0f} MB)")
    for expr in filters:
        td_s = _tcpdump(pcap, expr)
        wk_s, total, matched = _wirekit(pcap, expr)
        td_matched = _tcpdump_matches(pcap, expr)
        same = "same" if td_matched == matched else f"DIFFERENT (tcpdump {td_matched})"
        print(f"{expr!r:48} packets {total}  matches {matched} ({same})  "
              f"tcpdump {total / td_s / 1e6:5.2f} Mpkt/s  wirekit {total / wk_s / 1e6:5.2f} Mpkt/s  "
              f"ratio {td_s / wk_s:4.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
