"""The SYN scanner, sans-IO: what to send when, and what each reply means.

Theory of operation
-------------------
Probes are the pairs (target, port), numbered ``0 .. T*P-1``. They are sent in the order of
a keyed pseudo-random permutation of those numbers (`Permutation`: a 4-round Feistel
network over the next even power of two, cycle-walking back into range), computed one at
a time: no list of probes is ever built, so ``-p-`` over a /16 costs no memory beyond the
"answered" bitmap (one bit per probe).

Each SYN's sequence number is a keyed hash of (address, port, source port); a SYN+ACK or
RST is matched to its probe by recomputing the hash from the reply's addresses and ports
and comparing it with the reply's ACK minus one (RFC 9293 3.10.7.2: the answer to a SYN
acknowledges ISN+1). An ICMP destination-unreachable carries the probe's IP header and
the first 8 TCP bytes (RFC 792, RFC 4443 3.1): ports and sequence number, so it is
matched the same way. No per-probe table; replies from addresses not targeted are
ignored (and counted).

States: ``open`` (SYN+ACK), ``closed`` (RST), ``filtered`` (ICMP unreachable, or no
answer after ``retries`` re-sends). Pass 0 sends every probe in permutation order; pass k
re-sends the probes still unanswered when pass k-1 ended (their list, shuffled with the
key: O(unanswered) memory and time), starting ``retry_delay_ns`` later; after the last pass the
scanner waits ``wait_ns`` for late replies (not at all when every probe has its answer),
then reports the still-unanswered probes as filtered and is done.

Pacing: one token bucket (`TokenBucket`) for all passes, so ``rate_pps`` holds under
retries. Time only enters as ``now_ns`` arguments: `poll_send(now_ns)` returns the IP
packets to send now, `receive(ip, now_ns)` digests a captured reply, `next_deadline()`
tells when to call again, `advance(now_ns)` finishes the scan when its time comes.

Guard rail: packets are only ever built for addresses in the `TargetSet`.
"""

from __future__ import annotations

import array
import bisect
import hashlib
import ipaddress
import os
import random
import re
import socket
import struct
from dataclasses import dataclass

from .._core import SynBlaster, scan_probe_seq as _scan_probe_seq
from .targets import TargetSet

__all__ = ["Permutation", "TokenBucket", "SynScanner", "ScanResult", "probe_seq",
           "OPEN", "CLOSED", "FILTERED"]

OPEN, CLOSED, FILTERED = "open", "closed", "filtered"
_ANSWER_CLASS = bytes(1 if (f & 0x10 and f & 0x06 and not (f & 0x06) == 0x06) else 0
                      for f in range(256))
_ANSWER_RE = re.compile(rb"\x01")
_ICMP_RE = re.compile(rb"[\x01\x3a]")
_M64 = (1 << 64) - 1


class Permutation:
    """A keyed bijection of ``range(n)``, evaluated one index at a time (a balanced Feistel
    network over 2**2k >= n elements, cycle-walking until the value falls inside range(n))."""

    ROUNDS = 3  # Luby-Rackoff: three rounds of a keyed function give a pseudo-random permutation

    def __init__(self, n: int, key: bytes):
        if n < 0:
            raise ValueError("negative size")
        self.n = n
        bits = max(2, (max(n, 1) - 1).bit_length())
        bits += bits & 1
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        self.keys = [int.from_bytes(hashlib.blake2b(key, digest_size=8, person=b"wkperm%d" % r)
                                    .digest(), "big") for r in range(self.ROUNDS)]

    def _encrypt(self, x: int) -> int:
        h, m = self.half, self.mask
        left, right = x >> h, x & m
        for k in self.keys:
            f = ((right ^ k) * 0x9E3779B97F4A7C15) & _M64
            left, right = right, left ^ ((f ^ (f >> 29)) >> 7 & m)
        return (left << h) | right

    def _decrypt(self, x: int) -> int:
        h, m = self.half, self.mask
        left, right = x >> h, x & m
        for k in reversed(self.keys):
            f = ((left ^ k) * 0x9E3779B97F4A7C15) & _M64
            left, right = right ^ ((f ^ (f >> 29)) >> 7 & m), left
        return (left << h) | right

    def index(self, value: int) -> int:
        """The position at which `value` comes out (the inverse permutation)."""
        if not 0 <= value < self.n:
            raise IndexError(value)
        x = self._decrypt(value)
        while x >= self.n:  # walk the cycle back
            x = self._decrypt(x)
        return x

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        x = self._encrypt(i)
        while x >= self.n:  # cycle-walk: stays a bijection of range(n)
            x = self._encrypt(x)
        return x

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for i in range(self.n):
            yield self[i]


