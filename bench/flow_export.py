#!/usr/bin/env python3
"""Flow export benchmark: wirekit flow vs softflowd and nfpcapd on the same pcap.

    python bench/flow_export.py [PCAP] [--packets 2600000] [--rounds 3] [--max-flows 1048576]

Without PCAP, a gen_synth capture is made under /tmp (never committed). Every tool meters the
whole capture with the same timeouts (idle 15 s, active 1800 s) and the same flow-table size:

* wirekit:   wirekit flow -r PCAP -e 127.0.0.1:PORT -V 9 --max-flows N
* softflowd: softflowd -d -r PCAP -n 127.0.0.1:PORT -v 9 -c none -m N -t general=15s ...
             (-c none: with -r it otherwise waits forever on its control socket)
* nfpcapd:   nfpcapd -r PCAP -w DIR -e 1800,15 (its native output: nfcapd files; it has no
             NetFlow v9 export)

v9 goes to a local UDP socket this script holds open (and does not read: the kernel drops
what overflows, for every tool alike). Reported per tool: median wall time, packets/s on
wall time and on CPU time (user+sys of the process; on a shared machine CPU time is the
steadier figure), peak RSS, and the ratios of wirekit to each peer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = Path(os.environ.get("WIREKIT_GEN_SYNTH", HERE.parent.parent / "shared" / "bench" / "gen_synth.py"))


def count_packets(path: str) -> int:
    import wirekit

    return sum(len(b) for b in wirekit.open(path).batches())


def run(cmd: list[str]) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({p.returncode}): {err[-500:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024, "stderr": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap", nargs="?")
    ap.add_argument("--packets", type=int, default=2_600_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-flows", type=int, default=1 << 20,
                    help="flow table size for wirekit and softflowd (default 1048576, wirekit's default; "
                         "softflowd's own default is 8192, which makes both tools evict flows early)")
    args = ap.parse_args()

    pcap = args.pcap
    if not pcap:
        pcap = f"/tmp/wirekit-bench-synth-{args.packets}.pcap"
        if not os.path.exists(pcap):
            print(f"generating {pcap} ({args.packets} packets) ...", file=sys.stderr)
            subprocess.run([sys.executable, str(GEN), pcap, str(args.packets)], check=True)
    packets = count_packets(pcap)
    size_mb = os.path.getsize(pcap) / 1e6

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    outdir = tempfile.mkdtemp(prefix="wirekit-bench-nfpcapd-")

    tools = {
        "wirekit": [sys.executable, "-m", "wirekit.cli", "flow", "-r", pcap, "-e", f"127.0.0.1:{port}",
                    "-V", "9", "--idle-timeout", "15", "--active-timeout", "1800",
                    "--max-flows", str(args.max_flows), "-q"],
    }
    if shutil.which("softflowd"):
        tools["softflowd"] = ["softflowd", "-d", "-r", pcap, "-n", f"127.0.0.1:{port}", "-v", "9", "-c", "none",
                              "-m", str(args.max_flows), "-t", "general=15s", "-t", "tcp=15s", "-t", "udp=15s",
                              "-t", "icmp=15s", "-t", "maxlife=1800s"]
    if shutil.which("nfpcapd"):
        tools["nfpcapd"] = ["nfpcapd", "-r", pcap, "-w", outdir, "-e", "1800,15"]

    results: dict[str, list[dict]] = {t: [] for t in tools}
    try:
        for r in range(args.rounds):
            for name, cmd in tools.items():  # interleaved, so drift hits every tool alike
                results[name].append(run(cmd))
                for f in os.listdir(outdir):
                    os.unlink(os.path.join(outdir, f))
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
        sink.close()

    print(f"capture: {pcap} ({packets} packets, {size_mb:.0f} MB); NetFlow v9 to 127.0.0.1:{port}; "
          f"max flows {args.max_flows}; {args.rounds} rounds, medians; load average {os.getloadavg()[0]:.1f}")
    print(f"{'tool':<10} {'wall s':>8} {'pkt/s (wall)':>14} {'cpu s':>7} {'pkt/s (cpu)':>13} {'peak RSS MB':>12}")
    med = {}
    for name, rs in results.items():
        wall = statistics.median(x["wall"] for x in rs)
        cpu = statistics.median(x["cpu"] for x in rs)
        rss = max(x["rss_mb"] for x in rs)
        med[name] = (wall, cpu, rss)
        print(f"{name:<10} {wall:8.2f} {packets / wall:14,.0f} {cpu:7.2f} {packets / cpu:13,.0f} {rss:12.1f}")
    w = med["wirekit"]
    for peer, target in (("softflowd", 4.0), ("nfpcapd", 3.0)):
        if peer in med:
            p = med[peer]
            print(f"wirekit / {peer}: {p[0] / w[0]:.2f}x on wall time, {p[1] / w[1]:.2f}x on CPU time "
                  f"(target {target:.0f}x); peak RSS {w[2]:.0f} vs {p[2]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
