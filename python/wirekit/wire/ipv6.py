"""IPv6 (RFC 8200) and its extension headers.

    offset  size  field
    0       4     version (4 bits) | traffic class (8) | flow label (20)
    4       2     payload length (bytes after these 40, extension headers included)
    6       1     next header
    7       1     hop limit
    8       16    source
    24      16    destination

Extension headers walked (RFC 8200 4.1; each starts with next-header, then a length):
hop-by-hop options (0), routing (43), fragment (44, fixed 8 bytes), destination options (60):
length in 8-byte units, not counting the first 8; authentication header (51, RFC 4302 2.2):
length in 4-byte units minus 2. The walk stops at ESP (50: what follows is encrypted), at No
Next Header (59) and at any upper-layer protocol; `IPv6Header.proto` is where it stopped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import BuildError, DecodeError, TruncatedError
from ._util import check_uint, enum_or_int, ip6_to_bytes, ip6_to_str, need
from .ethernet import EtherType
from .ipproto import IPProto

__all__ = [
    "IPv6Header",
    "IPv6ExtHeader",
    "IPv6Options",
    "IPv6Routing",
    "IPv6Fragment",
    "IPv6AH",
    "EXT_HEADER_PROTOS",
    "MAX_EXT_HEADERS",
    "HEADER_LEN",
    "walk_ext_headers",
]

HEADER_LEN = 40
#: Cap on extension headers walked per packet (a chain longer than this is an anomaly).
MAX_EXT_HEADERS = 16
EXT_HEADER_PROTOS = frozenset({0, 43, 44, 51, 60})
HOME_ADDRESS_OPTION = 201  # RFC 6275 6.3

_HDR = struct.Struct("!IHBB16s16s")
_FRAG = struct.Struct("!BBHI")
_inet_ntop = __import__("socket").inet_ntop
_AF_INET6 = __import__("socket").AF_INET6


@dataclass(slots=True)
class IPv6ExtHeader:
    """An extension header with the common 8-octet-unit length (hop-by-hop, routing,
    destination options, or one unknown to wirekit): `data` is everything after the
    next-header and length octets, so `2 + len(data)` is a multiple of 8."""

    proto: int
    next_header: int | None = None
    data: bytes = b"\x00" * 6

    @property
    def header_len(self) -> int:
        return 2 + len(self.data)

    # Overridden by the routing and destination-options classes (see checksum.py).
    final_destination = None
    home_address = None

    def build(self, next_header: int | None = None) -> bytes:
        nh = self.next_header if self.next_header is not None else next_header
        if nh is None:
            raise BuildError(f"extension header {self.proto}: next_header is unset")
        n = 2 + len(self.data)
        if n % 8:
            raise BuildError(f"extension header {self.proto}: length {n} not a multiple of 8")
        return bytes((check_uint(nh, 8, "next_header"), n // 8 - 1)) + self.data

    def __str__(self) -> str:
        return f"ext {int(self.proto)} len {self.header_len}"


@dataclass(slots=True)
class IPv6Options(IPv6ExtHeader):
    """Hop-by-hop (proto 0) or destination (proto 60) options; `data` holds the TLVs."""

    def options(self) -> list[tuple[int, bytes]]:
        """The options as (type, value) pairs; Pad1 appears as (0, b"")."""
        out: list[tuple[int, bytes]] = []
        raw, i = self.data, 0
        while i < len(raw):
            t = raw[i]
            if t == 0:
                out.append((0, b""))
                i += 1
                continue
            if i + 1 >= len(raw) or i + 2 + raw[i + 1] > len(raw):
                raise DecodeError(f"IPv6 option {t} at {i}: bad length")
            out.append((t, raw[i + 2:i + 2 + raw[i + 1]]))
            i += 2 + raw[i + 1]
        return out

    @property
    def home_address(self) -> bytes | None:  # type: ignore[override]
        """RFC 6275 6.3: the Home Address destination option (type 201, 16 bytes)."""
        if self.proto != 60:
            return None
        try:
            opts = self.options()
        except DecodeError:
            return None
        for t, v in opts:
            if t == HOME_ADDRESS_OPTION and len(v) == 16:
                return v
        return None


@dataclass(slots=True)
class IPv6Routing(IPv6ExtHeader):
    """Routing header (43): data = routing type, segments left, then type-specific bytes."""

    @property
    def routing_type(self) -> int:
        return self.data[0]

    @property
    def segments_left(self) -> int:
        return self.data[1]

    @property
    def addresses(self) -> list[str]:
        """Type 0 (RFC 2460, deprecated by RFC 5095) and type 2 (RFC 6275): the addresses
        after the 4 reserved bytes."""
        if self.routing_type not in (0, 2):
            return []
        body = self.data[6:]
        return [ip6_to_str(body[i:i + 16]) for i in range(0, len(body) - 15, 16)]

    @property
    def final_destination(self) -> bytes | None:  # type: ignore[override]
        """The last address when segments remain (RFC 8200 8.1), else None."""
        if self.routing_type not in (0, 2) or self.segments_left == 0:
            return None
        body = self.data[6:]
        n = len(body) // 16
        return body[(n - 1) * 16:n * 16] if n else None


@dataclass(slots=True)
class IPv6Fragment:
    """Fragment header (44, RFC 8200 4.5): 8 bytes."""

    next_header: int | None = None
    frag_offset: int = 0       # bytes (a multiple of 8)
    more_fragments: bool = False
    id: int = 0
    reserved: int = 0          # the octet after next-header
    reserved_bits: int = 0     # the 2 bits between offset and M

    proto = IPProto.IPV6_FRAG
    header_len = 8
    final_destination = None
    home_address = None

    @classmethod
    def parse(cls, data, offset: int = 0) -> IPv6Fragment:
        need(data, offset, 8, "IPv6 fragment header")
        nh, res, offm, ident = _FRAG.unpack_from(data, offset)
        return cls(enum_or_int(IPProto, nh), offm & 0xFFF8, bool(offm & 1), ident, res,
                   (offm >> 1) & 3)

    def build(self, next_header: int | None = None) -> bytes:
        nh = self.next_header if self.next_header is not None else next_header
        if nh is None:
            raise BuildError("fragment header: next_header is unset")
        if self.frag_offset % 8:
            raise BuildError(f"frag_offset={self.frag_offset} is not a multiple of 8 bytes")
        offm = (check_uint(self.frag_offset >> 3, 13, "frag_offset/8") << 3
                | check_uint(self.reserved_bits, 2, "reserved_bits") << 1 | self.more_fragments)
        return _FRAG.pack(check_uint(nh, 8, "next_header"), check_uint(self.reserved, 8,
                          "reserved"), offm, check_uint(self.id, 32, "id"))

    def __str__(self) -> str:
        return f"frag (0x{self.id:08x}:{self.frag_offset}|{'+' if self.more_fragments else ''})"


@dataclass(slots=True)
class IPv6AH:
    """Authentication header (51, RFC 4302): `data` = everything after the first 2 octets
    (reserved, SPI, sequence number, ICV); length octet = total/4 - 2."""

    next_header: int | None = None
    data: bytes = b"\x00" * 10

    proto = IPProto.AH
    final_destination = None
    home_address = None

    @property
    def header_len(self) -> int:
        return 2 + len(self.data)

    @property
    def spi(self) -> int:
        return int.from_bytes(self.data[2:6], "big")

    @property
    def seq(self) -> int:
        return int.from_bytes(self.data[6:10], "big")

    def build(self, next_header: int | None = None) -> bytes:
        nh = self.next_header if self.next_header is not None else next_header
        if nh is None:
            raise BuildError("AH: next_header is unset")
        n = 2 + len(self.data)
        # RFC 4302 2.2 wants at least 12 bytes; 8 (length octet 0) is seen in the wild and is
        # rebuilt as parsed.
        if n % 4 or n < 8:
            raise BuildError(f"AH length {n} is not a multiple of 4 >= 8")
        return bytes((check_uint(nh, 8, "next_header"), n // 4 - 2)) + self.data

    def __str__(self) -> str:
        return f"AH(spi=0x{self.spi:08x},seq=0x{self.seq:x})"


def walk_ext_headers(data, offset: int, end: int, next_header: int):
    """Walks the extension headers starting at `offset` (the byte after the fixed header),
    not past `end`. Returns (headers, proto, offset after them, problem) where `proto` is the
    first next-header value that is not an extension header (or 50/59, which stop the walk)
    and `problem` is None, "truncated" or "too_many". After the fragment header of a later
    fragment (offset > 0) the walk stops: what follows is fragment data."""
    exts: list = []
    nh = next_header
    while nh in EXT_HEADER_PROTOS:
        if len(exts) >= MAX_EXT_HEADERS:
            return exts, nh, offset, "too_many"
        if end - offset < 8:  # every extension header is at least 8 bytes
            return exts, nh, offset, "truncated"
        if nh == 44:
            ext = IPv6Fragment.parse(data, offset)
            n = 8
        else:
            if nh == 51:
                n = (data[offset + 1] + 2) * 4
            else:
                n = (data[offset + 1] + 1) * 8
            if end - offset < n:
                return exts, nh, offset, "truncated"
            cls = IPv6Routing if nh == 43 else IPv6Options if nh in (0, 60) else None
            body = bytes(data[offset + 2:offset + n])
            first = enum_or_int(IPProto, data[offset])
            ext = IPv6AH(first, body) if cls is None else cls(enum_or_int(IPProto, nh), first, body)
        exts.append(ext)
        offset += n
        nh = ext.next_header
        if ext.__class__ is IPv6Fragment and ext.frag_offset:
            # A later fragment: the rest of the chain belongs to the reassembled datagram.
            break
    return exts, nh, offset, None


@dataclass(slots=True)
class IPv6Header:
    """An IPv6 header and its extension headers. `next_header` is the fixed header's field;
    `proto` the upper-layer protocol after the extension headers. Fields left None
    (`payload_len`, `next_header` of the header or of an extension) are computed by build()."""

    src: str = "::"
    dst: str = "::"
    next_header: int | None = None
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    payload_len: int | None = None
    ext_headers: list = field(default_factory=list)
    version: int = 6

    ETHERTYPE = EtherType.IPV6

    @classmethod
    def parse(cls, data, offset: int = 0) -> IPv6Header:
        """Parses the fixed header and walks the extension headers (bounded by the payload
        length and the bytes present). Raises TruncatedError when either is cut short."""
        hdr, problem = cls.parse_partial(data, offset)
        if problem == "truncated":
            raise TruncatedError("IPv6 extension header cut short")
        if problem == "too_many":
            raise DecodeError(f"more than {MAX_EXT_HEADERS} IPv6 extension headers")
        return hdr

    @classmethod
    def parse_partial(cls, data, offset: int = 0):
        """Like parse, but returns (header, problem) with the extension headers walked so far
        when the walk stops early (problem "truncated"/"too_many", else None)."""
        need(data, offset, HEADER_LEN, "IPv6 header")
        vtf, plen, nh, hlim, src, dst = _HDR.unpack_from(data, offset)
        if vtf >> 28 != 6:
            raise DecodeError(f"IPv6 header: version {vtf >> 28}")
        nh = enum_or_int(IPProto, nh)
        hdr = cls(_inet_ntop(_AF_INET6, src), _inet_ntop(_AF_INET6, dst), nh, hlim,
                  (vtf >> 20) & 0xFF, vtf & 0xFFFFF, plen, [], 6)
        if nh not in EXT_HEADER_PROTOS:
            return hdr, None
        start = offset + HEADER_LEN
        end = len(data)
        if plen:  # 0 with a hop-by-hop Jumbo Payload option (RFC 2675): take what is there
            end = min(end, start + plen)
        hdr.ext_headers, _, _, problem = walk_ext_headers(data, start, end, nh)
        return hdr, problem

    # -- derived views ------------------------------------------------------------------
    @property
    def proto(self) -> int | None:
        """Upper-layer protocol: next header after the extension headers."""
        if self.ext_headers:
            return self.ext_headers[-1].next_header
        return self.next_header

    @property
    def ttl(self) -> int:
        return self.hop_limit

    @property
    def header_len(self) -> int:
        """Bytes: 40 plus the extension headers."""
        n = HEADER_LEN
        for e in self.ext_headers:
            n += e.header_len
        return n

    @property
    def total_len(self) -> int | None:
        return None if self.payload_len is None else HEADER_LEN + self.payload_len

    @property
    def fragment(self) -> IPv6Fragment | None:
        for e in self.ext_headers:
            if e.__class__ is IPv6Fragment:
                return e
        return None

    @property
    def id(self) -> int:
        f = self.fragment
        return f.id if f is not None else 0

    @property
    def frag_offset(self) -> int:
        f = self.fragment
        return f.frag_offset if f is not None else 0

    @property
    def more_fragments(self) -> bool:
        f = self.fragment
        return f.more_fragments if f is not None else False

    @property
    def is_fragment(self) -> bool:
        """True for a real fragment; an atomic fragment (offset 0, M 0: RFC 6946) is not."""
        f = self.fragment
        return f is not None and (f.more_fragments or f.frag_offset != 0)

    dont_fragment = False  # IPv6 routers never fragment

    # -- build --------------------------------------------------------------------------
    def build_header(self, payload_len: int = 0, upper_proto: int | None = None) -> bytes:
        """The fixed header and extension headers (payload length counts them plus
        `payload_len`); an unset last next-header takes `upper_proto`."""
        exts = []
        for i, e in enumerate(self.ext_headers):
            following = (self.ext_headers[i + 1].proto if i + 1 < len(self.ext_headers)
                         else upper_proto)
            exts.append(e.build(following))
        ext_bytes = b"".join(exts)
        nh = self.next_header
        if nh is None:
            nh = self.ext_headers[0].proto if self.ext_headers else upper_proto
        if nh is None:
            raise BuildError("IPv6Header.next_header is unset (use build_packet to infer it)")
        plen = self.payload_len if self.payload_len is not None else len(ext_bytes) + payload_len
        vtf = (check_uint(self.version, 4, "version") << 28
               | check_uint(self.traffic_class, 8, "traffic_class") << 20
               | check_uint(self.flow_label, 20, "flow_label"))
        return _HDR.pack(vtf, check_uint(plen, 16, "payload_len"), check_uint(nh, 8,
                         "next_header"), check_uint(self.hop_limit, 8, "hop_limit"),
                         ip6_to_bytes(self.src, "src"), ip6_to_bytes(self.dst, "dst")) + ext_bytes

    def build(self, payload: bytes = b"", upper_proto: int | None = None) -> bytes:
        return self.build_header(len(payload), upper_proto) + payload

    def __str__(self) -> str:
        exts = "".join(f" [{e}]" for e in self.ext_headers)
        return (f"IP6 {self.src} > {self.dst}: next {int(self.proto or 0)}, hlim "
                f"{self.hop_limit}, plen {self.payload_len}{exts}")
