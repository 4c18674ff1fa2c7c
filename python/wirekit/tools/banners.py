"""Passive service and client version detection: who runs what, from the first bytes of
each TCP stream.

  wirekit banners -r trace.pcap                    one line per host, port, role, software
  wirekit banners -r trace.pcap --all              one line per connection
  wirekit banners -r trace.pcap --json             JSON lines (addr, port, role, protocol, ...)
  wirekit banners -i eth0 --user nobody tcp        live, root dropped after opening

Detection is by content, not port (SSH on port 80 is SSH): SSH identification strings,
HTTP Server/X-Powered-By/Via and User-Agent/Host, SMTP/FTP 220 greetings (multi-line),
EHLO names and mail user agents, POP3/IMAP greetings, the MySQL server version, TLS hellos
(SNI, versions, ALPN, JA3, JA4, JA3S, JA4S) and the first printable line of anything else a
server says first. Streams stop being collected as soon as their detectors are done.

Text output: first-seen time (UTC), role, address:port, protocol/kind, software and version,
then the banner, escaped: control characters and escape sequences from the wire are shown
as \\xNN, never sent to the terminal. A server is keyed by address and port; a client by
address only (its ports are ephemeral). Exit status: 0, 1 on input errors, 2 for usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import time

from ..errors import CaptureFileError, FilterError, PrivilegeError, WirekitError
from . import common

TOOL = "banners"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("-r", dest="read", metavar="FILE",
                     help="read packets from a pcap or pcapng FILE ('-' for standard input)")
    src.add_argument("-i", dest="interface", metavar="IFACE", action="append",
                     help="capture live on IFACE (repeat for several; 'any' for all)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--all", action="store_true",
                   help="report every connection's banners, not only the first sighting")
    p.add_argument("--user", metavar="USER",
                   help="drop root privileges to USER once the capture is open")
    p.add_argument("--duration", type=float, metavar="S",
                   help="live: stop after S seconds (default: until SIGINT/SIGTERM)")
    p.add_argument("--max-streams", type=int, default=65536, metavar="N",
                   help="streams inspected at once (default 65536; more are counted, not inspected)")
    p.add_argument("-q", dest="quiet", action="store_true", help="no statistics on stderr at the end")
    p.add_argument("filter", nargs=argparse.REMAINDER, metavar="EXPRESSION",
                   help="a tcpdump (BPF) filter expression, e.g. 'tcp port 22 or tcp port 443'")


def banner_key(b) -> tuple:
    """The identity of a sighting: servers by address and port, clients by address."""
    what = str(b.software) if b.software is not None else b.text
    port = b.port if b.role.value == "server" else 0
    return (b.addr, port, b.role.value, b.protocol, b.kind, what)


def banner_json(b) -> str:
    sw = b.software
    obj = {
        "ts_ns": b.ts_ns,
        "addr": b.addr,
        "port": b.port,
        "role": b.role.value,
        "protocol": b.protocol,
        "kind": b.kind,
        "banner": b.text,
        "software": sw.name if sw is not None else None,
        "version": (sw.version or None) if sw is not None else None,
        "version_addl": sw.addl if sw is not None else None,
    }
    if b.attrs:
        obj["attrs"] = dict(b.attrs)
    # ensure_ascii: every non-ASCII character (C1 controls, bidi overrides) is \\u-escaped,
    # and JSON escapes C0 controls, so the line is terminal-safe as well.
    return json.dumps(obj, ensure_ascii=True)


def banner_text(b) -> str:
    from ..banners import escape_for_terminal

    ts = datetime.datetime.fromtimestamp(b.ts_ns / 1e9, datetime.timezone.utc)
    where = f"[{b.addr}]:{b.port}" if ":" in b.addr else f"{b.addr}:{b.port}"
    sw = escape_for_terminal(str(b.software)) if b.software is not None else "-"
    return (f"{ts:%Y-%m-%dT%H:%M:%S.%f}Z {b.role.value:6} {where} {b.protocol}/{b.kind} "
            f"{sw} | {escape_for_terminal(b.raw)}")


def drop_privileges(user: str) -> None:
    """Become USER for good (wirekit.privileges: no supplementary groups, no root id left)."""
    from ..privileges import drop_privileges as drop

    try:
        drop(user)
    except KeyError:
        raise PrivilegeError(f"no such user: {user}") from None


class _Output:
    def __init__(self, args) -> None:
        self.json = args.json
        self.all = args.all
        self.seen: set[tuple] = set()
        self.lines = 0
        self.out = sys.stdout

    def write(self, banners) -> None:
        for b in banners:
            if not self.all:
                k = banner_key(b)
                if k in self.seen:
                    continue
                self.seen.add(k)
            self.out.write((banner_json(b) if self.json else banner_text(b)) + "\n")
            self.lines += 1
        if banners:
            self.out.flush()


def run(args: argparse.Namespace) -> int:
    from ..banners.streams import BannerScanner

    if args.max_streams < 1:
        return common.fail(TOOL, "--max-streams must be at least 1", 2)
    try:
        source, program = common.open_source(args)
    except FilterError as e:
        return common.fail(TOOL, str(e), 2)
    except ImportError as e:
        return common.fail(TOOL, f"live capture is not available in this build: {e}")
    except (CaptureFileError, PrivilegeError, OSError, ValueError) as e:
        return common.fail(TOOL, str(e))
    live = not args.read
    if args.user:
        try:
            drop_privileges(args.user)
        except (PrivilegeError, OSError) as e:
            return common.fail(TOOL, f"--user {args.user}: {e}")
    scanner = BannerScanner(max_streams=args.max_streams)
    out = _Output(args)
    stop = {"now": False}

    def _stop(signum, frame):
        stop["now"] = True
        if not live:
            raise KeyboardInterrupt

    old = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    packets = 0
    try:
        if live:
            deadline = time.monotonic() + args.duration if args.duration else None
            while not stop["now"] and (deadline is None or time.monotonic() < deadline):
                for batch in source.read_batches(250):
                    packets += len(batch)
                    out.write(scanner.feed(batch))
                # A quiet link still ages connections out (idle timeouts).
                out.write(scanner.advance(time.time_ns()))
        else:
            progress = common.Progress(source)
            for batch in common.filtered_batches(source, program):
                packets += len(batch)
                out.write(scanner.feed(batch))
                progress.update(packets)
            progress.close()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        raise
    except (CaptureFileError, WirekitError, OSError) as e:
        status = common.fail(TOOL, str(e))
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    try:
        out.write(scanner.finish(time.time_ns() if live else None))
    finally:
        try:
            source.close()
        except Exception:  # noqa: BLE001 - closing is best effort at exit
            pass
    if not args.quiet:
        c = scanner.counters
        print(f"wirekit banners: {packets} packets, {c['streams_opened']} streams, "
              f"{c['banners']} banners ({out.lines} lines), {c['streams_done']} streams released "
              f"early, {c['banner_stream_table_full']} not inspected (table full)",
              file=sys.stderr)
    return status
