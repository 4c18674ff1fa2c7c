"""NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) encoders: templates, then data.

Templates (256 = IPv4, 257 = IPv6, 258 = sampling options) go out in the first datagram and
again every `template_refresh_packets` datagrams and every `template_refresh_s` seconds of
export time: over UDP a collector that restarts learns them again (RFC 7011 section 8.4:
"the Exporting Process MUST [re]send ... Templates periodically" on UDP).

Data sets are padded to a multiple of 4 bytes with zero octets (RFC 3954 section 5.3 and
RFC 7011 section 3.3.1: padding "MUST be shorter than any allowable record").

Sequence numbers: v9 counts export packets of the source id (RFC 3954 section 5.1: "Incremental
sequence counter of all Export Packets sent from the current Observation Domain"); IPFIX counts
the data records sent before this message in the observation domain (RFC 7011 section 3.1).

Biflows: IPFIX uses the RFC 5103 reverse elements (enterprise bit, PEN 29305); v9 has no
reverse elements and carries the reverse direction in OUT_PKTS/OUT_BYTES (23/24), as Cisco's
bidirectional exporters do.
"""

from __future__ import annotations

import struct

from ..ies import PEN_REVERSE
from .clock import ExportClock

__all__ = ["V9Encoder", "IPFIXEncoder", "TEMPLATE_IPV4", "TEMPLATE_IPV6", "TEMPLATE_SAMPLING"]

TEMPLATE_IPV4 = 256
TEMPLATE_IPV6 = 257
TEMPLATE_SAMPLING = 258

#: Datagram payload budget: below the IPv6 minimum MTU path, so no export is ever fragmented.
MAX_DATAGRAM = 1200

U32 = 0xFFFFFFFF


def _fields(ip_version: int, *, biflow: bool, ipfix: bool):
    """(ie_id, length, enterprise) of the data template, in record order."""
    a = [(8, 4), (12, 4)] if ip_version == 4 else [(27, 16), (28, 16)]
    f = a + [(7, 2), (11, 2), (4, 1), (5, 1), (6, 1), (2, 8), (1, 8)]
    out = [(i, n, 0) for i, n in f]
    if biflow and ipfix:
        # Reverse times come before the forward ones: nfdump 1.7 stores reverse
        # flowStart/EndMilliseconds into the record's own times, so whichever comes last
        # wins there, and the biflow's times must.
        out += [(152, 8, PEN_REVERSE), (153, 8, PEN_REVERSE)]
    if ipfix:
        out += [(152, 8, 0), (153, 8, 0)]  # flowStart/EndMilliseconds: absolute, no uptime arithmetic
    else:
        out += [(22, 4, 0), (21, 4, 0)]    # FIRST_SWITCHED / LAST_SWITCHED: sysUptime ms
    out += [(i, n, 0) for i, n in [(10, 4), (58, 2), (52, 1), (53, 1), (60, 1)]]
    if ipfix:
        out += [(136, 1, 0)]
    if biflow:
        if ipfix:
            out += [(2, 8, PEN_REVERSE), (1, 8, PEN_REVERSE), (6, 1, PEN_REVERSE), (5, 1, PEN_REVERSE)]
        else:
            out += [(24, 8, 0), (23, 8, 0)]
    return out


def _struct_for(fields) -> struct.Struct:
    codes = {1: "B", 2: "H", 4: "I", 8: "Q"}
    fmt = "!" + "".join("4s" if (i in (8, 12) and n == 4) else "16s" if n == 16 else codes[n]
                        for i, n, _ in fields)
    return struct.Struct(fmt)


