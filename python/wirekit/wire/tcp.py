"""TCP (RFC 9293) header and options.

    offset  size  field
    0       2     source port
    2       2     destination port
    4       4     sequence number
    8       4     acknowledgment number
    12      2     data offset (4 bits, 32-bit words) | reserved (3) | flags (9: NS/AE, CWR,
                  ECE, URG, ACK, PSH, RST, SYN, FIN)
    14      2     window
    16      2     checksum (RFC 9293 3.1: over the pseudo-header, header and data)
    18      2     urgent pointer
    20      ..    options (data offset * 4 - 20 bytes)

Options (RFC 9293 3.2): EOL (0) and NOP (1) are one byte, every other option is kind, length
(counting kind and length), value. Known: MSS (2), window scale (3, RFC 7323), SACK-permitted
(4) and SACK (5, RFC 2018), timestamps (8, RFC 7323). Unknown ones are kept raw; the bytes after
EOL are kept too (as the EOL option's `data`) so that build(parse(x)) == x.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from ..errors import BuildError, DecodeError
from ._util import check_uint, need
from .checksum import l4_checksum, verify_l4_checksum
from .ipproto import IPProto

__all__ = ["TCPFlags", "TCPOption", "TCPOptionKind", "TCPHeader", "MIN_HEADER_LEN",
           "parse_options", "encode_options"]

MIN_HEADER_LEN = 20
_HDR = struct.Struct("!HHIIHHHH")


class TCPFlags(enum.IntFlag):
    FIN = 0x001
    SYN = 0x002
    RST = 0x004
    PSH = 0x008
    ACK = 0x010
    URG = 0x020
    ECE = 0x040
    CWR = 0x080
    NS = 0x100   # RFC 3540 nonce sum; reused as AE by AccECN (RFC 9768)
    AE = 0x100


# tcpdump's flag letters, in the order it prints them (print-tcp.c): F S R P . U E W e.
_FLAG_LETTERS = ((0x001, "F"), (0x002, "S"), (0x004, "R"), (0x008, "P"), (0x010, "."),
                 (0x020, "U"), (0x040, "E"), (0x080, "W"), (0x100, "e"))


def flags_str(flags: int) -> str:
    """The flags as tcpdump writes them inside "Flags [...]" ("S", "S.", "FP.", "none")."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "none"


class TCPOptionKind(enum.IntEnum):
    EOL = 0
    NOP = 1
    MSS = 2
    WSCALE = 3
    SACK_PERMITTED = 4
    SACK = 5
    TIMESTAMPS = 8
    MD5 = 19
    USER_TIMEOUT = 28
    AUTH = 29
    MPTCP = 30
    FASTOPEN = 34


# Every 9-bit flags value as a TCPFlags, so parse does an index instead of an enum lookup.
_FLAGS = tuple(TCPFlags(i) for i in range(0x200))

_OPT_NAMES = {0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sack_permitted", 5: "sack",
              8: "timestamps", 19: "md5", 28: "user_timeout", 29: "tcp_ao", 30: "mptcp",
              34: "tfo"}
# Value length each known option must have to be decoded (else it is kept raw).
_OPT_LEN = {2: 2, 3: 1, 4: 0, 8: 8}


