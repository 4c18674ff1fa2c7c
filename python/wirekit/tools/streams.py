"""Write every TCP connection's two directions to files, with a JSON index (tcpflow-like).

usage: wirekit streams (-r FILE | -i IFACE) -o DIR [options] [EXPRESSION]

Reassembles TCP over IPv4 and IPv6 (fragments reassembled first) and writes, for each
connection, two files in DIR:

  NNNNNN_CLIENT.CPORT-SERVER.SPORT.c2s   the bytes the client sent (client -> server)
  NNNNNN_CLIENT.CPORT-SERVER.SPORT.s2c   the bytes the server sent (server -> client)

NNNNNN is the connection number (a reused address pair gives a new number). The files hold
the captured bytes only: bytes the capture missed are never zero-filled; they are counted in
the index as gap bytes instead.

DIR/streams.jsonl gets one JSON object per connection, written when it ends:
  client, client_port, server, server_port    addresses (client = sender of the SYN)
  client_file, server_file                     the .c2s / .s2c file names, relative to DIR
  client_bytes, server_bytes                   bytes written to each file
  client_gap_bytes, server_gap_bytes           bytes missing from each direction
  state                                        closed | reset | timed_out | open
                                               ("open": still open when the input ended)
  first_ts_ns, last_ts_ns                      capture time of the first and last segment,
                                               integer nanoseconds since the Unix epoch

Connections whose handshake was not captured are skipped unless --midstream is given.
Overlapping segments with different bytes are resolved by --policy (first wins by default).

A progress bar is shown on standard error when it is a terminal and standard output is not;
nothing when piped. Exit status: 0 on success, 1 on input/output errors, 2 for usage and
filter errors.

examples:
  wirekit streams -r web.pcap -o out/ tcp port 80
  wirekit streams -r big.pcapng -o out/ --json | jq 'select(.state == "reset")'
  wirekit streams -i eth0 -o out/ 'host 10.0.0.5'      (live, until Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import _core
from ..errors import CaptureFileError, FilterError, PrivilegeError
from . import common

TOOL = "streams"
FLUSH_BYTES = 1 << 18  # per direction, before appending to its file

_STATE = {3: "closed", 4: "reset", 5: "timed_out", 6: "open"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_source_arguments(p, live=True, filter_arg=False)
    p.add_argument("-o", dest="outdir", metavar="DIR", required=True,
                   help="directory for the stream files and streams.jsonl (created if missing)")
    p.add_argument("--json", action="store_true",
                   help="also print each index line to standard output as the connection ends")
    p.add_argument("--policy", default="first",
                   choices=["first", "last", "linux", "old-linux", "bsd", "bsd-right", "windows", "solaris"],
                   help="overlap policy: which copy of overlapping bytes wins (default: first)")
    p.add_argument("--on-ack", action="store_true",
                   help="deliver bytes only once acknowledged, so the policy also decides between "
                        "in-order retransmissions with different bytes (Suricata's model)")
    p.add_argument("--midstream", action="store_true",
                   help="also follow connections whose handshake was not captured "
                        "(direction from the SYN/ACK or the lower port)")
    p.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="a connection idle this long is closed with state timed_out (default 600)")
    p.add_argument("--max-conns", type=int, default=1 << 20, metavar="N",
                   help="connections tracked at once; the one closest to expiring is evicted beyond")
    p.add_argument("filter", nargs=argparse.REMAINDER, metavar="EXPRESSION",
                   help="a tcpdump (BPF) filter expression, e.g. 'tcp port 80 and host 10.0.0.1'")


class _Conn:
    __slots__ = ("base", "key", "bufs", "sizes", "gaps", "first_ts", "started")

    def __init__(self, base: str, key: tuple, first_ts: int):
        self.base = base
        self.key = key
        self.bufs = [bytearray(), bytearray()]
        self.sizes = [0, 0]
        self.gaps = [0, 0]
        self.first_ts = first_ts
        self.started = [False, False]


def _addr(v: int, raw: bytes) -> str:
    import socket
    return socket.inet_ntop(socket.AF_INET6 if v == 6 else socket.AF_INET, raw)


class StreamWriter:
    """Consumes the engine's raw event tuples; writes the files and the index."""

    SUFFIX = (".c2s", ".s2c")

    def __init__(self, outdir: str, json_out):
        self.outdir = outdir
        self.conns: dict[int, _Conn] = {}
        self.index = open(os.path.join(outdir, "streams.jsonl"), "w", encoding="utf-8")
        self.json_out = json_out
        self.count = 0

    def _path(self, c: _Conn, d: int) -> str:
        return os.path.join(self.outdir, c.base + self.SUFFIX[d])

    def _flush(self, c: _Conn, d: int) -> None:
        buf = c.bufs[d]
        with open(self._path(c, d), "ab" if c.started[d] else "wb") as f:
            f.write(buf)
        c.started[d] = True
        buf.clear()

    def handle(self, events: list[tuple]) -> None:
        conns = self.conns
        for t in events:
            kind = t[0]
            if kind == 1:
                c = conns.get(t[1])
                if c is not None:
                    d = t[2]
                    c.bufs[d] += t[5]
                    c.sizes[d] += t[4]
                    if len(c.bufs[d]) >= FLUSH_BYTES:
                        self._flush(c, d)
            elif kind == 0:
                v = t[9]
                key = (_addr(v, t[10]), t[11], _addr(v, t[12]), t[13])
                base = f"{t[1]:06d}_{key[0]}.{key[1]}-{key[2]}.{key[3]}"
                conns[t[1]] = _Conn(base, key, t[3])
            elif kind == 2:
                c = conns.get(t[1])
                if c is not None:
                    c.gaps[t[2]] += t[4]
            elif kind in _STATE:
                c = conns.pop(t[1], None)
                if c is not None:
                    self._close(c, _STATE[kind], t[3])

    def _close(self, c: _Conn, state: str, last_ts: int) -> None:
        for d in (0, 1):
            self._flush(c, d)
        rec = {
            "client": c.key[0], "client_port": c.key[1], "server": c.key[2], "server_port": c.key[3],
            "client_file": c.base + self.SUFFIX[0], "server_file": c.base + self.SUFFIX[1],
            "client_bytes": c.sizes[0], "server_bytes": c.sizes[1], "state": state,
            "client_gap_bytes": c.gaps[0], "server_gap_bytes": c.gaps[1],
            "first_ts_ns": c.first_ts, "last_ts_ns": last_ts,
        }
        line = json.dumps(rec, separators=(",", ":"))
        self.index.write(line + "\n")
        self.count += 1
        if self.json_out is not None:
            self.json_out.write(line + "\n")

    def close(self) -> None:
        self.index.close()


