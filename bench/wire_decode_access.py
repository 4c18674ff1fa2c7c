#!/usr/bin/env python3
"""Per-packet cost of reading layers through `pkt.decode()` (lazy) vs dpkt's eager parse.

For each access pattern (.tcp, .ip, .payload, several layers, to_json) it times
`Decoded(data).<access>` over the packets of a capture (default: a generated Ethernet/IPv4/TCP
packet with NOP,NOP,timestamps and 100 payload bytes) and prints microseconds per packet, in
CPU time (the machine is shared). `--baseline REV` also loads python/wirekit/wire/decode.py as
it was at git revision REV and times it in the same run, interleaved, for before/after figures.

usage: python bench/wire_decode_access.py [--pcap X.pcap [--skip N]] [--packets 2000] [--baseline REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import dpkt

import wirekit
import wirekit.wire.decode as current
from wirekit.wire import EthernetHeader, IPv4Header, TCPHeader, TCPOption, build_packet

REPO = Path(__file__).resolve().parents[1]
ACCESS = [
    (".tcp", "for p in P: D(p, 1, None).tcp"),
    (".ip", "for p in P: D(p, 1, None).ip"),
    (".payload", "for p in P: D(p, 1, None).payload"),
    (".tcp + .payload", "for p in P:\n d = D(p, 1, None); d.tcp; d.payload"),
    (".ip + .tcp", "for p in P:\n d = D(p, 1, None); d.ip; d.tcp"),
    (".eth .ip .tcp .payload", "for p in P:\n d = D(p, 1, None); d.eth; d.ip; d.tcp; d.payload"),
    ("to_json()", "for p in P: D(p, 1, None).to_json()"),
]
DPKT = "for p in P:\n e = dpkt.ethernet.Ethernet(p); e.data.data.data"


def load_baseline(rev: str):
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:python/wirekit/wire/decode.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "decode_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("wirekit.wire._decode_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def sample_packets(args) -> list[bytes]:
    if args.pcap:
        out = []
        for i, pkt in enumerate(wirekit.open(args.pcap)):
            if pkt.linktype == 1 and i >= args.skip:
                out.append(pkt.data)
            if len(out) >= args.packets:
                break
        return out
    one = build_packet(EthernetHeader(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb"),
                       IPv4Header(src="10.0.0.1", dst="10.0.0.2", id=1, dont_fragment=True),
                       TCPHeader(src_port=1234, dst_port=80, seq=1000, ack=5, flags=0x18, window=8192,
                                 options=[TCPOption(1), TCPOption(1), TCPOption(8, bytes(8))]),
                       payload=b"x" * 100)
    return [one] * args.packets


def cpu_us(stmt: str, env: dict, n: int) -> float:
    return timeit.Timer(stmt, timer=time.process_time, globals=env).timeit(1) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcap")
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--skip", type=int, default=0, help="start after this many packets of --pcap "
                    "(a generated capture opens with its handshakes)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--baseline", metavar="REV")
    args = ap.parse_args()
    packets = sample_packets(args)
    n = len(packets)
    variants = [("now", current)]
    if args.baseline:
        variants.insert(0, (args.baseline, load_baseline(args.baseline)))
    best: dict = {}
    for _ in range(args.repeat):  # interleaved, best of: the machine is shared
        for name, stmt in ACCESS:
            for tag, mod in variants:
                t = cpu_us(stmt, {"D": mod.Decoded, "P": packets}, n)
                best[name, tag] = min(best.get((name, tag), 1e9), t)
        best["dpkt"] = min(best.get("dpkt", 1e9), cpu_us(DPKT, {"dpkt": dpkt, "P": packets}, n))
    print(f"{n} packets, {'pcap ' + args.pcap if args.pcap else 'Ethernet/IPv4/TCP+TS, 100 B payload'}; "
          "us per packet (CPU), best of", args.repeat)
    head = "".join(f"{tag:>12s}" for tag, _ in variants)
    print(f"{'access':26s}{head}  vs dpkt ({best['dpkt']:.2f} us, eager, all layers)")
    for name, _ in ACCESS:
        cells = "".join(f"{best[name, tag]:10.2f}us" for tag, _ in variants)
        ratio = best["dpkt"] / best[name, "now"]
        extra = f"  x{best[name, variants[0][0]] / best[name, 'now']:.2f} vs {variants[0][0]}" if args.baseline else ""
        print(f"{name:26s}{cells}  x{ratio:.2f}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
