"""A minimal rtnetlink client: requests, dumps and attribute parsing (linux/rtnetlink.h).

Only what routes, interfaces and neighbours need. The socket belongs to the network namespace
of the thread that made it, for its whole life.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Iterator

__all__ = ["NetlinkSocket", "parse_attrs", "NetlinkError"]

NETLINK_ROUTE = 0
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300

RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTM_NEWNEIGH, RTM_GETNEIGH = 28, 30

_NLMSGHDR = struct.Struct("=IHHII")
_RTATTR = struct.Struct("=HH")
#: Longest netlink reply we accept in one read (kernel dumps fit pages of this size).
RECV_BUFFER_BYTES = 1 << 16


class NetlinkError(OSError):
    pass


def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr (type, payload), padded to 4 bytes."""
    data = _RTATTR.pack(_RTATTR.size + len(payload), kind) + payload
    return data + b"\x00" * (_align(len(data)) - len(data))


def parse_attrs(buf: bytes | memoryview, offset: int = 0) -> dict[int, bytes]:
    """rtattr list -> {type: payload} (the nested flag bit is masked off)."""
    out: dict[int, bytes] = {}
    end = len(buf)
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(buf, offset)
        if length < _RTATTR.size or offset + length > end:
            break
        out[kind & 0x3FFF] = bytes(buf[offset + _RTATTR.size: offset + length])
        offset += _align(length)
    return out


class NetlinkSocket:
    """NETLINK_ROUTE socket; request() returns (type, body) replies for one request."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._sock.settimeout(5.0)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "NetlinkSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, msg_type: int, body: bytes, *, dump: bool = False) -> list[tuple[int, bytes]]:
        """Sends one request; collects every reply message up to DONE (dump) or the answer."""
        self._seq += 1
        seq = self._seq
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, seq, 0) + body)
        replies: list[tuple[int, bytes]] = []
        while True:
            data = self._sock.recv(RECV_BUFFER_BYTES)
            for mtype, mflags, mseq, mbody in self._messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return replies
                if mtype == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", mbody, 0)
                    if code == 0:  # an ACK
                        return replies
                    err = -code
                    raise NetlinkError(err, f"netlink: {os.strerror(err)}")
                if mtype == NLMSG_NOOP:
                    continue
                replies.append((mtype, mbody))
                if not dump:
                    return replies

    @staticmethod
    def _messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
        off = 0
        while off + _NLMSGHDR.size <= len(data):
            length, mtype, mflags, mseq, _pid = _NLMSGHDR.unpack_from(data, off)
            if length < _NLMSGHDR.size or off + length > len(data):
                break
            yield mtype, mflags, mseq, data[off + _NLMSGHDR.size: off + length]
            off += _align(length)


def no_such_device(name: str) -> OSError:
    return OSError(errno.ENODEV, f"no such network interface: {name!r}")
