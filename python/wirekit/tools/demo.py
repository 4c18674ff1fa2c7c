"""Show what wirekit sees in a capture: packets, hosts, conversations, and what the other
layers find (streams, flows, banners, fingerprints) where they are installed.

  wirekit demo                 runs on the small capture bundled with wirekit
  wirekit demo -r FILE         runs on FILE instead

The bundled sample is a real capture made in a lab of network namespaces (see
python/wirekit/data/samples/README.md): ping, HTTP to nginx over IPv4 and IPv6, SSH, SMTP,
TLS, UDP with fragments, a SYN to a closed port.
"""

from __future__ import annotations

import argparse
import collections
import sys
from importlib import resources

from ..errors import WirekitError
from . import common

TOOL = "demo"


def sample_path() -> str:
    return str(resources.files("wirekit") / "data" / "samples" / "demo.pcap")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", dest="read", metavar="FILE", help="capture to show (default: the bundled sample)")


def _section(title: str) -> None:
    print(f"\n== {title}")


def overview(path: str) -> None:
    import wirekit

    packets = 0
    wire_bytes = 0
    first = last = None
    protos: collections.Counter = collections.Counter()
    hosts: collections.Counter = collections.Counter()
    convs: dict = {}
    anomalies: collections.Counter = collections.Counter()
    for pkt in wirekit.open(path):
        packets += 1
        wire_bytes += pkt.wire_len
        first = pkt.ts_ns if first is None else min(first, pkt.ts_ns)
        last = pkt.ts_ns if last is None else max(last, pkt.ts_ns)
        d = pkt.decode()
        for a in d.anomalies:
            anomalies[a] += 1
        if d.arp is not None:
            protos["ARP"] += 1
            continue
        ip = d.ip
        if ip is None:
            protos["other"] += 1
            continue
        hosts[str(ip.src)] += 1
        hosts[str(ip.dst)] += 1
        l4 = d.tcp or d.udp
        name = "TCP" if d.tcp is not None else "UDP" if d.udp is not None else \
            ("ICMPv6" if ip.version == 6 else "ICMP") if d.icmp is not None else f"IP proto {ip.proto}"
        protos[f"IPv{ip.version} {name}"] += 1
        if l4 is not None:
            a, b = (str(ip.src), l4.src_port), (str(ip.dst), l4.dst_port)
            key = (name,) + (tuple(sorted((a, b))))
            c = convs.setdefault(key, [0, 0])
            c[0] += 1
            c[1] += pkt.wire_len
    dur = (last - first) / 1e9 if packets else 0.0
    _section(f"{path}")
    print(f"{packets} packets, {wire_bytes} bytes on the wire, {dur:.3f} s")
    _section("protocols")
    for k, n in protos.most_common():
        print(f"  {n:6d}  {k}")
    _section("hosts")
    for h, n in hosts.most_common(10):
        print(f"  {n:6d}  {h}")
    _section(f"conversations ({len(convs)})")
    for (name, (ha, pa), (hb, pb)), (n, nbytes) in sorted(convs.items(), key=lambda kv: -kv[1][1])[:12]:
        print(f"  {name:4s} {ha}:{pa} <-> {hb}:{pb}  {n} packets, {nbytes} bytes")
    if anomalies:
        _section("anomalies")
        for a, n in anomalies.most_common():
            print(f"  {n:6d}  {a}")


#: Later layers add themselves here: (title, module, function taking the capture path).
EXTRA_SECTIONS = [
    ("TCP streams", "wirekit.tools.streams", "demo_section"),
    ("flows", "wirekit.tools.flow", "demo_section"),
    ("banners", "wirekit.tools.banners", "demo_section"),
    ("passive services and OS fingerprints", "wirekit.tools.scan", "demo_section"),
]


def run(args: argparse.Namespace) -> int:
    import importlib

    path = args.read or sample_path()
    try:
        overview(path)
        for title, modname, fn in EXTRA_SECTIONS:
            try:
                mod = importlib.import_module(modname)
            except ImportError:
                continue
            f = getattr(mod, fn, None)
            if f is None:
                continue
            _section(title)
            f(path)
    except WirekitError as e:
        return common.fail(TOOL, str(e))
    sys.stdout.flush()
    return 0
