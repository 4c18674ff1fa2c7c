"""IPv4/IPv6 defragmentation: fragments in, whole packets and anomaly events out.

The engine is Rust (`wirekit_reasm::defrag`; its header is the theory of operation); this is
the Python face. It is sans-IO: it never reads a clock; time is the packets' `ts_ns` and the
`now_ns` given to `advance`.

    defrag = Defragmenter(policy="linux", policy_by_cidr={"10.1.0.0/16": "windows"})
    for batch in wirekit.open("trace.pcap").batches():
        for item in defrag.feed(batch):
            if isinstance(item, wirekit.Packet):      # a reassembled datagram
                print(item.decode())
            else:                                     # a DefragAnomaly
                print(item.code, item.src, item.dst)

A reassembled datagram is a `wirekit.Packet` whose `data` is the whole frame as if it came
unfragmented (link header and IP header of the first fragment, lengths and checksum fixed,
IPv6 fragment header removed), with the `ts_ns` of the fragment that completed it, so it
flows on into `decode()` and the TCP/UDP layers. `process()` gives the whole packet stream
with fragments replaced by the datagrams they make.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .. import _core
from .policy import OverlapPolicy, parse_policy, policy_pairs

__all__ = ["Defragmenter", "DefragAnomaly", "DefragStats", "Outcome"]


class Outcome(enum.IntEnum):
    """What `push` did with one packet."""

    NOT_FRAGMENT = 0  #: not a fragment (or an IPv6 atomic fragment): use it as it is
    HELD = 1  #: buffered, waiting for the rest of its datagram
    DROPPED = 2  #: rejected (malformed, oversized, cap); an event says why
    COMPLETED = 3  #: it completed a datagram


@dataclass(frozen=True, slots=True, kw_only=True)
class DefragAnomaly:
    """An anomaly (or expiry) of the defragmenter. Codes are in `wirekit.anomalies`."""

    code: str  #: stable snake_case code, e.g. "overlap_different_data", "fragment_timeout"
    ts_ns: int  #: time of the packet (or `advance` call) that raised it, ns since the epoch
    ip_version: int  #: 4 or 6
    src: str  #: source address, text form
    dst: str  #: destination address, text form
    ip_id: int  #: IPv4 identification or IPv6 fragment identification
    proto: int  #: IPv4 protocol (0 for IPv6: not part of its datagram key)
    frag_offset: int  #: byte offset of the fragment concerned (0 for datagram-level events)
    #: bytes concerned: the fragment's payload, or the payload bytes a timed-out, evicted or
    #: discarded datagram held (headers and bookkeeping overhead excluded)
    byte_count: int
    cap: str | None = None  #: for frag_cap_hit: "fragments_per_datagram", "datagrams" or "bytes"
    #: occurrences this event stands for: 1, except rate-limited frag_cap_hit events (this
    #: hit plus those suppressed since the previous one of the same cap; see Defragmenter)
    count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DefragStats:
    """Running totals of a `Defragmenter`."""

    fragments: int  #: fragments pushed (atomic fragments excluded)
    datagrams_completed: int
    datagrams_timed_out: int
    datagrams_evicted: int  #: evicted to respect a cap
    fragments_dropped: int
    datagrams_in_progress: int
    bytes_buffered: int  #: bytes held now (payload, headers, bookkeeping)
    peak_bytes_buffered: int
    anomalies: Mapping[str, int]  #: events raised per anomaly code


def _event(t: tuple) -> DefragAnomaly:
    ts_ns, code, cap, ip_version, src, dst, ip_id, proto, frag_offset, byte_count, count = t
    return DefragAnomaly(
        code=code,
        ts_ns=ts_ns,
        ip_version=ip_version,
        src=str(ipaddress.ip_address(src)),
        dst=str(ipaddress.ip_address(dst)),
        ip_id=ip_id,
        proto=proto,
        frag_offset=frag_offset,
        byte_count=byte_count,
        cap=cap,
        count=count,
    )


class Defragmenter:
    """Reassembles IPv4 and IPv6 fragments; see the module docstring.

    `policy`: overlap policy for destinations `policy_by_cidr` does not name (a name or an
    `OverlapPolicy`; default "bsd", Suricata's default). `policy_by_cidr`: mapping (or pairs)
    of destination CIDR -> policy, longest prefix wins. `timeout_s` / `timeout_ns`: a
    datagram is dropped this long after its first fragment (default 30 s, Linux's
    ipfrag_time). Caps: `max_fragments_per_datagram`, `max_datagrams`, `max_bytes`,
    `max_datagram_len` (<= 65535); `cap_policy` "evict_oldest" (default) or "drop_new"
    says what a datagram/byte cap does. Every cap hit is counted (`stats.anomalies`); its
    `frag_cap_hit` events are rate-limited to one per cap kind per `cap_event_interval_s`
    of capture time (default 1 s; 0 = an event per hit), each with the `count` it stands for.
    `discard_overlaps`: "never" (default: overlaps are resolved by the policy), "ipv6" (RFC
    5722: an IPv6 datagram with overlapping fragments is discarded whole, and its later
    fragments dropped until its timeout) or "always" (IPv4 too, as Linux since 4.19);
    each discard is an `overlap_datagram_discarded` event.
    """

    __slots__ = ("_engine", "policy")

    def __init__(
        self,
        policy: str | OverlapPolicy = "bsd",
        policy_by_cidr: Mapping[str, str | OverlapPolicy] | Iterable[tuple[str, str]] | None = None,
        *,
        timeout_s: float | None = None,
        timeout_ns: int | None = None,
        max_fragments_per_datagram: int = 256,
        max_datagrams: int = 8192,
        max_bytes: int = 32 << 20,
        max_datagram_len: int = 65535,
        cap_policy: str = "evict_oldest",
        cap_event_interval_s: float = 1.0,
        discard_overlaps: str = "never",
    ) -> None:
        if timeout_ns is None:
            timeout_ns = int(round((30.0 if timeout_s is None else timeout_s) * 1e9))
        elif timeout_s is not None:
            raise ValueError("give timeout_s or timeout_ns, not both")
        self.policy = parse_policy(policy)
        self._engine = _core.Defragmenter(
            policy=self.policy.value,
            policy_by_cidr=policy_pairs(policy_by_cidr),
            timeout_ns=timeout_ns,
            max_fragments_per_datagram=max_fragments_per_datagram,
            max_datagrams=max_datagrams,
            max_bytes=max_bytes,
            max_datagram_len=max_datagram_len,
            cap_policy=cap_policy,
            cap_event_interval_ns=int(round(cap_event_interval_s * 1e9)),
            discard_overlaps=discard_overlaps,
        )

    def feed(self, packet_or_batch) -> list:
        """Push a `Packet`, a `_core.Batch` or an iterable of packets. Returns, in order,
        the reassembled datagrams (`wirekit.Packet`) and then the `DefragAnomaly` events
        raised while pushing. Packets that are not fragments are not echoed (see
        `process`)."""
        if isinstance(packet_or_batch, _core.Batch):
            packets, events = self._engine.push_batch(packet_or_batch)
            return [*packets, *map(_event, events)]
        if isinstance(packet_or_batch, _core.Packet):
            packet_or_batch = (packet_or_batch,)
        out: list = []
        events: list = []
        for pkt in packet_or_batch:
            _, done, ev = self._engine.push(pkt)
            if done is not None:
                out.append(done)
            events.extend(ev)
        out.extend(map(_event, events))
        return out

    def push(self, packet) -> tuple[Outcome, object, list[DefragAnomaly]]:
        """Push one packet: `(outcome, reassembled Packet or None, events)`."""
        code, done, events = self._engine.push(packet)
        return Outcome(code), done, [_event(e) for e in events]

    def process(self, packets: Iterable) -> Iterator:
        """The packet stream with fragments replaced by their reassembled datagrams, in
        order of completion; `DefragAnomaly` events interleaved where they happen."""
        for pkt in packets:
            code, done, events = self._engine.push(pkt)
            for e in events:
                yield _event(e)
            if code == Outcome.NOT_FRAGMENT:
                yield pkt
            elif done is not None:
                yield done

    def advance(self, now_ns: int) -> list[DefragAnomaly]:
        """Expire datagrams whose deadline is <= now_ns (ns); returns their events."""
        return [_event(e) for e in self._engine.advance(int(now_ns))]

    def next_deadline(self) -> int | None:
        """When to call `advance` next (ns since the epoch): never later than the oldest
        datagram's expiry, possibly earlier (a spurious wake-up costs nothing); None when
        nothing is held."""
        return self._engine.next_deadline()

    @property
    def stats(self) -> DefragStats:
        raw = self._engine.stats()
        anomalies = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("anomaly:")}
        fields = {k: v for k, v in raw.items() if not k.startswith("anomaly:")}
        return DefragStats(**fields, anomalies=anomalies)
