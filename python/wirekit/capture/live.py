"""Live capture on Linux: AF_PACKET with a TPACKET_V3 ring, received in Rust.

    with wirekit.capture.live.open_live("eth0", filter="tcp port 22") as cap:
        for pkt in cap:                      # wirekit.Packet, interface_id = ifindex
            ...
        print(cap.stats())                   # received / dropped by kernel / by interface

    async for pkt in open_live(["veth0", "veth1"]):   # the fd sits on the running loop
        ...

A source has the shape of `wirekit.capture.files.CaptureFile`: `batches()` yields
`wirekit.Batch`, iteration yields `wirekit.Packet`, plus `stats()`, `fileno()`, `close()`.

The receive loop (waiting on the ring with the GIL released, copying every ready block
into one batch) runs in Rust (`wirekit._core.LiveRing`). The filter is compiled by libpcap
(`wirekit.capture.bpf`) before any socket opens, so a bad expression fails first; it runs
in the kernel on a named interface, and in userland on "any" (the cooked socket there sees
packets without the link header the program was compiled for) and for filters naming
`vlan` (the kernel strips VLAN tags before socket filters run; the ring puts them back).
"""

from __future__ import annotations

import fcntl
import re
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterator, Sequence

from .._core import Batch, LiveRing, Packet
from ..errors import PrivilegeError
from ..privileges import privilege_error
from . import bpf

__all__ = ["open_live", "LiveCapture", "CaptureStats", "FANOUT_MODES", "DEFAULT_BUFFER_SIZE"]

DEFAULT_SNAPLEN = 262144
#: Ring size per interface, in bytes (tcpdump's default is 2 MiB; -B sets it there).
DEFAULT_BUFFER_SIZE = 4 << 20
#: How long the kernel holds a partly filled ring block before handing it over, in ms.
DEFAULT_TIMEOUT_MS = 100

#: PACKET_FANOUT modes (linux/if_packet.h).
FANOUT_MODES = {"hash": 0, "lb": 1, "cpu": 2, "rollover": 3, "random": 4, "qm": 5}
#: Reassemble IP fragments before hashing, so every fragment of a datagram goes to one worker.
PACKET_FANOUT_FLAG_DEFRAG = 0x8000

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113

#: ARPHRD_* -> link type for a SOCK_RAW capture (libpcap's map for the common cases);
#: anything else is captured cooked, as LINUX_SLL.
_ARPHRD_RAW_LINKTYPE = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: LINKTYPE_RAW}

_SIOCGIFHWADDR = 0x8927
#: Filters that test VLAN tags run in userland: the kernel strips the tag into metadata before
#: a socket filter sees the frame (libpcap patches its live programs with BPF extensions for
#: this); the ring puts the tag back in the bytes, where a pcap_compile program finds it.
_VLAN_WORD = re.compile(r"\bvlan\b")
#: Longest single wait inside read_batches, in ms (how soon breakloop() takes effect).
_WAIT_SLICE_MS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureStats:
    """Packet counts since the capture opened (what tcpdump prints at the end)."""

    #: Packets that passed the kernel filter ("packets received by filter").
    received: int
    #: Packets the kernel dropped because the ring was full ("dropped by kernel").
    dropped_by_kernel: int
    #: Packets the interface dropped (rx_dropped + rx_missed since open, from netlink).
    dropped_by_interface: int

    # Mapping-style access too (stats["received"], "received" in stats), for report code
    # that handles several kinds of sources.
    def __getitem__(self, key: str) -> int:
        if key not in self.__slots__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.__slots__

    def keys(self) -> tuple[str, ...]:
        return tuple(self.__slots__)


@dataclass(frozen=True, slots=True)
class _Iface:
    name: str
    ifindex: int
    linktype: int
    cooked: bool


