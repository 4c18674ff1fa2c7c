"""Export clock: sysUptime and record times, consistent by construction.

NetFlow v1/v5/v9 carry record times as milliseconds of the exporter's sysUptime, and the
header carries (sysUptime, unix_secs, unix_nsecs) of the export so a collector computes
absolute time = unix time - sysUptime + record time (RFC 3954 section 5.1). Rules here:

* The exporter's boot (`start_ns`) is one second before the first packet for a pcap replay
  (so every time is on the capture's clock) or the process start for a live capture, rounded
  down to a millisecond so that the collector's reconstruction gives back each record's
  millisecond. The second of margin keeps the first flow's FIRST_SWITCHED above 0, which
  nfdump reads as "no time" (it printed 1970-01-01 for such a flow).
* The export time is never earlier than the last packet of the records it carries, and record
  times are never before boot: no negative uptimes, no negative durations.
* sysUptime wraps at 2**32 ms (49.7 days), as a router's does.
"""

from __future__ import annotations

MS = 1_000_000


class ExportClock:
    def __init__(self, start_ns: int | None = None):
        self.start_ns = None if start_ns is None else (start_ns // MS) * MS

    def start(self, ns: int, *, margin_ns: int = 1_000_000_000) -> None:
        """Sets the boot time once, `margin_ns` before `ns` (first packet, process start)."""
        if self.start_ns is None:
            self.start_ns = ((ns - margin_ns) // MS) * MS

    def export_ns(self, rows, now_ns: int | None) -> int:
        """Export time for meter rows (RECORD_FIELDS layout): `now_ns`, but never before the
        last packet of any of them."""
        last = max((max(r[11], r[19]) if r[16] else r[11] for r in rows), default=None)
        first = min((min(r[10], r[18]) if r[16] else r[10] for r in rows), default=None)
        return self.export_ns_span(first, last, now_ns)

    def export_ns_span(self, first: int | None, last: int | None, now_ns: int | None) -> int:
        """export_ns() for records whose packets span [first, last]."""
        if self.start_ns is None:
            self.start(first if first is not None else (now_ns or 0))
        now = now_ns if now_ns is not None else last
        if now is None:
            now = self.start_ns
        if last is not None and now < last:
            now = last
        return max(now, self.start_ns)

    def uptime_ms(self, ns: int) -> int:
        """sysUptime (ms, 32 bits) at time `ns`; times before boot count as boot."""
        return (max(ns - self.start_ns, 0) // MS) & 0xFFFFFFFF