@dataclass(slots=True, frozen=True)
class TCPOption:
    """One option. `data` is the value (bytes after kind and length); for EOL, the bytes after
    it (padding). `malformed` options (a length < 2 or past the header) keep their raw bytes
    in `data` and are rebuilt verbatim."""

    kind: int
    data: bytes = b""
    malformed: bool = False

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def mss(cls, value: int) -> TCPOption:
        return cls(2, check_uint(value, 16, "mss").to_bytes(2, "big"))

    @classmethod
    def wscale(cls, shift: int) -> TCPOption:
        return cls(3, bytes((check_uint(shift, 8, "wscale"),)))

    @classmethod
    def sack_permitted(cls) -> TCPOption:
        return cls(4)

    @classmethod
    def sack(cls, blocks) -> TCPOption:
        return cls(5, b"".join(struct.pack("!II", check_uint(left, 32, "sack left"),
                                           check_uint(right, 32, "sack right"))
                               for left, right in blocks))

    @classmethod
    def timestamps(cls, tsval: int, tsecr: int) -> TCPOption:
        return cls(8, struct.pack("!II", check_uint(tsval, 32, "tsval"),
                                  check_uint(tsecr, 32, "tsecr")))

    @classmethod
    def nop(cls) -> TCPOption:
        return cls(1)

    @classmethod
    def eol(cls) -> TCPOption:
        return cls(0)

    # -- views --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self.malformed:
            return "malformed"
        return _OPT_NAMES.get(self.kind, "unknown")

    @property
    def value(self):
        """MSS/wscale: int; SACK: list of (left, right); timestamps: (tsval, tsecr);
        EOL/NOP/SACK-permitted: None; anything else (or a wrong length): the raw bytes."""
        k, d = self.kind, self.data
        if self.malformed:
            return d
        if k in (0, 1):
            return None
        want = _OPT_LEN.get(k)
        if k == 5 and len(d) % 8 == 0:
            return [struct.unpack_from("!II", d, i) for i in range(0, len(d), 8)]
        if want is None or len(d) != want:
            return d
        if k == 2:
            return int.from_bytes(d, "big")
        if k == 3:
            return d[0]
        if k == 8:
            return struct.unpack("!II", d)
        return None  # SACK-permitted

    def to_json(self) -> dict:
        out: dict = {"kind": self.kind, "name": self.name}
        v = self.value
        if isinstance(v, (bytes, bytearray)):
            if v or self.kind not in (0, 1, 4):
                out["value"] = v.hex()
        elif isinstance(v, list):
            out["value"] = [list(b) for b in v]
        elif isinstance(v, tuple):
            out["value"] = list(v)
        elif v is not None:
            out["value"] = v
        return out

    def build(self) -> bytes:
        if self.malformed:
            return self.data
        if self.kind in (0, 1):
            return bytes((self.kind,)) + (self.data if self.kind == 0 else b"")
        return bytes((check_uint(self.kind, 8, "option kind"),
                      check_uint(len(self.data) + 2, 8, "option length"))) + self.data

    def __str__(self) -> str:
        # tcpdump's spellings (print-tcp.c) where it has one.
        v = self.value
        if self.kind == 4 and not self.malformed and not self.data:
            return "sackOK"
        if v is None:
            return self.name
        if self.kind == 8 and isinstance(v, tuple):
            return f"TS val {v[0]} ecr {v[1]}"
        if self.kind == 5 and isinstance(v, list):
            return f"sack {len(v)} " + "".join(f"{{{a}:{b}}}" for a, b in v)
        if isinstance(v, bytes):
            return f"{self.name}-{self.kind} 0x{v.hex()}"
        return f"{self.name} {v}"


def parse_options(raw) -> tuple[list[TCPOption], bool]:
    """Parses option bytes; returns (options, ok). A malformed option ends the list as a
    `malformed` TCPOption holding the rest of the bytes, and ok is False."""
    out: list[TCPOption] = []
    i, n = 0, len(raw)
    while i < n:
        kind = raw[i]
        if kind == 0:
            out.append(TCPOption(0, bytes(raw[i + 1:])))
            break
        if kind == 1:
            out.append(_NOP)
            i += 1
            continue
        if i + 1 >= n or raw[i + 1] < 2 or i + raw[i + 1] > n:
            out.append(TCPOption(kind, bytes(raw[i:]), True))
            return out, False
        ln = raw[i + 1]
        out.append(TCPOption(kind, bytes(raw[i + 2:i + ln])))
        i += ln
    return out, True


_NOP = TCPOption(1)


def encode_options(options) -> bytes:
    return b"".join(o.build() for o in options)


