"""TCP traceroute, sans-IO: SYNs with rising TTL; ICMP time-exceeded names each hop.

Theory of operation
-------------------
Probe k (k = 1 .. max_hops) is a SYN to (target, port) with IP TTL / hop limit k, source
port ``base_port + k`` and a sequence number keyed on (target, port, source port). A
router that drops it for TTL sends ICMP time exceeded (RFC 792; ICMPv6 type 3, RFC 4443
3.3) quoting our IP header and the first 8 TCP bytes: source port gives k back, the
sequence number proves it was ours. The target answers with SYN+ACK or RST (ACK = our
sequence + 1): the smallest k answered that way is the target's distance, and ends the
trace. ICMP destination unreachable also ends it (marked with its code).

All probes are sent (paced by a token bucket), each unanswered one is re-sent up to
`retries` times, and the trace finishes `wait_ns` after the last send, or as soon as the
target answered and every hop below it has answered. Round-trip times come from the
send time of each probe (a table of at most max_hops entries).
"""

from __future__ import annotations

import ipaddress
import os
import struct
from dataclasses import dataclass

from .engine import TokenBucket, _csum, _fold, probe_seq

__all__ = ["TCPTrace", "Hop"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One line of the trace.

    Attributes:
        hop: TTL of the probe (1 = first router).
        addr: who answered (None: no answer).
        rtt_ns: round-trip time of the first answer, ns (None without one).
        reached: the target itself answered (SYN+ACK or RST).
        kind: "time-exceeded", "syn-ack", "rst", "unreachable" or "none".
        icmp_code: the ICMP code of an unreachable (None otherwise).
    """

    hop: int
    addr: str | None
    rtt_ns: int | None
    reached: bool
    kind: str
    icmp_code: int | None = None


class TCPTrace:
    OPTIONS = b"\x02\x04\x05\xb4"

    def __init__(self, target: str, port: int, *, src: str, max_hops: int = 30,
                 rate_pps: float = 100.0, retries: int = 1, wait_ns: int = 2_000_000_000,
                 secret: bytes | None = None, base_port: int | None = None):
        self.target = ipaddress.ip_address(target)
        self.src = ipaddress.ip_address(src)
        if self.src.version != self.target.version:
            raise ValueError("source and target address families differ")
        self.v = self.target.version
        self.port = port
        self.max_hops = max_hops
        self.secret = secret if secret is not None else os.urandom(16)
        self.base_port = base_port if base_port is not None else (
            33000 + int.from_bytes(self.secret[:2], "big") % 20000)
        self.bucket = TokenBucket(rate_pps, burst=max_hops)
        self.retries = retries
        self.wait_ns = wait_ns
        self.sent_ns: dict[int, int] = {}
        self.tries: dict[int, int] = {}
        self.answers: dict[int, Hop] = {}
        self.next_ttl = 1
        self.pass_no = 0
        self.last_send_ns: int | None = None
        self.done = False

    # -- packets ---------------------------------------------------------------------------
    def build(self, ttl: int) -> bytes:
        sport = self.base_port + ttl
        dst = int(self.target)
        seq = probe_seq(self.secret, self.v, dst, self.port, sport)
        tcp = struct.pack("!HHIIBBHHH", sport, self.port, seq, 0, 6 << 4, 0x02, 1024, 0, 0) + self.OPTIONS
        s, d = self.src.packed, self.target.packed
        if self.v == 4:
            pseudo = s + d + struct.pack("!BBH", 0, 6, len(tcp))
        else:
            pseudo = s + d + struct.pack("!IxxxB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", _fold(_csum(pseudo + tcp))) + tcp[18:]
        if self.v == 4:
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport, 0, ttl, 6, 0, s, d)
            hdr = hdr[:10] + struct.pack("!H", _fold(_csum(hdr))) + hdr[12:]
            return hdr + tcp
        return struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, ttl, s, d) + tcp

    # -- time ------------------------------------------------------------------------------
    def _dest_hop(self) -> int | None:
        hs = [h.hop for h in self.answers.values() if h.reached or h.kind == "unreachable"]
        return min(hs) if hs else None

    def _limit(self) -> int:
        d = self._dest_hop()
        return d if d is not None else self.max_hops

    def poll_send(self, now_ns: int, max_count: int = 64) -> list[bytes]:
        out: list[bytes] = []
        if self.done:
            return out
        budget = self.bucket.take(now_ns, max_count)
        while budget > 0:
            if self.next_ttl > self._limit():
                if self.pass_no < self.retries and self.last_send_ns is not None and \
                        now_ns >= self.last_send_ns + self.wait_ns // 2 and any(
                            t not in self.answers for t in range(1, self._limit() + 1)):
                    self.pass_no += 1
                    self.next_ttl = 1
                    continue
                break
            ttl = self.next_ttl
            self.next_ttl += 1
            if ttl in self.answers:
                continue
            out.append(self.build(ttl))
            self.sent_ns[ttl] = now_ns
            self.tries[ttl] = self.tries.get(ttl, 0) + 1
            self.last_send_ns = now_ns
            budget -= 1
        if budget > 0 and self.bucket.rate > 0:
            self.bucket.tokens += budget
        return out

    def complete(self) -> bool:
        d = self._dest_hop()
        return d is not None and all(t in self.answers for t in range(1, d + 1))

    def next_deadline(self) -> int | None:
        if self.done:
            return None
        if self.last_send_ns is None:
            return 0
        if self.next_ttl <= self._limit():
            return self.bucket.next_ns(self.last_send_ns)
        if self.pass_no < self.retries:
            return self.last_send_ns + self.wait_ns // 2
        return self.last_send_ns + self.wait_ns

    def advance(self, now_ns: int) -> list[Hop] | None:
        """The hops, in order, once the trace is over (else None)."""
        if self.done:
            return None
        finished = self.complete() or (
            self.last_send_ns is not None and self.next_ttl > self._limit()
            and self.pass_no >= self.retries and now_ns >= self.last_send_ns + self.wait_ns)
        if not finished:
            return None
        self.done = True
        hops = []
        for t in range(1, self._limit() + 1):
            hops.append(self.answers.get(t) or Hop(hop=t, addr=None, rtt_ns=None, reached=False,
                                                  kind="none"))
        return hops

    # -- replies ---------------------------------------------------------------------------
    def receive(self, ip: bytes | memoryview, now_ns: int) -> Hop | None:
        ip = bytes(ip)
        if len(ip) < 20:
            return None
        v = ip[0] >> 4
        if v != self.v:
            return None
        if v == 4:
            l4, proto = (ip[0] & 0x0F) * 4, ip[9]
            src = ipaddress.IPv4Address(ip[12:16])
        else:
            if len(ip) < 40:
                return None
            l4, proto = 40, ip[6]
            src = ipaddress.IPv6Address(ip[8:24])
        if proto == 6 and src == self.target and len(ip) >= l4 + 20:
            sport, dport, _s, ack, _o, flags = struct.unpack_from("!HHIIBB", ip, l4)
            ttl = dport - self.base_port
            if sport != self.port or not 1 <= ttl <= self.max_hops or not flags & 0x10:
                return None
            if probe_seq(self.secret, v, int(self.target), self.port, dport) != (ack - 1) & 0xFFFFFFFF:
                return None
            kind = "rst" if flags & 0x04 else "syn-ack" if flags & 0x02 else None
            if kind is None:
                return None
            return self._record(ttl, str(src), now_ns, True, kind, None)
        if (v == 4 and proto == 1) or (v == 6 and proto == 58):
            if len(ip) < l4 + 8:
                return None
            typ, code = ip[l4], ip[l4 + 1]
            if v == 4:
                kind = {11: "time-exceeded", 3: "unreachable"}.get(typ)
            else:
                kind = {3: "time-exceeded", 1: "unreachable"}.get(typ)
            if kind is None:
                return None
            inner = ip[l4 + 8:]
            il4 = (inner[0] & 0x0F) * 4 if v == 4 and inner else 40
            if len(inner) < il4 + 8:
                return None
            isport, idport, iseq = struct.unpack_from("!HHI", inner, il4)
            ttl = isport - self.base_port
            if idport != self.port or not 1 <= ttl <= self.max_hops:
                return None
            if probe_seq(self.secret, v, int(self.target), self.port, isport) != iseq:
                return None
            return self._record(ttl, str(src), now_ns, False, kind,
                                code if kind == "unreachable" else None)
        return None

    def _record(self, ttl, addr, now_ns, reached, kind, code) -> Hop | None:
        if ttl in self.answers:
            return None
        sent = self.sent_ns.get(ttl)
        h = Hop(hop=ttl, addr=addr, rtt_ns=None if sent is None else now_ns - sent,
                reached=reached, kind=kind, icmp_code=code)
        self.answers[ttl] = h
        return h
