"""Active SYN scan and passive service/OS inventory, with p0f / pf.os fingerprints.

Active:   wirekit scan [-p PORTS | --top N] [--rate PPS] [--retries N] [--wait S]
                       [-i IFACE] [-S SRCADDR] [--exclude CIDR,...] [--all] [--json] TARGET...
Passive:  wirekit scan --passive (-r FILE | -i IFACE) [--json] [EXPRESSION]

Active scans send SYNs whose sequence number is a keyed hash of the probe, so replies are
matched without a table: SYN+ACK = open, RST = closed, ICMP unreachable or no answer after
the retries = filtered. Only open ports are listed unless --all. Without raw-socket
privileges a TCP connect() scan is used instead (and said so).
Passive mode lists services (from SYN+ACKs) and clients (from SYNs) seen on the wire, each
with the OS guess of its first packet; a trailing BPF EXPRESSION (as `wirekit dump` takes)
limits which packets are looked at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="addresses, CIDRs (10.0.0.0/24), ranges (10.0.0.1-20), host names; "
                        "with --passive: a BPF filter expression, e.g. 'tcp port 22'")
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
                   help="wait at most S seconds for replies after the last probe (default 1; "
                        "shorter when measured round trips allow: 4 x the slowest, >= 20 ms)")
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
    p.add_argument("--duration", type=float, metavar="S",
                   help="passive -i: stop after S seconds (default: until interrupted)")
    p.add_argument("--source-port", type=int, metavar="PORT",
                   help="fixed TCP source port (default: derived from the key per probe)")


def run(args: argparse.Namespace) -> int:
    if args.passive:
        return _run_passive(args)
    return _run_active(args)


# Words of tcpdump's filter language: never a scan target (and a host name made of one would
# be ambiguous), so `wirekit scan 10.0.0.1 tcp port 22` is refused instead of resolved.
_FILTER_WORDS = frozenset(
    "and or not host net port portrange src dst proto ether ip ip6 arp rarp tcp udp icmp icmp6 "
    "sctp vlan mpls less greater gateway broadcast multicast inbound outbound tcpflags".split())
_FILTER_CHARS = frozenset("[]()=!<>&|")


def _not_a_target(word: str) -> str | None:
    """Why `word` is refused as an active-scan target, or None if it may be one."""
    w = word.strip()
    if any(t.lower() in _FILTER_WORDS for t in w.split()) or any(c in _FILTER_CHARS for c in w):
        return (f"'{w}' is not a target: a filter expression applies only with --passive "
                "(active scans take their ports with -p)")
    if w.isdigit():
        # getaddrinfo would take "22" for the address 0.0.0.22
        return f"'{w}' is not a target (a port? use -p {w})"
    return None


def _run_active(args: argparse.Namespace) -> int:
    from ..errors import PrivilegeError, WirekitError
    from ..scan.targets import TargetError, parse_ports, parse_targets, top_ports

    if not args.targets:
        print("wirekit scan: no targets (or use --passive)", file=sys.stderr)
        return 2
    for word in args.targets:
        why = _not_a_target(word)
        if why is not None:
            print(f"wirekit scan: {why}", file=sys.stderr)
            return 2
    if (args.send_only or args.listen_only) and not args.key:
        print("wirekit scan: --send-only/--listen-only need a shared --key", file=sys.stderr)
        return 2
    excludes = [args.exclude] if args.exclude else []
    if args.exclude_file:
        with open(args.exclude_file, encoding="utf-8") as f:
            excludes += [ln.split("#")[0].strip() for ln in f if ln.split("#")[0].strip()]
    try:
        targets = parse_targets(args.targets, excludes)
        if args.ports:
            ports = parse_ports(args.ports)
        else:
            ports = sorted(top_ports(args.top or 100))
    except (TargetError, OSError) as e:
        print(f"wirekit scan: {e}", file=sys.stderr)
        return 2
    for name, addr in targets.resolved:
        print(f"# {name} is {addr}", file=sys.stderr)
    if not len(targets):
        print("wirekit scan: every target is excluded", file=sys.stderr)
        return 2
    if args.connect:
        return _run_connect(args, targets, ports)
    try:
        return _run_raw(args, targets, ports)
    except BrokenPipeError:
        raise  # `wirekit scan ... | head`: wirekit.cli ends quietly
    except PrivilegeError as e:
        if args.dry_run or args.send_only or args.listen_only:
            print(f"wirekit scan: {e}", file=sys.stderr)
            return 1
        print(f"wirekit scan: no raw-socket privilege ({e}); falling back to a TCP connect() scan",
              file=sys.stderr)
        return _run_connect(args, targets, ports)
    except (WirekitError, OSError, ValueError) as e:
        print(f"wirekit scan: {e}", file=sys.stderr)
        return 1


def _route(addr: str) -> tuple[str | None, str | None]:
    """(interface, source address) the kernel would use to reach `addr` (rtnetlink, as
    `ip route get` asks: no process to start before the first probe)."""
    from ..inject.routes import route_get

    try:
        r = route_get(addr)
    except (OSError, ValueError):
        return None, None
    return (r.interface or None), (None if r.source is None else str(r.source))


def _first_of(targets, version: int) -> str | None:
    import ipaddress

    for v, lo, _hi in targets.intervals:
        if v == version:
            return str(ipaddress.ip_address(lo) if v == 4 else ipaddress.IPv6Address(lo))
    return None


class _Reporter:
    """Prints results as jscan did (open ports by default), or JSON lines."""

    def __init__(self, args, out=None):
        self.args = args
        self.out = out or sys.stdout
        self.fp = None
        self._buf: list[str] = []  # rows go out in blocks (a write per row costs more than the row)
        if not args.json:
            self.out.write(f"{'address':<39} {'os':<28} {'service':<14} port\n")

    def os_of(self, r) -> str | None:
        if r.reply is None:
            return None
        if self.fp is None:
            from ..fingerprint import P0fDatabase

            self.fp = P0fDatabase.load()
        from ..fingerprint import TCPSignatureInput

        sig = TCPSignatureInput.from_ip(r.reply)
        if sig is None:
            return None
        # our probes carry MSS 1460: the SYN+ACK's window may be sized from it
        m = self.fp.match(sig, syn_mss=1460)
        return m.label.text if m is not None and m.label is not None else None

    def result(self, r) -> None:
        from ..scan.targets import service_name

        if r.state != "open" and not self.args.all:
            return
        os_label = self.os_of(r)
        svc = service_name(r.port)
        if self.args.json:
            if r.icmp_from or os_label is not None:
                d = {"addr": r.addr, "port": r.port, "proto": "tcp", "state": r.state,
                     "service": svc or None, "os": os_label, "ttl": r.ttl, "window": r.window,
                     "reason": r.reason}
                if r.icmp_from:
                    d["icmp_from"] = r.icmp_from
                self._buf.append(json.dumps(d))
            else:
                # the common row (closed/filtered/no OS) without json.dumps' per-call cost;
                # same keys, order and spelling as the dict above
                self._buf.append(
                    f'{{"addr": "{r.addr}", "port": {r.port}, "proto": "tcp", "state": "{r.state}", '
                    f'"service": {json.dumps(svc) if svc else "null"}, "os": null, '
                    f'"ttl": {"null" if r.ttl is None else r.ttl}, '
                    f'"window": {"null" if r.window is None else r.window}, "reason": "{r.reason}"}}')
        else:
            st = "" if r.state == "open" else f" {r.state}"
            self._buf.append(f"{r.addr:<39} {(os_label or '?')[:28]:<28} {svc or '?':<14} "
                             f"{r.port}/tcp{st}")
        if r.state == "open" or len(self._buf) >= 4096:
            self.flush()  # open ports show at once; the rest goes out in blocks

    def flush(self) -> None:
        if self._buf:
            self.out.write("\n".join(self._buf) + "\n")
            self._buf.clear()
        self.out.flush()

    def close(self, counts: dict, elapsed_s: float, sent: int, mode: str) -> None:
        self.flush()
        if self.args.json:
            self.out.write(json.dumps({"summary": True, "mode": mode, "open": counts.get("open", 0),
                                       "closed": counts.get("closed", 0),
                                       "filtered": counts.get("filtered", 0), "sent": sent,
                                       "elapsed_s": round(elapsed_s, 3)}) + "\n")
        else:
            self.out.write(f"# {mode}: {counts.get('open', 0)} open, {counts.get('closed', 0)} closed, "
                           f"{counts.get('filtered', 0)} filtered; {sent} probes in "
                           f"{elapsed_s:.2f} s\n")
        self.out.flush()


def _run_raw(args, targets, ports) -> int:
    import ipaddress
    import os

    from ..scan.engine import SynScanner

    src4 = src6 = None
    iface = args.interface
    for v in sorted(targets.versions()):
        first = _first_of(targets, v)
        dev, src = _route(first)
        if args.source and ipaddress.ip_address(args.source).version == v:
            src = args.source
        if v == 4:
            src4 = src
        else:
            src6 = src
        iface = iface or dev
        if src is None and not args.listen_only:
            raise ValueError(f"no IPv{v} source address to reach {first} (use -S)")
    secret = args.key.encode() if args.key else os.urandom(16)
    wait_ns = int(args.wait * 1e9)
    # Retry passes start a quarter of --wait after the previous pass: replies to its last
    # probes have had that long, and late ones still count (answered probes are skipped).
    scanner = SynScanner(targets, ports, secret=secret, src4=src4, src6=src6,
                         rate_pps=args.rate, retries=0 if args.send_only else args.retries,
                         wait_ns=wait_ns, retry_delay_ns=wait_ns // 4,
                         source_port=args.source_port, listen_only=args.listen_only)
    if args.send_only:
        scanner.retries = args.retries  # blind re-sends: nobody tells this process who answered
    if args.dry_run:
        return _dry_run(args, scanner)
    from ..capture import live

    rep = _Reporter(args)
    cap = None
    sender = None
    t0 = time.monotonic_ns()
    try:
        if not args.send_only:
            if iface is None:
                raise ValueError("cannot tell which interface replies arrive on (use -i)")
            # only what comes to us: our own outgoing SYNs are not worth a Python call each
            ours = [a for a in (src4, src6) if a]
            flt = "(tcp or icmp or icmp6)"
            if ours:
                flt += " and (" + " or ".join(f"dst host {a}" for a in ours) + ")"
            cap = live.open_live(iface, filter=flt, immediate=True)
        if not args.listen_only:
            sender = _RawSender(sorted(targets.versions()))
            blaster = scanner.blaster()
        idle_deadline = None
        # capture timestamps are wall-clock (CLOCK_REALTIME); the scanner runs on monotonic
        ts_offset_ns = time.monotonic_ns() - time.time_ns()
        while not scanner.done:
            now = time.monotonic_ns()
            if sender is not None:
                rng, pkts = scanner.poll_plan(now, 4096)
                try:
                    if rng is not None:
                        # pass 0: built and sent in Rust, one sendmmsg per 512 probes. Probes
                        # the kernel refused (ENOBUFS) count as lost; retries cover them.
                        blaster.send(sender.fd(4), sender.fd(6), *rng)
                    for pkt in pkts:
                        sender.send(pkt)
                except OSError as e:  # e.g. no route: the probes stay unanswered
                    print(f"wirekit scan: send: {e}", file=sys.stderr)
            if args.send_only and scanner.end_ns is not None:
                break
            if cap is not None:
                dl = scanner.next_deadline()
                timeout_ms = 0 if dl is None else max(0, min(50, (dl - now) // 1_000_000))
                for b in cap.read_batches(int(timeout_ms)):
                    for r in scanner.receive_batch(b, time.monotonic_ns(), ts_offset_ns):
                        rep.result(r)
                        idle_deadline = None
            if args.listen_only:
                # listen until --wait seconds pass without a matched reply
                now = time.monotonic_ns()
                if idle_deadline is None:
                    idle_deadline = now + wait_ns
                elif now >= idle_deadline:
                    break
                continue
            for r in scanner.advance(time.monotonic_ns()):
                rep.result(r)
    except KeyboardInterrupt:
        pass
    finally:
        if cap is not None:
            cap.close()
        if sender is not None:
            sender.close()
    mode = "send-only" if args.send_only else "listen-only" if args.listen_only else "syn scan"
    rep.close(scanner.counts, (time.monotonic_ns() - t0) / 1e9, scanner.sent, mode)
    return 0


class _RawSender:
    """IP_HDRINCL raw sockets (as wirekit.inject.l3.L3Sender opens them), sending straight
    to the address in each probe: the scanner knows the family, so no per-packet parsing."""

    def __init__(self, versions):
        import socket

        from ..privileges import privilege_error

        self._socks = {}
        for v in versions:
            fam = socket.AF_INET if v == 4 else socket.AF_INET6
            try:
                self._socks[v] = socket.socket(fam, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                               socket.IPPROTO_RAW)
            except PermissionError as e:
                self.close()
                raise privilege_error(e, f"opening a raw IPv{v} send socket") from None

    def fd(self, version: int) -> int:
        s = self._socks.get(version)
        return -1 if s is None else s.fileno()

    def send(self, pkt: bytes) -> None:
        import socket

        if pkt[0] >> 4 == 4:
            self._socks[4].sendto(pkt, (socket.inet_ntop(socket.AF_INET, pkt[16:20]), 0))
        else:
            self._socks[6].sendto(pkt, (socket.inet_ntop(socket.AF_INET6, pkt[24:40]), 0))

    def close(self) -> None:
        for s in self._socks.values():
            s.close()
        self._socks = {}


def _dry_run(args, scanner) -> int:
    """Print every probe of the first pass, in sending order; send nothing."""
    from ..fingerprint import TCPSignatureInput

    for k in range(scanner.total):
        sig = TCPSignatureInput.from_ip(scanner.build_syn(scanner.perm[k], 0))
        if args.json:
            print(json.dumps({"dst": sig.dst, "port": sig.dst_port, "src": sig.src,
                              "src_port": sig.src_port, "seq": sig.seq}))
        else:
            print(f"SYN {sig.src}:{sig.src_port} -> {sig.dst}:{sig.dst_port} seq {sig.seq:#010x}")
    print(f"# dry run: {scanner.total} probes per pass, up to {scanner.retries + 1} passes, "
          f"rate {args.rate:g}/s", file=sys.stderr)
    return 0


def _run_connect(args, targets, ports) -> int:
    """The unprivileged fallback: TCP connect() on asyncio, paced at --rate."""
    import asyncio
    import ipaddress

    from ..scan.engine import Permutation, ScanResult

    rep = _Reporter(args)
    counts = {"open": 0, "closed": 0, "filtered": 0}
    total = len(targets) * len(ports)
    perm = Permutation(total, __import__("os").urandom(16))
    timeout = max(args.wait, 0.2) * (args.retries + 1)
    t0 = time.monotonic()

    async def probe(i: int, sem) -> None:
        t, p = divmod(i, len(ports))
        v, a = targets.address(t)
        addr = str(ipaddress.ip_address(a) if v == 4 else ipaddress.IPv6Address(a))
        port = ports[p]
        async with sem:
            try:
                _r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
                w.close()
                state, reason = "open", "connect"
            except ConnectionRefusedError:
                state, reason = "closed", "refused"
            except (asyncio.TimeoutError, OSError):
                state, reason = "filtered", "no-response"
        counts[state] += 1
        rep.result(ScanResult(addr=addr, port=port, state=state, reason=reason))

    async def main() -> None:
        sem = asyncio.Semaphore(512)
        tasks = []
        gap = 1.0 / args.rate if args.rate > 0 else 0.0
        for k in range(total):
            tasks.append(asyncio.create_task(probe(perm[k], sem)))
            if gap:
                await asyncio.sleep(gap)
            elif k % 512 == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    rep.close(counts, time.monotonic() - t0, total, "connect scan (unprivileged)")
    return 0


# -- passive ------------------------------------------------------------------------------
def _run_passive(args: argparse.Namespace) -> int:
    from ..errors import FilterError, WirekitError
    from ..scan.passive import PassiveInventory
    from . import common

    if bool(args.read) == bool(args.interface):
        print("wirekit scan: --passive needs exactly one of -r FILE or -i IFACE", file=sys.stderr)
        return 2
    # In passive mode the positional words are a filter expression, as for `wirekit dump`.
    expr = " ".join(args.targets).strip() or None
    cap = None
    program = None
    try:
        if args.read:
            from ..capture.files import CaptureFile

            cap = CaptureFile(args.read)
            program = common.compile_filter(expr, cap.linktype or 1)
        else:
            from ..capture import live

            # only SYNs and SYN+ACKs matter: the kernel filter drops everything else
            flt = "tcp[tcpflags] & tcp-syn != 0 or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)"
            if expr:
                flt = f"({flt}) and ({expr})"
            cap = live.open_live(args.interface, filter=flt)
    except FilterError as e:
        if cap is not None:
            cap.close()
        return common.fail("scan", str(e), 2)
    except (WirekitError, OSError) as e:
        return common.fail("scan", str(e))
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
        with cap:
            if args.read:
                try:
                    for b in common.filtered_batches(cap, program):
                        emit(inv.feed_batch(b))
                except WirekitError as e:
                    print(f"wirekit scan: {e}", file=sys.stderr)
            else:
                stop_at = None if args.duration is None else time.monotonic() + args.duration
                while stop_at is None or time.monotonic() < stop_at:
                    for b in cap.read_batches(200):
                        emit(inv.feed_batch(b))
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        raise  # `wirekit scan --passive ... | head`: wirekit.cli ends quietly
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
