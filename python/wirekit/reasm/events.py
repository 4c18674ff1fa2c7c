"""Reassembly events: frozen value objects, one per thing that happened.

Every stream event carries the connection id (unique per `Reassembler`, never reused), the
connection's `StreamKey` (client = the side that sent the first SYN, or the guessed client
when picked up midstream) and `ts_ns`, the capture time (integer ns since the Unix epoch)
of the packet (or `now_ns` of the timer/finish call) that caused it.
"""

from __future__ import annotations

import enum
import socket
from dataclasses import dataclass

__all__ = [
    "Direction",
    "StreamKey",
    "StreamOpened",
    "StreamData",
    "StreamGap",
    "StreamClosed",
    "StreamReset",
    "StreamTimedOut",
    "UDPDatagram",
    "IPPacket",
    "Anomaly",
    "Event",
]


class Direction(enum.IntEnum):
    """Which way bytes flow."""

    TO_SERVER = 0  #: sent by the client
    TO_CLIENT = 1  #: sent by the server


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamKey:
    """A connection's two endpoints, oriented client -> server."""

    ip_version: int  #: 4 or 6
    client: str  #: client address, text form
    client_port: int
    server: str  #: server address, text form
    server_port: int

    @property
    def addr(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """((client, client_port), (server, server_port)), as libnids' `tuple4`."""
        return ((self.client, self.client_port), (self.server, self.server_port))

    def __str__(self) -> str:
        if self.ip_version == 6:
            return f"[{self.client}]:{self.client_port} -> [{self.server}]:{self.server_port}"
        return f"{self.client}:{self.client_port} -> {self.server}:{self.server_port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamOpened:
    """The connection is established (libnids' NIDS_JUST_EST)."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    midstream: bool = False  #: picked up without seeing the handshake (direction guessed)
    first_ts_ns: int = 0  #: capture time of the connection's first segment (its SYN), ns


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamData:
    """In-order stream bytes. `offset` counts bytes from the start of this direction
    (gaps included), so `offset + len(data)` is where the next event of the direction starts."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    direction: Direction
    offset: int  #: bytes
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamGap:
    """`length` bytes at `offset` of `direction` were never captured. Never zero-filled: the
    next StreamData of the direction starts at `offset + length`."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    direction: Direction
    offset: int  #: bytes
    length: int  #: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamClosed:
    """The connection ended without a reset or timeout.

    `reason`: ``"fin"`` (both FINs delivered), ``"evicted"`` (connection cap), ``"reused"``
    (a new SYN on the same addresses), ``"end_of_input"`` (still open when the input ended:
    `finish()`)."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    reason: str
    fin_from_client: bool = False
    fin_from_server: bool = False
    last_ts_ns: int = 0  #: capture time of the connection's last segment, ns

    @property
    def state(self) -> str:
        """``closed``, or ``open`` when the input ended first (the index's `state` field)."""
        return "open" if self.reason == "end_of_input" else "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamReset:
    """A valid (in-window) RST ended the connection; `direction` is the way the RST flowed
    (TO_SERVER: the client reset)."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    direction: Direction
    last_ts_ns: int = 0  #: capture time of the connection's last segment (the RST), ns


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTimedOut:
    """Idle longer than the reassembler's idle timeout; data still queued was delivered
    first (with gaps)."""

    conn_id: int
    key: StreamKey
    ts_ns: int
    fin_from_client: bool = False
    fin_from_server: bool = False
    last_ts_ns: int = 0  #: capture time of the connection's last segment, ns


@dataclass(frozen=True, slots=True, kw_only=True)
class UDPDatagram:
    """A UDP datagram (after defragmentation)."""

    ts_ns: int
    ip_version: int
    src: str
    src_port: int
    dst: str
    dst_port: int
    data: bytes  #: the UDP payload

    @property
    def addr(self) -> tuple[tuple[str, int], tuple[str, int]]:
        return ((self.src, self.src_port), (self.dst, self.dst_port))


@dataclass(frozen=True, slots=True, kw_only=True)
class IPPacket:
    """A whole IP datagram (after defragmentation): header and payload."""

    ts_ns: int
    ip_version: int
    src: str
    dst: str
    proto: int  #: L4 protocol number
    data: bytes  #: from the IP header on


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """Suspicious but parseable traffic, or a cap hit; `code` is stable snake_case (see
    `wirekit.anomalies`). `conn_id` is 0 when no connection applies; `key` then holds the
    packet's addresses when known (tcp_port_scan: client = the scanner, server = the last
    target), else None."""

    code: str
    ts_ns: int
    conn_id: int = 0
    key: StreamKey | None = None
    direction: Direction | None = None
    detail: str = ""


Event = (
    StreamOpened
    | StreamData
    | StreamGap
    | StreamClosed
    | StreamReset
    | StreamTimedOut
    | UDPDatagram
    | IPPacket
    | Anomaly
)


def addr_text(ip_version: int, raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if ip_version == 6 else socket.AF_INET, raw)
