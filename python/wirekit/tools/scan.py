"""Active SYN scan and passive service/OS inventory, with p0f / pf.os fingerprints.

Active:   wirekit scan [-p PORTS | --top N] [--rate PPS] [--retries N] [--wait S]
                       [-i IFACE] [-S SRCADDR] [--exclude CIDR,...] [--all] [--json] TARGET...
Passive:  wirekit scan --passive (-r FILE | -i IFACE) [--json]

Active scans send SYNs whose sequence number is a keyed hash of the probe, so replies are
matched without a table: SYN+ACK = open, RST = closed, ICMP unreachable or no answer after
the retries = filtered. Only open ports are listed unless --all. Without raw-socket
privileges a TCP connect() scan is used instead (and said so).
Passive mode lists services (from SYN+ACKs) and clients (from SYNs) seen on the wire, each
with the OS guess of its first packet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="addresses, CIDRs (10.0.0.0/24), ranges (10.0.0.1-20), host names")
    p.add_argument("--passive", action="store_true",
                   help="list services and clients seen in traffic (-r FILE or -i IFACE)")
    p.add_argument("-r", dest="read", metavar="FILE", help="passive: read a pcap/pcapng file")
    p.add_argument("-i", dest="interface", metavar="IFACE",
                   help="capture interface (passive: where to listen; active: replies)")
    p.add_argument("-p", dest="ports", metavar="PORTS",
                   help="ports: 22,80,8000-8100; '-' for all 65535 (default: --top 100)")
    p.add_argument("--top", type=int, metavar="N", help="the N most common TCP service ports")
    p.add_argument("--rate", type=float, default=1000.0, metavar="PPS",
                   help="probes per second, retries included (default 1000; 0 = unlimited)")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="re-probe unanswered ports N times (default 1)")
    p.add_argument("--wait", type=float, default=1.0, metavar="S",
                   help="seconds to wait for replies after the last probe (default 1)")
    p.add_argument("-S", dest="source", metavar="SRCADDR", help="source address of the probes")
    p.add_argument("--exclude", metavar="CIDR,...", help="never probe these addresses")
    p.add_argument("--exclude-file", metavar="FILE", help="addresses/CIDRs to exclude, one a line")
    p.add_argument("--all", action="store_true", help="list closed and filtered ports too")
    p.add_argument("--json", action="store_true", help="JSON lines output")
    p.add_argument("--dry-run", action="store_true", help="print the probes, send nothing")
    p.add_argument("--connect", action="store_true",
                   help="use TCP connect() instead of raw SYNs (no privileges needed)")
    p.add_argument("--send-only", action="store_true",
                   help="send probes only (a --listen-only process with the same --key reports)")
    p.add_argument("--listen-only", action="store_true",
                   help="only match replies to probes sent with the same --key")
    p.add_argument("--key", metavar="K", help="shared secret for --send-only/--listen-only")
    p.add_argument("--source-port", type=int, metavar="PORT",
                   help="fixed TCP source port (default: derived from the key per probe)")


def run(args: argparse.Namespace) -> int:
    if args.passive:
        return _run_passive(args)
    return _run_active(args)


def _run_active(args: argparse.Namespace) -> int:
    print("wirekit scan: active scanning is not available yet", file=sys.stderr)
    return 1


# -- passive ------------------------------------------------------------------------------
def _run_passive(args: argparse.Namespace) -> int:
    from ..errors import WirekitError
    from ..scan.passive import PassiveInventory

    if bool(args.read) == bool(args.interface):
        print("wirekit scan: --passive needs exactly one of -r FILE or -i IFACE", file=sys.stderr)
        return 2
    inv = PassiveInventory()
    out = sys.stdout
    start = time.monotonic()
    if not args.json:
        print(f"{'role':<7} {'address':<39} {'port':>5}  {'ttl':>3} {'window':>6}  os",
              file=out)

    def emit(recs) -> None:
        for r in recs:
            if args.json:
                out.write(json.dumps(r.to_json()) + "\n")
            else:
                os_txt = "?" if r.os is None else (
                    f"{r.os} [{r.db}{', fuzzy' if r.match == 'fuzzy' else ''}]")
                out.write(f"{r.role:<7} {r.addr:<39} {r.port:>5}  {r.ttl:>3} {r.window:>6}  {os_txt}\n")
        if recs and args.interface:
            out.flush()

    try:
        if args.read:
            import wirekit

            with wirekit.open(args.read) as cap:
                try:
                    for b in cap.batches():
                        emit(inv.feed_batch(b))
                except WirekitError as e:
                    print(f"wirekit scan: {e}", file=sys.stderr)
        else:
            from ..capture import live

            with live.open_live(args.interface, filter="tcp") as cap:
                for b in cap.batches():
                    emit(inv.feed_batch(b))
    except KeyboardInterrupt:
        pass
    except (WirekitError, OSError) as e:
        print(f"wirekit scan: {e}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - start
    servers = sum(1 for r in inv.records if r.role == "server")
    summary = {"summary": True, "packets": inv.packets, "syns": inv.syns,
               "synacks": inv.synacks, "servers": servers,
               "clients": len(inv.records) - servers, "dropped_records": inv.dropped_records,
               "elapsed_s": round(elapsed, 3)}
    if args.json:
        out.write(json.dumps(summary) + "\n")
    else:
        print(f"# {inv.packets} packets, {inv.syns} SYNs, {inv.synacks} SYN+ACKs: "
              f"{servers} services, {summary['clients']} clients in {elapsed:.2f} s",
              file=sys.stderr)
    return 0
