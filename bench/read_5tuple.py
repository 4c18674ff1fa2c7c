#!/usr/bin/env python3
"""Read a large pcap and extract the 5-tuple of every packet: wirekit vs dpkt vs scapy.

Every workload runs in its own subprocess (so peak RSS, ru_maxrss, is that workload's alone)
over the same file, and does the same job: for every packet, get (src, dst, src_port,
dst_port, proto) (None when not IP; ICMP type/code stand in for ports) and count it in a dict
of flows. The packet and distinct-flow counts printed for each workload must agree: that is
the correctness check. scapy runs on a slice (the first --scapy-packets packets) because it is
~100x slower; its rate is per packet, so it scales.

Workloads:
  wirekit-batch        for batch in open(f).batches(): counts.update(batch.flow_keys())
  wirekit-batch-cols   batch.summaries() columns only (no per-packet Python objects)
  wirekit-packet       for pkt in wirekit.open(f): key = pkt.flow_key(); counts[key] += 1
  wirekit-*-packed     the same with flow_key(s)(packed=True): one bytes object per key
                       (13 bytes for IPv4), cheaper for a dict to hash and compare than a tuple
  wirekit-packet-decode  pkt.decode() layer objects (Python), same dict, first N packets
  dpkt                 dpkt.pcap.Reader + Ethernet/IP/TCP|UDP|ICMP, same dict
  scapy                PcapReader + pkt[IP] layers, same dict, first N packets

The *-extract variants compute the 5-tuples and drop them (no dict): the reading cost alone.
Rates are packets per CPU second of the child (the machine is shared; wall time is shown too).

Memory: the extract-only wirekit workloads also run on a file ~10x smaller; peak RSS does not
grow with file size (streaming in 1 MiB chunks). The flow-dict workloads grow with the number
of distinct flows, whatever the reader.

usage: python bench/read_5tuple.py [--pcap /tmp/wirekit-bench/synth-2m.pcap] [--packets 2000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GEN_SYNTH = os.environ.get(
    "WIREKIT_GEN_SYNTH",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "gen_synth.py"),
)


# ---------------------------------------------------------------- workloads (run in a child)
def work_wirekit_batch(path, limit):
    import collections

    import wirekit

    counts = collections.Counter()
    n = 0
    for batch in wirekit.open(path).batches():
        keys = batch.flow_keys()
        n += len(keys)
        counts.update(keys)
    return n, len(counts)


def work_wirekit_batch_packed(path, limit):
    import collections

    import wirekit

    counts = collections.Counter()
    n = 0
    for batch in wirekit.open(path).batches():
        keys = batch.flow_keys(packed=True)
        n += len(keys)
        counts.update(keys)
    return n, len(counts)


def work_wirekit_packet_packed(path, limit):
    import wirekit

    counts = {}
    n = 0
    for pkt in wirekit.open(path):
        key = pkt.flow_key(packed=True)
        counts[key] = counts.get(key, 0) + 1
        n += 1
    return n, len(counts)


def work_wirekit_packet_decode(path, limit):
    # The full per-packet layer objects (wirekit.wire, in Python): for comparison only.
    import wirekit

    counts = {}
    n = 0
    for pkt in wirekit.open(path):
        d = pkt.decode()
        ip = d.ip
        key = None
        if ip is not None:
            l4 = d.tcp or d.udp
            if l4 is not None:
                key = (ip.src, ip.dst, l4.src_port, l4.dst_port, ip.proto)
            elif d.icmp is not None:
                key = (ip.src, ip.dst, d.icmp.type, d.icmp.code, ip.proto)
            else:
                key = (ip.src, ip.dst, 0, 0, ip.proto)
        counts[key] = counts.get(key, 0) + 1
        n += 1
        if n == limit:
            break
    return n, len(counts)


def work_wirekit_batch_extract(path, limit):
    import wirekit

    n = 0
    for batch in wirekit.open(path).batches():
        n += len(batch.flow_keys())
    return n, 0


def work_wirekit_packet_extract(path, limit):
    import wirekit

    n = 0
    for pkt in wirekit.open(path):
        pkt.flow_key()
        n += 1
    return n, 0


def dpkt_key(buf, dpkt):
    eth = dpkt.ethernet.Ethernet(buf)
    ip = eth.data
    if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
        l4 = ip.data
        p = ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt
        if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            return (ip.src, ip.dst, l4.sport, l4.dport, p)
        if isinstance(l4, dpkt.icmp.ICMP):
            return (ip.src, ip.dst, l4.type, l4.code, p)
        return (ip.src, ip.dst, 0, 0, p)
    return None


def work_dpkt_extract(path, limit):
    import dpkt

    n = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            dpkt_key(buf, dpkt)
            n += 1
    return n, 0


def work_wirekit_batch_cols(path, limit):
    import wirekit

    n = 0
    tcp = 0
    for batch in wirekit.open(path).batches():
        cols = batch.summaries()
        n += len(cols["proto"])
        # Touch the columns a 5-tuple needs (the addresses are one bytes object each).
        tcp += cols["proto"].count(6)
        assert len(cols["src"]) == 16 * len(cols["src_port"]) == 16 * len(cols["dst_port"])
    return n, tcp


def work_wirekit_packet(path, limit):
    import wirekit

    counts = {}
    n = 0
    for pkt in wirekit.open(path):
        key = pkt.flow_key()
        counts[key] = counts.get(key, 0) + 1
        n += 1
    return n, len(counts)


def work_dpkt(path, limit):
    import dpkt

    counts = {}
    n = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            key = dpkt_key(buf, dpkt)
            counts[key] = counts.get(key, 0) + 1
            if n == limit:
                break
    return n, len(counts)


def work_scapy(path, limit):
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.utils import PcapReader

    counts = {}
    n = 0
    for pkt in PcapReader(path):
        n += 1
        key = None
        if IP in pkt:
            ip = pkt[IP]
            if TCP in ip or UDP in ip:
                l4 = ip.payload
                key = (ip.src, ip.dst, l4.sport, l4.dport, ip.proto)
            elif ICMP in ip:
                key = (ip.src, ip.dst, ip[ICMP].type, ip[ICMP].code, ip.proto)
            else:
                key = (ip.src, ip.dst, 0, 0, ip.proto)
        counts[key] = counts.get(key, 0) + 1
        if n == limit:
            break
    return n, len(counts)


WORKLOADS = {
    "wirekit-batch-extract": work_wirekit_batch_extract,
    "wirekit-packet-extract": work_wirekit_packet_extract,
    "dpkt-extract": work_dpkt_extract,
    "wirekit-batch": work_wirekit_batch,
    "wirekit-batch-packed": work_wirekit_batch_packed,
    "wirekit-packet-packed": work_wirekit_packet_packed,
    "wirekit-batch-cols": work_wirekit_batch_cols,
    "wirekit-packet": work_wirekit_packet,
    "dpkt": work_dpkt,
    "wirekit-packet-decode": work_wirekit_packet_decode,
    "scapy": work_scapy,
}


def peak_rss_kb():
    # VmHWM is this process image's own peak; ru_maxrss would carry the parent's peak across
    # fork+exec on Linux.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(name, path, limit):
    fn = WORKLOADS[name]
    # Import outside the timed region (it would dominate on small files).
    import importlib

    for mod in {"wirekit": ["wirekit"], "dpkt": ["dpkt"], "scapy": ["scapy.layers.inet", "scapy.utils"]}[
        name.split("-")[0]
    ]:
        importlib.import_module(mod)
    t0 = time.perf_counter()
    c0 = time.process_time()
    n, distinct = fn(path, limit)
    cpu = time.process_time() - c0
    rss_kb = peak_rss_kb()
    dt = time.perf_counter() - t0
    print(json.dumps({"name": name, "packets": n, "distinct": distinct, "seconds": dt, "cpu_seconds": cpu, "rss_kb": rss_kb}))


# ---------------------------------------------------------------- driver
def run(name, path, limit=0, label=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--pcap", path, "--limit", str(limit)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    res["label"] = label or name
    # Rates use the child's CPU time (user + sys): the machine is shared, and wall time
    # swings with other processes; wall seconds are printed too.
    res["pps"] = res["packets"] / max(res["cpu_seconds"], 1e-9)
    return res


def ensure_pcap(path, packets):
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    print(f"generating {path} ({packets} packets) with {GEN_SYNTH} ...", flush=True)
    subprocess.run([sys.executable, GEN_SYNTH, path, str(packets)], check=True)


def warm(path):
    # Read the file once so that every workload sees it in the page cache.
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 24):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap", default="/tmp/wirekit-bench/synth-2m.pcap")
    ap.add_argument("--packets", type=int, default=2_000_000, help="packets to generate if --pcap is missing")
    ap.add_argument("--scapy-packets", type=int, default=20_000)
    ap.add_argument("--decode-packets", type=int, default=200_000,
                    help="packets for the pkt.decode() (Python layer objects) workload")
    ap.add_argument("--skip", default="", help="comma-separated workloads to skip")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.pcap, a.limit)
        return 0

    ensure_pcap(a.pcap, a.packets)
    small = a.pcap.replace(".pcap", "") + "-small.pcap"
    ensure_pcap(small, max(a.packets // 10, 1000))
    size_mb = os.path.getsize(a.pcap) / 1e6
    print(f"file: {a.pcap} ({size_mb:.0f} MB); small: {small} ({os.path.getsize(small) / 1e6:.0f} MB)")
    warm(a.pcap)
    warm(small)
    skip = set(filter(None, a.skip.split(",")))
    results = []
    order = ["wirekit-batch-extract", "wirekit-packet-extract", "dpkt-extract",
             "wirekit-batch", "wirekit-batch-packed", "wirekit-batch-cols", "wirekit-packet",
             "wirekit-packet-packed", "dpkt"]
    for name in order:
        if name not in skip:
            results.append(run(name, a.pcap))
    if "wirekit-packet-decode" not in skip:
        results.append(run("wirekit-packet-decode", a.pcap, a.decode_packets,
                           label=f"wirekit-packet-decode (first {a.decode_packets})"))
    if "scapy" not in skip:
        results.append(run("scapy", a.pcap, a.scapy_packets, label=f"scapy (first {a.scapy_packets})"))
    mem = []
    for name in ["wirekit-batch-extract", "wirekit-packet-extract"]:
        if name not in skip:
            mem.append((name, run(name, small, label=name + " (small file)")))
    results += [r for _, r in mem]

    pps = {r["label"]: r["pps"] for r in results}
    print(f"{'workload':38} {'packets':>9} {'distinct':>9} {'wall s':>7} {'cpu s':>7} {'packets/s':>11} {'vs dpkt':>8} {'peak RSS':>9}")
    for r in results:
        # Extract-only workloads compare with dpkt-extract, the flow-dict ones with dpkt.
        ref = pps.get("dpkt-extract" if r["name"].endswith("-extract") else "dpkt")
        ratio = f"{r['pps'] / ref:7.1f}x" if ref else "       -"
        print(
            f"{r['label']:38} {r['packets']:>9} {r['distinct']:>9} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
            f"{r['pps']:>11,.0f} {ratio} {r['rss_kb'] / 1024:>7.0f}MB"
        )
    print("packets/s = packets / CPU seconds of the child process. *-extract: 5-tuples computed and dropped")
    print("(ratio vs dpkt-extract); others count them in a flow dict (ratio vs dpkt); distinct = distinct")
    print("5-tuples (must agree); wirekit-batch-cols reports TCP packets instead.")
    full = {r["name"]: r for r in results if r["label"] == r["name"]}
    for name, r_small in mem:
        if name in full:
            print(
                f"peak RSS {name}: {full[name]['rss_kb'] / 1024:.0f} MB on the {size_mb:.0f} MB file, "
                f"{r_small['rss_kb'] / 1024:.0f} MB on the {os.path.getsize(small) / 1e6:.0f} MB one"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
