"""A libnids/pynids-shaped facade over wirekit's TCP reassembly, so classic tools port almost
line for line:

    from wirekit.reasm import nids

    def handle_tcp(tcp):
        if tcp.nids_state == nids.NIDS_JUST_EST:
            if tcp.addr[1][1] == 80:
                tcp.client.collect = 1
                tcp.server.collect = 1
        elif tcp.nids_state == nids.NIDS_DATA:
            tcp.discard(0)                       # keep everything
        elif tcp.nids_state in (nids.NIDS_CLOSE, nids.NIDS_RESET, nids.NIDS_TIMED_OUT):
            print(tcp.addr, tcp.server.data)     # bytes the client sent

    nids.init(filename="web.pcap", pcap_filter="tcp")
    nids.register_tcp(handle_tcp)
    nids.run()

Semantics follow libnids: at NIDS_JUST_EST the callbacks choose what to collect
(`half.collect += 1`); each callback then hears only of the halves it raised a collect
field for, and of the stream's end, until it lowers them again (libnids' listeners); a
stream nobody collects gets no further callbacks. `tcp.server`
is the half-stream the *server receives* (bytes the client sent), `tcp.client` the one the
client receives. At NIDS_DATA, `half.data` holds the bytes kept from earlier callbacks plus
the `count_new` new ones; `count` is the total since the start, `offset` the stream offset of
`data[0]`; after the callbacks everything is discarded unless `tcp.discard(n)` said to drop
only `n` bytes (libnids' nids_discard).

Differences from libnids (deliberate): IPv6 too; any number of callbacks per register_*; a
callback that raises is reported with its traceback and the run goes on; packets with a bad
checksum are used unless `chksum_ctl` says to check (drop) them for their destination;
connections open at the end of a capture file get NIDS_EXITING (libnids drops them); bytes
the capture missed (a gap) are never zero-filled: the kept data is dropped, `offset` and
`count` jump over the gap and `half.gap_bytes` counts it.
"""

from __future__ import annotations

import builtins
import socket
import struct
import sys
import time
import traceback
from typing import Any, Callable, Iterator

from .. import _core
from .events import (
    Anomaly,
    IPPacket,
    StreamClosed,
    StreamData,
    StreamGap,
    StreamOpened,
    StreamReset,
    StreamTimedOut,
    UDPDatagram,
)
from .reassembler import Reassembler

__all__ = [
    "NIDS_JUST_EST", "NIDS_DATA", "NIDS_CLOSE", "NIDS_RESET", "NIDS_TIMED_OUT", "NIDS_TIMEOUT",
    "NIDS_EXITING", "error", "param", "init", "register_tcp", "register_udp", "register_ip",
    "register_scan", "chksum_ctl", "run", "next", "getfd", "get_pkt_ts", "get_pkt_ts_ns", "Nids",
    "TcpStream", "HalfStream",
]

# libnids' nids.h values.
NIDS_JUST_EST = 1
NIDS_DATA = 2
NIDS_CLOSE = 3
NIDS_RESET = 4
NIDS_TIMED_OUT = 5
NIDS_TIMEOUT = NIDS_TIMED_OUT  # pynids' spelling in its example
NIDS_EXITING = 6


class error(Exception):
    """nids/pcap errors (pynids' `nids.error`)."""


class HalfStream:
    """One direction, named by its receiver (libnids' struct half_stream)."""

    __slots__ = ("collect", "collect_urg", "data", "count", "offset", "count_new", "count_new_urg",
                 "gap_bytes", "state")

    def __init__(self) -> None:
        self.collect = 0       #: >0: keep this direction's bytes
        self.collect_urg = 0   #: accepted for compatibility; urgent bytes are delivered inline
        self.data = b""        #: bytes kept: undiscarded old ones + count_new new ones
        self.count = 0         #: bytes seen since the start of the direction (gaps included)
        self.offset = 0        #: stream offset of data[0]
        self.count_new = 0     #: new bytes in this NIDS_DATA callback
        self.count_new_urg = 0
        self.gap_bytes = 0     #: bytes the capture missed (never zero-filled)
        self.state = 0


