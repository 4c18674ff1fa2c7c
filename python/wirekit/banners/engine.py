"""BannerEngine: runs the registered detectors over the streams a reassembler delivers.

Sans-IO: it is told that a stream opened (with its endpoints), handed each in-order chunk
of either direction with its ``ts_ns``, and told when the stream ended; it returns Banner
events. It never reads a clock, a socket or a file, so pcap replay, live capture and tests
drive it identically.

    engine = BannerEngine()
    engine.open_stream(key, client=("10.0.0.1", 40000), server=("10.0.0.2", 22))
    banners = engine.feed(key, Direction.SERVER, b"SSH-2.0-OpenSSH_9.2p1\\r\\n", ts_ns)
    if not engine.wants(key):      # every detector is done with this stream:
        reassembler.set_collect(conn_id, False, False)   # memory stays flat

(``BannerScanner`` in ``streams.py`` is exactly that glue over ``wirekit.reasm``.)

Detectors are attached lazily: when a direction's first bytes arrive, only the detector
classes whose ``accepts(direction, first_bytes)`` says yes are instantiated. Once a detector
``claim``s a direction, the others stop reading it. A detector that sees a tunnel open
(HTTP CONNECT answered 2xx) makes the engine start detection afresh on the bytes after it.

Bounds: at most ``max_streams`` streams are tracked; a stream opened while the table is full
is not tracked (policy: refuse new, keep old, since old streams are nearly always done
soon) and counted as the anomaly ``banner_stream_table_full``. Each detector reads at most
its ``max_bytes`` per direction, so a stream's state is bounded by the largest budget.
"""

from __future__ import annotations

from typing import Callable, Hashable, Sequence

from .base import _CLIENT, _SERVER, DETECTORS, Banner, Detector, Direction

__all__ = ["BannerEngine", "BANNER_STREAM_TABLE_FULL", "BANNER_GAP"]

#: Anomaly code (also in wirekit.anomalies): a stream was not tracked, the table was full.
BANNER_STREAM_TABLE_FULL = "banner_stream_table_full"
#: Anomaly code: a stream gap ended banner reading of that direction.
BANNER_GAP = "banner_gap"

DEFAULT_MAX_STREAMS = 65536
#: Tunnels followed inside one connection (CONNECT within CONNECT ...).
MAX_TUNNEL_DEPTH = 2
_DIRS = (_CLIENT, _SERVER)


class _Stream:
    __slots__ = ("endpoints", "attached", "detectors", "started", "depth", "reported", "pending",
                 "wanted")

    def __init__(self, endpoints) -> None:
        self.endpoints = endpoints  # ((client addr, port), (server addr, port))
        self.attached = 0  # bit i set: the engine's factory i has an instance here
        self.detectors: list[Detector] = []
        self.started = [False, False]  # has the direction sent any bytes yet
        self.depth = 0  # tunnels entered (HTTP CONNECT) before these bytes
        # per side (0 client, 1 server): a specific detector reported; held fallback banners
        self.reported = [False, False]
        self.pending: list[list[Banner]] = [[], []]
        self.wanted = (True, True)  # cached (client, server) wants, refreshed after each change

    def refresh(self) -> bool:
        """Recompute the cached wants; True when either direction is still wanted."""
        # a direction that has not started yet may still attach detectors
        wc, ws = not self.started[0], not self.started[1]
        for d in self.detectors:
            w = d._wanted
            if w[0]:
                wc = True
            if w[1]:
                ws = True
        self.wanted = (wc, ws)
        return wc or ws

    def wants(self, direction: Direction) -> bool:
        if not self.started[0 if direction is _CLIENT else 1]:
            return True
        return any(d.wants(direction) for d in self.detectors)

    def attach(self, direction: Direction, first: bytes, candidates: tuple) -> None:
        """A direction's first bytes: attach every detector whose ``accepts`` takes them
        (``candidates``: (bit, factory, accepts) for the factories that accept the first
        byte alone). A detector attached now missed the other direction's start if it had
        one, so it does not read that direction."""
        i = direction is _SERVER
        other_started = self.started[not i]
        self.started[i] = True
        attached = self.attached
        for bit, f, accepts in candidates:
            if attached & bit:
                continue
            if other_started and getattr(f, "fallback", False):
                continue  # a fallback reads only the side that speaks first
            if accepts is None or accepts(direction, first):
                det = f()
                det.endpoints = self.endpoints
                if other_started:
                    det.missed(_CLIENT if i else _SERVER)
                self.detectors.append(det)
                attached |= bit
        self.attached = attached


