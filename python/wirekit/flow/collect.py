"""Collector: decodes NetFlow v1/v5/v9 and IPFIX export datagrams into flow dicts (sans-IO).

Theory of operation. `Collector.feed(payload, exporter, now_ns)` takes one UDP payload and the
exporter's (address, port); it returns the flow records it could decode, as dicts with the
field names of `wirekit.flow.ies` (src, dst, src_port, dst_port, proto, packets, bytes, tos,
tcp_flags, in_iface, ..., first_ms/last_ms as Unix milliseconds when the export says enough
to compute them) plus `exporter`, `version` and `domain` (v9 source id / IPFIX observation
domain). Nothing here reads a socket or a clock.

* Recognition is by content, not port: `sniff()` checks the version field and that the header
  and the set lengths add up (v1/v5: count and exact length; v9/IPFIX: the set chain).
* Templates are cached per (exporter address, version, domain). RFC 7011 section 8 scopes
  them to the transport session, but over UDP exporters change source port across restarts
  and line cards (pmacct's test 112 capture does), so, as nfacctd and nfcapd do, the port is
  not part of the key. A newer template with the same id replaces the old one, whatever its
  kind.
* Options templates and their records are not flow records: they are counted
  (`options_templates`, `options_records`) and skipped, except that sampling information in
  them (intervals 34/50, 305+306, 309/310) is remembered per domain and reported with each record as
  `sampling_interval`.
* Data sets before their template are held (at most `hold_max` sets, at most `hold_ns`) and
  decoded when the template comes; past either limit they are dropped and counted
  (`data_dropped_no_template`).
* Malformed datagrams raise nothing: they are counted (`malformed`) and whatever decoded
  before the bad spot is returned.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict

from .ies import IE, PEN_REVERSE, decode_value

__all__ = ["Collector", "sniff"]

V1_REC = struct.Struct("!4s4s4sHHIIIIHHHBBB3x4x")
V5_REC = struct.Struct("!4s4s4sHHIIIIHHxBBBHHBB2x")
V7_REC_LEN = 52


def _ip4(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, b)


def _sets_ok(data: bytes, start: int, end: int, ok_ids) -> bool:
    off = start
    if off >= end:
        return False
    while off + 4 <= end:
        sid, ln = struct.unpack_from("!HH", data, off)
        if ln < 4 or off + ln > end or not ok_ids(sid):
            return False
        off += ln
    return end - off < 4  # v9 may leave a few padding bytes


def sniff(data: bytes) -> int | None:
    """The NetFlow/IPFIX version of an export datagram, or None when it is not one."""
    if len(data) < 16:
        return None
    version, count = struct.unpack_from("!HH", data)
    if version == 1:
        return 1 if 1 <= count <= 24 and len(data) == 16 + 48 * count else None
    if version == 5:
        return 5 if 1 <= count <= 30 and len(data) == 24 + 48 * count else None
    if version == 9:
        return 9 if len(data) >= 24 and _sets_ok(data, 20, len(data), lambda s: s in (0, 1) or s >= 256) else None
    if version == 10:
        if count != len(data):
            return None
        return 10 if _sets_ok(data, 16, len(data), lambda s: s in (2, 3) or s >= 256) else None
    return None


class _Template:
    __slots__ = ("fields", "scope_count", "is_options", "fixed_len")

    def __init__(self, fields, scope_count=0, is_options=False):
        self.fields = fields  # [(ie_id, length, pen)]
        self.scope_count = scope_count
        self.is_options = is_options
        self.fixed_len = None if any(n == 0xFFFF for _, n, _ in fields) else sum(n for _, n, _ in fields)


class Collector:
    def __init__(self, *, hold_max: int = 1024, hold_s: float = 10.0, max_templates: int = 4096):
        self.templates: OrderedDict = OrderedDict()
        self.sampling: dict = {}
        self.system_init_ms: dict = {}
        self.hold_max = hold_max
        self.hold_ns = int(hold_s * 1e9)
        self.max_templates = max_templates
        self._held: list = []  # (now_ns, session, tid, body, ctx)
        self.stats = dict(datagrams=0, not_netflow=0, malformed=0, records=0, templates=0,
                          options_templates=0, options_records=0, data_held=0,
                          data_dropped_no_template=0, templates_evicted=0)

    # -- entry points --------------------------------------------------------------------
    def feed(self, data: bytes, exporter: tuple[str, int] = ("", 0), now_ns: int = 0) -> list[dict]:
        self.stats["datagrams"] += 1
        self.advance(now_ns)
        version = sniff(data)
        if version is None:
            self.stats["not_netflow"] += 1
            return []
        try:
            if version in (1, 5):
                out = self._v1v5(data, version, exporter)
            else:
                out = self._v9ipfix(data, version, exporter, now_ns)
        except (struct.error, IndexError, ValueError):
            self.stats["malformed"] += 1
            return []
        self.stats["records"] += len(out)
        return out

    def advance(self, now_ns: int) -> None:
        """Drops held data sets older than the hold time (counted)."""
        keep = []
        for h in self._held:
            if now_ns - h[0] > self.hold_ns:
                self.stats["data_dropped_no_template"] += 1
            else:
                keep.append(h)
        self._held = keep

    def close(self) -> None:
        """End of input: data still waiting for its template is dropped (counted)."""
        self.stats["data_dropped_no_template"] += len(self._held)
        self._held = []

    # -- v1 / v5 -------------------------------------------------------------------------
    def _v1v5(self, data, version, exporter):
        if version == 1:
            _, count, up, secs, nsecs = struct.unpack_from("!HHIII", data)
            hdr = dict(sys_uptime_ms=up, unix_secs=secs, unix_nsecs=nsecs)
            off, rec = 16, V1_REC
        else:
            _, count, up, secs, nsecs, seq, et, eid, samp = struct.unpack_from("!HHIIIIBBH", data)
            hdr = dict(sys_uptime_ms=up, unix_secs=secs, unix_nsecs=nsecs, sequence=seq,
                       engine_type=et, engine_id=eid, sampling_interval=samp & 0x3FFF,
                       sampling_mode=samp >> 14)
            off, rec = 24, V5_REC
        base_ms = secs * 1000 + nsecs // 1_000_000 - up
        out = []
        for i in range(count):
            v = rec.unpack_from(data, off + 48 * i)
            if version == 1:
                src, dst, nh, inp, outp, pk, by, first, last, sp, dp, _pad, proto, tos, flags = v
                extra = {}
            else:
                src, dst, nh, inp, outp, pk, by, first, last, sp, dp, flags, proto, tos, sas, das, sm, dm = v
                extra = dict(src_as=sas, dst_as=das, src_mask=sm, dst_mask=dm)
            d = dict(exporter=exporter[0], version=version, domain=hdr.get("engine_id", 0),
                     src=_ip4(src), dst=_ip4(dst), src_port=sp, dst_port=dp, proto=proto, tos=tos,
                     tcp_flags=flags, packets=pk, bytes=by, in_iface=inp, out_iface=outp,
                     next_hop=_ip4(nh), first_switched=first, last_switched=last,
                     first_ms=base_ms + _uptime_delta(first, up), last_ms=base_ms + _uptime_delta(last, up),
                     **extra, **hdr)
            out.append(d)
        return out

    # -- v9 / IPFIX ----------------------------------------------------------------------
    def _v9ipfix(self, data, version, exporter, now_ns):
        if version == 9:
            _, count, up, secs, seq, domain = struct.unpack_from("!HHIIII", data)
            ctx = dict(version=9, sys_uptime_ms=up, unix_secs=secs, sequence=seq, domain=domain)
            off = 20
            tset, oset = 0, 1
        else:
            _, length, secs, seq, domain = struct.unpack_from("!HHIII", data)
            ctx = dict(version=10, export_time=secs, sequence=seq, domain=domain)
            off = 16
            tset, oset = 2, 3
        session = (exporter[0], version, domain)
        out = []
        end = len(data)
        while off + 4 <= end:
            sid, ln = struct.unpack_from("!HH", data, off)
            if ln < 4 or off + ln > end:
                self.stats["malformed"] += 1
                break
            body = data[off + 4: off + ln]
            if sid == tset:
                for tid in self._templates(body, session, version, options=False):
                    out += self._release(session, tid, exporter)
            elif sid == oset:
                for tid in self._templates(body, session, version, options=True):
                    out += self._release(session, tid, exporter)
            elif sid >= 256:
                t = self.templates.get((session, sid))
                if t is None:
                    self._hold(now_ns, session, sid, body, ctx)
                else:
                    out += self._data(t, body, ctx, session, exporter)
            off += ln
        return out

    def _templates(self, body, session, version, options):
        off = 0
        got = []
        while off + 4 <= len(body):
            if options and version == 9:
                tid, scope_len, opt_len = struct.unpack_from("!HHH", body, off)
                off += 6
                if tid < 256:
                    break  # padding
                fields = []
                for _ in range((scope_len + opt_len) // 4):
                    i, n = struct.unpack_from("!HH", body, off)
                    fields.append((i, n, 0))
                    off += 4
                scope = scope_len // 4
            else:
                tid, count = struct.unpack_from("!HH", body, off)
                off += 4
                if tid < 256:
                    break  # padding
                scope = 0
                if options:
                    (scope,) = struct.unpack_from("!H", body, off)
                    off += 2
                fields = []
                for _ in range(count):
                    i, n = struct.unpack_from("!HH", body, off)
                    off += 4
                    pen = 0
                    if version == 10 and i & 0x8000:
                        (pen,) = struct.unpack_from("!I", body, off)
                        off += 4
                        i &= 0x7FFF
                    fields.append((i, n, pen))
                if count == 0:  # IPFIX template withdrawal (RFC 7011 section 8.1)
                    self.templates.pop((session, tid), None)
                    continue
            key = (session, tid)
            self.templates.pop(key, None)
            self.templates[key] = _Template(fields, scope, options)
            if len(self.templates) > self.max_templates:
                self.templates.popitem(last=False)
                self.stats["templates_evicted"] += 1
            self.stats["options_templates" if options else "templates"] += 1
            got.append(tid)
        return got

    def _hold(self, now_ns, session, tid, body, ctx):
        if len(self._held) >= self.hold_max:
            self._held.pop(0)
            self.stats["data_dropped_no_template"] += 1
        self._held.append((now_ns, session, tid, body, ctx))
        self.stats["data_held"] += 1

    def _release(self, session, tid, exporter):
        out = []
        keep = []
        t = self.templates[(session, tid)]
        for h in self._held:
            if h[1] == session and h[2] == tid:
                out += self._data(t, h[3], h[4], session, exporter)
            else:
                keep.append(h)
        self._held = keep
        return out

    def _data(self, t: _Template, body: bytes, ctx, session, exporter):
        out = []
        off = 0
        n = len(body)
        minlen = t.fixed_len if t.fixed_len is not None else sum(1 if ln == 0xFFFF else ln for _, ln, _ in t.fields)
        if minlen == 0:
            return out
        while n - off >= minlen:
            rec = {}
            for idx, (i, ln, pen) in enumerate(t.fields):
                if ln == 0xFFFF:  # RFC 7011 section 7: variable-length encoding
                    ln = body[off]
                    off += 1
                    if ln == 255:
                        (ln,) = struct.unpack_from("!H", body, off)
                        off += 2
                raw = body[off: off + ln]
                if len(raw) < ln:
                    raise ValueError("record beyond its set")
                off += ln
                name, kind = IE.get(i, (None, "bytes")) if pen in (0, PEN_REVERSE) else (None, "bytes")
                if name is None:
                    name = f"ie{i}" if pen == 0 else f"ie{pen}.{i}"
                elif pen == PEN_REVERSE:
                    name = "rev_" + name
                rec[name] = decode_value(kind, raw)
            if t.is_options:
                self.stats["options_records"] += 1
                self._options_record(rec, session)
                continue
            out.append(self._finish(rec, ctx, session, exporter))
        return out

    def _options_record(self, rec, session):
        interval = rec.get("sampling_interval") or rec.get("sampler_random_interval")
        if not interval and rec.get("sampling_size") and "sampling_population" in rec:
            # RFC 5477 count-based sampling: samplingSize packets of every samplingPopulation.
            interval = rec["sampling_population"] // rec["sampling_size"]
        if not interval and "sampling_packet_interval" in rec:
            space = rec.get("sampling_packet_space", 0)
            interval = (rec["sampling_packet_interval"] + space) // max(rec["sampling_packet_interval"], 1)
        if interval:
            sampler = rec.get("sampler_id", rec.get("selector_id"))
            self.sampling[(session, sampler)] = interval
            self.sampling[(session, None)] = interval
        if "system_init_ms" in rec:
            self.system_init_ms[session] = rec["system_init_ms"]

    def _finish(self, rec, ctx, session, exporter):
        d = dict(exporter=exporter[0], version=ctx["version"], domain=ctx["domain"])
        d.update(rec)
        if ctx["version"] == 9:
            d["sys_uptime_ms"] = ctx["sys_uptime_ms"]
            d["unix_secs"] = ctx["unix_secs"]
            base = ctx["unix_secs"] * 1000 - ctx["sys_uptime_ms"]
            if "first_switched" in rec:
                d["first_ms"] = base + _uptime_delta(rec["first_switched"], ctx["sys_uptime_ms"])
            if "last_switched" in rec:
                d["last_ms"] = base + _uptime_delta(rec["last_switched"], ctx["sys_uptime_ms"])
        else:
            init = rec.get("system_init_ms", self.system_init_ms.get(session))
            if "first_ms" not in rec:
                if "first_s" in rec:
                    d["first_ms"] = rec["first_s"] * 1000
                elif "first_switched" in rec and init is not None:
                    d["first_ms"] = init + rec["first_switched"]
            if "last_ms" not in rec:
                if "last_s" in rec:
                    d["last_ms"] = rec["last_s"] * 1000
                elif "last_switched" in rec and init is not None:
                    d["last_ms"] = init + rec["last_switched"]
        if "icmp_type_code" in rec and not d.get("dst_port"):
            d["dst_port"] = rec["icmp_type_code"]
        if "icmp_type_code_v6" in rec and not d.get("dst_port"):
            d["dst_port"] = rec["icmp_type_code_v6"]
        s = self.sampling.get((session, rec.get("sampler_id", rec.get("selector_id"))))
        if s is None:
            s = self.sampling.get((session, None))
        if s:
            d["sampling_interval"] = s
        d["sequence"] = ctx["sequence"]
        return d


def _uptime_delta(t: int, up: int) -> int:
    """Record uptime `t` relative to the header's uptime `up`, across a 32-bit wrap."""
    delta = (t - up) & 0xFFFFFFFF
    if delta >= 0x80000000:
        delta -= 0x100000000
    return up + delta
