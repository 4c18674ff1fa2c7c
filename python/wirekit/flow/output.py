"""Flow record files: JSON lines and CSV. `reopen()` is for SIGHUP after log rotation.

Both carry the same fields, named as `FlowRecord.to_json()`: the rev_* keys (JSON) and
columns (CSV) exist only for biflows, so a one-way CSV has `CSV_FIELDS` and a biflow CSV
`CSV_FIELDS + CSV_REV_FIELDS` (`csv_fields(bidirectional)`).
"""

from __future__ import annotations

import csv
import io
import json
import sys

from .record import FlowRecord

__all__ = ["JsonLinesSink", "CsvSink", "reader_gone", "CSV_FIELDS", "CSV_REV_FIELDS", "csv_fields"]


def reader_gone(f) -> bool:
    """True when `f` (stdout) is a pipe or socket whose reader has closed it (`... | head`
    after head is done). Writing would fail with EPIPE, but a tool with nothing to write
    (a quiet link, an idle collector) would otherwise only find out at its next write, maybe
    never. Files and terminals never count as gone."""
    import select

    try:
        fd = f.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    p = select.poll()
    p.register(fd, 0)  # POLLERR (pipe without reader) and POLLHUP are reported regardless
    return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in p.poll(0))


def open_stdout():
    """A buffered text stream of its own on fd 1 (not closing it). sys.stdout is unbuffered
    under PYTHONUNBUFFERED=1 / -u, and then its write() drops the rest of a short write
    silently (the reader of a pipe left: no EPIPE, records lost); a BufferedWriter writes
    everything or raises. Falls back to sys.stdout when it has no file descriptor."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return sys.stdout
    sys.stdout.flush()
    return open(fd, "w", encoding="utf-8", newline="", closefd=False)


class _FileSink:
    def __init__(self, path: str):
        self.path = path
        self._f = None
        self.records = 0
        self.open(mode="w")

    def open(self, mode: str = "a") -> None:
        """Opens the path: truncated at start, appended to on reopen (after a rotation the
        path is a new file anyway; without one, nothing written is lost)."""
        if self.path == "-":
            self._f = open_stdout()
        else:
            self._f = open(self.path, mode, encoding="utf-8", newline="")
        self._opened()

    def _opened(self) -> None:
        pass

    def reopen(self) -> None:
        """Closes and opens the path again (a rotated file is replaced by a new one)."""
        if self.path == "-":
            return
        self._f.close()
        self.open()

    def flush(self) -> None:
        self._f.flush()

    def reader_gone(self) -> bool:
        """Writing to stdout whose reader has left (see `reader_gone`)."""
        return self.path == "-" and self._f is not None and reader_gone(self._f)

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            if self.path != "-":
                self._f.close()
            self._f = None


class JsonLinesSink(_FileSink):
    """One JSON object per flow (FlowRecord.to_json())."""

    def write(self, records: list[FlowRecord]) -> None:
        if records:
            self._f.write("".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records))
            self.records += len(records)


#: CSV columns of one-way flows (`wirekit flow` without --bidirectional), in order; the
#: same names and values as the JSON lines keys. Addresses as text, times in integer ns since
#: the Unix epoch, end_reason as its lower-case name ("idle_timeout", ...).
CSV_FIELDS = ("src", "dst", "src_port", "dst_port", "proto", "packets", "bytes", "first_ns",
              "last_ns", "tcp_flags", "tos", "ttl_min", "ttl_max", "ip_version", "vlan", "ifindex",
              "end_reason")
#: Columns biflows (RFC 5103, --bidirectional) add after CSV_FIELDS: the dst -> src
#: direction, 0 when it carried no packet (the JSON lines have the same keys).
CSV_REV_FIELDS = ("rev_packets", "rev_bytes", "rev_first_ns", "rev_last_ns", "rev_tcp_flags", "rev_tos")


def csv_fields(bidirectional: bool) -> tuple[str, ...]:
    """The CSV header for a meter mode: one-way flows have no rev_* columns."""
    return CSV_FIELDS + CSV_REV_FIELDS if bidirectional else CSV_FIELDS


class CsvSink(_FileSink):
    """CSV with a header line (written when the file is empty). The columns depend on the
    mode, as the JSON keys do: `csv_fields(bidirectional)`."""

    def __init__(self, path: str, *, bidirectional: bool = False):
        self.bidirectional = bidirectional
        self.fields = csv_fields(bidirectional)
        super().__init__(path)

    def _opened(self) -> None:
        self._w = csv.writer(self._f, lineterminator="\n")
        empty = True
        try:
            empty = self._f.tell() == 0
        except (OSError, io.UnsupportedOperation):
            pass
        if empty:
            self._w.writerow(self.fields)

    def write(self, records: list[FlowRecord]) -> None:
        for r in records:
            if r.biflow != self.bidirectional:
                raise ValueError("CsvSink(bidirectional=%s) given a %s record"
                                 % (self.bidirectional, "biflow" if r.biflow else "one-way"))
            d = r.to_json()
            self._w.writerow([d[k] for k in self.fields])
        self.records += len(records)
