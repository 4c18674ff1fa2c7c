"""ARP (RFC 826), any hardware/protocol address sizes; Ethernet/IPv4 addresses as text.

    offset  size  field
    0       2     hardware type (1 = Ethernet)
    2       2     protocol type (an EtherType, 0x0800 = IPv4)
    4       1     hardware address length (6)
    5       1     protocol address length (4)
    6       2     operation (1 request, 2 reply, 3/4 RARP)
    8       hlen  sender hardware address, then plen sender protocol address,
                  hlen target hardware address, plen target protocol address
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import BuildError
from ._util import check_uint, enum_or_int, ip4_to_bytes, ip4_to_str, ip6_to_bytes, ip6_to_str, need
from .ethernet import EtherType

__all__ = ["ARPOp", "ARPHeader", "FIXED_LEN"]

FIXED_LEN = 8
_FIXED = struct.Struct("!HHBBH")


class ARPOp(enum.IntEnum):
    REQUEST = 1
    REPLY = 2
    RARP_REQUEST = 3
    RARP_REPLY = 4
    INARP_REQUEST = 8
    INARP_REPLY = 9


def _hw_str(raw: bytes) -> str:
    return raw.hex(":")


def _hw_bytes(value, length: int, name: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        try:
            raw = bytes.fromhex(str(value).replace(":", ""))
        except ValueError:
            raise BuildError(f"{name}={value!r} is not a hardware address") from None
    if len(raw) != length:
        raise BuildError(f"{name}={value!r} is not {length} bytes")
    return raw


def _proto_str(raw: bytes) -> str:
    if len(raw) == 4:
        return ip4_to_str(raw)
    if len(raw) == 16:
        return ip6_to_str(raw)
    return raw.hex(":")


def _proto_bytes(value, length: int, name: str) -> bytes:
    if isinstance(value, (bytes, bytearray)) and len(value) == length:
        return bytes(value)
    if length == 4:
        return ip4_to_bytes(value, name)
    if length == 16:
        return ip6_to_bytes(value, name)
    return _hw_bytes(value, length, name)


@dataclass(slots=True)
class ARPHeader:
    op: int = ARPOp.REQUEST
    sender_mac: str = "00:00:00:00:00:00"
    sender_ip: str = "0.0.0.0"
    target_mac: str = "00:00:00:00:00:00"
    target_ip: str = "0.0.0.0"
    hw_type: int = 1
    proto_type: int = EtherType.IPV4
    hw_len: int = 6
    proto_len: int = 4

    ETHERTYPE = EtherType.ARP

    @property
    def header_len(self) -> int:
        return FIXED_LEN + 2 * (self.hw_len + self.proto_len)

    @classmethod
    def parse(cls, data, offset: int = 0) -> ARPHeader:
        need(data, offset, FIXED_LEN, "ARP header")
        htype, ptype, hlen, plen, op = _FIXED.unpack_from(data, offset)
        need(data, offset, FIXED_LEN + 2 * (hlen + plen), "ARP addresses")
        o = offset + FIXED_LEN
        sha = bytes(data[o:o + hlen])
        spa = bytes(data[o + hlen:o + hlen + plen])
        tha = bytes(data[o + hlen + plen:o + 2 * hlen + plen])
        tpa = bytes(data[o + 2 * hlen + plen:o + 2 * (hlen + plen)])
        return cls(enum_or_int(ARPOp, op), _hw_str(sha), _proto_str(spa), _hw_str(tha),
                   _proto_str(tpa), htype, enum_or_int(EtherType, ptype), hlen, plen)

    def build(self, payload: bytes = b"") -> bytes:
        hlen = check_uint(self.hw_len, 8, "hw_len")
        plen = check_uint(self.proto_len, 8, "proto_len")
        return (_FIXED.pack(check_uint(self.hw_type, 16, "hw_type"),
                            check_uint(self.proto_type, 16, "proto_type"), hlen, plen,
                            check_uint(self.op, 16, "op"))
                + _hw_bytes(self.sender_mac, hlen, "sender_mac")
                + _proto_bytes(self.sender_ip, plen, "sender_ip")
                + _hw_bytes(self.target_mac, hlen, "target_mac")
                + _proto_bytes(self.target_ip, plen, "target_ip") + payload)

    def __str__(self) -> str:
        if self.op == ARPOp.REQUEST:
            return f"ARP, Request who-has {self.target_ip} tell {self.sender_ip}"
        if self.op == ARPOp.REPLY:
            return f"ARP, Reply {self.sender_ip} is-at {self.sender_mac}"
        return f"ARP, op {int(self.op)} {self.sender_ip} > {self.target_ip}"