class _TemplateEncoder:
    ipfix = False
    set_header = struct.Struct("!HH")

    def __init__(self, *, start_ns: int | None = None, source_id: int = 0, sampling_interval: int = 1,
                 template_refresh_packets: int = 20, template_refresh_s: float = 60.0,
                 bidirectional: bool = False, max_datagram: int = MAX_DATAGRAM):
        self.clock = ExportClock(start_ns)
        self.source_id = source_id
        self.sampling_interval = sampling_interval
        self.refresh_packets = max(1, template_refresh_packets)
        self.refresh_ns = int(template_refresh_s * 1e9)
        self.biflow = bidirectional
        self.max_datagram = max_datagram
        self.fields = {v: _fields(v, biflow=bidirectional, ipfix=self.ipfix) for v in (4, 6)}
        self.structs = {v: _struct_for(f) for v, f in self.fields.items()}
        self.packets_sent = 0
        self.records_sent = 0
        self._since_templates = None  # datagrams since the last template send
        self._templates_at_ns = None

    # -- template bytes ------------------------------------------------------------------
    def _field_specs(self, fields) -> bytes:
        b = bytearray()
        for i, n, pen in fields:
            if pen:
                if not self.ipfix:
                    raise ValueError("enterprise elements need IPFIX")
                b += struct.pack("!HHI", i | 0x8000, n, pen)
            else:
                b += struct.pack("!HH", i, n)
        return bytes(b)

    def _template_records(self) -> list[bytes]:
        recs = []
        for tid, v in ((TEMPLATE_IPV4, 4), (TEMPLATE_IPV6, 6)):
            f = self.fields[v]
            recs.append(struct.pack("!HH", tid, len(f)) + self._field_specs(f))
        return recs

    def _template_due(self, export_ns: int) -> bool:
        if self._since_templates is None or self._since_templates >= self.refresh_packets:
            return True
        return self.refresh_ns > 0 and export_ns - self._templates_at_ns >= self.refresh_ns

    def _pad(self, body: bytes) -> bytes:
        return body + b"\0" * (-len(body) % 4)

    def _record(self, r) -> bytes:
        """One data record from a meter row (RECORD_FIELDS layout)."""
        v = r[0]
        if self.biflow and r[16]:
            first, last = min(r[10], r[18]), max(r[11], r[19])
        else:
            first, last = r[10], r[11]
        if self.ipfix:
            t0, t1 = first // 1_000_000, last // 1_000_000
        else:
            s0 = self.clock.start_ns
            t0 = (max(first - s0, 0) // 1_000_000) & U32
            t1 = (max(last - s0, 0) // 1_000_000) & U32
        vals = (r[1], r[2], r[3], r[4], r[5], r[13], r[12] & 0xFF, r[8], r[9])
        if self.biflow and self.ipfix:
            # No reverse packet: the flow's own times, not 0 (nfdump folds the reverse
            # times into the record's and would print 1970).
            vals += (r[18] // 1_000_000, r[19] // 1_000_000) if r[16] else (t0, t1)
        vals += (t0, t1, r[7] & U32, r[6] & 0xFFF, r[14], r[15], v)
        if self.ipfix:
            vals += (r[23] & 0xFF,)
        if self.biflow:
            if self.ipfix:
                vals += (r[16], r[17], r[20] & 0xFF, r[21]) if r[16] else (0, 0, 0, 0)
            else:
                vals += (r[16], r[17])
        return self.structs[v].pack(*vals)

    def _export_time(self, ns: int) -> int:
        return ns

    # -- message assembly ----------------------------------------------------------------
    def encode(self, records, now_ns: int | None = None) -> list[bytes]:
        """Export messages for FlowRecords (see encode_rows)."""
        return self.encode_rows([r.row for r in records], now_ns)

    def encode_rows(self, rows, now_ns: int | None = None) -> list[bytes]:
        """Export messages for meter rows (RECORD_FIELDS layout), templates first when due."""
        if not rows:
            return []
        export_ns = self._export_time(self.clock.export_ns(rows, now_ns))
        rec = self._record
        v4 = b"".join([rec(r) for r in rows if r[0] == 4])
        v6 = b"".join([rec(r) for r in rows if r[0] != 4])
        return self._assemble(export_ns, ((TEMPLATE_IPV4, v4, self.structs[4].size),
                                          (TEMPLATE_IPV6, v6, self.structs[6].size)))

    # -- packed path (records laid out by the Rust meter) ---------------------------------
    def layouts(self):
        """(IPv4 layout, IPv6 layout) for FlowMeter.set_export_layout: the data templates'
        elements as the meter's field names."""
        names = {8: "src", 12: "dst", 27: "src", 28: "dst", 7: "src_port", 11: "dst_port",
                 4: "proto", 5: "tos", 6: "tcp_flags", 2: "packets", 1: "bytes",
                 152: "first_ms", 153: "last_ms", 22: "first_uptime_ms", 21: "last_uptime_ms",
                 10: "ifindex", 58: "vlan", 52: "ttl_min", 53: "ttl_max", 60: "ip_version",
                 136: "end_reason", 24: "rev_packets", 23: "rev_bytes"}
        rev = {2: "rev_packets", 1: "rev_bytes", 152: "rev_first_ms", 153: "rev_last_ms",
               6: "rev_tcp_flags", 5: "rev_tos"}
        return tuple([((rev if pen else names)[i], n) for i, n, pen in self.fields[v]] for v in (4, 6))

    def encode_packed(self, packed, now_ns: int | None = None) -> list[bytes]:
        """Export messages for FlowMeter's packed output (n4, bytes4, n6, bytes6, first, last)."""
        n4, b4, n6, b6, first, last = packed
        if not n4 and not n6:
            return []
        export_ns = self._export_time(self.clock.export_ns_span(first, last, now_ns))
        return self._assemble(export_ns, ((TEMPLATE_IPV4, b4, self.structs[4].size),
                                          (TEMPLATE_IPV6, b6, self.structs[6].size)))

    def _assemble(self, export_ns, blobs) -> list[bytes]:
        """Messages from (template id, records blob, record length) sources: templates first
        when due, data sets as large as the datagram budget allows, padded to 4 bytes."""
        out = []
        budget = self.max_datagram - self.header_len
        sets: list[bytes] = []
        nrec = 0
        ndata = 0
        used = 0

        def close():
            nonlocal sets, nrec, ndata, used
            if sets:
                out.append(self._message(sets, nrec, ndata, export_ns))
                self.records_sent += ndata
            sets, nrec, ndata, used = [], 0, 0, 0

        if self._template_due(export_ns):
            for s, n, is_data in self._template_sets():
                sets.append(s)
                nrec += n
                ndata += n if is_data else 0
                used += len(s)
            self._since_templates = 0
            self._templates_at_ns = export_ns
        pack_hdr = self.set_header.pack
        for tid, blob, rec_len in blobs:
            total = len(blob) // rec_len
            i = 0
            while i < total:
                n = min(total - i, (budget - used - 4) // rec_len)
                if n <= 0:
                    close()
                    continue
                body = blob[i * rec_len:(i + n) * rec_len]
                pad = -len(body) % 4
                if pad:
                    body += b"\0" * pad
                sets.append(pack_hdr(tid, 4 + len(body)) + body)
                used += 4 + len(body)
                nrec += n
                ndata += n
                i += n
        close()
        return out


class V9Encoder(_TemplateEncoder):
    """NetFlow v9: header (version, count, sysUptime, unix_secs, sequence, source id)."""

    version = 9
    header = struct.Struct("!HHIIII")
    header_len = 20

    def _export_time(self, ns: int) -> int:
        # The v9 header has whole unix seconds only, and a collector computes a record's time
        # as unix_secs*1000 - sysUptime + FIRST_SWITCHED. Exporting at a whole second (the
        # next one, so never before the records' last packet) makes that exact to the ms.
        return -(-ns // 1_000_000_000) * 1_000_000_000

    def _template_sets(self):
        recs = self._template_records()
        out = [(self._flowset(0, b"".join(recs)), len(recs), False)]
        if self.sampling_interval > 1:
            # Options template: scope System (1) of 4 bytes; SAMPLING_INTERVAL, SAMPLING_ALGORITHM.
            opt = struct.pack("!HHHHHHHHH", TEMPLATE_SAMPLING, 4, 8, 1, 4, 34, 4, 35, 1)
            out.append((self._flowset(1, opt), 1, False))
            data = struct.pack("!IIB", self.source_id & U32, self.sampling_interval, 1)
            out.append((self._flowset(TEMPLATE_SAMPLING, data), 1, True))
        return out

    def _flowset(self, fid: int, body: bytes) -> bytes:
        body = self._pad(body)
        return struct.pack("!HH", fid, 4 + len(body)) + body

    def _message(self, sets, nrec, ndata, export_ns) -> bytes:
        secs = export_ns // 1_000_000_000
        h = self.header.pack(9, nrec, self.clock.uptime_ms(export_ns), secs & U32,
                             self.packets_sent & U32, self.source_id & U32)
        self.packets_sent += 1
        if self._since_templates is not None:
            self._since_templates += 1
        return h + b"".join(sets)


class IPFIXEncoder(_TemplateEncoder):
    """IPFIX: header (version 10, length, export time, sequence, observation domain)."""

    version = 10
    ipfix = True
    header = struct.Struct("!HHIII")
    header_len = 16

    def _template_sets(self):
        recs = self._template_records()
        out = [(self._set(2, b"".join(recs)), len(recs), False)]
        if self.sampling_interval > 1:
            # Options template (RFC 7011 3.4.2.2): scope observationDomainId (149);
            # samplingPacketInterval (305), samplingPacketSpace (306) (RFC 7012 / PSAMP).
            opt = struct.pack("!HHHHHHHHH", TEMPLATE_SAMPLING, 3, 1, 149, 4, 305, 4, 306, 4)
            out.append((self._set(3, opt), 1, False))
            data = struct.pack("!III", self.source_id & U32, 1, self.sampling_interval - 1)
            out.append((self._set(TEMPLATE_SAMPLING, data), 1, True))
        return out

    def _set(self, sid: int, body: bytes) -> bytes:
        body = self._pad(body)
        return struct.pack("!HH", sid, 4 + len(body)) + body

    def _message(self, sets, nrec, ndata, export_ns) -> bytes:
        body = b"".join(sets)
        h = self.header.pack(10, 16 + len(body), (export_ns // 1_000_000_000) & U32,
                             self.records_sent & U32, self.source_id & U32)
        self.packets_sent += 1
        if self._since_templates is not None:
            self._since_templates += 1
        return h + body
