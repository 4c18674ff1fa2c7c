"""BannerScanner: the banner engine fed by the TCP reassembler (``wirekit.reasm``).

This is the glue a user would write themselves, and what ``wirekit banners`` runs:

    scanner = BannerScanner()
    for batch in wirekit.open("trace.pcap").batches():
        for banner in scanner.feed(batch):
            print(banner.addr, banner.port, banner.software)
    for banner in scanner.finish():
        ...

Stream opened -> a fresh set of detectors is attached; stream data -> fed to them; once no
detector wants a direction any more, the reassembler is told to stop collecting it
(``Reassembler.set_collect``), so it buffers nothing more for that connection and memory
stays flat however long or large the connection is. A gap (bytes never captured) ends the
detectors' reading of that direction: a banner is never stitched across missing bytes.
Closed, reset, timed-out and end-of-input streams flush what detectors still hold (an
identification line cut by the end of a capture is still reported).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..reasm import (
    Reassembler,
    StreamClosed,
    StreamData,
    StreamGap,
    StreamOpened,
    StreamReset,
    StreamTimedOut,
)
from .. import _core
from ..reasm import Direction as ReasmDirection
from ..reasm.events import addr_text
from .base import _CLIENT, _SERVER, Banner, Detector
from .engine import BannerEngine

__all__ = ["BannerScanner", "scan_capture"]

_NOTHING = (False, False)
_DIR = {ReasmDirection.TO_SERVER: _CLIENT, ReasmDirection.TO_CLIENT: _SERVER}


class BannerScanner:
    """Reassembler + BannerEngine. Sans-IO like both: batches (or packets) and ``now_ns``
    in, Banner events out.

    Args:
        detectors: detector factories (default: the registry).
        max_streams: banner engine stream table size (see BannerEngine).
        reassembler_options: keyword arguments for ``wirekit.reasm.Reassembler``; by default
            connections whose handshake was not captured are followed too (``midstream``),
            since a capture often starts while sessions are open.
    """

    def __init__(self, detectors: Sequence[Callable[[], Detector]] | None = None, *,
                 max_streams: int = 65536, **reassembler_options: Any) -> None:
        self.engine = BannerEngine(detectors, max_streams=max_streams)
        opts = {"midstream": True}
        opts.update(reassembler_options)
        self.reassembler = Reassembler(**opts)
        # conn_id -> directions still collected: (to_server, to_client)
        self._collecting: dict[int, tuple[bool, bool]] = {}

    def feed(self, source: Any) -> list[Banner]:
        """A capture batch, a Packet or a list of Packets."""
        r = self.reassembler
        if type(source) is _core.Batch and not r._callbacks and r.want is None:
            # Fast path: drive the reassembler's engine (`TcpPipeline`) directly and read
            # its raw event tuples, creating no event object per stream chunk (that
            # conversion was about a quarter of the run time on large captures). Only
            # when no one else listens to the reassembler's events, so nothing is missed.
            p = r._p
            out: list[Banner] = []
            i, n = 0, len(source)
            while i < n:
                raw, i = p.feed_batch(source, i)
                if raw:
                    self._raw_events(raw, out)
            return out
        return self._events(r.feed(source))

    def _raw_events(self, raw: list[tuple], out: list[Banner]) -> None:
        # Same logic as `_events`, on the tuples of `_core.TcpPipeline`: (kind, conn_id,
        # direction, offset, len, data, ts_ns, flags, anomaly, ip_version, client addr,
        # client port, server addr, server port); kinds 0 opened, 1 data, 2 gap, 3 closed,
        # 4 reset, 5 timed out, 6 closed at end of input (see wirekit.reasm.reassembler).
        eng = self.engine
        collecting = self._collecting
        efeed = eng.feed
        streams = eng._streams
        r = self.reassembler
        p = r._p
        for t in raw:
            kind = t[0]
            if kind == 1:  # by far the most frequent
                cid = t[1]
                want = collecting.get(cid)
                if want is None:
                    continue
                got = efeed(cid, _SERVER if t[2] else _CLIENT, t[5], t[6])
                if got:
                    out += got
                st = streams.get(cid)
                now = _NOTHING if st is None else st.wanted
                if now != want:
                    if now[0] or now[1]:
                        collecting[cid] = now
                    else:
                        del collecting[cid]
                    # The returned events are for data already queued: none matter now.
                    p.set_collect(cid, now[0], now[1], max(p.last_ts_ns, r._last_ts_ns))
            elif kind == 0:
                cid = t[1]
                v = t[9]
                if eng.open_stream(cid, client=(addr_text(v, t[10]), t[11]),
                                   server=(addr_text(v, t[12]), t[13])):
                    collecting[cid] = (True, True)
                else:
                    self._set_collect_raw(cid, False, False)
            elif kind == 2:
                cid = t[1]
                if cid in collecting:
                    out += eng.gap(cid, _SERVER if t[2] else _CLIENT)
                    self._update_collect(cid)
            elif 3 <= kind <= 6:
                if collecting.pop(t[1], None) is not None:
                    out += eng.close_stream(t[1], t[6])

    def _set_collect_raw(self, cid: int, to_server: bool, to_client: bool) -> None:
        r = self.reassembler
        # The returned events are for data already queued: none matter any more.
        r._p.set_collect(cid, to_server, to_client, r._now_ns())

    def advance(self, now_ns: int) -> list[Banner]:
        """Idle timeouts up to ``now_ns`` (live capture on a quiet link)."""
        return self._events(self.reassembler.advance(now_ns))

    def next_deadline(self) -> int | None:
        return self.reassembler.next_deadline()

    def finish(self, now_ns: int | None = None) -> list[Banner]:
        """End of input: flush every stream still open."""
        out = self._events(self.reassembler.finish(now_ns))
        return out

    @property
    def counters(self) -> dict[str, int]:
        return self.engine.counters

    def _events(self, events) -> list[Banner]:
        eng = self.engine
        collecting = self._collecting
        out: list[Banner] = []
        for ev in events:
            t = type(ev)
            if t is StreamData:  # by far the most frequent: checked first, exactly
                cid = ev.conn_id
                if cid not in collecting:
                    continue
                got = eng.feed(cid, _DIR[ev.direction], ev.data, ev.ts_ns)
                if got:
                    out += got
                want = eng.wanted(cid)
                if want != collecting[cid]:
                    self._set_collect(cid, want)
            elif t is StreamOpened:
                k = ev.key
                if eng.open_stream(ev.conn_id, client=(k.client, k.client_port),
                                   server=(k.server, k.server_port)):
                    collecting[ev.conn_id] = (True, True)
                else:
                    self.reassembler.set_collect(ev.conn_id, False, False)
            elif t is StreamGap:
                if ev.conn_id in collecting:
                    out += eng.gap(ev.conn_id, _DIR[ev.direction])
                    self._update_collect(ev.conn_id)
            elif t is StreamClosed or t is StreamReset or t is StreamTimedOut:
                if collecting.pop(ev.conn_id, None) is not None:
                    out += eng.close_stream(ev.conn_id, ev.ts_ns)
        return out

    def _update_collect(self, cid: int) -> None:
        want = self.engine.wanted(cid)
        if want != self._collecting[cid]:
            self._set_collect(cid, want)

    def _set_collect(self, cid: int, want: tuple[bool, bool]) -> None:
        if not (want[0] or want[1]):
            del self._collecting[cid]
        else:
            self._collecting[cid] = want
        # Events this call returns are for data already queued: none matter any more.
        r = self.reassembler
        if not r._callbacks:
            self._set_collect_raw(cid, want[0], want[1])
        else:
            r.set_collect(cid, want[0], want[1])


def scan_capture(path: str, **options: Any) -> list[Banner]:
    """Every banner of a capture file, in stream order (``BannerScanner`` options apply).

        for b in scan_capture("trace.pcap"):
            print(b.role.value, b.addr, b.port, b.software)
    """
    from ..capture.files import CaptureFile

    scanner = BannerScanner(**options)
    out: list[Banner] = []
    with CaptureFile(path) as source:
        for batch in source.batches():
            out += scanner.feed(batch)
    out += scanner.finish()
    return out