@dataclass(slots=True)
class TCPHeader:
    """A TCP header. `header_len` (bytes) and `checksum` left None are computed by build();
    `flags` is a TCPFlags (an int; 9 bits)."""

    src_port: int = 0
    dst_port: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = TCPFlags.SYN
    window: int = 65535
    checksum: int | None = None
    urgent: int = 0
    options: list = field(default_factory=list)
    header_len: int | None = None
    reserved: int = 0           # the 3 reserved bits
    options_ok: bool = True     # False when parse met a malformed option

    IP_PROTO = IPProto.TCP

    @classmethod
    def parse(cls, data, offset: int = 0) -> TCPHeader:
        """Raises TruncatedError when the header (options included) is cut short and
        DecodeError when the data offset is below 5."""
        need(data, offset, MIN_HEADER_LEN, "TCP header")
        hlen = (data[offset + 12] >> 4) * 4
        if hlen < MIN_HEADER_LEN:
            raise DecodeError(f"TCP header: data offset {hlen} bytes < 20")
        need(data, offset, hlen, "TCP options")
        return _parse_at(data, offset)

    def option(self, kind: int) -> TCPOption | None:
        """The first option of `kind`, or None."""
        for o in self.options:
            if o.kind == kind:
                return o
        return None

    @property
    def mss(self) -> int | None:
        o = self.option(2)
        v = o.value if o is not None else None
        return v if isinstance(v, int) else None

    def build_header(self, payload_len: int = 0) -> bytes:
        """The header with the checksum field as set (0 when None)."""
        opts = encode_options(self.options)
        hlen = self.header_len
        if hlen is None:
            hlen = MIN_HEADER_LEN + len(opts) + (-len(opts) % 4)
        if hlen % 4 or not MIN_HEADER_LEN <= hlen <= 60 or hlen < MIN_HEADER_LEN + len(opts):
            raise BuildError(f"TCP header_len={hlen} (options {len(opts)} bytes)")
        opts += bytes(hlen - MIN_HEADER_LEN - len(opts))
        offflags = (hlen >> 2) << 12 | check_uint(self.reserved, 3, "reserved") << 9 \
            | check_uint(int(self.flags), 9, "flags")
        return _HDR.pack(check_uint(self.src_port, 16, "src_port"),
                         check_uint(self.dst_port, 16, "dst_port"),
                         check_uint(self.seq, 32, "seq"), check_uint(self.ack, 32, "ack"),
                         offflags, check_uint(self.window, 16, "window"),
                         0 if self.checksum is None else check_uint(self.checksum, 16,
                                                                    "checksum"),
                         check_uint(self.urgent, 16, "urgent")) + opts

    def build(self, payload: bytes = b"", ip=None) -> bytes:
        """Header plus `payload`. An unset checksum needs `ip` (the IPv4Header/IPv6Header
        that will carry the segment) for the pseudo-header."""
        seg = self.build_header(len(payload)) + payload
        if self.checksum is None:
            if ip is None:
                raise BuildError("TCP checksum unset: pass ip= (the IP header) or checksum=0")
            c = l4_checksum(ip, IPProto.TCP, seg)
            seg = seg[:16] + c.to_bytes(2, "big") + seg[18:]
        return seg

    def verify_checksum(self, ip, segment) -> bool:
        """True when `segment` (this header as received plus the payload) checks out."""
        return verify_l4_checksum(ip, IPProto.TCP, segment)

    def __str__(self) -> str:
        opts = ", ".join(str(o) for o in self.options if o.kind != 1)
        return (f"TCP {self.src_port} > {self.dst_port}: Flags [{flags_str(self.flags)}], "
                f"seq {self.seq}, ack {self.ack}, win {self.window}"
                + (f", options [{opts}]" if opts else ""))


def _parse_at(data, offset: int, _new=TCPHeader) -> TCPHeader:
    """parse() without the checks, for the decoder (which made them already)."""
    sport, dport, seq, ack, offflags, win, csum, urg = _HDR.unpack_from(data, offset)
    hlen = (offflags >> 12) << 2
    if hlen > 20:
        raw = data[offset + 20:offset + hlen]
        if len(raw) == 12 and raw[:4] == b"\x01\x01\x08\x0a":
            # NOP, NOP, timestamps: what most established-connection segments carry.
            options, ok = [_NOP, _NOP, _new_option(8, raw[4:])], True
        else:
            options, ok = parse_options(raw)
    else:
        options, ok = [], True
    return _new(sport, dport, seq, ack, _FLAGS[offflags & 0x1FF], win, csum, urg, options,
                hlen, (offflags >> 9) & 7, ok)


_new_option = TCPOption
