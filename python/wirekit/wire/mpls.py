"""MPLS label stack entries (RFC 3032), after EtherType 0x8847 (unicast) or 0x8848
(multicast). Entries repeat until the one with the bottom-of-stack bit set:

    offset  size  field
    0       4     label (20 bits) | TC (3 bits, RFC 5462; formerly EXP) | S (1 bit) | TTL (8)

RFC 3032 section 2.1 leaves what lies under the stack to the label's binding, which a capture
does not carry; like tcpdump and Wireshark, the decoder reads an IPv4 or IPv6 packet by the
version nibble of the first byte after the bottom entry and keeps anything else raw.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._util import check_uint, need
from .ethernet import EtherType

__all__ = ["ENTRY_LEN", "MPLSLabel"]

ENTRY_LEN = 4
_ENTRY = struct.Struct("!I")


@dataclass(slots=True)
class MPLSLabel:
    """One label stack entry: `label` (20 bits), `tc` (traffic class, 3 bits), `s`
    (bottom of stack, 0 or 1), `ttl`."""

    label: int = 0
    tc: int = 0
    s: int = 1
    ttl: int = 64

    ETHERTYPE = EtherType.MPLS
    header_len = ENTRY_LEN

    @classmethod
    def parse(cls, data, offset: int = 0) -> MPLSLabel:
        need(data, offset, ENTRY_LEN, "MPLS label stack entry")
        (entry,) = _ENTRY.unpack_from(data, offset)
        return cls(entry >> 12, (entry >> 9) & 7, (entry >> 8) & 1, entry & 0xFF)

    def build(self, payload: bytes = b"") -> bytes:
        entry = (check_uint(self.label, 20, "label") << 12 | check_uint(self.tc, 3, "tc") << 9
                 | check_uint(self.s, 1, "s") << 8 | check_uint(self.ttl, 8, "ttl"))
        return _ENTRY.pack(entry) + payload

    def to_json(self) -> dict:
        return {"label": self.label, "tc": self.tc, "s": self.s, "ttl": self.ttl}

    def __str__(self) -> str:
        # tcpdump's form: (label 29, tc 6, [S], ttl 255)
        return f"(label {self.label}, tc {self.tc}, {'[S], ' if self.s else ''}ttl {self.ttl})"