class TcpStream:
    """A connection as libnids' struct tcp_stream: `addr`, `nids_state`, `client`, `server`."""

    __slots__ = ("addr", "nids_state", "client", "server", "conn_id", "ip_version", "_nids", "_discard",
                 "_tracked", "_listeners", "_collecting")

    def __init__(self, nids: "Nids", conn_id: int, ip_version: int, addr) -> None:
        self.addr = addr  #: ((client, client_port), (server, server_port))
        self.nids_state = NIDS_JUST_EST
        self.client = HalfStream()  #: what the client receives (sent by the server)
        self.server = HalfStream()  #: what the server receives (sent by the client)
        self.conn_id = conn_id
        self.ip_version = ip_version
        self._nids = nids
        self._discard: int | None = None
        self._tracked = False
        # [callback, whatto]: the callbacks that asked for this stream, and which halves
        # (libnids' lurkers): only they hear of its data and its end.
        self._listeners: list[list] = []
        self._collecting = (False, False)  # what the engine collects: (to_server, to_client)

    def discard(self, num: int) -> None:
        """In a NIDS_DATA callback: drop only the first `num` bytes of the new data's half
        after the callbacks (keep the rest for the next NIDS_DATA)."""
        self._discard = max(0, int(num))

    def kill(self) -> None:
        """Resets the connection at both ends (live capture only): RSTs with the right
        sequence numbers, sent through wirekit.inject."""
        self._nids._kill(self)

    def __repr__(self) -> str:
        return f"<TcpStream {self.addr} state={self.nids_state}>"


