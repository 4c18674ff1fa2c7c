"""`Reassembler`: TCP streams (and UDP datagrams, IP packets) from any packet source.

The engine is the Rust pipeline (decode -> TCP reassembly); this module turns its per-batch
event tuples into frozen events, asks the consumer which streams to keep (`want`, libnids'
`collect` at JUST_EST) and runs callbacks. Time comes from the packets: there is no clock
here. Call `advance(now_ns)` when live traffic is quiet (see `next_deadline()`), and
`finish()` at the end of input, which delivers the streams still open.

    r = Reassembler(want=lambda s: s.key.server_port == 80)
    for batch in wirekit.open("x.pcap").batches():
        for ev in r.feed(batch):
            ...
    for ev in r.finish():
        ...
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from typing import Any

from .. import _core
from .events import (
    Anomaly,
    Direction,
    Event,
    IPPacket,
    StreamClosed,
    StreamData,
    StreamGap,
    StreamKey,
    StreamOpened,
    StreamReset,
    StreamTimedOut,
    UDPDatagram,
    addr_text,
)

__all__ = ["Reassembler", "CallbackError", "RAW_OPENED", "RAW_DATA", "RAW_GAP", "RAW_CLOSED", "RAW_RESET",
           "RAW_TIMED_OUT", "RAW_END_OF_INPUT", "RAW_ANOMALY", "RAW_UDP", "RAW_IP"]

# Kinds of the raw event tuples of `Reassembler.feed_raw` (their first field).
RAW_OPENED, RAW_DATA, RAW_GAP, RAW_CLOSED, RAW_RESET, RAW_TIMED_OUT, RAW_END_OF_INPUT, RAW_ANOMALY, RAW_UDP, RAW_IP = (
    range(10))

_CLOSED_EVICTED = 1
_CLOSED_REUSED = 2
_FIN_CLIENT = 0x10
_FIN_SERVER = 0x20

Want = Callable[[StreamOpened], "bool | tuple[bool, bool]"]


class CallbackError:
    """A callback (or `want`) raised: kept in `Reassembler.errors`; the run goes on."""

    __slots__ = ("callback", "event", "exception", "traceback")

    def __init__(self, callback: Any, event: Any, exception: BaseException):
        self.callback = callback
        self.event = event
        self.exception = exception
        self.traceback = "".join(traceback.format_exception(exception))

    def __repr__(self) -> str:
        return f"<CallbackError {self.exception!r} in {getattr(self.callback, '__name__', self.callback)!r}>"


class Reassembler:
    """TCP stream reassembly over IPv4 and IPv6 (sans-IO: packets in, events out).

    Keyword arguments:
      policy: overlap policy for every receiver: first, last, linux (old-linux), bsd,
        bsd-right, windows, solaris.
      policy_table: [(cidr, policy), ...]: per receiver address, longest prefix wins.
      delivery: "immediate" (libnids: in-order bytes at once) or "on_ack" (hold bytes until
        the receiver acknowledges them, so the overlap policy also decides between in-order
        copies, as Suricata does).
      midstream: follow connections whose handshake was not captured (flagged).
      collect: keep stream data for every connection (default) or none (False).
      want: `want(opened) -> bool | (to_server, to_client)`: asked once per new connection;
        only the directions it returns True for are collected (libnids' `collect`).
      udp, ip: also emit UDPDatagram / IPPacket events.
      checksum_drop: CIDRs whose segments with a bad TCP checksum are dropped (default: a
        bad checksum is an anomaly and the segment is used, since checksum offload makes the
        capturing host's own packets look bad).
      verify_checksums: check TCP checksums at all.
      max_conns, max_buffer_per_stream, max_buffer_total: caps (connections, bytes queued
        per direction, bytes queued overall); conn_cap_policy / buffer_cap_policy:
        "evict_oldest" (default: evict / flush with a gap), "stop_collecting" or "drop".
      idle_timeout_ns, handshake_timeout_ns: idle time before an established / half-open
        connection expires.
      scan_num_hosts, scan_num_ports, scan_delay_ns: port-scan detection (libnids' model):
        a source sending SYNs to more than scan_num_ports distinct host/port pairs within
        scan_delay_ns gives an Anomaly("tcp_port_scan") whose key.client is the scanner;
        at most scan_num_hosts sources are tracked; 0 (default) turns detection off.
      on_error: `on_error(CallbackError)`; default prints the traceback to stderr.
    """

    def __init__(
        self,
        *,
        policy: str = "first",
        policy_table: Iterable[tuple[str, str]] | None = None,
        delivery: str = "immediate",
        midstream: bool = False,
        collect: bool = True,
        want: Want | None = None,
        udp: bool = False,
        ip: bool = False,
        checksum_drop: Iterable[str] = (),
        verify_checksums: bool = True,
        max_conns: int = 1 << 20,
        max_buffer_per_stream: int = 16 << 20,
        max_buffer_total: int = 1 << 30,
        conn_cap_policy: str = "evict_oldest",
        buffer_cap_policy: str = "evict_oldest",
        idle_timeout_ns: int = 600_000_000_000,
        handshake_timeout_ns: int = 60_000_000_000,
        scan_num_hosts: int = 0,
        scan_num_ports: int = 10,
        scan_delay_ns: int = 3_000_000_000,
        on_error: Callable[[CallbackError], None] | None = None,
    ):
        self._p = _core.TcpPipeline(
            policy=policy,
            policy_table=list(policy_table) if policy_table is not None else None,
            delivery=delivery,
            midstream=midstream,
            collect_default=collect,
            defer_collect=want is not None,
            max_conns=max_conns,
            max_buffer_per_stream=max_buffer_per_stream,
            max_buffer_total=max_buffer_total,
            conn_cap_policy=conn_cap_policy,
            buffer_cap_policy=buffer_cap_policy,
            idle_timeout_ns=idle_timeout_ns,
            handshake_timeout_ns=handshake_timeout_ns,
            verify_checksums=verify_checksums,
            checksum_drop=list(checksum_drop),
            emit_udp=udp,
            emit_ip=ip,
            scan_num_hosts=scan_num_hosts,
            scan_num_ports=scan_num_ports,
            scan_delay_ns=scan_delay_ns,
        )
        self.want = want
        self._callbacks: list[tuple[Callable[[Event], Any], tuple[type, ...] | None]] = []
        self._keys: dict[int, StreamKey] = {}
        self._last_ts_ns = 0
        self.on_error = on_error
        self.errors: list[CallbackError] = []

    # -- consumers -----------------------------------------------------------------------

    def on(self, callback: Callable[[Event], Any], *kinds: type) -> Callable[[Event], Any]:
        """Calls `callback(event)` for every event (or only events of `kinds`). Any number of
        callbacks; one raising is reported (`errors`, `on_error`) and the others still run."""
        self._callbacks.append((callback, tuple(kinds) or None))
        return callback

    def _report(self, cb: Any, ev: Any, exc: BaseException) -> None:
        err = CallbackError(cb, ev, exc)
        self.errors.append(err)
        if self.on_error is not None:
            try:
                self.on_error(err)
                return
            except Exception:  # the reporter itself failed: fall back to stderr
                pass
        sys.stderr.write(f"wirekit.reasm: callback {getattr(cb, '__name__', cb)!r} raised:\n{err.traceback}")

    def _dispatch(self, events: list[Event]) -> None:
        for ev in events:
            for cb, kinds in self._callbacks:
                if kinds is not None and not isinstance(ev, kinds):
                    continue
                try:
                    cb(ev)
                except Exception as exc:
                    self._report(cb, ev, exc)

    # -- tuples -> events ----------------------------------------------------------------

    def _key(self, t: tuple) -> StreamKey:
        key = self._keys.get(t[1])
        if key is None:
            v = t[9]
            key = StreamKey(ip_version=v, client=addr_text(v, t[10]), client_port=t[11],
                            server=addr_text(v, t[12]), server_port=t[13])
            if t[1]:
                self._keys[t[1]] = key
        return key

    def _convert(self, raw: list[tuple], out: list[Event]) -> None:
        for t in raw:
            kind = t[0]
            if kind == 1:
                out.append(StreamData(conn_id=t[1], key=self._key(t), ts_ns=t[6],
                                      direction=Direction(t[2]), offset=t[3], data=t[5]))
            elif kind == 0:
                ev = StreamOpened(conn_id=t[1], key=self._key(t), ts_ns=t[6], midstream=bool(t[7] & 1),
                                  first_ts_ns=t[3])
                out.append(ev)
                if self.want is not None:
                    self._decide(ev, out)
            elif kind == 2:
                out.append(StreamGap(conn_id=t[1], key=self._key(t), ts_ns=t[6],
                                     direction=Direction(t[2]), offset=t[3], length=t[4]))
            elif kind in (3, 6):
                flags = t[7]
                reason = ("end_of_input" if kind == 6 else "evicted" if flags & _CLOSED_EVICTED
                          else "reused" if flags & _CLOSED_REUSED else "fin")
                out.append(StreamClosed(conn_id=t[1], key=self._key(t), ts_ns=t[6], reason=reason,
                                        fin_from_client=bool(flags & _FIN_CLIENT),
                                        fin_from_server=bool(flags & _FIN_SERVER), last_ts_ns=t[3]))
                self._keys.pop(t[1], None)
            elif kind == 4:
                out.append(StreamReset(conn_id=t[1], key=self._key(t), ts_ns=t[6], direction=Direction(t[2]),
                                       last_ts_ns=t[3]))
                self._keys.pop(t[1], None)
            elif kind == 5:
                flags = t[7]
                out.append(StreamTimedOut(conn_id=t[1], key=self._key(t), ts_ns=t[6],
                                          fin_from_client=bool(flags & _FIN_CLIENT),
                                          fin_from_server=bool(flags & _FIN_SERVER), last_ts_ns=t[3]))
                self._keys.pop(t[1], None)
            elif kind == 7:
                key = self._key(t) if t[9] in (4, 6) else None
                detail = f"{t[3]} distinct host/port probes" if t[8] == "tcp_port_scan" else ""
                out.append(Anomaly(code=t[8], ts_ns=t[6], conn_id=t[1], key=key,
                                   direction=Direction(t[2]) if t[1] else None, detail=detail))
            elif kind == 8:
                v = t[9]
                out.append(UDPDatagram(ts_ns=t[6], ip_version=v, src=addr_text(v, t[10]), src_port=t[11],
                                       dst=addr_text(v, t[12]), dst_port=t[13], data=t[5]))
            elif kind == 9:
                v = t[9]
                out.append(IPPacket(ts_ns=t[6], ip_version=v, src=addr_text(v, t[10]),
                                    dst=addr_text(v, t[12]), proto=t[7], data=t[5]))
            if t[6] > self._last_ts_ns:
                self._last_ts_ns = t[6]

    def _decide(self, ev: StreamOpened, out: list[Event]) -> None:
        try:
            w = self.want(ev)  # type: ignore[misc]
        except Exception as exc:
            self._report(self.want, ev, exc)
            w = False
        if isinstance(w, tuple):
            to_server, to_client = bool(w[0]), bool(w[1])
        else:
            to_server = to_client = bool(w)
        self._convert(self._p.set_collect(ev.conn_id, to_server, to_client, ev.ts_ns), out)

    # -- feeding -------------------------------------------------------------------------

    def feed(self, source: Any) -> list[Event]:
        """Feeds a capture batch, a Packet, or a list/iterable of Packets (or of batches);
        returns the events (callbacks have run on them)."""
        out: list[Event] = []
        self._feed_into(source, out)
        self._dispatch(out)
        return out

    def _feed_into(self, source: Any, out: list[Event]) -> None:
        p = self._p
        if isinstance(source, _core.Batch):
            i, n = 0, len(source)
            while i < n:
                raw, i = p.feed_batch(source, i)
                self._convert(raw, out)
            return
        if isinstance(source, _core.Packet):
            source = [source]
        elif not isinstance(source, list):
            for item in source:
                self._feed_into(item, out)
            return
        if source and not isinstance(source[0], _core.Packet):
            for item in source:
                self._feed_into(item, out)
            return
        i, n = 0, len(source)
        while i < n:
            raw, i = p.feed_packets(source, i)
            self._convert(raw, out)

    # -- the raw path, for consumers that turn every event into something else ----------

    @property
    def raw_ok(self) -> bool:
        """`feed_raw` may be used: no callbacks and no `want` (they need event objects)."""
        return not self._callbacks and self.want is None

    def feed_raw(self, batch: Any) -> list[tuple]:
        """Feeds a capture batch and returns the engine's event tuples as they are, making no
        event object: for consumers that turn every event into something of their own
        (`wirekit.banners` does; making the objects was a quarter of its run time). Only
        while `raw_ok` (ValueError otherwise). A tuple is (kind, conn_id, direction, offset,
        length, data, ts_ns, flags, anomaly, ip_version, client address bytes, client port,
        server address bytes, server port); kind is one of the RAW_* constants, and
        `offset` holds first_ts_ns for RAW_OPENED and last_ts_ns for the endings."""
        if not self.raw_ok:
            raise ValueError("feed_raw needs a Reassembler with no callbacks and no want")
        p = self._p
        out: list[tuple] = []
        i, n = 0, len(batch)
        while i < n:
            raw, i = p.feed_batch(batch, i)
            out += raw
        return out

    def set_collect_raw(self, conn_id: int, to_server: bool, to_client: bool) -> list[tuple]:
        """`set_collect` on the raw path: the event tuples it causes (data and gaps already
        queued for the directions still collected), as `feed_raw` gives them."""
        return self._p.set_collect(conn_id, to_server, to_client, self._now_ns())

    def iter_events(self, source: Iterable[Any], *, finish: bool = True) -> Iterator[Event]:
        """Yields the events of every item of `source` (batches or packets), then, with
        `finish`, those of `finish()`."""
        for item in source:
            yield from self.feed(item)
        if finish:
            yield from self.finish()

    async def aiter_events(self, source: AsyncIterable[Any], *, finish: bool = True):
        """Async version of `iter_events` for async packet sources (live capture)."""
        async for item in source:
            for ev in self.feed(item):
                yield ev
        if finish:
            for ev in self.finish():
                yield ev

    def run(self, source: Iterable[Any]) -> None:
        """Feeds everything from `source`, then `finish()`; events go to the callbacks only."""
        for item in source:
            self.feed(item)
        self.finish()

    def advance(self, now_ns: int) -> list[Event]:
        """Runs idle timeouts up to `now_ns`."""
        out: list[Event] = []
        if now_ns > self._last_ts_ns:
            self._last_ts_ns = now_ns
        self._convert(self._p.advance(now_ns), out)
        self._dispatch(out)
        return out

    def next_deadline(self) -> int | None:
        """When `advance` next has work (ns), or None."""
        return self._p.next_deadline()

    def finish(self, now_ns: int | None = None) -> list[Event]:
        """End of input: delivers queued data (with gaps) and a StreamClosed(reason=
        "end_of_input") for every connection still open, in creation order."""
        out: list[Event] = []
        # Default: the latest time the engine saw (a frame fed or an `advance`), not the
        # time of the last event (a closing ACK makes no event but still moves time).
        self._convert(self._p.finish(self._now_ns() if now_ns is None else now_ns), out)
        self._dispatch(out)
        return out

    def set_collect(self, conn_id: int, to_server: bool, to_client: bool) -> list[Event]:
        """Changes which directions of a connection are collected."""
        out: list[Event] = []
        self._convert(self._p.set_collect(conn_id, to_server, to_client, self._now_ns()), out)
        self._dispatch(out)
        return out

    def _now_ns(self) -> int:
        """Largest time fed: frame times (in the engine) and `advance` times."""
        return max(self._p.last_ts_ns, self._last_ts_ns)

    def stats(self) -> dict[str, int]:
        """Engine counters (frames, segments, connections, bytes delivered, gap bytes, ...)."""
        return self._p.stats()
