"""FlowMeter: the Rust flow table behind a small Python API (sans-IO).

Feed it batches (or packets) in packet-time order; it returns the flows that expired. Call
`advance(now_ns)` when no packet arrives (live capture, at `next_deadline()`), and `flush()`
at the end of input. The meter never reads a clock: replaying a capture gives the same
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
    max_flows: table size; when full the least recently used flow is exported early
        (counted in stats()["evicted_cache_full"]).
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

    def feed_batch(self, batch) -> list[FlowRecord]:
        """Accounts a `_core.Batch` (or any iterable of Packets); returns expired flows."""
        if isinstance(batch, _core.Batch):
            return self._records(self._m.feed_batch(batch))
        packets = batch.packets() if hasattr(batch, "packets") else list(batch)
        return self._records(self._m.feed_packets(packets))

    def feed(self, packet) -> list[FlowRecord]:
        return self._records(self._m.feed_packets([packet]))

    def advance(self, now_ns: int) -> list[FlowRecord]:
        return self._records(self._m.advance(now_ns))

    def flush(self) -> list[FlowRecord]:
        return self._records(self._m.flush())

    def next_deadline(self) -> int | None:
        return self._m.next_deadline()

    @property
    def now_ns(self) -> int | None:
        return self._m.now_ns

    def __len__(self) -> int:
        return len(self._m)

    def stats(self) -> dict:
        return self._m.stats()
