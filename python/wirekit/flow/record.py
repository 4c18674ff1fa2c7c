"""FlowRecord: one expired flow, as the meter reports it and the exporters send it."""

from __future__ import annotations

import dataclasses
import enum
import socket

__all__ = ["FlowRecord", "EndReason", "records_from_tuples", "RECORD_FIELDS"]


class EndReason(enum.IntEnum):
    """Why a flow left the table (RFC 5102 flowEndReason, IE 136)."""

    IDLE_TIMEOUT = 1
    ACTIVE_TIMEOUT = 2
    END_OF_FLOW = 3      # TCP FIN/RST, after the linger
    FORCED_END = 4       # end of input, shutdown
    LACK_OF_RESOURCES = 5  # the table was full: the flow with the earliest expiry deadline left

    @classmethod
    def _missing_(cls, value):  # enums keep unknown values
        obj = int.__new__(cls, value)
        obj._name_ = f"UNKNOWN_{value}"
        obj._value_ = value
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FlowRecord:
    """A flow. For ICMP/ICMPv6, `src_port` is 0 and `dst_port` is type*256+code (NetFlow).

    Counters are for the direction src -> dst; in a biflow (RFC 5103) the `rev_*` fields
    count dst -> src and are zero when that direction carried no packet.
    """

    #: Source and destination addresses, text form ("192.0.2.1", "2001:db8::1").
    src: str
    dst: str
    src_port: int
    dst_port: int
    #: IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    proto: int
    #: Packets src -> dst.
    packets: int
    #: IP-level bytes src -> dst (sum of IP total lengths, headers included).
    bytes: int
    #: First and last packet of the flow (src -> dst), integer ns since the Unix epoch.
    first_ns: int
    last_ns: int
    #: TCP flags OR-ed over the packets (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80).
    tcp_flags: int = 0
    #: IPv4 ToS / IPv6 traffic class of the first packet.
    tos: int = 0
    #: Smallest and largest TTL / hop limit seen.
    ttl_min: int = 0
    ttl_max: int = 0
    #: 4 or 6.
    ip_version: int = 4
    #: Outermost VLAN id (0 = untagged).
    vlan: int = 0
    #: Input interface index (pcapng interface number, live ifindex, 0 for pcap files).
    ifindex: int = 0
    end_reason: EndReason = EndReason.FORCED_END
    #: Reverse direction (biflows only).
    rev_packets: int = 0
    rev_bytes: int = 0
    rev_first_ns: int = 0
    rev_last_ns: int = 0
    rev_tcp_flags: int = 0
    rev_tos: int = 0
    rev_ttl_min: int = 0
    #: True when the meter ran in biflow mode (rev_* fields are meaningful).
    biflow: bool = False

    @property
    def duration_ns(self) -> int:
        return self.last_ns - self.first_ns

    @property
    def flow_first_ns(self) -> int:
        """First packet in either direction."""
        if self.rev_packets:
            return min(self.first_ns, self.rev_first_ns)
        return self.first_ns

    @property
    def flow_last_ns(self) -> int:
        """Last packet in either direction."""
        if self.rev_packets:
            return max(self.last_ns, self.rev_last_ns)
        return self.last_ns

    @property
    def src_bytes(self) -> bytes:
        """Packed source address (4 or 16 bytes)."""
        return socket.inet_pton(socket.AF_INET if self.ip_version == 4 else socket.AF_INET6, self.src)

    @property
    def dst_bytes(self) -> bytes:
        return socket.inet_pton(socket.AF_INET if self.ip_version == 4 else socket.AF_INET6, self.dst)

    @property
    def row(self) -> tuple:
        """The record in the meter's tuple layout (RECORD_FIELDS; addresses packed), which
        is what the encoders work on."""
        return (self.ip_version, self.src_bytes, self.dst_bytes, self.src_port, self.dst_port,
                self.proto, self.vlan, self.ifindex, self.packets, self.bytes, self.first_ns,
                self.last_ns, self.tcp_flags, self.tos, self.ttl_min, self.ttl_max,
                self.rev_packets, self.rev_bytes, self.rev_first_ns, self.rev_last_ns,
                self.rev_tcp_flags, self.rev_tos, self.rev_ttl_min, int(self.end_reason))

    def to_json(self) -> dict:
        """A JSON-ready dict: the documented fields, rev_* only for biflows."""
        d = {
            "src": self.src, "dst": self.dst, "src_port": self.src_port, "dst_port": self.dst_port,
            "proto": self.proto, "packets": self.packets, "bytes": self.bytes,
            "first_ns": self.first_ns, "last_ns": self.last_ns, "tcp_flags": self.tcp_flags,
            "tos": self.tos, "ttl_min": self.ttl_min, "ttl_max": self.ttl_max,
            "ip_version": self.ip_version, "vlan": self.vlan, "ifindex": self.ifindex,
            "end_reason": self.end_reason.name.lower(),
        }
        if self.biflow:
            d.update(rev_packets=self.rev_packets, rev_bytes=self.rev_bytes,
                     rev_first_ns=self.rev_first_ns, rev_last_ns=self.rev_last_ns,
                     rev_tcp_flags=self.rev_tcp_flags, rev_tos=self.rev_tos)
        return d


#: Layout of the tuples the Rust meter returns (crates/wirekit-py/src/flow.rs).
RECORD_FIELDS = (
    "ip_version", "src", "dst", "src_port", "dst_port", "proto", "vlan", "ifindex",
    "packets", "bytes", "first_ns", "last_ns", "tcp_flags", "tos", "ttl_min", "ttl_max",
    "rev_packets", "rev_bytes", "rev_first_ns", "rev_last_ns", "rev_tcp_flags", "rev_tos",
    "rev_ttl_min", "end_reason",
)

_ntop = socket.inet_ntop
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_REASONS = {int(r): r for r in EndReason}


def records_from_tuples(rows, biflow: bool = False) -> list[FlowRecord]:
    out = []
    for (ipv, src, dst, sp, dp, proto, vlan, ifindex, pk, by, f, l, fl, tos, tmin, tmax,
         rpk, rby, rf, rl, rfl, rtos, rtmin, reason) in rows:
        af = _AF[ipv]
        out.append(FlowRecord(
            src=_ntop(af, src), dst=_ntop(af, dst), src_port=sp, dst_port=dp, proto=proto,
            packets=pk, bytes=by, first_ns=f, last_ns=l, tcp_flags=fl, tos=tos, ttl_min=tmin,
            ttl_max=tmax, ip_version=ipv, vlan=vlan, ifindex=ifindex,
            end_reason=_REASONS.get(reason) or EndReason(reason),
            rev_packets=rpk, rev_bytes=rby, rev_first_ns=rf if rpk else 0, rev_last_ns=rl if rpk else 0,
            rev_tcp_flags=rfl, rev_tos=rtos, rev_ttl_min=rtmin, biflow=biflow))
    return out
