"""IPv4 (RFC 791).

    offset  size  field
    0       1     version (4 bits) | IHL (4 bits, 32-bit words)
    1       1     DSCP (6 bits) | ECN (2 bits)
    2       2     total length (bytes, header included)
    4       2     identification
    6       2     flags: reserved/evil (bit 15), DF (14), MF (13) | fragment offset (13 bits,
                  8-byte units)
    8       1     TTL
    9       1     protocol
    10      2     header checksum
    12      4     source
    16      4     destination
    20      ..    options (IHL*4 - 20 bytes, kept raw; parsed_options() lists them)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BuildError, DecodeError
from ._util import check_uint, ip4_to_bytes, need
from .checksum import internet_checksum, ones_sum
from .ethernet import EtherType
from .ipproto import IPProto

__all__ = ["IPv4Header", "IPv4Option", "MIN_HEADER_LEN"]

MIN_HEADER_LEN = 20
_HDR = struct.Struct("!BBHHHBBH4s4s")
_inet_ntoa = __import__("socket").inet_ntoa


@dataclass(slots=True, frozen=True)
class IPv4Option:
    """One IPv4 option: `kind` is the whole type octet (copied|class|number); `data` the bytes
    after the length octet (empty for EOL 0 and NOP 1)."""

    kind: int
    data: bytes = b""


@dataclass(slots=True)
class IPv4Header:
    """An IPv4 header. Fields left None (`header_len`, `total_len`, `checksum`, `proto`) are
    computed by build(); parse() fills every field as it is on the wire."""

    src: str = "0.0.0.0"
    dst: str = "0.0.0.0"
    proto: int | None = None
    ttl: int = 64
    id: int = 0
    dont_fragment: bool = False
    more_fragments: bool = False
    frag_offset: int = 0       # bytes (a multiple of 8)
    tos: int = 0               # DSCP << 2 | ECN
    total_len: int | None = None
    header_len: int | None = None  # bytes (IHL * 4)
    checksum: int | None = None
    options: bytes = b""       # raw, as on the wire (padding included)
    reserved_flag: bool = False  # RFC 3514's "evil bit"
    version: int = 4

    ETHERTYPE = EtherType.IPV4

    @classmethod
    def parse(cls, data, offset: int = 0) -> IPv4Header:
        """Parses the header at `offset`. Raises TruncatedError when the bytes end inside the
        header, DecodeError when the version is not 4 or IHL < 5."""
        need(data, offset, MIN_HEADER_LEN, "IPv4 header")
        vihl = data[offset]
        if vihl >> 4 != 4:
            raise DecodeError(f"IPv4 header: version {vihl >> 4}")
        hlen = (vihl & 0x0F) * 4
        if hlen < MIN_HEADER_LEN:
            raise DecodeError(f"IPv4 header: header length {hlen} < 20")
        need(data, offset, hlen, "IPv4 options")
        return _parse_at(data, offset)

    # -- derived views ------------------------------------------------------------------
    @property
    def dscp(self) -> int:
        return self.tos >> 2

    @property
    def ecn(self) -> int:
        return self.tos & 3

    @property
    def is_fragment(self) -> bool:
        return self.more_fragments or self.frag_offset != 0

    def parsed_options(self) -> list[IPv4Option]:
        """The options as a list; stops at EOL or at a malformed option (DecodeError)."""
        out: list[IPv4Option] = []
        raw, i = self.options, 0
        while i < len(raw):
            kind = raw[i]
            if kind == 0:
                out.append(IPv4Option(0))
                break
            if kind == 1:
                out.append(IPv4Option(1))
                i += 1
                continue
            if i + 1 >= len(raw) or raw[i + 1] < 2 or i + raw[i + 1] > len(raw):
                raise DecodeError(f"IPv4 option {kind} at {i}: bad length")
            out.append(IPv4Option(kind, raw[i + 2:i + raw[i + 1]]))
            i += raw[i + 1]
        return out

    @staticmethod
    def encode_options(options: list[IPv4Option]) -> bytes:
        """Encodes a list of options (not padded; build() pads with EOL/zero bytes)."""
        out = bytearray()
        for opt in options:
            if opt.kind in (0, 1):
                out.append(opt.kind)
            else:
                out += bytes((opt.kind, len(opt.data) + 2)) + opt.data
        return bytes(out)

    # -- build --------------------------------------------------------------------------
    def build_header(self, payload_len: int = 0) -> bytes:
        """The header bytes alone (lengths computed for a payload of `payload_len` bytes)."""
        options = self.options
        if len(options) % 4:
            options = options + bytes(4 - len(options) % 4)
        hlen = self.header_len if self.header_len is not None else MIN_HEADER_LEN + len(options)
        if hlen % 4 or not MIN_HEADER_LEN <= hlen <= 60 or hlen < MIN_HEADER_LEN + len(options):
            raise BuildError(f"IPv4 header_len={hlen} (options {len(options)} bytes)")
        if hlen > MIN_HEADER_LEN + len(options):
            options = options + bytes(hlen - MIN_HEADER_LEN - len(options))
        total = self.total_len if self.total_len is not None else hlen + payload_len
        if self.proto is None:
            raise BuildError("IPv4Header.proto is unset (use build_packet to infer it)")
        if self.frag_offset % 8:
            raise BuildError(f"frag_offset={self.frag_offset} is not a multiple of 8 bytes")
        frag = (self.reserved_flag << 15 | self.dont_fragment << 14 | self.more_fragments << 13
                | check_uint(self.frag_offset >> 3, 13, "frag_offset/8"))
        hdr = _HDR.pack(check_uint(self.version, 4, "version") << 4 | hlen >> 2,
                        check_uint(self.tos, 8, "tos"), check_uint(total, 16, "total_len"),
                        check_uint(self.id, 16, "id"), frag, check_uint(self.ttl, 8, "ttl"),
                        check_uint(self.proto, 8, "proto"),
                        0 if self.checksum is None else check_uint(self.checksum, 16, "checksum"),
                        ip4_to_bytes(self.src, "src"), ip4_to_bytes(self.dst, "dst")) + options
        if self.checksum is None:
            c = internet_checksum(hdr)
            hdr = hdr[:10] + c.to_bytes(2, "big") + hdr[12:]
        return hdr

    def build(self, payload: bytes = b"") -> bytes:
        """Header plus `payload`; unset lengths and the checksum computed."""
        return self.build_header(len(payload)) + payload

    def verify_checksum(self, header_bytes=None) -> bool:
        """True when the header checksum is right. Without `header_bytes` (the header as
        received) the header is rebuilt from the fields, which is exact for parsed headers."""
        raw = header_bytes if header_bytes is not None else self.build_header()
        return ones_sum(raw) == 0xFFFF

    def __str__(self) -> str:
        frag = ""
        if self.is_fragment:
            frag = f", frag offset {self.frag_offset}{'+' if self.more_fragments else ''}"
        return (f"IP {self.src} > {self.dst}: proto {int(self.proto or 0)}, ttl {self.ttl}, "
                f"id {self.id}, len {self.total_len}{frag}")


_PROTOS = IPProto._value2member_map_


def _parse_at(data, offset: int, _new=IPv4Header) -> IPv4Header:
    """parse() without the checks, for the decoder (which made them already)."""
    vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = _HDR.unpack_from(data, offset)
    hlen = (vihl & 0x0F) << 2
    return _new(_inet_ntoa(src), _inet_ntoa(dst), _PROTOS.get(proto, proto), ttl, ident,
                frag & 0x4000 != 0, frag & 0x2000 != 0, (frag & 0x1FFF) << 3, tos, total,
                hlen, csum, data[offset + 20:offset + hlen] if hlen > 20 else b"",
                frag & 0x8000 != 0, 4)
