"""Meter flows and export them as NetFlow v1/v5/v9/IPFIX, JSON lines or CSV; collect exports.

  wirekit flow -r trace.pcap --json -                       one JSON object per flow
  wirekit flow -r trace.pcap -e 127.0.0.1:2055 -V 9         NetFlow v9 to a collector
  wirekit flow -r trace.pcap -e [::1]:4739 -V 10 --bidirectional   IPFIX biflows (RFC 5103)
  wirekit flow -i eth0 -e 10.0.0.9:2055 --pidfile /run/wk.pid --user nobody  tcp or udp
  wirekit flow collect -l 2055 --json -                     receive v1/v5/v9/IPFIX, print flows
  wirekit flow decode -r export.pcap                        decode captured export traffic

--json and --csv carry the same fields (CSV: one column per JSON key, header first); the rev_*
keys and columns exist only with --bidirectional.

Flows expire on packet time (idle/active timeouts, TCP FIN/RST after a short linger, a full
table, end of input), so replaying a capture gives the same records every run; exports of a
replay carry the capture's clock. Runs in the foreground (for a service manager): SIGTERM and
SIGINT flush every open flow before exit, SIGHUP reopens the --json/--csv files. Exit status:
0 on success, 1 on input/output errors, 2 for usage and filter errors. When the reader of
stdout leaves (`... --json - | head`), the run ends quietly with status 0; exports still get
every flow.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time

from ..errors import CaptureFileError, FilterError, PrivilegeError, WirekitError
from . import common

TOOL = "flow"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("-r", dest="read", metavar="FILE",
                     help="read packets from a pcap or pcapng FILE ('-' for standard input)")
    src.add_argument("-i", dest="interface", metavar="IFACE", action="append",
                     help="capture live on IFACE (repeat for several)")
    p.add_argument("-e", dest="export", metavar="HOST:PORT", action="append", default=[],
                   help="send NetFlow/IPFIX to a collector (repeat for several; [v6addr]:port for IPv6)")
    p.add_argument("-V", dest="version", type=int, choices=(1, 5, 9, 10), default=9,
                   help="export version: 1, 5, 9 (default) or 10 (IPFIX)")
    p.add_argument("--json", metavar="FILE", help="write flows as JSON lines to FILE ('-' = stdout)")
    p.add_argument("--csv", metavar="FILE",
                   help="write flows as CSV to FILE ('-' = stdout); the columns are the JSON keys: "
                        "with --bidirectional the rev_* columns follow, without it there are none")
    p.add_argument("--idle-timeout", type=float, default=15.0, metavar="S",
                   help="expire a flow idle for S seconds (default 15)")
    p.add_argument("--active-timeout", type=float, default=1800.0, metavar="S",
                   help="export and restart a flow open for S seconds (default 1800)")
    p.add_argument("--fin-linger", type=float, default=2.0, metavar="S",
                   help="keep a TCP flow S seconds after RST/FIN for its last ACKs (default 2)")
    p.add_argument("--max-flows", type=int, default=1 << 20, metavar="N",
                   help="flow table size; when full, the open flow whose idle/active/FIN-linger "
                        "deadline comes first is exported early (end reason 5)")
    p.add_argument("--bidirectional", action="store_true",
                   help="RFC 5103 biflows: one record per connection with rev_* counters")
    p.add_argument("--source-id", type=int, default=0, metavar="ID",
                   help="v9 source id / IPFIX observation domain (default 0)")
    p.add_argument("--sampling-interval", type=int, default=1, metavar="N",
                   help="announce 1-in-N sampling in v5/v9/IPFIX (the meter itself sees every packet)")
    p.add_argument("--template-refresh", type=int, default=20, metavar="PACKETS",
                   help="v9/IPFIX: resend templates every PACKETS export datagrams (and every 60 s)")
    p.add_argument("--pidfile", metavar="F", help="write the process id to F (removed at exit, if --user still may)")
    p.add_argument("--user", metavar="USER", help="drop privileges to USER after opening the capture")
    p.add_argument("-q", dest="quiet", action="store_true", help="no statistics on stderr at the end")
    p.add_argument("filter", nargs=argparse.REMAINDER, metavar="EXPRESSION",
                   help="a tcpdump (BPF) filter expression; or 'collect ...' / 'decode ...' (see above)")


def run(args: argparse.Namespace) -> int:
    words = args.filter or []
    if words and words[0] in ("collect", "decode"):
        from ..flow import collect_cli

        return collect_cli.main(words[0], words[1:])
    if not args.read and not args.interface:
        return common.fail(TOOL, "one of -r FILE or -i IFACE is required (or 'collect'/'decode')", 2)
    if not args.export and not args.json and not args.csv:
        args.json = "-"
    if args.max_flows < 1:
        return common.fail(TOOL, "--max-flows must be at least 1", 2)
    from ..flow.export import parse_hostport

    try:
        args.targets = [parse_hostport(t) for t in args.export]
    except ValueError as e:
        return common.fail(TOOL, str(e), 2)
    return _Runner(args).run()


def _drop_privileges(user: str) -> None:
    """Become USER for good (wirekit.privileges: no supplementary groups, no root id left)."""
    from ..privileges import drop_privileges

    try:
        drop_privileges(user)
    except KeyError:
        raise PrivilegeError(f"no such user: {user}") from None


#: Live capture: wake up at least this often (ms) to expire idle flows on a quiet link.
LIVE_TICK_MS = 1000
_TICK = object()


def _live_batches(source, runner):
    """Batches of a live capture, and a _TICK whenever LIVE_TICK_MS passed without one."""
    while not runner.stop:
        got = source.read_batches(LIVE_TICK_MS)
        if not got:
            yield _TICK
        yield from got


class _Runner:
    def __init__(self, args):
        self.args = args
        self.sinks = []
        self.exporters = []
        self.hup = False
        self.stop = False
        self.waiting = False
        self.packed = False
        self.flows = 0

    def _open_outputs(self) -> None:
        from ..flow.output import CsvSink, JsonLinesSink

        a = self.args
        if a.json:
            self.sinks.append(JsonLinesSink(a.json))
        if a.csv:
            self.sinks.append(CsvSink(a.csv, bidirectional=a.bidirectional))
        if a.export:
            from ..flow.export import make_exporter

            self.exporters.append(make_exporter(
                a.version, a.targets, source_id=a.source_id, sampling_interval=a.sampling_interval,
                template_refresh_packets=a.template_refresh, bidirectional=a.bidirectional))

    # Expired flows travel as meter rows (tuples), or, when they are only exported, as
    # records the Rust meter already laid out for the encoder ("packed"): building a Python
    # object per flow would cost more than metering its packets.
    def _setup_packed(self, meter, start_ns=None) -> None:
        a = self.args
        self.packed = bool(self.exporters) and not self.sinks and not (a.bidirectional and a.version in (1, 5))
        if self.packed:
            v4, v6 = self.exporters[0].encoder.layouts()
            meter._m.set_export_layout(v4, v6, start_ns=start_ns, biflow_times=a.bidirectional)

    def _feed(self, meter, batch):
        return meter._m.feed_batch(batch, packed=True) if self.packed else meter.feed_batch_rows(batch)

    def _advance(self, meter, now_ns):
        return meter._m.advance(now_ns, packed=True) if self.packed else meter.advance_rows(now_ns)

    def _flush(self, meter):
        return meter._m.flush(packed=True) if self.packed else meter.flush_rows()

    def _boot(self, meter) -> None:
        # The exporters' clock and the meter's packed uptimes share one boot time.
        start = meter._m.export_start_ns
        for e in self.exporters:
            if e.clock.start_ns is None and start is not None:
                e.clock.start_ns = start

    def emit(self, rows, now_ns: int | None) -> None:
        """Writes and exports expired flows (meter rows, or packed records)."""
        if self.packed:
            n = rows[0] + rows[2]
            if n:
                self.flows += n
                for e in self.exporters:
                    e.export_packed(rows, now_ns)
            return
        if not rows:
            return
        self.flows += len(rows)
        broken = False
        if self.sinks:
            from ..flow.record import records_from_tuples

            records = records_from_tuples(rows, self.args.bidirectional)
            for s in list(self.sinks):
                try:
                    s.write(records)
                    s.flush()  # a daemon's records are visible as soon as they expire
                except BrokenPipeError:
                    # `--json - | head`: that reader is done; the other outputs still get
                    # these records and the final flush.
                    self.sinks.remove(s)
                    broken = True
        for e in self.exporters:
            e.export_rows(rows, now_ns)
        if broken:
            raise BrokenPipeError

    def run(self) -> int:
        from ..flow import FlowMeter
        from ..flow.meter import meter_file

        a = self.args
        try:
            source, program = common.open_source(a)
        except FilterError as e:
            return common.fail(TOOL, str(e), 2)
        except ImportError as e:
            return common.fail(TOOL, f"live capture is not available in this build: {e}")
        except (CaptureFileError, PrivilegeError, OSError, ValueError) as e:
            return common.fail(TOOL, str(e))
        live = not a.read
        broken_pipe = False
        pid_written = False
        status = 0
        meter = FlowMeter(idle_timeout_s=a.idle_timeout, active_timeout_s=a.active_timeout,
                          fin_linger_s=a.fin_linger, max_flows=a.max_flows,
                          bidirectional=a.bidirectional)
        old = {}

        def _stop(signum, frame):
            # Never interrupt between metering a batch and emitting its records (that would
            # lose flows): a live capture's wait is ended with breakloop(), a blocking read of
            # a pipe is broken out of, anything else stops at the next batch.
            self.stop = True
            if live:
                source.breakloop()
            elif self.waiting:
                raise KeyboardInterrupt

        def _hup(signum, frame):
            self.hup = True

        try:
            try:
                self._open_outputs()
            except socket.gaierror as e:
                raise OSError(f"cannot resolve a collector address: {e}") from None
            if a.pidfile:
                with open(a.pidfile, "w") as f:
                    f.write(f"{os.getpid()}\n")
                pid_written = True
            if a.user:
                _drop_privileges(a.user)
            for sig, h in ((signal.SIGTERM, _stop), (signal.SIGINT, _stop), (signal.SIGHUP, _hup)):
                old[sig] = signal.signal(sig, h)
            progress = common.Progress(source)
            packets = 0
            if live:
                boot = (time.time_ns() // 1_000_000) * 1_000_000
                for e in self.exporters:
                    e.clock.start_ns = boot
                self._setup_packed(meter, boot)
            else:
                self._setup_packed(meter)
            if not live and program is None and a.read != "-" and os.path.isfile(a.read):
                # Replay of a regular file: frame, decode and meter in Rust straight from a
                # reused read buffer (no Packet/Batch objects).
                source.close()

                # SIGTERM sets self.stop, polled between chunks: records already metered are
                # always emitted.
                packets = meter_file(a.read, meter, self.emit, on_first_ts=lambda ts: self._boot(meter),
                                     stop=lambda: self.stop, rows=True, packed=self.packed)
                batches = iter(())
            elif live:
                batches = _live_batches(source, self)
            else:
                batches = iter(common.filtered_batches(source, program))
            while True:
                # A live capture's generator ends by itself once stopped, after handing over
                # the batches it already took from the ring (their packets are counted).
                if self.stop and not live:
                    break
                self.waiting = True
                try:
                    batch = next(batches, None)
                finally:
                    self.waiting = False
                if batch is None:
                    break
                if self.hup:
                    # Before emitting: records of this batch go to the reopened files.
                    self.hup = False
                    for s in self.sinks:
                        s.reopen()
                if batch is _TICK and any(s.reader_gone() for s in self.sinks):
                    # `flow -i IF --json - | head` on a quiet link: head is done, so stop
                    # now rather than at the next write (as EPIPE would).
                    raise BrokenPipeError
                n = 0 if batch is _TICK else len(batch)
                if not n:
                    recs = self._advance(meter, time.time_ns()) if live else None
                else:
                    recs = self._feed(meter, batch)
                    if packets == 0 and not live:
                        # A replay's exporter boots just before the first packet: every
                        # export time is on the capture's clock.
                        self._boot(meter)
                packets += n
                if live:
                    # Live: packet time and wall time agree; expire idle flows even when the
                    # link goes quiet (the source yields, possibly empty, batches on timeout).
                    now = time.time_ns()
                    if recs is not None:
                        self.emit(recs, now)
                    self.emit(self._advance(meter, now), now)
                elif recs is not None:
                    self.emit(recs, meter.now_ns)
                progress.update(packets)
            progress.close()
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:
            broken_pipe = True
        except CaptureFileError as e:
            status = common.fail(TOOL, str(e))
        except (WirekitError, OSError) as e:
            status = common.fail(TOOL, str(e))
        finally:
            # Every open flow leaves with the process (SIGTERM loses no flow).
            try:
                now = time.time_ns() if live else meter.now_ns
                self.emit(self._flush(meter), now)
                for e in self.exporters:
                    e.close()
                for s in self.sinks:
                    s.close()
            except BrokenPipeError:
                broken_pipe = True
            except OSError as e:
                status = common.fail(TOOL, str(e))
            for sig, h in old.items():
                signal.signal(sig, h)
            source.close()
            if pid_written:
                try:
                    os.unlink(a.pidfile)
                except OSError:
                    pass
        if not a.quiet:
            st = meter.stats()
            line = (f"{st['packets']} packets, {self.flows} flows"
                    f" ({st['non_ip']} non-IP packets, {st['evicted_cache_full']} flows evicted"
                    f" from a full table, {st['frag_ports_unknown']} fragments without ports)")
            for e in self.exporters:
                line += f"; {e.datagrams_sent} export datagrams"
                if e.send_errors:
                    line += f" ({e.send_errors} send errors)"
            stats = getattr(source, "stats", None)
            if live and callable(stats):
                try:
                    cs = stats()
                    line += f"; capture: {cs['received']} received, {cs['dropped_by_kernel']} dropped by the kernel"
                except (OSError, KeyError, TypeError):
                    pass
            print(line, file=sys.stderr)
        if broken_pipe:
            raise BrokenPipeError  # `wirekit flow ... --json - | head`: cli.main handles it
        return status