def probe_seq(secret: bytes, version: int, addr: int, port: int, src_port: int) -> int:
    """The SYN's sequence number: a keyed hash of the probe (SipHash-2-4 of version,
    address, port and source port, low 32 bits; computed in Rust so that the batch send
    path and the Python matcher agree)."""
    return _scan_probe_seq(secret, version, addr.to_bytes(4 if version == 4 else 16, "big"),
                           port, src_port)


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take(now_ns, want)` returns how many may go
    now. rate 0 means unlimited."""

    def __init__(self, rate_pps: float, burst: int | None = None):
        self.rate = float(rate_pps)
        # Default burst: 50 ms worth of tokens (at most 4096), so a loop iteration busy with
        # replies does not cost sending rate; over any window T at most rate*T + burst go out.
        self.burst = max(1, int(burst if burst is not None else max(1, min(self.rate / 20, 4096))))
        self.tokens = float(self.burst)
        self.last_ns: int | None = None

    def _refill(self, now_ns: int) -> None:
        if self.last_ns is None:
            self.last_ns = now_ns
            return
        dt = now_ns - self.last_ns
        if dt > 0:
            self.tokens = min(self.burst, self.tokens + dt * self.rate / 1e9)
            self.last_ns = now_ns

    def take(self, now_ns: int, want: int) -> int:
        if self.rate <= 0:
            return want
        self._refill(now_ns)
        n = min(want, int(self.tokens))
        self.tokens -= n
        return n

    def next_ns(self, now_ns: int) -> int:
        """When at least one token will be available."""
        if self.rate <= 0:
            return now_ns
        self._refill(now_ns)
        if self.tokens >= 1:
            return now_ns
        return now_ns + int((1 - self.tokens) * 1e9 / self.rate) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """The verdict on one probe.

    Attributes:
        addr: target address (text). port: target TCP port.
        state: "open", "closed" or "filtered".
        reason: "syn-ack", "rst", "icmp-unreachable" (with `icmp_from`) or "no-response".
        ttl: TTL / hop limit of the reply (None without one).
        window: TCP window of the reply (None without a TCP reply).
        ts_ns: when the verdict was reached (the reply's capture time, or the scan's end).
        reply: the reply's IP datagram (SYN+ACKs: for OS fingerprinting), or None.
        icmp_from: address of the router or host that sent the ICMP error.
    """

    addr: str
    port: int
    state: str
    reason: str
    ttl: int | None = None
    window: int | None = None
    ts_ns: int = 0
    reply: bytes | None = None
    icmp_from: str | None = None


def _csum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class SynScanner:
    """Plans, paces and matches a SYN scan of `targets` x `ports` (see module docstring)."""

    #: TCP options of every probe: MSS 1460 (a SYN without options is a scanner tell, and
    #: the SYN+ACK's window is then read against a known MSS).
    OPTIONS = b"\x02\x04\x05\xb4"
    WINDOW = 1024
    TTL = 64

    def __init__(self, targets: TargetSet, ports: list[int], *, secret: bytes | None = None,
                 src4: str | None = None, src6: str | None = None, rate_pps: float = 1000.0,
                 burst: int | None = None, retries: int = 1, wait_ns: int = 1_000_000_000,
                 retry_delay_ns: int | None = None, source_port: int | None = None,
                 listen_only: bool = False, max_probes: int = 1 << 32, adaptive: bool = True):
        self.targets = targets
        self.ports = list(ports)
        self.nports = len(self.ports)
        self.total = len(targets) * self.nports
        if self.total > max_probes:
            raise ValueError(f"{self.total} probes is more than the cap of {max_probes}")
        self.secret = secret if secret is not None else os.urandom(16)
        self.src4 = int(ipaddress.IPv4Address(src4)) if src4 else None
        self.src6 = int(ipaddress.IPv6Address(src6)) if src6 else None
        for v in targets.versions():
            if (v == 4 and self.src4 is None or v == 6 and self.src6 is None) and not listen_only:
                raise ValueError(f"IPv{v} targets need an IPv{v} source address")
        self.bucket = TokenBucket(rate_pps, burst)
        self.retries = max(0, retries)
        self.wait_ns = wait_ns
        self.retry_delay_ns = wait_ns if retry_delay_ns is None else retry_delay_ns
        self.source_port = source_port
        self.perm = Permutation(self.total, self.secret)
        # port -> its index: an offset for a contiguous ascending list (-p-, 1-1024: no
        # 65535-entry dict to build before the first probe goes out), else a dict
        p0 = self.ports[0] if self.ports else 0
        self._port_base = p0 if self.ports == list(range(p0, p0 + self.nports)) else None
        self._port_index = {} if self._port_base is not None else {
            p: i for i, p in enumerate(self.ports)}
        self.answered = bytearray((self.total + 7) // 8)
        self.pass_no = 0
        self.cursor = 0
        self.pass_start_ns: int | None = None
        self.end_ns: int | None = None
        self.done = False
        self.listen_only = listen_only
        # counters
        self.sent = 0
        self.replies = 0
        self.unmatched = 0
        self.duplicates = 0
        self.counts = {OPEN: 0, CLOSED: 0, FILTERED: 0}
        self._ip_id = int.from_bytes(self.secret[:2], "big")
        self._sport_cache: dict[int, int] = {}
        self.answered_count = 0
        # Round-trip times, measured without per-probe state: pass 0 goes out in chunks of
        # consecutive permutation positions whose send times are kept (bounded); a reply's
        # probe index maps back to its position by the inverse permutation.
        self.adaptive = adaptive
        self._chunk_pos: list[int] = []
        self._chunk_ns: list[int] = []
        self.rtt_max_ns: int | None = None
        self.rtt_samples = 0
        self._order: array.array | None = None  # None: pass 0 walks the permutation
        # first retry pass: when each listed probe went out on pass 0 (None: untimed pass)
        self._order_sent_ns: array.array | None = None
        self._templates()

    # -- probe identity -------------------------------------------------------------------
    def _src_port(self, index: int, pass_no: int) -> int:
        # One source port per pass (a retry looks like a new connection to middleboxes);
        # the matcher recomputes the hash from whatever port the reply names.
        if self.source_port is not None:
            return self.source_port
        sp = self._sport_cache.get(pass_no)
        if sp is None:
            h = hashlib.blake2b(struct.pack("!I", pass_no), key=self.secret, digest_size=2)
            sp = self._sport_cache[pass_no] = 32768 + int.from_bytes(h.digest(), "big") % 28232
        return sp

    def probe(self, index: int) -> tuple[int, int, int]:
        """(version, address int, port) of probe `index`."""
        t, p = divmod(index, self.nports)
        v, a = self.targets.address(t)
        return v, a, self.ports[p]

    def _index_of(self, version: int, addr: int, port: int) -> int | None:
        base = self._port_base
        if base is not None:
            pi = port - base
            if not 0 <= pi < self.nports:
                return None
        else:
            pi = self._port_index.get(port)
        if pi is None:
            return None
        t = self.targets.index_of(version, addr)
        return None if t is None else t * self.nports + pi

    def _is_answered(self, i: int) -> bool:
        return bool(self.answered[i >> 3] & (1 << (i & 7)))

    def _mark(self, i: int) -> None:
        self.answered[i >> 3] |= 1 << (i & 7)
        self.answered_count += 1  # callers mark only unanswered probes

    # -- packets ---------------------------------------------------------------------------
    def build_syn(self, index: int, pass_no: int = 0) -> bytes:
        """The IP datagram of probe `index` on pass `pass_no` (checksums filled)."""
        v, addr, port = self.probe(index)
        sport = self._src_port(index, pass_no)
        seq = probe_seq(self.secret, v, addr, port, sport)
        # Checksums from precomputed sums of the constant words plus the variable ones
        # (RFC 1071: the one's complement sum is order-independent).
        var = sport + port + (seq >> 16) + (seq & 0xFFFF)
        if v == 4:
            tmpl, base = self._tmpl4
            d = addr
            var += (d >> 16) + (d & 0xFFFF)
            pkt = bytearray(tmpl)
            self._ip_id = (self._ip_id + 1) & 0xFFFF
            ip_sum = self._ip4_sum + self._ip_id + (d >> 16) + (d & 0xFFFF)
            struct.pack_into("!H", pkt, 4, self._ip_id)
            struct.pack_into("!H", pkt, 10, _fold(ip_sum))
            pkt[16:20] = addr.to_bytes(4, "big")
            off = 20
        else:
            tmpl, base = self._tmpl6
            d = addr
            for _ in range(8):
                var += d & 0xFFFF
                d >>= 16
            pkt = bytearray(tmpl)
            pkt[24:40] = addr.to_bytes(16, "big")
            off = 40
        struct.pack_into("!HHI", pkt, off, sport, port, seq)
        struct.pack_into("!H", pkt, off + 16, _fold(base + var))
        return bytes(pkt)

    def _templates(self) -> None:
        opts = self.OPTIONS
        tcp_len = 20 + len(opts)
        tcp = struct.pack("!HHIIBBHHH", 0, 0, 0, 0, (tcp_len // 4) << 4, 0x02, self.WINDOW, 0,
                          0) + opts
        self._tmpl4 = self._tmpl6 = (b"", 0)
        if self.src4 is not None:
            src = self.src4.to_bytes(4, "big")
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, 0, 0, self.TTL, 6, 0, src,
                              b"\0" * 4)
            self._ip4_sum = _csum(hdr)
            self._tmpl4 = (hdr + tcp, _csum(src + struct.pack("!BBH", 0, 6, tcp_len) + tcp))
        if self.src6 is not None:
            src = self.src6.to_bytes(16, "big")
            hdr = struct.pack("!IHBB16s16s", 6 << 28, tcp_len, 6, self.TTL, src, b"\0" * 16)
            self._tmpl6 = (hdr + tcp, _csum(src + struct.pack("!IxxxB", tcp_len, 6) + tcp))

    # -- sending ---------------------------------------------------------------------------
    def start(self, now_ns: int) -> None:
        if self.pass_start_ns is None:
            self.pass_start_ns = now_ns
            if self.listen_only:
                self.pass_no = self.retries + 1
                self.end_ns = now_ns

    def next_deadline(self) -> int | None:
        """When `poll_send`/`advance` next has something to do (None when done)."""
        if self.done:
            return None
        if self.end_ns is not None:
            if self.answered_count >= self.total and not self.listen_only:
                return self.end_ns  # everything answered: nothing to wait for
            return self.end_ns + self._wait(self.wait_ns)
        if self.pass_start_ns is None:
            return 0
        now = max(self.pass_start_ns, self.bucket.last_ns or 0)
        dl = max(self.pass_start_ns, self.bucket.next_ns(now))
        due = self._order_sent_ns
        if due is not None and self.cursor < len(due):
            dl = max(dl, due[self.cursor] + self._wait(self.retry_delay_ns))
        return dl

    def poll_send(self, now_ns: int, max_count: int = 256) -> list[bytes]:
        """Up to `max_count` probes due now (fewer when the rate allows fewer)."""
        self.start(now_ns)
        out: list[bytes] = []
        if self.pass_no and self.end_ns is None and self.answered_count >= self.total:
            self.end_ns = now_ns  # a planned retry pass has nothing left to re-send
        if self.done or self.end_ns is not None or now_ns < self.pass_start_ns:
            return out
        budget = self.bucket.take(now_ns, max_count)
        if not self.pass_no and budget > 0:
            self._note_chunk(self.cursor, now_ns)
        order = self._order
        limit = len(order) if order is not None else self.total
        while budget > 0 and self.end_ns is None:
            if self.cursor >= limit:
                self._end_pass(now_ns)
                break
            i = order[self.cursor] if order is not None else self.perm[self.cursor]
            if self.pass_no and self._is_answered(i):
                self.cursor += 1
                continue  # answered since this retry pass was planned
            if self._order_sent_ns is not None and \
                    now_ns < self._order_sent_ns[self.cursor] + self._wait(self.retry_delay_ns):
                break  # its pass-0 send has not had its round-trip allowance yet
            self.cursor += 1
            out.append(self.build_syn(i, self.pass_no))
            budget -= 1
        if self.cursor >= limit and self.end_ns is None and now_ns >= self.pass_start_ns:
            self._end_pass(now_ns)
        if budget > 0 and self.bucket.rate > 0:
            self.bucket.tokens += budget  # unused tokens go back
        self.sent += len(out)
        return out

    def poll_plan(self, now_ns: int, max_count: int = 4096) -> tuple[tuple[int, int, int] | None, list[bytes]]:
        """Like `poll_send`, but pass 0 is handed out as permutation positions for a batch
        sender: returns ((first position, count, source port) or None, retry packets).
        `blaster()` builds and sends exactly those positions."""
        self.start(now_ns)
        if self.pass_no or self._order is not None:
            return None, self.poll_send(now_ns, max_count)
        if self.done or self.end_ns is not None or now_ns < self.pass_start_ns:
            return None, []
        n = min(self.bucket.take(now_ns, max_count), self.total - self.cursor)
        rng = None
        if n > 0:
            self._note_chunk(self.cursor, now_ns)
            rng = (self.cursor, n, self._src_port(0, 0))
            self.cursor += n
            self.sent += n
        if self.cursor >= self.total:
            self._end_pass(now_ns)
        return rng, []

    def blaster(self) -> SynBlaster:
        """The Rust batch builder/sender for this scan's pass 0 (same permutation, same
        keyed hash, same packets as `build_syn`)."""
        ivs = [(v, lo.to_bytes(16, "big"), hi.to_bytes(16, "big")) for v, lo, hi in self.targets.intervals]
        return SynBlaster(self.secret, ivs, self.ports, self.perm.keys, self.perm.half,
                          src4=self.src4.to_bytes(4, "big") if self.src4 is not None else None,
                          src6=self.src6.to_bytes(16, "big") if self.src6 is not None else None,
                          ttl=self.TTL, window=self.WINDOW, ip_id=self._ip_id)

    MAX_CHUNKS = 1 << 20
    #: Floor of the adaptive waits: round trips are timed from capture timestamps (so they
    #: are the network's, not this loop's), and a reply may sit up to a ring block timeout
    #: (1 ms in immediate mode) before it is read; 20 ms leaves a wide margin over both.
    MIN_ADAPTIVE_WAIT_NS = 20_000_000

    def _note_chunk(self, first_pos: int, now_ns: int) -> None:
        if len(self._chunk_pos) < self.MAX_CHUNKS:
            self._chunk_pos.append(first_pos)
            self._chunk_ns.append(now_ns)

    def _sample_rtt(self, idx: int, now_ns: int) -> None:
        # every reply while few samples exist, then one in 64 (the inverse costs microseconds)
        self.rtt_samples += 1
        if self.rtt_samples > 1024 and self.rtt_samples & 63 or not self._chunk_pos:
            return
        k = bisect.bisect_right(self._chunk_pos, self.perm.index(idx)) - 1
        if k < 0:
            return
        rtt = now_ns - self._chunk_ns[k]
        if 0 <= rtt < 10_000_000_000 and (self.rtt_max_ns is None or rtt > self.rtt_max_ns):
            self.rtt_max_ns = rtt

    def _wait(self, cap_ns: int) -> int:
        """A wait of at most `cap_ns`: four times the slowest round trip seen (at least
        MIN_ADAPTIVE_WAIT_NS) once replies have been timed, else the full `cap_ns` (nothing known yet)."""
        if not self.adaptive or self.rtt_max_ns is None:
            return cap_ns
        return min(cap_ns, max(4 * self.rtt_max_ns, self.MIN_ADAPTIVE_WAIT_NS))

    def _unanswered_indices(self) -> array.array:
        out = array.array("Q")
        bm = self.answered
        total = self.total
        for byte_i, b in enumerate(bm):
            if b == 0xFF:
                continue
            base = byte_i * 8
            for bit in range(8):
                if not b & (1 << bit) and base + bit < total:
                    out.append(base + bit)
        return out

    #: Up to this many unanswered probes, the first retry pass is timed per probe (an
    #: inverse permutation each, ~1 us); beyond it the pass starts one delay after pass 0.
    MAX_TIMED_RETRIES = 1 << 16

    def _end_pass(self, now_ns: int) -> None:
        self._order_sent_ns = None
        if self.pass_no < self.retries:
            todo = self._unanswered_indices()
            if todo and self.pass_no == 0 and self.adaptive and self._chunk_pos and \
                    len(todo) <= self.MAX_TIMED_RETRIES and len(self._chunk_pos) < self.MAX_CHUNKS:
                # Each probe is re-sent once its own pass-0 send is a round-trip allowance
                # old, not when the allowance has passed after the last probe of the pass:
                # most were sent long ago, so the retry pass starts at once. In pass-0 order
                # (the keyed permutation's, so still shuffled), which is also due order.
                pos = sorted((self.perm.index(i), i) for i in todo)
                cps, cns = self._chunk_pos, self._chunk_ns
                self._order = array.array("Q", [i for _p, i in pos])
                self._order_sent_ns = array.array(
                    "q", [cns[bisect.bisect_right(cps, p) - 1] for p, _i in pos])
                self.pass_no += 1
                self.cursor = 0
                self.pass_start_ns = now_ns
                return
            if todo:
                # Retry only the unanswered probes, in a keyed shuffled order (O(unanswered),
                # not another walk of the whole permutation).
                random.Random(self.secret + bytes([self.pass_no])).shuffle(todo)
                self._order = todo
                self.pass_no += 1
                self.cursor = 0
                self.pass_start_ns = now_ns + self._wait(self.retry_delay_ns)
                return
        self.end_ns = now_ns

    def advance(self, now_ns: int) -> list[ScanResult]:
        """Finish the scan once the final wait is over: unanswered probes are filtered."""
        if self.done or self.end_ns is None:
            return []
        if now_ns < self.end_ns + self._wait(self.wait_ns) and (
                self.answered_count < self.total or self.listen_only):
            return []
        self.done = True
        out = []
        for i in self._unanswered_indices():
            v, a, port = self.probe(i)
            out.append(ScanResult(addr=str(ipaddress.ip_address(a) if v == 4 else
                                           ipaddress.IPv6Address(a)), port=port,
                                  state=FILTERED, reason="no-response", ts_ns=now_ns))
        self.counts[FILTERED] += len(out)
        return out

    def unanswered(self):
        """Iterate (version, address int, port) of probes without an answer so far."""
        for i in self._unanswered_indices():
            yield self.probe(i)

    # -- receiving -------------------------------------------------------------------------
    def receive(self, ip: bytes | memoryview, now_ns: int) -> list[ScanResult]:
        """A captured IP datagram: a result when it answers one of our probes."""
        ip = bytes(ip)
        if len(ip) < 20:
            return []
        v = ip[0] >> 4
        if v == 4:
            ihl = (ip[0] & 0x0F) * 4
            proto, ttl = ip[9], ip[8]
            src, dst = int.from_bytes(ip[12:16], "big"), int.from_bytes(ip[16:20], "big")
            l4 = ihl
            if ip[6] & 0x3F or ip[7]:
                return []  # fragments are not replies we sent for
        elif v == 6 and len(ip) >= 40:
            proto, ttl = ip[6], ip[7]
            src, dst = int.from_bytes(ip[8:24], "big"), int.from_bytes(ip[24:40], "big")
            l4 = 40
        else:
            return []
        if proto == 6 and len(ip) >= l4 + 20:
            return self._tcp_reply(v, ip, l4, src, dst, ttl, now_ns)
        if (v == 4 and proto == 1) or (v == 6 and proto == 58):
            return self._icmp_reply(v, ip, l4, src, now_ns)
        return []

    def receive_batch(self, batch, now_ns: int, ts_offset_ns: int | None = None) -> list[ScanResult]:
        """A captured `_core.Batch`: TCP answers are matched from the Rust decode summaries
        (no per-packet parsing in Python); ICMP errors go through `receive`.

        ts_offset_ns: when given, the batch's capture timestamps plus this offset are times on
        the `now_ns` clock; round trips are then timed from them (the kernel's arrival time),
        not from when this call happened, so a busy caller does not inflate the waits."""
        n = len(batch)
        if not n:
            return []
        s = batch.summaries()
        # low flag byte -> 1 for ACK with SYN or RST (answers to a SYN), 0 otherwise
        cls = s["tcp_flags"].tobytes()[::2].translate(_ANSWER_CLASS)
        proto = s["proto"]
        out: list[ScanResult] = []
        for m in _ICMP_RE.finditer(proto.tobytes()):  # ICMP (1) and ICMPv6 (58) errors
            i = m.start()
            data = batch.data(i)
            out += self.receive(memoryview(data)[s["l3_offset"][i]:], now_ns)
        if not cls.strip(b"\x00"):
            return out
        ipver, src_col, sport_col, dport_col = s["ip_version"], s["src"], s["src_port"], s["dst_port"]
        ack_col, flags_col, ttl_col, win_col = s["tcp_ack"], s["tcp_flags"], s["ttl"], s["tcp_window"]
        secret = self.secret
        ts_col = batch.ts_ns() if ts_offset_ns is not None else None
        for m in _ANSWER_RE.finditer(cls):
            i = m.start()
            if proto[i] != 6:
                continue
            v = ipver[i]
            alen = 4 if v == 4 else 16
            raw = src_col[16 * i:16 * i + alen]
            sport, dport = sport_col[i], dport_col[i]
            idx = self._index_of(v, int.from_bytes(raw, "big"), sport)
            if idx is None or _scan_probe_seq(secret, v, raw, sport, dport) != (ack_col[i] - 1) & 0xFFFFFFFF:
                self.unmatched += 1
                continue
            self.replies += 1
            if self._is_answered(idx):
                self.duplicates += 1
                continue
            self._mark(idx)
            if ts_col is None:
                self._sample_rtt(idx, now_ns)
            else:
                at = ts_col[i] + ts_offset_ns
                self._sample_rtt(idx, at if at <= now_ns else now_ns)
            flags = flags_col[i]
            addr = socket.inet_ntop(socket.AF_INET if v == 4 else socket.AF_INET6, raw)
            if flags & 0x04:
                state, reason, reply = CLOSED, "rst", None
            else:
                data = batch.data(i)
                state, reason, reply = OPEN, "syn-ack", bytes(memoryview(data)[s["l3_offset"][i]:])
            self.counts[state] += 1
            out.append(ScanResult(addr=addr, port=sport, state=state, reason=reason, ttl=ttl_col[i],
                                  window=win_col[i], ts_ns=now_ns, reply=reply))
        return out

    def _tcp_reply(self, v, ip, l4, src, dst, ttl, now_ns) -> list[ScanResult]:
        sport, dport, _seq, ack, _off, flags, window = struct.unpack_from("!HHIIBBH", ip, l4)
        if not flags & 0x10 or not flags & 0x06:
            return []  # only SYN+ACK and RST+ACK answer a SYN
        idx = self._index_of(v, src, sport)
        if idx is None or probe_seq(self.secret, v, src, sport, dport) != (ack - 1) & 0xFFFFFFFF:
            self.unmatched += 1
            return []
        self.replies += 1
        if self._is_answered(idx):
            self.duplicates += 1
            return []
        self._mark(idx)
        self._sample_rtt(idx, now_ns)
        addr = socket.inet_ntop(socket.AF_INET, ip[12:16]) if v == 4 else \
            socket.inet_ntop(socket.AF_INET6, ip[8:24])
        if flags & 0x04:
            state, reason, reply = CLOSED, "rst", None
        elif flags & 0x02:
            state, reason, reply = OPEN, "syn-ack", ip
        else:
            return []
        self.counts[state] += 1
        return [ScanResult(addr=addr, port=sport, state=state, reason=reason, ttl=ttl,
                           window=window, ts_ns=now_ns, reply=reply)]

    def _icmp_reply(self, v, ip, l4, src, now_ns) -> list[ScanResult]:
        if len(ip) < l4 + 8:
            return []
        typ = ip[l4]
        if not ((v == 4 and typ == 3) or (v == 6 and typ == 1)):
            return []
        inner = ip[l4 + 8:]
        if v == 4:
            if len(inner) < 20 or inner[0] >> 4 != 4 or inner[9] != 6:
                return []
            il4 = (inner[0] & 0x0F) * 4
            idst = int.from_bytes(inner[16:20], "big")
        else:
            if len(inner) < 40 or inner[0] >> 4 != 6 or inner[6] != 6:
                return []
            il4 = 40
            idst = int.from_bytes(inner[24:40], "big")
        if len(inner) < il4 + 8:
            return []
        isport, idport, iseq = struct.unpack_from("!HHI", inner, il4)
        idx = self._index_of(v, idst, idport)
        if idx is None or probe_seq(self.secret, v, idst, idport, isport) != iseq:
            self.unmatched += 1
            return []
        self.replies += 1
        if self._is_answered(idx):
            self.duplicates += 1
            return []
        self._mark(idx)
        self._sample_rtt(idx, now_ns)
        self.counts[FILTERED] += 1
        fmt = (lambda x: str(ipaddress.IPv4Address(x))) if v == 4 else (
            lambda x: str(ipaddress.IPv6Address(x)))
        return [ScanResult(addr=fmt(idst), port=idport, state=FILTERED,
                           reason="icmp-unreachable", ts_ns=now_ns, icmp_from=fmt(src))]
