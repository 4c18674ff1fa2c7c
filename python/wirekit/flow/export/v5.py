"""NetFlow v1 and v5 encoders (Cisco formats; IPv4 only, 32-bit counters).

v1: 16-byte header, 48-byte records, at most 24 records a datagram.
v5: 24-byte header (flow sequence, engine type/id, sampling), 48-byte records, at most 30.

IPv6 flows cannot be expressed and are counted in `skipped_ipv6`; counters above 2**32-1 are
clamped and counted in `clamped_counters` (use v9/IPFIX for such flows).
"""

from __future__ import annotations

import struct

from .clock import ExportClock

__all__ = ["V1Encoder", "V5Encoder"]

V1_HEADER = struct.Struct("!HHIII")
# srcaddr dstaddr nexthop input output dPkts dOctets First Last srcport dstport pad1(2)
# prot tos flags pad2(3) reserved(4)
V1_RECORD = struct.Struct("!4s4s4sHHIIIIHHHBBB3x4x")
V5_HEADER = struct.Struct("!HHIIIIBBH")
# ... srcport dstport pad1 tcp_flags prot tos src_as dst_as src_mask dst_mask pad2
V5_RECORD = struct.Struct("!4s4s4sHHIIIIHHxBBBHHBB2x")

U32 = 0xFFFFFFFF


class _Base:
    version = 0
    max_records = 0

    def __init__(self, *, start_ns: int | None = None):
        self.clock = ExportClock(start_ns)
        self.skipped_ipv6 = 0
        self.clamped_counters = 0

    def _c32(self, v: int) -> int:
        if v > U32:
            self.clamped_counters += 1
            return U32
        return v

    def _v4(self, records):
        out = []
        for r in records:
            if r.ip_version != 4:
                self.skipped_ipv6 += 1
            else:
                out.append(r)
        return out

    def _directions(self, r):
        """(src, dst, sp, dp, packets, bytes, first, last, flags, tos) per direction: a
        biflow becomes two unidirectional records (v1/v5 have no reverse fields)."""
        yield (r.src_bytes, r.dst_bytes, r.src_port, r.dst_port, r.packets, r.bytes, r.first_ns,
               r.last_ns, r.tcp_flags, r.tos)
        if r.rev_packets:
            yield (r.dst_bytes, r.src_bytes, r.dst_port, r.src_port, r.rev_packets, r.rev_bytes,
                   r.rev_first_ns, r.rev_last_ns, r.rev_tcp_flags, r.rev_tos)


class V1Encoder(_Base):
    version = 1
    max_records = 24  # Cisco's v1 limit; collectors (nfcapd) drop larger datagrams

    def encode(self, records, now_ns: int | None = None) -> list[bytes]:
        records = self._v4(records)
        if not records:
            return []
        export_ns = self.clock.export_ns(records, now_ns)
        up = self.clock.uptime_ms(export_ns)
        secs, nsecs = divmod(export_ns, 1_000_000_000)
        rows = []
        for r in records:
            for src, dst, sp, dp, pk, by, f, l, fl, tos in self._directions(r):
                rows.append(V1_RECORD.pack(
                    src, dst, b"\0\0\0\0", r.ifindex & 0xFFFF, 0, self._c32(pk), self._c32(by),
                    self.clock.uptime_ms(f), self.clock.uptime_ms(l), sp, dp, 0, r.proto, tos, fl))
        out = []
        for i in range(0, len(rows), self.max_records):
            chunk = rows[i:i + self.max_records]
            out.append(V1_HEADER.pack(1, len(chunk), up, secs, nsecs) + b"".join(chunk))
        return out


class V5Encoder(_Base):
    version = 5
    max_records = 30

    def __init__(self, *, start_ns: int | None = None, engine_type: int = 0, engine_id: int = 0,
                 sampling_interval: int = 1):
        super().__init__(start_ns=start_ns)
        self.engine_type = engine_type
        self.engine_id = engine_id
        # Top 2 bits: sampling mode (01 = packet interval), low 14: the interval.
        self.sampling = (1 << 14 | (sampling_interval & 0x3FFF)) if sampling_interval > 1 else 0
        #: Flows exported so far (the header's flow_sequence counts flows, not datagrams).
        self.flow_sequence = 0

    def encode(self, records, now_ns: int | None = None) -> list[bytes]:
        records = self._v4(records)
        if not records:
            return []
        export_ns = self.clock.export_ns(records, now_ns)
        up = self.clock.uptime_ms(export_ns)
        secs, nsecs = divmod(export_ns, 1_000_000_000)
        rows = []
        for r in records:
            for src, dst, sp, dp, pk, by, f, l, fl, tos in self._directions(r):
                rows.append(V5_RECORD.pack(
                    src, dst, b"\0\0\0\0", r.ifindex & 0xFFFF, 0, self._c32(pk), self._c32(by),
                    self.clock.uptime_ms(f), self.clock.uptime_ms(l), sp, dp, fl, r.proto, tos,
                    0, 0, 0, 0))
        out = []
        for i in range(0, len(rows), self.max_records):
            chunk = rows[i:i + self.max_records]
            out.append(V5_HEADER.pack(5, len(chunk), up, secs, nsecs, self.flow_sequence & U32,
                                      self.engine_type, self.engine_id, self.sampling)
                       + b"".join(chunk))
            self.flow_sequence += len(chunk)
        return out
