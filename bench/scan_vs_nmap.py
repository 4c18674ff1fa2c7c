#!/usr/bin/env python3
"""Full-port SYN scan side by side with nmap at the same capped rate, in a namespace lab.

    sudo python bench/scan_vs_nmap.py [RUNS] [RATE]

The lab of tests/scan/test_lab_scan.py: a target namespace with five listeners on random
ports, two ports dropped, one rejected with ICMP, one with a RST (nftables). Each run times
`nmap -sS -p- --min-rate R --max-rate R` and `wirekit scan -p- --rate R --retries 1
--wait 0.5` (whole processes, alternating which goes first), checks both found exactly the
open set, and prints per-run times, the medians and the load average. Acceptance (issue 6):
wirekit's median wall time <= nmap's.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))



def main() -> int:
    from tests.lab.content import PORT_LISTENER
    from tests.lab.netns import Lab, lab_available

    why = lab_available("nft", "nmap")
    if why:
        print(f"cannot run: {why}")
        return 1
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    extra = sys.argv[3:]
    with Lab(2) as lab:
        h0, h1 = lab.hosts
        ports = random.Random().sample(range(1025, 65000), 9)
        listen = sorted(ports[:5])
        drop = sorted([listen[0], ports[5]])
        proc = h1.spawn([sys.executable, "-c", PORT_LISTENER, *map(str, listen)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        h1.run(["nft", "-f", "-"], input=(
            "table inet wkbench {\n chain input {\n"
            "  type filter hook input priority 0; policy accept;\n"
            f"  tcp dport {{ {drop[0]}, {drop[1]} }} drop\n"
            f"  tcp dport {ports[6]} reject with icmpx type admin-prohibited\n"
            f"  tcp dport {ports[7]} reject with tcp reset\n }}\n}}\n"))
        want = set(listen) - set(drop)
        wk, nm = [], []
        for k in range(runs):
            order = ("nmap", "wirekit") if k % 2 == 0 else ("wirekit", "nmap")
            for tool in order:
                t = time.monotonic()
                if tool == "nmap":
                    r = h0.run(["nmap", "-sS", "-p-", "--min-rate", str(rate), "--max-rate",
                                str(rate), "-n", "-Pn", "-oX", "-", h1.ipv4], timeout=300)
                    dt = time.monotonic() - t
                    got = {int(p) for p in re.findall(r'portid="(\d+)"><state state="open"', r.stdout)}
                    nm.append(dt)
                else:
                    r = h0.run([sys.executable, "-m", "wirekit.cli", "scan", "-p-", "--rate",
                                str(rate), "--retries", "1", "--wait", "0.5", "--json", *extra,
                                h1.ipv4], timeout=300)
                    dt = time.monotonic() - t
                    got = {int(p) for p in re.findall(r'"port": (\d+), "proto": "tcp", "state": "open"',
                                                      r.stdout)}
                    wk.append(dt)
                    last = r.stdout.strip().splitlines()[-1]
                ok = "right" if got == want else f"WRONG {sorted(got)} != {sorted(want)}"
                print(f"run {k}: {tool:<7} {dt:6.2f} s  {ok}", flush=True)
            print(f"        wirekit summary: {last}")
        load = os.getloadavg()
        print(f"rate {rate}/s, {runs} runs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"median wall: wirekit {statistics.median(wk):.2f} s, nmap {statistics.median(nm):.2f} s "
              f"(floor {65535 / rate:.2f} s); ratio nmap/wirekit {statistics.median(nm) / statistics.median(wk):.2f}")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        sys.exit(1)
    if shutil.which("nmap") is None:
        print("nmap not installed")
    sys.exit(main())
