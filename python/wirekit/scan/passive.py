"""Passive service and client inventory with OS guesses, from SYNs and SYN+ACKs (sans-IO).

Theory of operation
-------------------
A SYN+ACK says "a service listens on (addr, port)" and its header fingerprints the
server's stack (p0f ``[tcp:response]``); a SYN says "addr is a client of that port" and
fingerprints the client (p0f ``[tcp:request]``, then pf.os when p0f has no answer).

`PassiveInventory` reports each (role, addr, port) once, when first seen: the first
packet's OS guess, TTL and window. Batches are pre-filtered in Rust (`Batch.summaries()`:
``tcp_flags`` per packet) so Python only touches SYN and SYN+ACK packets, and a
SYN or SYN+ACK whose (role, addr, port) is already known costs one dict lookup.

To read ``mss*N`` windows of SYN+ACKs, the MSS of each pending SYN is remembered until
its answer arrives (bounded: `max_pending`, oldest dropped first).

Bounds: at most `max_entries` distinct records (further ones are counted in
`dropped_records`, never raised); `max_pending` remembered SYN MSS values; hence a bounded
number of records; a cache (`cache_size` verdicts, cleared when full) keyed on the
fingerprint-relevant header fields, so a stack seen before costs no matching.
"""

from __future__ import annotations

import re
import socket
import struct
from collections import OrderedDict
from dataclasses import dataclass

from ..fingerprint import Fingerprinter, TCPSignatureInput
from ..fingerprint.guess import OSGuess

__all__ = ["PassiveInventory", "PassiveRecord", "CLIENT", "SERVER"]

CLIENT, SERVER = "client", "server"

