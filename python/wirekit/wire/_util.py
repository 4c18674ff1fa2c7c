"""Small helpers shared by the header modules: address text forms and enum lookups."""

from __future__ import annotations

import enum
import socket
from typing import TypeVar

from ..errors import BuildError, TruncatedError

_E = TypeVar("_E", bound=enum.IntEnum)

_inet_ntoa = socket.inet_ntoa
_inet_aton = socket.inet_aton
_inet_ntop = socket.inet_ntop
_inet_pton = socket.inet_pton
_AF_INET6 = socket.AF_INET6


def enum_or_int(cls: type[_E], value: int) -> int:
    """`cls(value)` when it is a known member, else the plain int (enums keep unknown values)."""
    member = cls._value2member_map_.get(value)
    return value if member is None else member  # type: ignore[return-value]


def need(data, offset: int, length: int, what: str) -> None:
    """Raises TruncatedError unless `data[offset:offset+length]` is all there."""
    if offset < 0 or len(data) - offset < length:
        raise TruncatedError(
            f"{what}: need {length} bytes at offset {offset}, have {max(len(data) - offset, 0)}"
        )


def check_uint(value, bits: int, name: str) -> int:
    """Validates a field for build(): an int in [0, 2**bits)."""
    if not isinstance(value, int) or value < 0 or value >> bits:
        raise BuildError(f"{name}={value!r} does not fit in {bits} unsigned bits")
    return value


def mac_to_str(raw: bytes) -> str:
    return raw.hex(":")


def mac_to_bytes(mac: str | bytes, name: str = "mac") -> bytes:
    if isinstance(mac, (bytes, bytearray)):
        raw = bytes(mac)
    else:
        try:
            raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
        except (ValueError, AttributeError):
            raise BuildError(f"{name}={mac!r} is not a MAC address") from None
    if len(raw) != 6:
        raise BuildError(f"{name}={mac!r} is not 6 bytes")
    return raw


def ip4_to_str(raw: bytes) -> str:
    return _inet_ntoa(raw)


def ip4_to_bytes(addr: str | bytes, name: str = "address") -> bytes:
    if isinstance(addr, (bytes, bytearray)) and len(addr) == 4:
        return bytes(addr)
    try:
        return _inet_aton(addr) if addr.count(".") == 3 else _bad(addr, name, "IPv4")
    except (OSError, AttributeError, TypeError):
        return _bad(addr, name, "IPv4")


def ip6_to_str(raw: bytes) -> str:
    return _inet_ntop(_AF_INET6, raw)


def ip6_to_bytes(addr: str | bytes, name: str = "address") -> bytes:
    if isinstance(addr, (bytes, bytearray)) and len(addr) == 16:
        return bytes(addr)
    try:
        return _inet_pton(_AF_INET6, addr)
    except (OSError, TypeError):
        return _bad(addr, name, "IPv6")


def _bad(addr, name: str, kind: str) -> bytes:
    raise BuildError(f"{name}={addr!r} is not an {kind} address")
