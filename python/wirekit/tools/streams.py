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

Reassembly runs on one thread and two writer threads write the files meanwhile. A regular
capture file is read through a read-only mapping, and its in-order bytes go from there to
the files with no copy in between (the mapped pages show in RSS; they are page cache). A
direction's bytes are written when 256 KiB are pending or the connection ends, and when
more than 128 MiB of copied bytes are held (live capture, filters) every connection's are
written out at once. A failed write (a full disk) stops the run with the file's name;
streams.jsonl lists only connections whose files were written.

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
import os
import sys
import time

from .. import _core
from ..errors import CaptureFileError, FilterError, PrivilegeError
from . import common

TOOL = "streams"


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


class IndexWriter:
    """With --json, prints the index lines of finished connections to standard output. The
    engine's file sink writes the stream files and DIR/streams.jsonl itself (one Rust call
    per batch, writer threads; no Python per segment)."""

    def __init__(self, json_out):
        self.json_out = json_out
        self.count = 0

    def write(self, lines: list[str]) -> None:
        if not lines:
            return
        self.count += len(lines)
        if self.json_out is not None:
            self.json_out.write("\n".join(lines) + "\n")

    def close(self) -> None:
        if self.json_out is not None:
            self.json_out.flush()


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
    # Checksums are not verified: a bad one would only be an anomaly (the segment is used
    # anyway) and this tool reports none.
    engine = _core.TcpPipeline(policy=policy, verify_checksums=False, delivery="on_ack" if args.on_ack else "immediate",
                               midstream=args.midstream, idle_timeout_ns=int(args.idle_timeout * 1e9),
                               max_conns=max(1, args.max_conns))
    try:
        engine.open_file_sink(args.outdir, echo=args.json)
        writer = IndexWriter(sys.stdout if args.json else None)
    except OSError as e:
        return common.fail(TOOL, f"cannot write the index in {args.outdir!r}: {e.strerror or e}")
    # Stdout carries nothing unless --json: show the bar whenever stderr is a terminal
    # (and --json output is not going to the same terminal).
    show = sys.stderr.isatty() and not (args.json and sys.stdout.isatty())
    progress = common.Progress(source, enabled=show and bool(getattr(source, "size", None)))
    status = 0
    try:
        if args.read and args.read != "-" and program is None:
            # A plain file, no userland filter: the engine reads it itself (one reused
            # buffer, no Python per batch).
            def report(bytes_read: int, frames: int) -> None:
                source.bytes_read = bytes_read
                progress.update(frames)

            records, _frames, error = engine.feed_file_files(args.read, report if progress.enabled else None)
            writer.write(records)
            if error:
                status = common.fail(TOOL, error)
        elif not args.read and hasattr(source, "read_batches"):
            # Live: wake up every second so idle connections time out on a quiet link.
            packets = 0
            while True:
                for batch in source.read_batches(1000):
                    if len(batch):
                        writer.write(engine.feed_batch_files(batch))
                        packets += len(batch)
                now_ns = time.time_ns()
                deadline = engine.next_deadline()
                if deadline is not None and deadline <= now_ns:
                    writer.write(engine.advance_files(now_ns))
                progress.update(packets)
        else:
            packets = 0
            for batch in common.filtered_batches(source, program):
                n = len(batch)
                if not n:
                    continue
                writer.write(engine.feed_batch_files(batch))
                packets += n
                progress.update(packets)
    except KeyboardInterrupt:
        pass
    except (CaptureFileError, ValueError, OSError) as e:
        status = common.fail(TOOL, str(e))
    finally:
        progress.close()
    try:
        writer.write(engine.finish_files())
    except OSError as e:
        # A failed write was reported where it happened; the index keeps every connection
        # whose files were written before it.
        if status == 0:
            status = common.fail(TOOL, f"writing streams: {e.strerror or e}")
    finally:
        writer.close()
    return status
