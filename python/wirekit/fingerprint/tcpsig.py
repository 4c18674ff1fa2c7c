"""The facts an OS fingerprint is computed from: one TCP segment's IP and TCP header fields.

`TCPSignatureInput` is database-neutral: the raw fields (TTL, DF, IP ID, window, flags,
the TCP option bytes, ...). Each matcher (`p0f`, `pfos`) derives its own view from it, so a
new database format needs no change here.

Build one with `TCPSignatureInput.from_ip(data)` (an IPv4/IPv6 datagram starting at the IP
header) or `from_frame(linktype, data)` (a captured frame); both return None for anything
that is not an unfragmented TCP segment with a complete header. This is a minimal local
parse, kept here so the fingerprint module stands on its own; the passive scanner uses the
Rust batch decode to find SYN / SYN+ACK packets first and only parses those.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = ["TCPSignatureInput", "TCPFlag", "link_ip_offset"]


class TCPFlag:
    """TCP flag bits as in the header's 13th byte, plus NS (RFC 3540) as bit 8."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80
    NS = 0x100


@dataclass(frozen=True, slots=True, kw_only=True)
class TCPSignatureInput:
    """Header fields of one TCP segment, as seen on the wire.

    Attributes:
        ip_version: 4 or 6.
        src, dst: addresses as text (``inet_ntop`` formatting).
        src_port, dst_port: TCP ports.
        ttl: IPv4 TTL or IPv6 hop limit, as observed (not the initial value).
        tos: IPv4 TOS byte or IPv6 traffic class (DSCP and ECN bits together).
        ip_options_len: bytes of IPv4 options (0 for IPv6).
        ip_total_len: bytes of the IP datagram per its header (IPv6: 40 + payload length).
        ip_header_len: bytes of IP header (IPv4 IHL*4; IPv6 40 plus extension headers).
        df: IPv4 Don't Fragment bit (False for IPv6).
        ip_mbz: IPv4 reserved ("evil") flag bit set.
        ip_id: IPv4 identification (0 for IPv6).
        flow_label: IPv6 flow label (0 for IPv4).
        tcp_flags: flags byte plus NS as 0x100 (see `TCPFlag`).
        seq, ack: sequence and acknowledgement numbers.
        window: raw (unscaled) window field.
        urg_ptr: urgent pointer field.
        tcp_header_len: bytes of TCP header, options included (data offset * 4).
        payload_len: bytes of TCP payload inside the IP datagram.
        options: the raw TCP option bytes (tcp_header_len - 20 bytes).
    """

    ip_version: int
    src: str
    dst: str
    src_port: int
    dst_port: int
    ttl: int
    tos: int = 0
    ip_options_len: int = 0
    ip_total_len: int
    ip_header_len: int
    df: bool = False
    ip_mbz: bool = False
    ip_id: int = 0
    flow_label: int = 0
    tcp_flags: int
    seq: int = 0
    ack: int = 0
    window: int
    urg_ptr: int = 0
    tcp_header_len: int
    payload_len: int = 0
    options: bytes = b""

    @property
    def is_syn(self) -> bool:
        """SYN without ACK, FIN or RST (p0f's and pf's notion of a connection request)."""
        return self.tcp_flags & 0x17 == TCPFlag.SYN

    @property
    def is_syn_ack(self) -> bool:
        return self.tcp_flags & 0x17 == TCPFlag.SYN | TCPFlag.ACK

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_ip(cls, data: bytes | memoryview, *, max_len: int | None = None) -> "TCPSignatureInput | None":
        """Parse an IP datagram (IPv4 or IPv6, TCP inside). None when it is not one.

        `max_len` caps the bytes trusted (the frame's wire length minus the link header).
        A datagram whose header claims more bytes than were captured is refused, as p0f does:
        a truncated SYN's options cannot be trusted.
        """
        data = bytes(data)
        n = len(data) if max_len is None else min(len(data), max_len)
        if n < 20:
            return None
        v = data[0] >> 4
        if v == 4:
            ihl = (data[0] & 0x0F) * 4
            tot_len, ip_id, flags_off = struct.unpack_from("!HHH", data, 2)
            if ihl < 20 or tot_len > n or tot_len < ihl + 20:
                return None
            if data[9] != 6 or flags_off & 0x3FFF:
                # not TCP, or a fragment (MF set or a non-zero offset)
                return None
            l4 = ihl
            end = tot_len
            src = socket.inet_ntop(socket.AF_INET, data[12:16])
            dst = socket.inet_ntop(socket.AF_INET, data[16:20])
            common = dict(
                ip_version=4, src=src, dst=dst, ttl=data[8], tos=data[1],
                ip_options_len=ihl - 20, ip_total_len=tot_len, ip_header_len=ihl,
                df=bool(flags_off & 0x4000), ip_mbz=bool(flags_off & 0x8000), ip_id=ip_id,
            )
        elif v == 6:
            if n < 60:
                return None
            vtf, pay_len, nxt, hlim = struct.unpack_from("!IHBB", data, 0)
            end = 40 + pay_len
            if end > n:
                return None
            l4 = 40
            # Walk the extension headers that can precede TCP in an unfragmented datagram:
            # hop-by-hop (0), routing (43), destination options (60). A fragment header (44)
            # means there is no whole TCP header to fingerprint.
            hops = 0
            while nxt in (0, 43, 60) and hops < 8:
                if l4 + 8 > end:
                    return None
                nxt, hlen = data[l4], (data[l4 + 1] + 1) * 8
                l4 += hlen
                hops += 1
            if nxt != 6 or l4 + 20 > end:
                return None
            src = socket.inet_ntop(socket.AF_INET6, data[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, data[24:40])
            common = dict(
                ip_version=6, src=src, dst=dst, ttl=hlim, tos=(vtf >> 20) & 0xFF,
                ip_options_len=0, ip_total_len=end, ip_header_len=l4,
                flow_label=vtf & 0xFFFFF,
            )
        else:
            return None
        if l4 + 20 > end:
            return None
        sport, dport, seq, ack, off_flags, win, _csum, urg = struct.unpack_from("!HHIIHHHH", data, l4)
        doff = (off_flags >> 12) * 4
        if doff < 20 or l4 + doff > end:
            return None
        return cls(
            **common,
            src_port=sport, dst_port=dport,
            tcp_flags=off_flags & 0x1FF, seq=seq, ack=ack, window=win, urg_ptr=urg,
            tcp_header_len=doff, payload_len=end - l4 - doff,
            options=data[l4 + 20:l4 + doff],
        )

    @classmethod
    def from_frame(cls, linktype: int, data: bytes | memoryview, *, wire_len: int | None = None
                   ) -> "TCPSignatureInput | None":
        """Parse a captured frame of the given link type (see `link_ip_offset`)."""
        off = link_ip_offset(linktype, data)
        if off is None:
            return None
        cap = len(data) if wire_len is None else min(len(data), wire_len)
        return cls.from_ip(memoryview(data)[off:cap])


# Link types whose IP header sits at a fixed offset (LINKTYPE_* values as in pcap files).
_FIXED_OFFSETS = {
    101: 0,    # RAW
    12: 0,     # DLT_RAW on OpenBSD / written by some tools
    14: 0,     # DLT_RAW on BSD/OS
    228: 0,    # IPV4
    229: 0,    # IPV6
    0: 4,      # NULL (BSD loopback, host-order family)
    108: 4,    # LOOP (network-order family)
    113: 16,   # LINUX_SLL
    276: 20,   # LINUX_SLL2
}
_ETHERTYPE_IP = (0x0800, 0x86DD)
_ETHERTYPE_VLAN = (0x8100, 0x88A8, 0x9100)


def link_ip_offset(linktype: int, data: bytes | memoryview) -> int | None:
    """Offset of the IP header in a frame, or None when it carries no IP."""
    if linktype == 1:  # Ethernet, with up to two VLAN tags
        if len(data) < 14:
            return None
        off = 12
        for _ in range(3):
            et = (data[off] << 8) | data[off + 1]
            if et in _ETHERTYPE_IP:
                return off + 2
            if et not in _ETHERTYPE_VLAN or len(data) < off + 6:
                return None
            off += 4
        return None
    return _FIXED_OFFSETS.get(linktype)
