#!/usr/bin/env python3
"""`wirekit banners -r` against tshark extracting the same banners, on the same pcap, same run.

    python bench/banners_vs_tshark.py /tmp/synth.pcap [RUNS]  # make one with
    python /work/shared/bench/gen_synth.py /tmp/synth.pcap 2500000

Both extract SSH identification strings, HTTP Server and User-Agent values, per connection
(`wirekit banners --all`; tshark `-Y 'ssh.protocol or http.server or http.user_agent'`).
With RUNS (default 1), both run RUNS times, alternating, and medians are printed along with
the load average around each run (the machine may be shared). Prints wall and CPU time, packets/s, peak RSS of each process, the ratios, and how many
(address, port, banner) triples each found and both found. tshark dissects by port
(22, 80, ...); wirekit by content, so wirekit may find more on odd ports.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def run(cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in KiB, stdout) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with status {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def count_packets(path: str) -> int:
    import wirekit

    return sum(len(b) for b in wirekit.open(path).batches())


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pcap = sys.argv[1]
    wirekit_cmd = [sys.executable, "-m", "wirekit.cli", "banners", "-r", pcap, "--json", "--all", "-q"]
    if shutil.which("tshark") is None:
        print("tshark not installed", file=sys.stderr)
        return 2
    tshark_cmd = ["tshark", "-r", pcap, "-Y", "ssh.protocol or http.server or http.user_agent",
                  "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                  "-e", "ssh.protocol", "-e", "http.server", "-e", "http.user_agent"]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    packets = count_packets(pcap)
    print(f"{pcap}: {packets} packets, {runs} run(s)")

    w_walls, w_cpus, t_walls, t_cpus = [], [], [], []
    for k in range(runs):
        load0 = os.getloadavg()[0]
        w_wall, w_cpu, w_rss, w_out = run(wirekit_cmd)
        t_wall, t_cpu, t_rss, t_out = run(tshark_cmd)
        load1 = os.getloadavg()[0]
        w_walls.append(w_wall); w_cpus.append(w_cpu); t_walls.append(t_wall); t_cpus.append(t_cpu)
        # Linux keeps a forked child's pre-exec high-water mark in ru_maxrss, so a later run
        # (this process then holds earlier outputs) reads higher: keep the lowest reading.
        w_rss_min = min(w_rss, w_rss_min) if k else w_rss
        t_rss_min = min(t_rss, t_rss_min) if k else t_rss
        print(f"  run {k + 1}: wirekit {w_wall:.2f} s wall {w_cpu:.2f} s CPU | tshark {t_wall:.2f} s wall "
              f"{t_cpu:.2f} s CPU | ratio {t_wall / w_wall:.1f}x wall {t_cpu / w_cpu:.1f}x CPU | "
              f"load avg (1 min) {load0:.2f} -> {load1:.2f}")
    if runs > 1:
        med = statistics.median
        w_wall, w_cpu, t_wall, t_cpu = med(w_walls), med(w_cpus), med(t_walls), med(t_cpus)
        print(f"  medians of {runs} runs:")

    w_rss, t_rss = w_rss_min, t_rss_min

    ours = set()
    for line in w_out.splitlines():
        o = json.loads(line)
        if o["kind"] in ("ssh-ident", "http-server", "http-user-agent"):
            ours.add((o["addr"], o["port"], o["banner"]))
    theirs = set()
    for line in t_out.splitlines():
        f = line.split("\t")
        addr = f[0] or f[1]
        for v in f[3:6]:
            if v:
                theirs.add((addr, int(f[2]), v))

    rows = [("wirekit banners", w_wall, w_cpu, w_rss), ("tshark -Y ... -T fields", t_wall, t_cpu, t_rss)]
    for name, wall, cpu, rss in rows:
        print(f"  {name:26} {wall:8.2f} s wall {packets / wall / 1e3:8.1f} k packets/s | "
              f"{cpu:8.2f} s CPU {packets / cpu / 1e3:8.1f} k packets/CPU-s | peak RSS {rss / 1024:7.1f} MiB")
    print(f"  ratio wirekit/tshark: {t_wall / w_wall:.1f}x (wall), {t_cpu / w_cpu:.1f}x (CPU time; "
          f"steadier on a shared machine)")
    print(f"  banners (addr, port, text): wirekit {len(ours)}, tshark {len(theirs)}, "
          f"both {len(ours & theirs)}, only tshark {len(theirs - ours)}, only wirekit {len(ours - theirs)}")
    for x in sorted(theirs - ours)[:5]:
        print("    only tshark:", x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