def run(args: argparse.Namespace) -> int:
    try:
        source, program = common.open_source(args)
    except FilterError as e:
        return common.fail(TOOL, str(e), 2)
    except ImportError as e:
        return common.fail(TOOL, f"live capture is not available in this build: {e}")
    except (CaptureFileError, PrivilegeError, OSError) as e:
        return common.fail(TOOL, str(e))
    try:
        os.makedirs(args.outdir, exist_ok=True)
    except OSError as e:
        return common.fail(TOOL, f"cannot create output directory {args.outdir!r}: {e.strerror or e}")
    policy = "linux" if args.policy == "old-linux" else args.policy
    engine = _core.TcpPipeline(policy=policy, delivery="on_ack" if args.on_ack else "immediate",
                               midstream=args.midstream, idle_timeout_ns=int(args.idle_timeout * 1e9),
                               max_conns=max(1, args.max_conns))
    try:
        writer = StreamWriter(args.outdir, sys.stdout if args.json else None)
    except OSError as e:
        return common.fail(TOOL, f"cannot write the index in {args.outdir!r}: {e.strerror or e}")
    progress = common.Progress(source)
    packets = 0
    status = 0
    last_ts = 0
    try:
        for batch in common.filtered_batches(source, program):
            n = len(batch)
            if not n:
                continue
            i = 0
            while i < n:
                events, i = engine.feed_batch(batch, i)
                writer.handle(events)
            packets += n
            last_ts = batch.ts_ns()[-1]
            progress.update(packets)
    except KeyboardInterrupt:
        pass
    except (CaptureFileError, OSError) as e:
        status = common.fail(TOOL, str(e))
    finally:
        progress.close()
    try:
        writer.handle(engine.finish(last_ts))
        writer.close()
    except OSError as e:
        return common.fail(TOOL, f"writing streams: {e.strerror or e}")
    return status
