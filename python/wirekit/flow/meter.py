"""FlowMeter: the Rust flow table behind a small Python API (sans-IO).

Feed it batches, packets or iterables of them (`feed`) in packet-time order; it returns the
flows that expired. Call `advance(now_ns)` when no packet arrives (live capture, at
`next_deadline()`), and `flush()` at the end of input. The meter never reads a clock: replaying a capture gives the same
records every run.
"""

from __future__ import annotations

from .. import _core
from .record import FlowRecord, records_from_tuples

__all__ = ["FlowMeter"]

NS = 1_000_000_000


class FlowMeter:
    """Flow table with NetFlow-style expiry.

    idle_timeout_s: a flow silent this long expires (default 15 s, as Cisco and softflowd's
        general timeout for short flows).
    active_timeout_s: a flow open this long is exported and restarted (default 1800 s).
    fin_linger_s: after TCP RST, or FIN (both FINs in a biflow), the flow stays this long so
        the closing ACKs land in it (default 2 s).
    max_flows: table size. A packet that would open a flow in a full table first evicts the
        open flow whose expiry deadline comes first, the earliest of: last packet +
        idle_timeout_s, first packet + active_timeout_s, TCP RST/FIN + fin_linger_s (ties: the
        lowest table slot). That is often the least recently seen flow, but not always: a flow
        in its FIN linger, or near its active timeout, goes before an older idle one; flows
        that never expire (idle and active timeouts both 0) go last, oldest first. The
        evicted flow ends with EndReason.LACK_OF_RESOURCES (counted in
        stats()["evicted_cache_full"], anomaly flow_table_full).
    bidirectional: RFC 5103 biflows (the reverse direction goes into rev_*).
    """

    def __init__(self, *, idle_timeout_s: float = 15.0, active_timeout_s: float = 1800.0,
                 fin_linger_s: float = 2.0, max_flows: int = 1 << 20, bidirectional: bool = False,
                 frag_map_cap: int = 4096):
        if max_flows < 1:
            raise ValueError("max_flows must be at least 1")
        self.bidirectional = bidirectional
        self._m = _core.FlowMeter(
            idle_timeout_ns=int(idle_timeout_s * NS), active_timeout_ns=int(active_timeout_s * NS),
            fin_linger_ns=int(fin_linger_s * NS), max_flows=max_flows, bidirectional=bidirectional,
            frag_map_cap=frag_map_cap)

    def _records(self, rows) -> list[FlowRecord]:
        return records_from_tuples(rows, self.bidirectional) if rows else []

    def feed(self, source) -> list[FlowRecord]:
        """Accounts a `_core.Batch`, a `wirekit.Packet`, or an iterable of either (mixed is
        fine); returns the flows that expired. This is the `feed(packet_or_batch_or_iterable)`
        shape every wirekit engine shares (`wirekit.event.EngineDriver` calls it). A Batch
        goes to Rust whole: no Python work per packet."""
        rows = self.feed_rows(source)
        return records_from_tuples(rows, self.bidirectional) if rows else []

    #: Same as `feed` (kept for existing callers).
    feed_batch = feed

    def advance(self, now_ns: int) -> list[FlowRecord]:
        return self._records(self._m.advance(now_ns))

    def flush(self) -> list[FlowRecord]:
        return self._records(self._m.flush())

    # Raw variants: meter rows (RECORD_FIELDS tuples, addresses packed) instead of FlowRecords,
    # for callers that only encode them (the exporters work on rows; building a FlowRecord
    # per flow would cost more than metering its packets).
    def feed_rows(self, source) -> list[tuple]:
        """`feed`, returning meter rows."""
        m = self._m
        if isinstance(source, _core.Batch):
            return m.feed_batch(source)
        if isinstance(source, _core.Packet):
            return m.feed_packets([source])
        if isinstance(source, (bytes, bytearray, memoryview, str)):
            raise TypeError("FlowMeter.feed takes a Batch, a Packet or an iterable of them, "
                            f"not {type(source).__name__}")
        # An iterable: each run of Packets goes to Rust as one list; Batches (or nested
        # iterables) in it are fed whole, all in the order given.
        rows: list[tuple] = []
        run: list = []
        for item in source:
            if isinstance(item, _core.Packet):
                run.append(item)
                continue
            if run:
                rows += m.feed_packets(run)
                run = []
            rows += self.feed_rows(item)
        if run:
            rows += m.feed_packets(run)
        return rows

    #: Same as `feed_rows` (kept for existing callers).
    feed_batch_rows = feed_rows

    def advance_rows(self, now_ns: int) -> list[tuple]:
        return self._m.advance(now_ns)

    def flush_rows(self) -> list[tuple]:
        return self._m.flush()

    def next_deadline(self) -> int | None:
        return self._m.next_deadline()

    @property
    def now_ns(self) -> int | None:
        return self._m.now_ns

    def __len__(self) -> int:
        return len(self._m)

    def stats(self) -> dict:
        """Counters: packets, non_ip, flows_created, expired_* by reason, evicted_cache_full,
        frag_ports_unknown, frag_map_full, ts_backwards, open_flows."""
        return self._m.stats()

    def anomalies(self) -> dict[str, int]:
        """The anomaly counters (wirekit.anomalies codes) that are not zero."""
        from .. import anomalies as A

        s = self._m.stats()
        counts = {A.FLOW_TABLE_FULL: s["evicted_cache_full"], A.FLOW_FRAG_PORTS_UNKNOWN: s["frag_ports_unknown"],
                  A.FLOW_FRAG_MAP_FULL: s["frag_map_full"], A.FLOW_TS_BACKWARDS: s["ts_backwards"]}
        return {k: v for k, v in counts.items() if v}