def build_rst(ip_version: int, src: str, sport: int, dst: str, dport: int, seq: int, ack: int) -> bytes:
    """An IP packet carrying a TCP RST/ACK (for `kill`)."""
    from ..wire.checksum import internet_checksum as _csum, pseudo_header_v4, pseudo_header_v6

    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, 0x14, 0, 0, 0)
    if ip_version == 6:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        c = _csum(pseudo_header_v6(s, d, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        return struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + s + d + tcp
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    c = _csum(pseudo_header_v4(s, d, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ip + tcp


_DEFAULT_PARAMS: dict[str, Any] = {
    "filename": None,
    "device": None,
    "pcap_filter": None,
    "scan_num_hosts": 256,
    "scan_num_ports": 10,
    "scan_delay": 3000,        # ms, as libnids
    "n_tcp_streams": 1 << 20,  # connections tracked at once
    "tcp_flow_timeout": 600,   # s of idleness before NIDS_TIMED_OUT (libnids: none)
    "promisc": 1,
    "snaplen": 262144,
    "midstream": 0,            # follow connections without a handshake (libnids: never)
}


# libnids' COLLECT_* bits: which half (client/server, urgent or not) a listener follows.
_CC, _SC, _CCU, _SCU = 1, 2, 4, 8


def _collect_fields(s: TcpStream) -> tuple[int, int, int, int]:
    return (s.client.collect, s.server.collect, s.client.collect_urg, s.server.collect_urg)


def _whatto(before, after, whatto: int) -> int:
    for bit, b, a in zip((_CC, _SC, _CCU, _SCU), before, after):
        if a > b:
            whatto |= bit
        elif a < b:
            whatto &= ~bit
    return whatto


def _halves(s: TcpStream) -> tuple[bool, bool]:
    """(to_server, to_client) collected: any collect field of that half above zero."""
    return (s.server.collect > 0 or s.server.collect_urg > 0, s.client.collect > 0 or s.client.collect_urg > 0)


class Nids:
    """One libnids context. The module-level functions use a default instance, as libnids'
    globals do; several independent instances may coexist."""

    def __init__(self) -> None:
        self.params = dict(_DEFAULT_PARAMS)
        self.tcp_callbacks: list[Callable] = []
        self.udp_callbacks: list[Callable] = []
        self.ip_callbacks: list[Callable] = []
        self.scan_callbacks: list[Callable] = []
        self.checksum_drop: list[str] = []
        self.errors: list[str] = []
        self._r: Reassembler | None = None
        self._source = None
        self._program = None
        self._live = False
        self._streams: dict[int, TcpStream] = {}
        self._packets: Iterator | None = None
        self._pending_ip: IPPacket | None = None
        self._sender = None
        self.pkt_ts_ns = 0

    # -- configuration -------------------------------------------------------------------

    def param(self, name: str, value: Any = None) -> Any:
        if name not in self.params:
            raise error(f"unknown parameter {name!r}")
        old = self.params[name]
        if value is not None:
            self.params[name] = value
        return old

    def chksum_ctl(self, entries) -> None:
        """[(cidr, check), ...]: with check true, segments to `cidr` with a bad TCP checksum
        are dropped (libnids' behaviour); otherwise (default) they are used and reported."""
        self.checksum_drop = [str(c) for c, on in entries if on]

    def register_tcp(self, cb: Callable[[TcpStream], Any]) -> None:
        self.tcp_callbacks.append(cb)

    def register_udp(self, cb: Callable[[Any, bytes, bytes], Any]) -> None:
        """cb(((src, sport), (dst, dport)), payload, ip_packet_bytes)."""
        self.udp_callbacks.append(cb)

    def register_ip(self, cb: Callable[[bytes], Any]) -> None:
        """cb(ip_packet_bytes) for every IP datagram, after defragmentation."""
        self.ip_callbacks.append(cb)

    def register_scan(self, cb: Callable[[str, int, int], Any]) -> None:
        """cb(scanner_address, probes, ts_ns) when a port scan is detected."""
        self.scan_callbacks.append(cb)

    def init(self, filename: str | None = None, device: str | None = None, pcap_filter: str | None = None,
             **params: Any) -> None:
        for k, v in (("filename", filename), ("device", device), ("pcap_filter", pcap_filter)):
            if v is not None:
                self.params[k] = v
        for k, v in params.items():
            self.param(k, v)
        p = self.params
        try:
            if p["filename"]:
                from ..capture.files import CaptureFile

                self._source = CaptureFile(p["filename"])
                self._live = False
                if p["pcap_filter"]:
                    from ..capture import bpf

                    self._program = bpf.compile(p["pcap_filter"], linktype=self._source.linktype or 1,
                                                snaplen=p["snaplen"])
            elif p["device"]:
                try:
                    from ..capture.live import open_live
                except ImportError as e:
                    raise error(f"live capture is not available in this build: {e}") from None
                self._source = open_live(p["device"], filter=p["pcap_filter"], snaplen=p["snaplen"],
                                         promisc=bool(p["promisc"]))
                self._live = True
            else:
                raise error("init: give filename= or device= (or nids.param('filename', ...))")
        except error:
            raise
        except Exception as e:  # CaptureFileError, FilterError, PrivilegeError, OSError
            raise error(str(e)) from e
        self._r = None  # built at the first run()/next(): callbacks may be registered after init
        self._streams.clear()
        self._packets = None

    # -- running -------------------------------------------------------------------------

    def _need(self) -> Reassembler:
        if self._source is None:
            raise error("call init() first")
        if self._r is None:
            p = self.params
            self._r = Reassembler(
                want=self._just_est,
                udp=bool(self.udp_callbacks),
                ip=bool(self.ip_callbacks or self.udp_callbacks),
                checksum_drop=self.checksum_drop,
                max_conns=int(p["n_tcp_streams"]),
                idle_timeout_ns=int(p["tcp_flow_timeout"] * 1_000_000_000),
                midstream=bool(p["midstream"]),
                scan_num_hosts=int(p["scan_num_hosts"]) if self.scan_callbacks else 0,
                scan_num_ports=int(p["scan_num_ports"]),
                scan_delay_ns=int(p["scan_delay"]) * 1_000_000,
                on_error=self._on_error,
            )
        return self._r

    def _batches(self):
        for batch in self._source.batches():
            if self._program is not None:
                batch = self._program.filter_batch(batch)
            if len(batch):
                yield batch

    def run(self) -> None:
        """Processes the whole capture (or captures until interrupted), then NIDS_EXITING for
        the streams still open."""
        r = self._need()
        try:
            if self._live and hasattr(self._source, "read_batches"):
                # Wake up every second so idle streams time out on a quiet link.
                while True:
                    for batch in self._source.read_batches(1000):
                        if len(batch):
                            self._dispatch(r.feed(batch))
                    now_ns = time.time_ns()
                    deadline = r.next_deadline()
                    if deadline is not None and deadline <= now_ns:
                        self._dispatch(r.advance(now_ns))
            for batch in self._batches():
                self._dispatch(r.feed(batch))
        except KeyboardInterrupt:
            pass
        except Exception as e:
            if isinstance(e, OSError) or type(e).__module__.startswith("wirekit"):
                raise error(str(e)) from e
            raise
        self._dispatch(r.finish())

    def next(self) -> bool:
        """Processes one packet; False at the end of input (then the open streams get
        NIDS_EXITING)."""
        r = self._need()
        if self._packets is None:
            self._packets = (p for b in self._batches() for p in b.packets())
        pkt = builtins.next(self._packets, None)
        if pkt is None:
            self._dispatch(r.finish())
            return False
        self._dispatch(r.feed(pkt))
        return True

    def getfd(self) -> int:
        if self._source is None:
            raise error("call init() first")
        fileno = getattr(self._source, "fileno", None)
        if not self._live or fileno is None:
            raise error("getfd() is for live captures (init(device=...)): a capture file has nothing to poll")
        return fileno()

    # -- events -> libnids callbacks -----------------------------------------------------

    def _on_error(self, err) -> None:
        self.errors.append(err.traceback)
        sys.stderr.write(f"nids: callback {getattr(err.callback, '__name__', err.callback)!r} raised:\n"
                         f"{err.traceback}")

    def _call(self, cbs, *args) -> None:
        for cb in cbs:
            self._call_one(cb, *args)

    def _call_one(self, cb, *args) -> None:
        try:
            cb(*args)
        except Exception as e:
            tb = "".join(traceback.format_exception(e))
            self.errors.append(tb)
            sys.stderr.write(f"nids: callback {getattr(cb, '__name__', cb)!r} raised:\n{tb}")

    def _call_listener(self, s: TcpStream, listener: list) -> None:
        """Calls one listener; what it changes in the collect fields changes what it hears
        (libnids' ride_lurkers: raising a field subscribes it, lowering unsubscribes)."""
        before = _collect_fields(s)
        self._call_one(listener[0], s)
        listener[1] = _whatto(before, _collect_fields(s), listener[1])

    def _just_est(self, ev: StreamOpened):
        self.pkt_ts_ns = ev.ts_ns
        s = TcpStream(self, ev.conn_id, ev.key.ip_version, ev.key.addr)
        for cb in self.tcp_callbacks:
            listener = [cb, 0]
            self._call_listener(s, listener)
            if listener[1]:
                s._listeners.append(listener)
        s._collecting = _halves(s)
        if s._listeners and (s._collecting[0] or s._collecting[1]):
            s._tracked = True
            self._streams[ev.conn_id] = s
            return s._collecting
        return (False, False)

    def _after_data(self, s: TcpStream) -> None:
        """Drops listeners that lowered every field they raised, and tells the engine when
        a half is no longer collected by anyone."""
        s._listeners = [item for item in s._listeners if item[1]]
        now = _halves(s) if s._listeners else (False, False)
        if now == s._collecting:
            return
        s._collecting = now
        if not (now[0] or now[1]):
            self._streams.pop(s.conn_id, None)
        if self._r is not None:
            self._dispatch(self._r.set_collect(s.conn_id, now[0], now[1]))

    def _dispatch(self, events) -> None:
        streams = self._streams
        for ev in events:
            self.pkt_ts_ns = ev.ts_ns
            if isinstance(ev, StreamData):
                s = streams.get(ev.conn_id)
                if s is None:
                    continue
                half = s.server if ev.direction == 0 else s.client
                other = s.client if ev.direction == 0 else s.server
                half.data += ev.data
                half.count_new = len(ev.data)
                half.count = ev.offset + len(ev.data)
                other.count_new = 0
                s.nids_state = NIDS_DATA
                s._discard = None
                mask = _SC | _SCU if ev.direction == 0 else _CC | _CCU
                for listener in list(s._listeners):
                    if listener[1] & mask:
                        self._call_listener(s, listener)
                drop = len(half.data) if s._discard is None else min(s._discard, len(half.data))
                if drop:
                    half.data = half.data[drop:]
                    half.offset += drop
                half.count_new = 0
                self._after_data(s)
            elif isinstance(ev, StreamGap):
                s = streams.get(ev.conn_id)
                if s is not None:
                    half = s.server if ev.direction == 0 else s.client
                    half.gap_bytes += ev.length
                    half.data = b""
                    half.offset = half.count = ev.offset + ev.length
            elif isinstance(ev, (StreamClosed, StreamReset, StreamTimedOut)):
                s = streams.pop(ev.conn_id, None)
                if s is None:
                    continue
                if isinstance(ev, StreamReset):
                    s.nids_state = NIDS_RESET
                elif isinstance(ev, StreamTimedOut):
                    s.nids_state = NIDS_TIMED_OUT
                elif ev.reason == "end_of_input":
                    s.nids_state = NIDS_EXITING
                elif ev.reason == "evicted":
                    s.nids_state = NIDS_TIMED_OUT
                else:
                    s.nids_state = NIDS_CLOSE
                s.client.count_new = s.server.count_new = 0
                for listener in s._listeners:
                    self._call_one(listener[0], s)
            elif isinstance(ev, IPPacket):
                self._pending_ip = ev
                self._call(self.ip_callbacks, ev.data)
            elif isinstance(ev, UDPDatagram):
                ip = self._pending_ip.data if self._pending_ip is not None else b""
                self._call(self.udp_callbacks, ev.addr, ev.data, ip)
            elif isinstance(ev, Anomaly) and ev.code == "tcp_port_scan" and ev.key is not None:
                probes = int(ev.detail.split()[0]) if ev.detail else 0
                self._call(self.scan_callbacks, ev.key.client, probes, ev.ts_ns)

    # -- kill ----------------------------------------------------------------------------

    def _kill(self, s: TcpStream) -> None:
        if not self._live:
            raise error("kill() needs a live capture (init(device=...)); this run reads a file, "
                        "there is no connection to reset")
        seqs = self._need()._p.next_seqs(s.conn_id)
        if seqs is None:
            raise error("kill(): the connection is no longer tracked")
        try:
            from ..inject.l3 import L3Sender
        except ImportError as e:
            raise error(f"kill(): packet injection is not available in this build: {e}") from None
        if self._sender is None:
            try:
                self._sender = L3Sender()
            except Exception as e:
                raise error(f"kill(): cannot open a raw socket: {e}") from e
        client_next, server_next = seqs
        (c, cport), (sv, sport) = s.addr
        # RFC 793 / RFC 5961: an RST is accepted when its sequence number is the one the
        # receiver expects next; each end gets one from the other's next sequence number.
        self._sender.send(build_rst(s.ip_version, c, cport, sv, sport, client_next, server_next))
        self._sender.send(build_rst(s.ip_version, sv, sport, c, cport, server_next, client_next))


_default = Nids()


def param(name: str, value: Any = None) -> Any:
    """Gets (and with `value`, sets) a libnids parameter: filename, device, pcap_filter,
    scan_num_hosts, scan_num_ports, scan_delay (ms), n_tcp_streams, tcp_flow_timeout (s),
    promisc, snaplen, midstream."""
    return _default.param(name, value)


def init(filename: str | None = None, device: str | None = None, pcap_filter: str | None = None, **params) -> None:
    """Opens the source (a capture file or a live device, with an optional BPF filter)."""
    _default.init(filename, device, pcap_filter, **params)


def register_tcp(cb) -> None:
    _default.register_tcp(cb)


def register_udp(cb) -> None:
    _default.register_udp(cb)


def register_ip(cb) -> None:
    _default.register_ip(cb)


def register_scan(cb) -> None:
    _default.register_scan(cb)


def chksum_ctl(entries) -> None:
    _default.chksum_ctl(entries)


def run() -> None:
    _default.run()


def next() -> bool:  # noqa: A001 - pynids' name
    return _default.next()


def getfd() -> int:
    return _default.getfd()


def get_pkt_ts() -> float:
    """Capture time of the packet being processed, in seconds (pynids)."""
    return _default.pkt_ts_ns / 1e9


def get_pkt_ts_ns() -> int:
    return _default.pkt_ts_ns
