#!/usr/bin/env python3
"""Passive OS fingerprinting: `wirekit scan --passive -r` engine vs `p0f -r`, same pcap, same run.

    python bench/passive_fp.py /tmp/synth.pcap [ROUNDS]

Make the pcap with `/work/shared/bench/gen_synth.py /tmp/synth.pcap 2500000` (never commit
it). Both tools read the whole file and fingerprint every SYN and SYN+ACK; p0f also logs
(to a scratch file), wirekit builds its service/client records. Prints packets/s of each
and the ratio (medians over ROUNDS whole-process runs, alternating).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WIREKIT = r"""
import sys, time, wirekit
from wirekit.scan import PassiveInventory
t = time.perf_counter()
inv = PassiveInventory()
with wirekit.open(sys.argv[1]) as cap:
    for b in cap.batches():
        inv.feed_batch(b)
dt = time.perf_counter() - t
print(inv.packets, inv.syns, inv.synacks, len(inv.records), dt)
"""


def count_packets(path: str) -> int:
    import wirekit

    with wirekit.open(path) as cap:
        return sum(len(b) for b in cap.batches())


def run_wirekit(path: str) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WIREKIT, path], check=True, capture_output=True,
                         text=True).stdout
    return time.perf_counter() - t, out.strip()


def run_p0f(path: str) -> float:
    # p0f refuses -o /dev/null (it opens the log O_EXCL-style); log to a scratch file
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        subprocess.run(["p0f", "-r", path, "-o", os.path.join(d, "p0f.log")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    n = count_packets(path)
    have_p0f = shutil.which("p0f") is not None
    wk, pf = [], []
    for _ in range(rounds):
        dt, info = run_wirekit(path)
        wk.append(dt)
        if have_p0f:
            pf.append(run_p0f(path))
    w = statistics.median(wk)
    print(f"packets: {n}")
    print(f"wirekit passive (whole process): {n / w / 1e6:.2f} M pkt/s  ({w:.2f} s; "
          f"packets syns synacks records engine_s = {info})")
    if have_p0f:
        p = statistics.median(pf)
        print(f"p0f -r (whole process):          {n / p / 1e6:.2f} M pkt/s  ({p:.2f} s)")
        print(f"ratio wirekit/p0f: {p / w:.2f}x  (target >= 1.5x)")
    else:
        print("p0f not installed (apt-get install p0f): no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
