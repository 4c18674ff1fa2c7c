"""Which SYNs and SYN+ACKs get fingerprinted: p0f 3.09b's connection bookkeeping, sans-IO.

Theory of operation
-------------------
p0f does not fingerprint every SYN+ACK: only the first one answering a SYN it saw (the
SYN's MSS is needed to read ``mss*N`` windows), and it does not re-fingerprint a
retransmitted SYN. `P0fObserver` keeps that bookkeeping so that its output can be compared
packet for packet with ``p0f -r``:

* SYN: a retransmission (same client, same sequence number) is ignored; any other SYN on
  a known connection replaces it. The SYN is fingerprinted against ``[tcp:request]``; when
  it matched a userland tool (nmap & co) the connection is forgotten, so its SYN+ACK is
  not fingerprinted either.
* SYN+ACK: fingerprinted against ``[tcp:response]`` only when it answers a known SYN and
  is the first SYN+ACK for it.
* FIN or RST ends a connection; an ACK before any SYN+ACK ends it too.
* The table is bounded (`max_flows`, default 1000 as p0f): when full, the oldest tenth is
  dropped (counted in `flows_evicted`). Connections older than `max_age_ns` (30 s) are
  expired every 50 packets, as p0f does.

With ``strict=False`` every SYN+ACK is fingerprinted (with the SYN's MSS when known), which
is what a passive service inventory wants when the capture starts mid-handshake.
Time comes in as ``ts_ns`` with each packet; nothing here reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .p0f import SPECIAL_MSS, SPECIAL_WIN, P0fDatabase, P0fMatch, packet_view
from .tcpsig import TCPFlag, TCPSignatureInput

__all__ = ["P0fObserver", "Observation"]

_SYN, _ACK, _FIN, _RST = TCPFlag.SYN, TCPFlag.ACK, TCPFlag.FIN, TCPFlag.RST


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """A fingerprinted SYN (``kind="syn"``, subject the client) or SYN+ACK (``"syn+ack"``,
    subject the server). `ts_ns` is the packet's capture time in nanoseconds."""

    kind: str
    client: str
    client_port: int
    server: str
    server_port: int
    ts_ns: int
    match: P0fMatch
    sig: TCPSignatureInput


class _Flow:
    __slots__ = ("client", "cport", "server", "sport", "created_s", "next_cli_seq",
                 "syn_mss", "acked", "sendsyn")

    def __init__(self, sig: TCPSignatureInput, ts_ns: int, mss: int):
        self.client, self.cport = sig.src, sig.src_port
        self.server, self.sport = sig.dst, sig.dst_port
        self.created_s = ts_ns // 1_000_000_000
        self.next_cli_seq = (sig.seq + 1) & 0xFFFFFFFF
        self.syn_mss = mss
        self.acked = False
        self.sendsyn = sig.window == SPECIAL_WIN and mss == SPECIAL_MSS


class P0fObserver:
    """Feed TCP segments in capture order; get `Observation`s for the fingerprinted ones."""

    EXPIRE_INTERVAL = 50

    def __init__(self, db: P0fDatabase, *, strict: bool = True, max_flows: int = 1000,
                 max_age_ns: int = 30_000_000_000):
        self.db = db
        self.strict = strict
        self.max_flows = max_flows
        self.max_age_s = max_age_ns // 1_000_000_000
        self._flows: OrderedDict[tuple, _Flow] = OrderedDict()
        self.packets = 0
        self.flows_evicted = 0
        self._last_expire_s = -1

    def _key(self, sig: TCPSignatureInput) -> tuple:
        return (sig.src, sig.src_port, sig.dst, sig.dst_port)

    def _lookup(self, sig: TCPSignatureInput) -> tuple[tuple | None, _Flow | None, bool]:
        k = (sig.src, sig.src_port, sig.dst, sig.dst_port)
        f = self._flows.get(k)
        if f is not None:
            return k, f, True
        k = (sig.dst, sig.dst_port, sig.src, sig.src_port)
        f = self._flows.get(k)
        if f is not None:
            return k, f, False
        return None, None, False

    def _expire(self, now_s: int) -> None:
        if now_s == self._last_expire_s:
            return
        self._last_expire_s = now_s
        while self._flows:
            k, f = next(iter(self._flows.items()))
            if now_s - f.created_s <= self.max_age_s:
                break
            del self._flows[k]

    def feed(self, sig: TCPSignatureInput, ts_ns: int) -> Observation | None:
        self.packets += 1
        if self.packets % self.EXPIRE_INTERVAL == 0:
            self._expire(ts_ns // 1_000_000_000)
        flags = sig.tcp_flags
        t = flags & (_SYN | _ACK | _FIN | _RST)
        if (not t or (flags & _SYN and flags & (_FIN | _RST))
                or (flags & _FIN and flags & _RST)):
            return None  # nonsensical flag combinations, as p0f ignores them
        key, f, to_srv = self._lookup(sig)
        if t == _SYN:
            if f is not None:
                if to_srv and ((f.next_cli_seq - 1) & 0xFFFFFFFF) == sig.seq:
                    return None  # retransmitted SYN
                del self._flows[key]
            view = packet_view(sig)
            if len(self._flows) > self.max_flows:
                for _ in range(1 + len(self._flows) // 10):
                    self._flows.popitem(last=False)
                    self.flows_evicted += 1
            nf = _Flow(sig, ts_ns, view.mss)
            k = self._key(sig)
            self._flows[k] = nf
            m = self.db._find(view, 0, 0)
            if m.label is not None and m.label.cls is None and not nf.sendsyn:
                del self._flows[k]  # a userland tool: p0f stops following it
            return Observation(kind="syn", client=sig.src, client_port=sig.src_port,
                               server=sig.dst, server_port=sig.dst_port, ts_ns=ts_ns,
                               match=m, sig=sig)
        if t == _SYN | _ACK:
            if f is None or to_srv or f.acked:
                if self.strict:
                    return None
                syn_mss = f.syn_mss if (f is not None and not to_srv) else 0
                m = self.db._find(packet_view(sig), 1, syn_mss)
                return Observation(kind="syn+ack", client=sig.dst, client_port=sig.dst_port,
                                   server=sig.src, server_port=sig.src_port, ts_ns=ts_ns,
                                   match=m, sig=sig)
            m = self.db._find(packet_view(sig), 1, f.syn_mss)
            if f.sendsyn:
                del self._flows[key]
            else:
                f.acked = True
                if m.label is not None and m.label.cls is None:
                    del self._flows[key]
            return Observation(kind="syn+ack", client=sig.dst, client_port=sig.dst_port,
                               server=sig.src, server_port=sig.src_port, ts_ns=ts_ns,
                               match=m, sig=sig)
        if t & (_FIN | _RST):
            if f is not None:
                del self._flows[key]
            return None
        if t == _ACK and f is not None and (f.sendsyn or not f.acked):
            del self._flows[key]
        return None
