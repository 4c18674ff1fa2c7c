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

    def _v4(self, rows):
        out = [r for r in rows if r[0] == 4]
        self.skipped_ipv6 += len(rows) - len(out)
        return out

    @staticmethod
    def _directions(r):
        """(src, dst, sp, dp, packets, bytes, first, last, flags, tos) per direction: a
        biflow becomes two unidirectional records (v1/v5 have no reverse fields)."""
        yield (r[1], r[2], r[3], r[4], r[8], r[9], r[10], r[11], r[12], r[13])
        if r[16]:
            yield (r[2], r[1], r[4], r[3], r[16], r[17], r[18], r[19], r[20], r[21])

    def encode(self, records, now_ns: int | None = None) -> list[bytes]:
        """Export datagrams for FlowRecords (see encode_rows)."""
        return self.encode_rows([r.row for r in records], now_ns)

    def layouts(self):
        """(IPv4 layout, IPv6 layout) for FlowMeter.set_export_layout (IPv6: nothing, the
        flows are counted in skipped_ipv6)."""
        return list(self.LAYOUT), []

    def encode_packed(self, packed, now_ns: int | None = None) -> list[bytes]:
        """Datagrams for FlowMeter's packed output (unidirectional records only)."""
        n4, b4, n6, b6, first, last = packed
        self.skipped_ipv6 += n6
        if not n4:
            return []
        export_ns = self.clock.export_ns_span(first, last, now_ns)
        return self._datagrams([b4[i:i + 48] for i in range(0, len(b4), 48)], export_ns)


class V1Encoder(_Base):
    version = 1
    max_records = 24  # Cisco's v1 limit; collectors (nfcapd) drop larger datagrams
    LAYOUT = (("src", 4), ("dst", 4), ("zero", 4), ("ifindex", 2), ("zero", 2), ("packets", 4),
              ("bytes", 4), ("first_uptime_ms", 4), ("last_uptime_ms", 4), ("src_port", 2),
              ("dst_port", 2), ("zero", 2), ("proto", 1), ("tos", 1), ("tcp_flags", 1), ("zero", 7))

    def encode_rows(self, rows, now_ns: int | None = None) -> list[bytes]:
        """Export datagrams for meter rows (RECORD_FIELDS layout)."""
        records = self._v4(rows)
        if not records:
            return []
        export_ns = self.clock.export_ns(records, now_ns)
        out_rows = []
        for r in records:
            for src, dst, sp, dp, pk, by, f, l, fl, tos in self._directions(r):
                out_rows.append(V1_RECORD.pack(
                    src, dst, b"\0\0\0\0", r[7] & 0xFFFF, 0, self._c32(pk), self._c32(by),
                    self.clock.uptime_ms(f), self.clock.uptime_ms(l), sp, dp, 0, r[5], tos, fl))
        return self._datagrams(out_rows, export_ns)

    def _datagrams(self, out_rows, export_ns):
        up = self.clock.uptime_ms(export_ns)
        secs, nsecs = divmod(export_ns, 1_000_000_000)
        out = []
        for i in range(0, len(out_rows), self.max_records):
            chunk = out_rows[i:i + self.max_records]
            out.append(V1_HEADER.pack(1, len(chunk), up, secs, nsecs) + b"".join(chunk))
        return out


class V5Encoder(_Base):
    version = 5
    max_records = 30
    LAYOUT = (("src", 4), ("dst", 4), ("zero", 4), ("ifindex", 2), ("zero", 2), ("packets", 4),
              ("bytes", 4), ("first_uptime_ms", 4), ("last_uptime_ms", 4), ("src_port", 2),
              ("dst_port", 2), ("zero", 1), ("tcp_flags", 1), ("proto", 1), ("tos", 1), ("zero", 8))

    def __init__(self, *, start_ns: int | None = None, engine_type: int = 0, engine_id: int = 0,
                 sampling_interval: int = 1):
        super().__init__(start_ns=start_ns)
        self.engine_type = engine_type
        self.engine_id = engine_id
        # Top 2 bits: sampling mode (01 = packet interval), low 14: the interval.
        self.sampling = (1 << 14 | (sampling_interval & 0x3FFF)) if sampling_interval > 1 else 0
        #: Flows exported so far (the header's flow_sequence counts flows, not datagrams).
        self.flow_sequence = 0

    def encode_rows(self, rows, now_ns: int | None = None) -> list[bytes]:
        """Export datagrams for meter rows (RECORD_FIELDS layout)."""
        records = self._v4(rows)
        if not records:
            return []
        export_ns = self.clock.export_ns(records, now_ns)
        out_rows = []
        for r in records:
            for src, dst, sp, dp, pk, by, f, l, fl, tos in self._directions(r):
                out_rows.append(V5_RECORD.pack(
                    src, dst, b"\0\0\0\0", r[7] & 0xFFFF, 0, self._c32(pk), self._c32(by),
                    self.clock.uptime_ms(f), self.clock.uptime_ms(l), sp, dp, fl, r[5], tos,
                    0, 0, 0, 0))
        return self._datagrams(out_rows, export_ns)

    def _datagrams(self, out_rows, export_ns):
        up = self.clock.uptime_ms(export_ns)
        secs, nsecs = divmod(export_ns, 1_000_000_000)
        out = []
        for i in range(0, len(out_rows), self.max_records):
            chunk = out_rows[i:i + self.max_records]
            out.append(V5_HEADER.pack(5, len(chunk), up, secs, nsecs, self.flow_sequence & U32,
                                      self.engine_type, self.engine_id, self.sampling)
                       + b"".join(chunk))
            self.flow_sequence += len(chunk)
        return out
