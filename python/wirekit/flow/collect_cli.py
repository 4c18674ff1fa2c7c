"""`wirekit flow collect` and `wirekit flow decode`: the I/O around `Collector`."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import time

from .collect import Collector, sniff

__all__ = ["main", "decode_capture", "udp_payloads"]


def udp_payloads(path):
    """(ts_ns, (src, src_port), payload) of every UDP datagram in a capture (any port).
    IP fragments are reassembled first (large IPFIX messages travel fragmented)."""
    import wirekit
    from ..reasm.defrag import Defragmenter

    defrag = Defragmenter()
    for pkt in defrag.process(wirekit.open(path)):
        if not isinstance(pkt, wirekit.Packet):
            continue  # a defragmentation anomaly event
        d = pkt.decode()
        udp = getattr(d, "udp", None)
        ip = getattr(d, "ip", None)
        if udp is None or ip is None:
            continue
        yield pkt.ts_ns, (str(ip.src), udp.src_port), bytes(d.payload)


def decode_capture(path, collector: Collector | None = None) -> tuple[list[dict], Collector]:
    """Decodes every NetFlow/IPFIX datagram of a capture, recognised by content."""
    c = collector or Collector()
    out = []
    for ts_ns, exporter, payload in udp_payloads(path):
        if sniff(payload) is None:
            c.stats["not_netflow"] += 1
            continue
        out += c.feed(payload, exporter, ts_ns)
    c.close()
    return out, c


class _Out:
    def __init__(self, path):
        self.path = path
        if path == "-":
            from .output import open_stdout

            self.f = open_stdout()
        else:
            self.f = open(path, "a", encoding="utf-8")

    def write(self, recs):
        if recs:
            self.f.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs))
            self.f.flush()

    def reopen(self):
        if self.path != "-":
            self.f.close()
            self.f = open(self.path, "a", encoding="utf-8")

    def close(self):
        if self.path != "-":
            self.f.close()
        else:
            self.f.flush()

    def reader_gone(self) -> bool:
        """stdout's reader has closed it (`collect | head` after head is done): see
        wirekit.flow.output.reader_gone."""
        from .output import reader_gone

        return self.path == "-" and reader_gone(self.f)


def _stats_line(c: Collector) -> str:
    s = c.stats
    return (f"{s['datagrams']} datagrams, {s['records']} flow records, {s['templates']} templates,"
            f" {s['options_templates']} options templates and {s['options_records']} options records"
            f" skipped, {s['data_dropped_no_template']} data sets dropped without template,"
            f" {s['not_netflow']} not NetFlow/IPFIX, {s['malformed']} malformed")


def main(mode: str, argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog=f"wirekit flow {mode}")
    if mode == "decode":
        ap.add_argument("-r", dest="read", required=True, metavar="FILE",
                        help="capture of export traffic (any UDP port)")
    else:
        ap.add_argument("-l", dest="listen", required=True, metavar="[ADDR:]PORT",
                        help="UDP address to listen on ([::]:PORT for IPv6; default 0.0.0.0)")
        ap.add_argument("-c", dest="count", type=int, metavar="N", help="stop after N datagrams")
        ap.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds without a datagram")
    ap.add_argument("--json", metavar="FILE", default="-", help="write flow records as JSON lines (default: stdout)")
    ap.add_argument("-q", dest="quiet", action="store_true", help="no statistics on stderr at the end")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    out = _Out(args.json)
    if mode == "decode":
        from ..errors import CaptureFileError

        try:
            recs, c = decode_capture(args.read)
        except (CaptureFileError, OSError) as e:
            print(f"wirekit flow: {e}", file=sys.stderr)
            return 1
        out.write(recs)
        out.close()
        if not args.quiet:
            print(_stats_line(c), file=sys.stderr)
        return 0
    return _collect(args, out)


def _collect(args, out: _Out) -> int:
    from .export import parse_hostport

    try:
        host, port = parse_hostport(args.listen, default_host="0.0.0.0")
    except ValueError as e:
        print(f"wirekit flow collect: {e}", file=sys.stderr)
        return 2
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    except OSError:
        pass
    try:
        sock.bind((host, port))
    except OSError as e:
        print(f"wirekit flow collect: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 1
    c = Collector()
    state = {"stop": False, "hup": False}

    def _stop(signum, frame):
        state["stop"] = True

    def _hup(signum, frame):
        state["hup"] = True

    old = {s: signal.signal(s, h) for s, h in ((signal.SIGTERM, _stop), (signal.SIGINT, _stop), (signal.SIGHUP, _hup))}
    sock.settimeout(0.2)
    gone = False
    n = 0
    last = time.monotonic()
    try:
        while not state["stop"]:
            if state["hup"]:
                state["hup"] = False
                out.reopen()
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                c.advance(time.time_ns())
                if out.reader_gone():
                    gone = True
                    break
                if args.timeout is not None and time.monotonic() - last >= args.timeout:
                    break
                continue
            except InterruptedError:
                continue
            last = time.monotonic()
            out.write(c.feed(data, (addr[0], addr[1]), time.time_ns()))
            n += 1
            if args.count is not None and n >= args.count:
                break
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        c.close()
        sock.close()
        if not gone:
            out.close()
    if gone:
        # As when a write fails with EPIPE: wirekit.cli.main exits with status 0, silently.
        raise BrokenPipeError
    if not args.quiet:
        print(_stats_line(c), file=sys.stderr)
    return 0
