"""TCP traceroute: SYNs with rising TTL to HOST:PORT; each hop, then the target.

    wirekit trace -p 80 HOST [--max-hops N] [--wait S] [-i IFACE] [-S SRCADDR] [--json]

Routers answer with ICMP time exceeded (matched back to the probe by its keyed sequence
number); the target's SYN+ACK or RST ends the trace. Output: ``N: ADDR  RTT`` per hop
('*' when nothing answered).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", metavar="HOST", help="target address or name")
    p.add_argument("-p", dest="port", type=int, default=80, help="TCP port (default 80)")
    p.add_argument("--max-hops", type=int, default=30, metavar="N")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="seconds to wait for answers after the last probe (default 2)")
    p.add_argument("--retries", type=int, default=1, metavar="N")
    p.add_argument("--rate", type=float, default=100.0, metavar="PPS")
    p.add_argument("-i", dest="interface", metavar="IFACE", help="interface replies arrive on")
    p.add_argument("-S", dest="source", metavar="SRCADDR", help="source address")
    p.add_argument("--json", action="store_true", help="JSON lines output")


def run(args: argparse.Namespace) -> int:
    from ..errors import WirekitError
    from ..scan.targets import TargetError, parse_targets
    from ..scan.trace import TCPTrace
    from .scan import _first_of, _route

    try:
        t = parse_targets([args.host])
    except TargetError as e:
        print(f"wirekit trace: {e}", file=sys.stderr)
        return 2
    v = sorted(t.versions())[0]
    target = _first_of(t, v)
    if target != args.host:
        print(f"# {args.host} is {target}", file=sys.stderr)
    dev, src = _route(target)
    src = args.source or src
    iface = args.interface or dev
    if src is None or iface is None:
        print(f"wirekit trace: no route to {target} (use -S and -i)", file=sys.stderr)
        return 1
    tr = TCPTrace(target, args.port, src=src, max_hops=args.max_hops, rate_pps=args.rate,
                  retries=args.retries, wait_ns=int(args.wait * 1e9))
    from ..capture import live
    from ..fingerprint.tcpsig import link_ip_offset
    from ..inject.l3 import L3Sender

    hops = None
    try:
        with live.open_live(iface, filter="tcp or icmp or icmp6", immediate=True) as cap, \
                L3Sender(families=(v,)) as sender:
            while hops is None:
                now = time.monotonic_ns()
                for pkt in tr.poll_send(now):
                    sender.send(pkt)
                dl = tr.next_deadline()
                timeout_ms = 0 if dl is None else max(0, min(50, (dl - now) // 1_000_000))
                for b in cap.read_batches(int(timeout_ms)):
                    for pkt in b.packets():
                        off = link_ip_offset(pkt.linktype, pkt.data)
                        if off is not None:
                            tr.receive(pkt.data[off:], time.monotonic_ns())
                hops = tr.advance(time.monotonic_ns())
    except KeyboardInterrupt:
        hops = tr.advance(1 << 62) or []
    except (WirekitError, OSError) as e:
        print(f"wirekit trace: {e}", file=sys.stderr)
        return 1
    for h in hops:
        rtt_ms = None if h.rtt_ns is None else round(h.rtt_ns / 1e6, 3)
        if args.json:
            print(json.dumps({"hop": h.hop, "addr": h.addr, "rtt_ms": rtt_ms,
                              "reached": h.reached, "kind": h.kind, "icmp_code": h.icmp_code}))
        elif h.addr is None:
            print(f"{h.hop}: *")
        else:
            mark = "" if h.kind == "time-exceeded" else (
                f"  [{h.kind}]" if h.kind != "unreachable" else f"  [unreachable code {h.icmp_code}]")
            print(f"{h.hop}: {h.addr}  {rtt_ms:.3f} ms{mark}")
    reached = any(h.reached for h in hops)
    if not reached and not args.json:
        print(f"# {target} port {args.port} not reached within {len(hops)} hops", file=sys.stderr)
    return 0 if reached else 1
