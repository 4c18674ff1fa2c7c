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
from ..reasm.reassembler import RAW_CLOSED, RAW_DATA, RAW_END_OF_INPUT, RAW_GAP, RAW_OPENED
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
        if type(source) is _core.Batch and r.raw_ok:
            # Fast path: the reassembler's raw event tuples, no event object per stream
            # chunk. Only when no one else listens to the reassembler, so nothing is missed.
            out: list[Banner] = []
            raw = r.feed_raw(source)
            if raw:
                self._raw_events(raw, out)
            return out
        return self._events(r.feed(source))

    def _raw_events(self, raw: list[tuple], out: list[Banner]) -> None:
        # Same logic as `_events`, on `Reassembler.feed_raw`'s tuples (see its docstring
        # for the fields and the RAW_* kinds).
        eng = self.engine
        collecting = self._collecting
        efeed = eng.feed
        streams = eng._streams
        set_collect = self.reassembler.set_collect_raw
        for t in raw:
            kind = t[0]
            if kind == RAW_DATA:  # by far the most frequent
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
                    set_collect(cid, now[0], now[1])
            elif kind == RAW_OPENED:
                cid = t[1]
                v = t[9]
                if eng.open_stream(cid, client=(addr_text(v, t[10]), t[11]),
                                   server=(addr_text(v, t[12]), t[13])):
                    collecting[cid] = (True, True)
                else:
                    set_collect(cid, False, False)
            elif kind == RAW_GAP:
                cid = t[1]
                if cid in collecting:
                    out += eng.gap(cid, _SERVER if t[2] else _CLIENT)
                    self._update_collect(cid)
            elif RAW_CLOSED <= kind <= RAW_END_OF_INPUT:
                if collecting.pop(t[1], None) is not None:
                    out += eng.close_stream(t[1], t[6])

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
        if r.raw_ok:
            r.set_collect_raw(cid, want[0], want[1])
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
