"""The internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers of TCP, UDP and ICMPv6.

The one's-complement sum of 16-bit big-endian words equals the whole byte string read as one
big-endian integer, modulo 0xFFFF (because 2**16 = 1 mod 0xFFFF): `int.from_bytes` and one
modulo run in C, so no Python loop touches the words.
"""

from __future__ import annotations

import struct

from ._util import ip4_to_bytes, ip6_to_bytes

__all__ = [
    "ones_sum",
    "internet_checksum",
    "pseudo_header_v4",
    "pseudo_header_v6",
    "ipv6_pseudo_addresses",
    "l4_checksum",
    "verify_l4_checksum",
]

_from_bytes = int.from_bytes


def ones_sum(data, initial: int = 0) -> int:
    """The 16-bit one's-complement sum of `data` (odd length padded with a zero byte), plus
    `initial` (another such sum). Result in [0, 0xFFFF]; 0xFFFF stands for a non-zero total
    that is 0 modulo 0xFFFF ("negative zero")."""
    n = _from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8  # RFC 1071 4.1: an odd trailing byte is padded with a zero on the right
    total = n + initial
    s = total % 0xFFFF
    if s == 0 and total:
        return 0xFFFF
    return s


def internet_checksum(data, initial: int = 0) -> int:
    """The RFC 1071 checksum of `data` (with an optional partial `ones_sum` folded in)."""
    return ~ones_sum(data, initial) & 0xFFFF


def pseudo_header_v4(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    """RFC 793 3.1 / RFC 768: source, destination, zero, protocol, TCP/UDP length. The length
    field has 16 bits: a longer (BIG TCP / TSO) segment wraps, as tcpdump computes it; such a
    segment's checksum is the NIC's job and never verifies anyway."""
    return src + dst + struct.pack("!BBH", 0, proto, length & 0xFFFF)


def pseudo_header_v6(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    """RFC 8200 8.1: source, final destination, upper-layer length (32 bits), 3 zero bytes,
    next header."""
    return src + dst + struct.pack("!I3xB", length, proto)


def ipv6_pseudo_addresses(ip) -> tuple[bytes, bytes]:
    """The (source, destination) addresses an IPv6 upper-layer checksum covers.

    RFC 8200 8.1: "If the IPv6 packet contains a Routing header, the Destination Address used
    in the pseudo-header is that of the final destination. At the originating node, that
    address will be in the last element of the Routing header; at the recipient(s), that
    address will be in the Destination Address field of the IPv6 header." So a routing header
    of type 0 (RFC 2460) or 2 (RFC 6275) with segments left > 0 supplies its last address.
    RFC 6275 6.3: with a Home Address destination option (type 201), the checksum uses the home
    address in place of the source address.
    """
    src = ip6_to_bytes(ip.src)
    dst = ip6_to_bytes(ip.dst)
    for ext in ip.ext_headers:
        final = getattr(ext, "final_destination", None)
        if final is not None:
            dst = final
        home = getattr(ext, "home_address", None)
        if home is not None:
            src = home
    return src, dst


def _pseudo_sum(ip, proto: int, length: int) -> int:
    if ip.version == 4:
        ph = pseudo_header_v4(ip4_to_bytes(ip.src), ip4_to_bytes(ip.dst), proto, length)
    else:
        src, dst = ipv6_pseudo_addresses(ip)
        ph = pseudo_header_v6(src, dst, proto, length)
    return ones_sum(ph)


def l4_checksum(ip, proto: int, segment) -> int:
    """The checksum of an upper-layer `segment` (header with a zero checksum field, plus
    payload) carried in `ip` (an IPv4Header or IPv6Header) as protocol `proto`."""
    return internet_checksum(segment, _pseudo_sum(ip, proto, len(segment)))


def verify_l4_checksum(ip, proto: int, segment) -> bool:
    """True when the checksum inside `segment` (as received) is right for `ip`: the sum over
    pseudo-header, header and payload is 0xFFFF (RFC 1071 section 1, "all ones")."""
    return ones_sum(segment, _pseudo_sum(ip, proto, len(segment))) == 0xFFFF
