#!/usr/bin/env python3
"""SYN scanner send path at an unlimited rate, against a sink namespace; nmap side by side.

    sudo python bench/scan_send.py [PROBES [RUNS]]

Builds a two-namespace lab (tests/lab/netns.py); the sink drops every incoming TCP packet
in nftables' ingress-most hook (so the measurement is the sender, not the sink's RSTs).
Inside the sender namespace it times, on the same targets (a /16 x 16 ports):
  * wirekit's batch path: SynBlaster (permutation walk + SYN build + sendmmsg, in Rust),
  * wirekit's Python path: SynScanner.poll_send + one sendto per probe,
  * nmap -sS -p- --min-rate 10M --max-retries 0 on the sink (whole run; nmap also listens).
Prints probes/s for each (the batch path: every run, the median and the load average, and
CPU user/system seconds: the kernel's raw-socket path is nearly all of it). Target for
wirekit's batch path: >= 500k probes/s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SENDER = r"""
import os, socket, sys, time
from wirekit.scan.engine import SynScanner
from wirekit.scan.targets import parse_targets
n, mode, src, net = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
t = parse_targets([net])
sc = SynScanner(t, list(range(80, 96)), src4=src, rate_pps=0, retries=0)
n = min(n, sc.total)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 24)
t0 = time.perf_counter()
c0 = os.times()
sent = 0
if mode == "batch":
    bl = sc.blaster()
    cur = 0
    sport = sc._src_port(0, 0)
    while cur < n:
        k, cur = bl.send(s.fileno(), -1, cur, min(65536, n - cur), sport)
        sent += k
else:
    while sent < n:
        for p in sc.poll_send(0, 1024):
            s.sendto(p, (socket.inet_ntop(socket.AF_INET, p[16:20]), 0))
            sent += 1
            if sent >= n:
                break
dt = time.perf_counter() - t0
c1 = os.times()
print(sent, dt, c1.user - c0.user, c1.system - c0.system)
"""


def main() -> int:
    from tests.lab.netns import Lab, lab_available

    why = lab_available("nft")
    if why:
        print(f"cannot build the lab: {why}")
        return 1
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with Lab(2) as lab:
        h0, h1 = lab.hosts
        h1.run(["nft", "-f", "-"], input="table inet sink {\n chain pre {\n"
               "  type filter hook prerouting priority -300; policy accept;\n"
               "  meta l4proto tcp drop\n }\n}\n")
        # the /16 behind the sink: route it there, answer no ARP for each address
        net = "10.78.0.0/16"
        h0.run(["ip", "route", "add", net, "via", h1.ipv4])
        runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
        rates = []
        for k in range(runs):
            r = h0.run([sys.executable, "-c", SENDER, str(n), "batch", h0.ipv4, net], timeout=600)
            sent, dt, user_s, sys_s = r.stdout.split()
            rates.append(int(sent) / float(dt))
            print(f"wirekit batch  -> sink namespace, run {k}: {rates[-1] / 1e3:8.0f} k probes/s "
                  f"({sent} probes in {float(dt):.2f} s; CPU user {float(user_s):.2f} s, "
                  f"system {float(sys_s):.2f} s)", flush=True)
        load = os.getloadavg()
        print(f"wirekit batch  -> sink namespace: median {statistics.median(rates) / 1e3:8.0f} k probes/s "
              f"over {runs} runs (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"target >= 500 k)")
        r = h0.run([sys.executable, "-c", SENDER, str(min(n, 200_000)), "python", h0.ipv4, net],
                   timeout=600)
        sent, dt, user_s, sys_s = r.stdout.split()
        print(f"wirekit python -> sink namespace: {int(sent) / float(dt) / 1e3:8.0f} k probes/s "
              f"({sent} probes in {float(dt):.2f} s; CPU user {float(user_s):.2f} s, "
              f"system {float(sys_s):.2f} s)")
        if shutil.which("nmap"):
            # nmap's fastest setting on one host, every port, against the same dropping sink:
            # 65535 probes, no retries; the whole run (it also waits for replies)
            t0 = time.perf_counter()
            h0.run(["nmap", "-sS", "-n", "-Pn", "-p-", "--min-rate", "10000000", "--max-retries", "0",
                    "-T5", h1.ipv4], timeout=900, check=False)
            dt = time.perf_counter() - t0
            print(f"nmap -sS -p- --min-rate 10M --max-retries 0 (65535 probes, whole run): "
                  f"{65535 / dt / 1e3:8.0f} k probes/s ({dt:.2f} s)")
        else:
            print("nmap not installed: no comparison")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        sys.exit(1)
    sys.exit(main())