_SYN, _ACK, _FIN, _RST = 0x02, 0x10, 0x01, 0x04
# Low byte of tcp_flags -> 1 for SYN, 2 for SYN+ACK, 0 otherwise (FIN/RST with SYN ignored).
_CLASS_RE = re.compile(rb"[\x01\x02]")
_FLAG_CLASS = bytes(
    1 if (i & 0x17) == _SYN else 2 if (i & 0x17) == (_SYN | _ACK) else 0 for i in range(256)
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PassiveRecord:
    """A service (role "server": `addr` listens on `port`) or a client (role "client":
    `addr` connected to a service on `port`), with the OS guess of its first packet.

    Attributes:
        role: "server" (from a SYN+ACK) or "client" (from a SYN).
        addr: the host's address as text.
        port: the service's TCP port (for clients too).
        os: the OS label, or None when no database matched.
        db: "p0f" or "pf.os" (None when nothing matched).
        match: "exact" or "fuzzy" (None when nothing matched).
        distance: hops from the host to the capture point, per the guess (or p0f's
            estimate from the TTL when nothing matched).
        ttl: observed IP TTL / hop limit.
        window: the raw TCP window of the packet.
        ts_ns: capture time of the packet, ns since the epoch.
        guesses: every database's verdict (p0f first).
    """

    role: str
    addr: str
    port: int
    os: str | None
    db: str | None
    match: str | None
    distance: int | None
    ttl: int
    window: int
    ts_ns: int
    guesses: tuple[OSGuess, ...] = ()

    def to_json(self) -> dict:
        return {"role": self.role, "addr": self.addr, "port": self.port, "os": self.os,
                "db": self.db, "match": self.match, "distance": self.distance,
                "ttl": self.ttl, "window": self.window, "ts_ns": self.ts_ns}


def _addr_text(version: int, raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, raw)


class PassiveInventory:
    """Feed batches (`feed_batch`) or IP datagrams (`feed_ip`); collect `PassiveRecord`s."""

    def __init__(self, fingerprinter: Fingerprinter | None = None, *, max_entries: int = 1_000_000,
                 max_pending: int = 65536, cache_size: int = 4096):
        self.fp = fingerprinter if fingerprinter is not None else Fingerprinter()
        self.max_entries = max_entries
        self.max_pending = max_pending
        self._seen: set[tuple] = set()
        self._pending: OrderedDict[tuple, int] = OrderedDict()
        self.cache_size = cache_size
        self._cache: dict[tuple, list[OSGuess]] = {}
        self.records: list[PassiveRecord] = []
        self.packets = 0
        self.syns = 0
        self.synacks = 0
        self.dropped_records = 0
        self.pending_evicted = 0

    # -- input ---------------------------------------------------------------------------
    def feed_batch(self, batch) -> list[PassiveRecord]:
        """A `_core.Batch` (capture file or live): returns the records it added."""
        n = len(batch)
        self.packets += n
        if not n:
            return []
        s = batch.summaries()
        cls = s["tcp_flags"].tobytes()[::2].translate(_FLAG_CLASS)
        if not cls.strip(b"\x00"):
            return []
        out: list[PassiveRecord] = []
        proto, ipver, l3 = s["proto"], s["ip_version"], s["l3_offset"]
        wire_len, ts = s["wire_len"], s["ts_ns"]
        src_col, dst_col, sport_col, dport_col = s["src"], s["dst"], s["src_port"], s["dst_port"]
        seen, pending = self._seen, self._pending
        for m in _CLASS_RE.finditer(cls):
            i = m.start()
            if proto[i] != 6:
                continue
            o = 16 * i
            alen = 4 if ipver[i] == 4 else 16
            src, dst = src_col[o:o + alen], dst_col[o:o + alen]
            if cls[i] == 1:
                self.syns += 1
                dport = dport_col[i]
                need_mss = (SERVER, dst, dport) not in seen
                if not need_mss and (CLIENT, src, dport) in seen:
                    continue
            else:
                self.synacks += 1
                sport = sport_col[i]
                if (SERVER, src, sport) in seen:
                    pending.pop((dst, dport_col[i], src, sport), None)
                    continue
            data = batch.data(i)
            rec = self._feed(memoryview(data)[l3[i]:min(len(data), wire_len[i])], ts[i],
                             counted=True)
            if rec is not None:
                out.append(rec)
        return out

    def feed_ip(self, data: bytes | memoryview, ts_ns: int) -> PassiveRecord | None:
        """One IP datagram (any TCP segment; others are ignored)."""
        self.packets += 1
        return self._feed(memoryview(data), ts_ns)

    # -- core ----------------------------------------------------------------------------
    def _feed(self, ip: memoryview, ts_ns: int, counted: bool = False) -> PassiveRecord | None:
        if len(ip) < 40:
            return None
        v = ip[0] >> 4
        if v == 4:
            l4 = (ip[0] & 0x0F) * 4
            src, dst = bytes(ip[12:16]), bytes(ip[16:20])
        elif v == 6:
            l4 = 40
            if ip[6] != 6:
                # extension headers before TCP: let the full parser find the TCP header
                full = TCPSignatureInput.from_ip(ip)
                if full is None:
                    return None
                l4 = full.ip_header_len
            src, dst = bytes(ip[8:24]), bytes(ip[24:40])
        else:
            return None
        if len(ip) < l4 + 20:
            return None
        sport, dport = struct.unpack_from("!HH", ip, l4)
        fl = ip[l4 + 13] & 0x17
        if fl == _SYN:
            if not counted:
                self.syns += 1
            key = (CLIENT, src, dport)
            # Remember the SYN's MSS for its SYN+ACK, unless the service is known already.
            if (SERVER, dst, dport) not in self._seen:
                self._remember_mss(ip, l4, (src, sport, dst, dport))
            if key in self._seen:
                return None
            role, host, port, syn_mss = CLIENT, src, dport, 0
        elif fl == _SYN | _ACK:
            if not counted:
                self.synacks += 1
            key = (SERVER, src, sport)
            if key in self._seen:
                self._pending.pop((dst, dport, src, sport), None)
                return None
            syn_mss = self._pending.pop((dst, dport, src, sport), 0)
            role, host, port = SERVER, src, sport
        else:
            return None
        if len(self._seen) >= self.max_entries:
            self.dropped_records += 1
            return None
        qkey = _quick_key(ip, v, l4, syn_mss)
        guesses = self._cache.get(qkey) if qkey is not None else None
        if guesses is None:
            sig = TCPSignatureInput.from_ip(ip)
            if sig is None:
                return None
            guesses = self.fp.guess(sig, syn_mss=syn_mss)
            if qkey is not None:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[qkey] = guesses
        self._seen.add(key)
        best = guesses[0] if guesses else None
        ttl = ip[8] if v == 4 else ip[7]
        window = (ip[l4 + 14] << 8) | ip[l4 + 15]
        if best is None:
            rec = PassiveRecord(role=role, addr=_addr_text(v, host), port=port, os=None, db=None,
                                match=None, distance=None, ttl=ttl, window=window,
                                ts_ns=int(ts_ns))
        else:
            rec = PassiveRecord(role=role, addr=_addr_text(v, host), port=port, os=best.label,
                                db=best.db, match=best.match, distance=best.distance, ttl=ttl,
                                window=window, ts_ns=int(ts_ns), guesses=tuple(guesses))
        self.records.append(rec)
        return rec

    def _remember_mss(self, ip: memoryview, l4: int, flow: tuple) -> None:
        doff = (ip[l4 + 12] >> 4) * 4
        mss = 0
        i, end = l4 + 20, min(l4 + doff, len(ip))
        while i < end:
            k = ip[i]
            if k == 0:
                break
            if k == 1:
                i += 1
                continue
            if i + 1 >= end or ip[i + 1] < 2:
                break
            if k == 2 and ip[i + 1] == 4 and i + 4 <= end:
                mss = (ip[i + 2] << 8) | ip[i + 3]
                break
            i += ip[i + 1]
        pend = self._pending
        pend[flow] = mss
        if len(pend) > self.max_pending:
            pend.popitem(last=False)
            self.pending_evicted += 1


def _quick_key(ip: memoryview, v: int, l4: int, syn_mss: int) -> tuple | None:
    """Everything in a header that the p0f and pf.os matchers read, and nothing else:
    headers with equal keys get equal verdicts, so verdicts are cached on it. Addresses,
    ports, checksums and the values of sequence numbers, IP IDs and TCP timestamps are left
    out (only "is zero" and the bit p0f's ack+ quirk reads are kept). None when the header
    is not complete (the full parser then decides)."""
    n = len(ip)
    if n < l4 + 20:
        return None
    doff = (ip[l4 + 12] >> 4) * 4
    if doff < 20 or l4 + doff > n:
        return None
    if v == 4:
        tot = (ip[2] << 8) | ip[3]
        iph = (ip[0], ip[1], ip[6] & 0xE0, ip[4] | ip[5] == 0, ip[8], tot, bytes(ip[20:l4]))
    else:
        tot = 40 + ((ip[4] << 8) | ip[5])
        iph = (ip[0] & 0x0F | ip[1] & 0xF0, (ip[1] & 0x0F) | ip[2] | ip[3] != 0, ip[6], ip[7], tot)
    seq_zero = bytes(ip[l4 + 4:l4 + 8]) == b"\0\0\0\0"
    ack = bytes(ip[l4 + 8:l4 + 12])
    opts = bytes(ip[l4 + 20:l4 + doff])
    if b"\x08\x0a" in opts:
        opts = _mask_timestamps(opts)
    return (iph, bytes(ip[l4 + 12:l4 + 16]), bytes(ip[l4 + 18:l4 + 20]) != b"\0\0", seq_zero,
            ack == b"\0\0\0\0", ack[0] & 1, opts, min(tot, n) - l4 - doff > 0, syn_mss)


def _mask_timestamps(opts: bytes) -> bytes:
    """Option bytes with each timestamp option's values replaced by two flags (TSval is
    zero, TSecr is non-zero): the only things the matchers read from them."""
    out = bytearray()
    i, n = 0, len(opts)
    while i < n:
        k = opts[i]
        if k in (0, 1):
            out.append(k)
            i += 1
            continue
        if i + 1 >= n or opts[i + 1] < 2:
            out += opts[i:]
            break
        ln = opts[i + 1]
        if k == 8 and ln == 10 and i + 10 <= n:
            out += b"\x08\x0a"
            out.append(opts[i + 2:i + 6] == b"\0\0\0\0")
            out.append(opts[i + 6:i + 10] != b"\0\0\0\0")
            out += b"\0" * 6
        else:
            out += opts[i:i + ln]
        i += ln
    return bytes(out)
