"""IEEE 802.1Q / 802.1ad VLAN tags (several may be stacked: QinQ).

A tag follows an EtherType of 0x8100 (802.1Q), 0x88a8 (802.1ad) or 0x9100 (pre-standard QinQ),
its TPID. The 4 bytes after the TPID are:

    offset  size  field
    0       2     TCI: PCP (3 bits) | DEI (1 bit) | VID (12 bits)
    2       2     EtherType of what follows (possibly another TPID)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BuildError
from ._util import check_uint, enum_or_int, need
from .ethernet import EtherType

__all__ = ["VLANTag", "TPIDS", "TAG_LEN"]

TAG_LEN = 4
TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
_TAG = struct.Struct("!HH")


@dataclass(slots=True)
class VLANTag:
    """One VLAN tag. `tpid` is the EtherType that announced it (not part of these 4 bytes);
    `type` is the EtherType of what follows the tag."""

    vid: int = 0
    pcp: int = 0
    dei: int = 0
    type: int | None = None
    tpid: int = 0x8100

    ETHERTYPE = EtherType.VLAN
    header_len = TAG_LEN

    @property
    def id(self) -> int:
        return self.vid

    @classmethod
    def parse(cls, data, offset: int = 0, tpid: int = 0x8100) -> VLANTag:
        need(data, offset, TAG_LEN, "VLAN tag")
        tci, etype = _TAG.unpack_from(data, offset)
        return cls(tci & 0x0FFF, tci >> 13, (tci >> 12) & 1, enum_or_int(EtherType, etype),
                   enum_or_int(EtherType, tpid))

    def build(self, payload: bytes = b"") -> bytes:
        if self.type is None:
            raise BuildError("VLANTag.type is unset (use build_packet to infer it)")
        tci = (check_uint(self.pcp, 3, "pcp") << 13 | check_uint(self.dei, 1, "dei") << 12
               | check_uint(self.vid, 12, "vid"))
        return _TAG.pack(tci, check_uint(self.type, 16, "type")) + payload

    def __str__(self) -> str:
        return f"vlan {self.vid}, p {self.pcp}, ethertype 0x{self.type or 0:04x}"