class BannerEngine:
    """Attach fresh detector instances to each stream; collect banners.

    A detector is attached when a direction's first bytes pass its ``accepts`` test (cheap,
    on as little as one byte), so a stream costs only the detectors that might match it.

    Args:
        detectors: detector factories (classes); default: the registry ``DETECTORS`` as it
            is when the engine is made.
        max_streams: most streams tracked at once (see the module doc for the policy).
    """

    def __init__(self, detectors: Sequence[Callable[[], Detector]] | None = None, *,
                 max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        self._factories = list(DETECTORS if detectors is None else detectors)
        self._streams: dict[Hashable, _Stream] = {}
        # (direction index, first byte) -> (bit, factory, accepts) of the factories whose
        # accepts takes that byte alone
        self._candidates: dict[tuple[int, int], tuple] = {}
        self.max_streams = max_streams
        #: counters: streams_opened, streams_done (stopped early), streams_closed,
        #: banners, and anomaly codes.
        self.counters: dict[str, int] = {"streams_opened": 0, "streams_done": 0,
                                         "streams_closed": 0, "banners": 0, "tunnels": 0,
                                         BANNER_STREAM_TABLE_FULL: 0, BANNER_GAP: 0}

    def _first_byte_candidates(self, direction: Direction, first: bytes) -> tuple:
        # ``accepts`` must take a one-byte prefix of anything it takes (its contract), so
        # the factories accepting the first byte alone are the only ones worth asking.
        out = []
        for n, f in enumerate(self._factories):
            accepts = getattr(f, "accepts", None)
            if accepts is None or accepts(direction, first):
                out.append((1 << n, f, accepts))
        return tuple(out)

    def __len__(self) -> int:
        return len(self._streams)

    def open_stream(self, key: Hashable, *, client: tuple[str, int],
                    server: tuple[str, int]) -> bool:
        """Start tracking a stream. ``client``/``server`` are (address text, TCP port) of
        the initiator and the responder. False when the table is full (not tracked)."""
        if key in self._streams:
            self._streams.pop(key)
        elif len(self._streams) >= self.max_streams:
            self.counters[BANNER_STREAM_TABLE_FULL] += 1
            return False
        self.counters["streams_opened"] += 1
        self._streams[key] = _Stream((client, server))
        return True

    def wants(self, key: Hashable, direction: Direction | None = None) -> bool:
        """Whether the stream's bytes (of one direction, or of either) are still needed."""
        st = self._streams.get(key)
        if st is None:
            return False
        if direction is None:
            return st.wanted[0] or st.wanted[1]
        return st.wanted[0 if direction is _CLIENT else 1]

    def wanted(self, key: Hashable) -> tuple[bool, bool]:
        """(client bytes wanted, server bytes wanted); (False, False) for an unknown key."""
        st = self._streams.get(key)
        return (False, False) if st is None else st.wanted

    def feed(self, key: Hashable, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        """The next in-order bytes of one direction. Returns the banners they completed.
        When this call leaves the stream with nothing wanted, the stream is forgotten."""
        st = self._streams.get(key)
        if st is None or not data:
            return []
        di = 0 if direction is _CLIENT else 1
        if not st.started[di]:
            cands = self._candidates.get((di, data[0]))
            if cands is None:
                cands = self._candidates[(di, data[0])] = self._first_byte_candidates(direction, data[:1])
            st.attach(direction, data, cands)
        out: list[Banner] = []
        claimed = False
        tunnel = None
        # One pass: feed each detector, then note its claim and tunnel (a detector's claim
        # or tunnel changes only in its own feed, so this equals feeding all, then looking).
        for det in st.detectors:
            wanted = det._wanted
            if wanted[di]:
                fed = det._fed
                budget = det.max_bytes - fed[di]
                chunk = data if len(data) <= budget else data[:budget]
                fed[di] += len(chunk)
                got = det.feed(direction, chunk, ts_ns)
                if fed[di] >= det.max_bytes and wanted[di]:
                    got += det.finish(direction, ts_ns)
                    det.stop(direction)
                if got:
                    self._take(st, det, got, out)
            if tunnel is None and det.tunnel is not None:
                tunnel = det
            if not claimed:
                c = det._claimed
                if (c[0] or c[1]) and not det.fallback:
                    claimed = True
        if tunnel is not None:
            return self._finish_banners(st, out) + self._restart(key, st, tunnel.tunnel, ts_ns)
        if claimed:
            self._exclusive(st)
        if st.pending[0] or st.pending[1]:
            self._settle(st, direction, out)
        if not st.refresh():
            self.counters["streams_done"] += 1
            del self._streams[key]
        if out:
            self.counters["banners"] += len(out)
        return out

    def _restart(self, key: Hashable, st: _Stream, early: tuple[bytes, bytes],
                 ts_ns: int) -> list[Banner]:
        # A tunnel opened (HTTP CONNECT): what follows is a new conversation between the
        # same endpoints, so detection starts again from the first bytes. Nesting is
        # bounded: a tunnel inside a tunnel inside a tunnel is not followed.
        if st.depth >= MAX_TUNNEL_DEPTH:
            del self._streams[key]
            self.counters["streams_done"] += 1
            return []
        self.counters["tunnels"] += 1
        fresh = _Stream(st.endpoints)
        fresh.depth = st.depth + 1
        self._streams[key] = fresh
        out: list[Banner] = []
        if early[0]:
            out += self.feed(key, _CLIENT, early[0], ts_ns)
        if early[1] and key in self._streams:
            out += self.feed(key, _SERVER, early[1], ts_ns)
        return out

    def gap(self, key: Hashable, direction: Direction) -> list[Banner]:
        """Bytes of one direction were never captured: detectors stop reading it (a
        banner is never stitched across missing bytes). Counted as ``banner_gap``."""
        st = self._streams.get(key)
        if st is None:
            return []
        self.counters[BANNER_GAP] += 1
        for det in st.detectors:
            det.stop(direction)
        out: list[Banner] = []
        self._settle(st, direction, out)
        if not st.refresh():
            self.counters["streams_done"] += 1
            del self._streams[key]
        return self._finish_banners(st, out)

    def close_stream(self, key: Hashable, ts_ns: int) -> list[Banner]:
        """The stream ended (FIN, RST, timeout, end of capture): flush what detectors hold."""
        st = self._streams.pop(key, None)
        if st is None:
            return []
        self.counters["streams_closed"] += 1
        out: list[Banner] = []
        for direction in _DIRS:
            for det in st.detectors:
                if det.wants(direction):
                    got = det.finish(direction, ts_ns)
                    det.stop(direction)
                    self._take(st, det, got, out)
            self._settle(st, direction, out)
        return self._finish_banners(st, out)

    def close_all(self, ts_ns: int) -> list[Banner]:
        """End of input: close every tracked stream."""
        out: list[Banner] = []
        for key in list(self._streams):
            out += self.close_stream(key, ts_ns)
        return out

    # -- internals -------------------------------------------------------------------
    @staticmethod
    def _take(st: _Stream, det: Detector, got: list[Banner], out: list[Banner]) -> None:
        for b in got:
            if det.fallback:
                st.pending[b.role is _SERVER].append(b)
            else:
                st.reported[b.role is _SERVER] = True
                out.append(b)

    @staticmethod
    def _exclusive(st: _Stream) -> None:
        # Once a detector recognises a direction as its protocol, the others stop reading
        # it: one protocol per direction, and the stream is released as soon as the
        # recognising detector is done. (The other direction stays open to all: an HTTP
        # request may be answered by an SSH server.)
        dets = st.detectors
        for i, side in ((0, _CLIENT), (1, _SERVER)):
            owners = [d for d in dets if d._claimed[i] and not d.fallback]
            if owners:
                for d in dets:
                    if d._wanted[i] and d not in owners:
                        d.stop(side)

    @staticmethod
    def _settle(st: _Stream, direction: Direction, out: list[Banner]) -> None:
        # Fallback banners of a side are released once no specific detector can still
        # report for that side, and only if none did.
        for i, side in ((0, _CLIENT), (1, _SERVER)):
            pending = st.pending[i]
            if not pending:
                continue
            if st.reported[i] or any(d.claims(side) for d in st.detectors if not d.fallback):
                pending.clear()
            elif not any(d.wants(side) for d in st.detectors if not d.fallback):
                out += pending
                pending.clear()

    def _finish_banners(self, st: _Stream, out: list[Banner]) -> list[Banner]:
        if out:
            self.counters["banners"] += len(out)
        return out