def _arphrd(name: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16s16x", name.encode()[:15])
        out = fcntl.ioctl(s.fileno(), _SIOCGIFHWADDR, ifr)
    return struct.unpack_from("H", out, 16)[0]


def _resolve(name: str) -> _Iface:
    if name == "any":
        return _Iface("any", 0, LINKTYPE_LINUX_SLL, True)
    try:
        ifindex = socket.if_nametoindex(name)
    except OSError:
        raise ValueError(f"no such network interface: {name!r}") from None
    lt = _ARPHRD_RAW_LINKTYPE.get(_arphrd(name))
    if lt is None:
        return _Iface(name, ifindex, LINKTYPE_LINUX_SLL, True)
    return _Iface(name, ifindex, lt, False)


def _fanout_arg(fanout) -> tuple[int, int] | None:
    if fanout is None:
        return None
    if isinstance(fanout, int):
        group, mode = fanout, "hash"
    else:
        group, mode = fanout
    if isinstance(mode, str):
        if mode not in FANOUT_MODES:
            raise ValueError(f"unknown fanout mode {mode!r}; one of {', '.join(FANOUT_MODES)}")
        mode_val = FANOUT_MODES[mode]
        if mode == "hash":
            mode_val |= PACKET_FANOUT_FLAG_DEFRAG
    else:
        mode_val = int(mode)
    if not 0 <= group <= 0xFFFF:
        raise ValueError("fanout group id must fit 16 bits")
    return group, mode_val


def _privilege_error(e: PermissionError, what: str) -> PrivilegeError:
    return privilege_error(e, what, "CAP_NET_RAW")


class LiveCapture:
    """Packets from one or more interfaces. Use open_live() to make one."""

    def __init__(self, ifaces: Sequence[str], *, filter: str | None, snaplen: int, promisc: bool,
                 immediate: bool, buffer_size: int, timeout_ms: int, fanout):
        if not ifaces:
            raise ValueError("no interface given")
        self.snaplen = snaplen
        self.filter = filter
        self._ifaces = [_resolve(n) for n in ifaces]
        # Compile every filter before opening anything: a bad expression fails first.
        self._kernel_progs: list[bpf.BpfProgram | None] = []
        self._user_progs: list[bpf.BpfProgram | None] = []
        vlan_filter = bool(filter) and _VLAN_WORD.search(filter) is not None
        for itf in self._ifaces:
            prog = bpf.compile(filter, linktype=itf.linktype, snaplen=snaplen) if filter else None
            in_kernel = prog is not None and not itf.cooked and not vlan_filter
            self._kernel_progs.append(prog if in_kernel else None)
            self._user_progs.append(None if in_kernel else prog)
        fan = _fanout_arg(fanout)
        block_timeout_ms = 1 if immediate else max(1, int(timeout_ms))
        try:
            lo_ifindex = socket.if_nametoindex("lo")
        except OSError:
            lo_ifindex = 0
        self._rings: list[LiveRing] = []
        self._final_stats: CaptureStats | None = None
        self._ifdrop_base: list[int] = []
        self._link_stats = None
        try:
            for itf, kprog in zip(self._ifaces, self._kernel_progs):
                try:
                    ring = LiveRing(
                        itf.ifindex, cooked=itf.cooked, linktype=itf.linktype, snaplen=snaplen,
                        promisc=promisc, buffer_size=buffer_size, block_timeout_ms=block_timeout_ms,
                        fanout=fan, filter=kprog.instructions if kprog else None, lo_ifindex=lo_ifindex,
                    )
                except PermissionError as e:
                    raise _privilege_error(e, f"capturing on {itf.name}") from None
                self._rings.append(ring)
            self._open_link_stats()
        except BaseException:
            self.close()
            raise
        self._epoll = None
        if len(self._rings) > 1:
            self._epoll = select.epoll()
            for r in self._rings:
                self._epoll.register(r.fileno(), select.EPOLLIN)
        self._break = False
        self._stop = False

    # -- metadata ------------------------------------------------------------------------
    @property
    def linktype(self) -> int:
        """Link type of the (first) interface's packets."""
        return self._ifaces[0].linktype

    @property
    def interfaces(self) -> list[tuple[str, int, int]]:
        """(name, ifindex, linktype) for each interface captured (ifindex 0 = "any")."""
        return [(i.name, i.ifindex, i.linktype) for i in self._ifaces]

    @property
    def closed(self) -> bool:
        return not self._rings

    def fileno(self) -> int:
        """A descriptor that polls readable when packets wait (the ring, or an epoll set)."""
        if not self._rings:
            raise ValueError("capture is closed")
        return self._epoll.fileno() if self._epoll is not None else self._rings[0].fileno()

    # -- statistics ----------------------------------------------------------------------
    def _open_link_stats(self) -> None:
        # A netlink socket made now stays in this network namespace, so stats() reads the
        # right interfaces later even from another thread or namespace.
        from ..inject.interfaces import LinkStatsReader

        names = {i.ifindex for i in self._ifaces}
        try:
            self._link_stats = LinkStatsReader()
            self._ifdrop_base = [self._rx_drops(names)]
        except OSError:
            self._link_stats = None

    def _rx_drops(self, ifindexes: set[int]) -> int:
        total = 0
        for ifindex, st in self._link_stats.rx_drop_counts().items():
            if 0 in ifindexes or ifindex in ifindexes:
                total += st
        return total

    def stats(self) -> CaptureStats:
        """Counts since open, summed over the interfaces; after close(), the final counts."""
        if not self._rings:
            return self._final_stats or CaptureStats(received=0, dropped_by_kernel=0, dropped_by_interface=0)
        received = dropped = 0
        for r in self._rings:
            rec, drop = r.stats()
            received += rec
            dropped += drop
        ifdrop = 0
        if self._link_stats is not None and self._ifdrop_base:
            try:
                ifdrop = max(0, self._rx_drops({i.ifindex for i in self._ifaces}) - self._ifdrop_base[0])
            except OSError:
                ifdrop = 0
        return CaptureStats(received=received, dropped_by_kernel=dropped, dropped_by_interface=ifdrop)

    # -- reading -------------------------------------------------------------------------
    def _filtered(self, i: int, batch: Batch) -> Batch:
        prog = self._user_progs[i]
        return prog.filter_batch(batch) if prog is not None and len(batch) else batch

    def read_batches(self, timeout_ms: int = -1) -> list[Batch]:
        """Waits up to timeout_ms (-1: until packets come or breakloop()) and returns the
        non-empty batches ready. Python signal handlers run while it waits (Ctrl-C raises
        KeyboardInterrupt here)."""
        if not self._rings:
            raise ValueError("capture is closed")
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            # Wait in short slices so that breakloop() from a signal handler is seen promptly.
            slice_ms = _WAIT_SLICE_MS
            if deadline is not None:
                slice_ms = max(0, min(slice_ms, int((deadline - time.monotonic()) * 1000)))
            out = self._read_once(slice_ms)
            if out or self._break or not self._rings:
                self._break = False
                return out
            if deadline is not None and time.monotonic() >= deadline:
                return out

    def _read_once(self, timeout_ms: int) -> list[Batch]:
        out = []
        if len(self._rings) == 1:
            b = self._filtered(0, self._rings[0].next_batch(timeout_ms))
            if len(b):
                out.append(b)
            return out
        self._epoll.poll(timeout_ms / 1000)
        for i, r in enumerate(self._rings):
            b = self._filtered(i, r.read_ready())
            if len(b):
                out.append(b)
        return out

    def breakloop(self) -> None:
        """Makes a waiting read_batches()/batches() return (as pcap_breakloop); safe to call
        from a signal handler."""
        self._break = True
        self._stop = True

    def batches(self, *, idle_timeout_ms: int | None = None) -> Iterator[Batch]:
        """Yields batches until close() or breakloop(), or until no packet came for
        idle_timeout_ms."""
        wait = -1 if idle_timeout_ms is None else int(idle_timeout_ms)
        self._stop = False
        while self._rings and not self._stop:
            got = self.read_batches(wait)
            if not got and idle_timeout_ms is not None:
                return
            yield from got

    def __iter__(self) -> Iterator[Packet]:
        for batch in self.batches():
            yield from batch.packets()

    # -- asyncio -------------------------------------------------------------------------
    async def abatches(self) -> AsyncIterator[Batch]:
        """Batches as they arrive, waiting on the running loop (fd registered, no thread)."""
        import asyncio  # here, not at module level: every `import wirekit` would pay ~40 ms, 11 MB

        loop = asyncio.get_running_loop()
        fd = self.fileno()
        ready = asyncio.Event()
        loop.add_reader(fd, ready.set)
        try:
            while self._rings:
                got = self.read_batches(0)
                if not got:
                    ready.clear()
                    # Re-check after clearing: a block may have been handed over meanwhile.
                    got = self.read_batches(0)
                    if not got:
                        await ready.wait()
                        continue
                for b in got:
                    yield b
        finally:
            if self._rings:
                loop.remove_reader(fd)

    async def _apackets(self) -> AsyncIterator[Packet]:
        async for b in self.abatches():
            for p in b.packets():
                yield p

    def __aiter__(self) -> AsyncIterator[Packet]:
        return self._apackets()

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        if getattr(self, "_rings", None) and getattr(self, "_final_stats", None) is None:
            try:
                self._final_stats = self.stats()
            except OSError:
                pass
        if getattr(self, "_epoll", None) is not None:
            self._epoll.close()
            self._epoll = None
        for r in self._rings:
            r.close()
        self._rings = []
        if self._link_stats is not None:
            self._link_stats.close()
            self._link_stats = None

    def __enter__(self) -> "LiveCapture":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> "LiveCapture":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        names = ",".join(i.name for i in self._ifaces)
        return f"<LiveCapture {names} linktype={self.linktype} filter={self.filter!r}>"


def open_live(iface: str | Sequence[str], filter: str | None = None, snaplen: int = DEFAULT_SNAPLEN,
              promisc: bool = True, immediate: bool = False, buffer_size: int = DEFAULT_BUFFER_SIZE,
              timeout_ms: int = DEFAULT_TIMEOUT_MS, fanout=None) -> LiveCapture:
    """Opens a live capture on `iface` (a name, "any", or a list of names).

    filter: tcpdump expression (compiled by libpcap; FilterError before anything opens).
    snaplen: bytes kept per packet. promisc: promiscuous mode (not on "any").
    immediate: hand packets over at once (1 ms block timeout) instead of every timeout_ms.
    buffer_size: ring bytes per interface. fanout: group id (hash mode), or (group id, mode)
    with mode one of FANOUT_MODES, to share an interface among worker processes.
    Raises PrivilegeError (naming CAP_NET_RAW) without the privilege, ValueError for an
    unknown interface.
    """
    names = [iface] if isinstance(iface, str) else list(iface)
    return LiveCapture(names, filter=filter, snaplen=snaplen, promisc=promisc, immediate=immediate,
                       buffer_size=buffer_size, timeout_ms=timeout_ms, fanout=fanout)


#: The issue's spelling: wirekit.capture.live.live(...)
live = open_live
