"""Layer-3 injection: whole IPv4/IPv6 packets (IP header included); the kernel routes them
and adds the link header (IP_HDRINCL / IPV6_HDRINCL via IPPROTO_RAW sockets)."""

from __future__ import annotations

import socket
from typing import Iterable

from ..errors import BuildError
from ..privileges import privilege_error

__all__ = ["L3Sender"]


def _destination(packet: bytes) -> tuple[int, str]:
    # inet_ntop, not ipaddress: this runs once per packet sent.
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return 4, socket.inet_ntop(socket.AF_INET, packet[16:20])
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return 6, socket.inet_ntop(socket.AF_INET6, packet[24:40])
    raise BuildError("not an IPv4 or IPv6 packet (version nibble / length)")


class L3Sender:
    """Sends raw IP packets as built. On IPv4, Linux still fills in a zero IP id and total
    length and computes the header checksum (raw(7)); everything else goes out as given.

    Needs CAP_NET_RAW. Both families' sockets open on first use of each (or at once with
    `families=(4, 6)`).
    """

    def __init__(self, families: Iterable[int] = (4, 6), *, iface: str | None = None):
        self.iface = iface
        self._socks: dict[int, socket.socket] = {}
        for fam in families:
            self._sock(fam)

    def _sock(self, version: int) -> socket.socket:
        s = self._socks.get(version)
        if s is not None:
            return s
        family = socket.AF_INET if version == 4 else socket.AF_INET6
        try:
            # IPPROTO_RAW implies IP_HDRINCL (and IPV6_HDRINCL on Linux >= 4.5).
            s = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_RAW)
        except PermissionError as e:
            raise privilege_error(e, f"opening a raw IPv{version} send socket") from None
        if self.iface is not None:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
            except PermissionError as e:
                s.close()
                raise privilege_error(e, f"binding the raw socket to {self.iface}") from None
        self._socks[version] = s
        return s

    def send(self, packet: bytes) -> int:
        """Sends one IP packet to the destination in its header; returns bytes sent."""
        version, dst = _destination(packet)
        return self._sock(version).sendto(packet, (dst, 0))

    def send_to(self, packet: bytes, destination: str, version: int = 4) -> int:
        """Sends one IP packet to `destination` (the caller knows it: no header parsing)."""
        return self._sock(version).sendto(packet, (destination, 0))

    def send_many(self, packets: Iterable[bytes]) -> int:
        n = 0
        for p in packets:
            self.send(p)
            n += 1
        return n

    def fileno(self, version: int = 4) -> int:
        return self._sock(version).fileno()

    def close(self) -> None:
        for s in self._socks.values():
            s.close()
        self._socks.clear()

    def __enter__(self) -> "L3Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
