"""ICMP for IPv4 (RFC 792).

    offset  size  field
    0       1     type
    1       1     code
    2       2     checksum (RFC 792: over the ICMP message, no pseudo-header)
    4       4     rest of header (echo: identifier, sequence; redirect: gateway; ...)
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ._util import check_uint, enum_or_int, need
from .checksum import internet_checksum, ones_sum
from .ipproto import IPProto

__all__ = ["ICMPType", "ICMPHeader", "HEADER_LEN"]

HEADER_LEN = 8
_HDR = struct.Struct("!BBH4s")


class ICMPType(enum.IntEnum):
    ECHO_REPLY = 0
    DEST_UNREACHABLE = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    ROUTER_ADVERTISEMENT = 9
    ROUTER_SOLICITATION = 10
    TIME_EXCEEDED = 11
    PARAMETER_PROBLEM = 12
    TIMESTAMP_REQUEST = 13
    TIMESTAMP_REPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    ADDRESS_MASK_REQUEST = 17
    ADDRESS_MASK_REPLY = 18


_SUMMARY = {0: "echo reply", 3: "unreachable", 4: "source quench", 5: "redirect",
            8: "echo request", 9: "router advertisement", 10: "router solicitation",
            11: "time exceeded in-transit", 12: "parameter problem", 13: "time stamp request",
            14: "time stamp reply", 17: "address mask request", 18: "address mask reply"}
_ECHO_TYPES = frozenset({0, 8, 13, 14, 15, 16, 17, 18})


@dataclass(slots=True)
class ICMPHeader:
    """An ICMP header; `rest` is the 4 type-specific bytes (see `id`/`seq` for echo)."""

    type: int = ICMPType.ECHO_REQUEST
    code: int = 0
    checksum: int | None = None
    rest: bytes = b"\x00\x00\x00\x00"

    IP_PROTO = IPProto.ICMP
    header_len = HEADER_LEN
    _names = _SUMMARY
    _label = "ICMP"

    @classmethod
    def parse(cls, data, offset: int = 0):
        need(data, offset, HEADER_LEN, f"{cls._label} header")
        t, c, csum, rest = _HDR.unpack_from(data, offset)
        return cls(enum_or_int(cls._type_enum(), t), c, csum, rest)

    @staticmethod
    def _type_enum():
        return ICMPType

    @classmethod
    def echo(cls, id: int, seq: int, *, reply: bool = False, **kw):  # noqa: A002
        return cls(type=cls._echo_types()[reply], rest=struct.pack("!HH", id, seq), **kw)

    @staticmethod
    def _echo_types():
        return (ICMPType.ECHO_REQUEST, ICMPType.ECHO_REPLY)

    @property
    def id(self) -> int:
        return int.from_bytes(self.rest[:2], "big")

    @property
    def seq(self) -> int:
        return int.from_bytes(self.rest[2:4], "big")

    def build(self, payload: bytes = b"", ip=None) -> bytes:
        """Header plus `payload`; an unset checksum is computed over both."""
        rest = bytes(self.rest)
        if len(rest) != 4:
            from ..errors import BuildError
            raise BuildError(f"{self._label} rest must be 4 bytes, got {len(rest)}")
        csum = 0 if self.checksum is None else check_uint(self.checksum, 16, "checksum")
        msg = _HDR.pack(check_uint(self.type, 8, "type"), check_uint(self.code, 8, "code"),
                        csum, rest) + payload
        if self.checksum is None:
            c = self._compute(msg, ip)
            msg = msg[:2] + c.to_bytes(2, "big") + msg[4:]
        return msg

    def _compute(self, msg, ip) -> int:
        return internet_checksum(msg)

    def verify_checksum(self, ip, message) -> bool:
        """True when the checksum of `message` (header plus payload as received) is right;
        `ip` is unused for ICMPv4 (no pseudo-header) but kept for a common signature."""
        return ones_sum(message) == 0xFFFF

    def __str__(self) -> str:
        name = self._names.get(int(self.type))
        if name is None:
            return f"{self._label} type {int(self.type)}, code {self.code}"
        if int(self.type) in self._echo_set():
            return f"{self._label} {name}, id {self.id}, seq {self.seq}"
        return f"{self._label} {name}" + (f", code {self.code}" if self.code else "")

    @staticmethod
    def _echo_set():
        return _ECHO_TYPES
