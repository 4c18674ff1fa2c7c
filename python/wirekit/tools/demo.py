"""Show what wirekit sees in a capture: packets, hosts, conversations, TCP streams, flows,
banners and OS fingerprints.

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


def streams_section(path: str) -> None:
    """TCP connections as the reassembler delivers them (bytes each way, gaps, end state)."""
    from ..reasm import Reassembler, StreamClosed, StreamData, StreamGap, StreamOpened, StreamReset, StreamTimedOut
    import wirekit

    conns: dict = {}
    ends = {StreamClosed: "closed", StreamReset: "reset", StreamTimedOut: "timed out"}
    r = Reassembler()
    for ev in r.iter_events(wirekit.open(path).batches()):
        if isinstance(ev, StreamOpened):
            conns[ev.conn_id] = {"key": ev.key, "c2s": 0, "s2c": 0, "gap": 0, "state": "open"}
        elif ev.conn_id not in conns:
            continue
        elif isinstance(ev, StreamData):
            conns[ev.conn_id]["c2s" if ev.direction.name == "TO_SERVER" else "s2c"] += len(ev.data)
        elif isinstance(ev, StreamGap):
            conns[ev.conn_id]["gap"] += ev.length
        elif type(ev) in ends:
            conns[ev.conn_id]["state"] = ends[type(ev)]
    for c in conns.values():
        k = c["key"]
        gap = f", {c['gap']} bytes missing" if c["gap"] else ""
        print(f"  {_hostport(k.client, k.client_port)} -> {_hostport(k.server, k.server_port)}"
              f"  {c['c2s']} bytes up, {c['s2c']} bytes down, {c['state']}{gap}")


def flows_section(path: str) -> None:
    """Bidirectional flow records, as `wirekit flow --bidirectional` exports them."""
    from ..flow import FlowMeter
    import wirekit

    meter = FlowMeter(bidirectional=True)
    records = []
    for batch in wirekit.open(path).batches():
        records += meter.feed_batch(batch)
    records += meter.flush()
    names = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
    print(f"  {len(records)} flows")
    for rec in sorted(records, key=lambda r: -(r.bytes + (r.rev_bytes or 0)))[:8]:
        proto = names.get(rec.proto, str(rec.proto))
        if rec.proto in (1, 58):  # NetFlow's convention: ICMP type and code in the destination port
            ends = f"{rec.src} <-> {rec.dst} type {rec.dst_port >> 8} code {rec.dst_port & 0xFF}"
        else:
            ends = f"{_hostport(rec.src, rec.src_port)} <-> {_hostport(rec.dst, rec.dst_port)}"
        print(f"  {proto:6s} {ends}"
              f"  {rec.packets}+{rec.rev_packets or 0} packets, {rec.bytes}+{rec.rev_bytes or 0} bytes")


def banners_section(path: str) -> None:
    """Software seen in the streams' first bytes (SSH, HTTP, SMTP, TLS, ...)."""
    from ..banners.streams import scan_capture

    seen = set()
    for b in scan_capture(path):
        key = (b.addr, b.port, b.role, b.kind, b.text)
        if key in seen:
            continue
        seen.add(key)
        sw = f"{b.software.name} {b.software.version}" if b.software and getattr(b.software, "version", None) \
            else (b.software.name if b.software else "")
        print(f"  {b.role.value:6s} {_hostport(b.addr, b.port):24s} {b.protocol:5s} {sw:18s} "
              f"{common.escape_for_terminal(b.text)[:60]}")


def fingerprints_section(path: str) -> None:
    """Services and clients seen in handshakes, with their OS guess (p0f / pf.os)."""
    from ..scan.passive import PassiveInventory
    import wirekit

    inv = PassiveInventory()
    for batch in wirekit.open(path).batches():
        inv.feed_batch(batch)
    for rec in inv.records:
        guess = f"{rec.os} [{rec.db}, {rec.match}]" if rec.os else "no match"
        print(f"  {rec.role:6s} {_hostport(rec.addr, rec.port):24s} ttl {rec.ttl:3d} win {rec.window:5d}  {guess}")


def _hostport(addr, port) -> str:
    addr = str(addr)
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


#: The later layers' views, each (title, function taking the capture path).
EXTRA_SECTIONS = [
    ("TCP streams (wirekit.reasm)", streams_section),
    ("flows (wirekit.flow)", flows_section),
    ("banners (wirekit.banners)", banners_section),
    ("passive services and OS fingerprints (wirekit.fingerprint)", fingerprints_section),
]


def run(args: argparse.Namespace) -> int:
    path = args.read or sample_path()
    try:
        overview(path)
        for title, section in EXTRA_SECTIONS:
            _section(title)
            section(path)
    except BrokenPipeError:
        raise  # `wirekit demo | head`: the CLI ends quietly
    except (WirekitError, OSError) as e:
        return common.fail(TOOL, str(e))
    sys.stdout.flush()
    return 0
