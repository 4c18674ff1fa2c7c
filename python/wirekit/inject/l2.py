"""Layer-2 injection: whole frames (link header included) out of one interface (AF_PACKET)."""

from __future__ import annotations

import socket
from typing import Iterable

from ..privileges import privilege_error

__all__ = ["L2Sender"]


class L2Sender:
    """Sends raw frames on `iface` exactly as given (the kernel adds nothing, not even a
    checksum). Needs CAP_NET_RAW; the socket receives nothing (protocol 0)."""

    def __init__(self, iface: str):
        self.iface = iface
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        except PermissionError as e:
            raise privilege_error(e, f"opening a layer-2 send socket on {iface}") from None
        try:
            self._sock.bind((iface, 0))
        except OSError as e:
            self._sock.close()
            raise OSError(e.errno, f"cannot bind to interface {iface!r}: {e.strerror}") from None
        self.ifindex = socket.if_nametoindex(iface)

    def send(self, frame: bytes) -> int:
        """Sends one frame; returns the bytes sent."""
        return self._sock.send(frame)

    def send_many(self, frames: Iterable[bytes]) -> int:
        """Sends each frame; returns how many were sent."""
        n = 0
        for f in frames:
            self._sock.send(f)
            n += 1
        return n

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "L2Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