#: Read size of `meter_file`: large enough that per-call overhead vanishes, small enough that
#: memory stays flat.
FILE_CHUNK = 1 << 20


def meter_file(path, meter: FlowMeter, on_records, *, chunk_size: int = FILE_CHUNK,
               on_first_ts=None, stop=lambda: False, rows: bool = False, packed: bool = False) -> int:
    """Meters a pcap/pcapng file through the Rust framer without making Packet objects.

    Reads into one reused buffer (no per-chunk allocation), hands each chunk to
    `FlowMeter.feed_buffer`, and calls `on_records(records, now_ns)` with the flows that
    expired. `on_first_ts(ts_ns)` is called once with the first packet's time (exporters
    boot then). `stop()` is polled between chunks. Returns the packet count; raises
    CaptureFileError (after metering every good packet) when the file stops making sense.
    With `rows=True`, `on_records` gets meter rows instead of FlowRecords; with `packed=True`
    the packed output of `FlowMeter.set_export_layout` (always, even when empty).
    """
    import os

    from ..errors import CaptureFileError, CaptureTruncatedError

    feeder = _core.CaptureFeeder()
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    have = 0
    packets = 0
    fd = os.open(os.fspath(path), os.O_RDONLY)
    f = os.fdopen(fd, "rb", buffering=0)
    m = meter._m
    first_seen = False
    try:
        eof = False
        while not eof:
            if have == len(buf):
                # One record larger than the buffer: grow (the framer caps record sizes).
                buf.extend(bytes(len(buf)))
                view.release()
                view = memoryview(buf)
            n = f.readinto(view[have:])
            if not n:
                eof = True
                leftover = bytes(view[:have])
                err = feeder.finish(leftover)
                consumed = 0
            else:
                have += n
                view.release()  # a bytearray cannot be shifted while exported
                consumed, got, err, count, first = m.feed_buffer(feeder, buf, have, packed)
                view = memoryview(buf)
                packets += count
                if count and not first_seen:
                    first_seen = True
                    if on_first_ts is not None:
                        on_first_ts(first)
                if packed:
                    if got[0] or got[2]:
                        on_records(got, m.now_ns)
                elif got:
                    on_records(got if rows else meter._records(got), m.now_ns)
                if consumed:
                    view[: have - consumed] = view[consumed:have]
                    have -= consumed
            if err is not None:
                kind, offset, record, message = err
                cls = CaptureTruncatedError if kind == "truncated" else CaptureFileError
                raise cls(message + f" at byte offset {offset} (packet record {record})",
                          path=os.fspath(path), offset=offset, record=record, kind=kind)
            if stop():
                break
    finally:
        view.release()
        f.close()
    return packets
