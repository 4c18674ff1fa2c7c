"""FlowMeter has the shape every wirekit engine shares: feed(Batch | Packet | iterable),
advance(now_ns), next_deadline(); so wirekit.event.EngineDriver can run it."""

from __future__ import annotations

import struct

import pytest
import wirekit
from wirekit import Packet
from wirekit.event.driver import EngineDriver
from wirekit.flow import EndReason, FlowMeter

from .helpers import eth_ipv4, nfdump_csv, udp

S = 1_000_000_000


def _rows(recs):
    return sorted((r.src, r.dst, r.src_port, r.dst_port, r.proto, r.packets, r.bytes, r.first_ns,
                   r.last_ns, r.tcp_flags, int(r.end_reason)) for r in recs)


def test_feed_accepts_batch_packet_and_iterables(corpus):
    path = corpus / "flows" / "wikipedia.pcap"
    batches = list(wirekit.open(str(path), chunk_size=4096).batches())
    assert len(batches) > 2
    packets = [p for b in batches for p in b.packets()]

    by_batch = FlowMeter()
    out = [r for b in batches for r in by_batch.feed(b)] + by_batch.flush()
    by_packet = FlowMeter()
    out2 = [r for p in packets for r in by_packet.feed(p)] + by_packet.flush()
    mixed = FlowMeter()  # an iterator over a batch, a list of packets and single packets
    out3 = mixed.feed(iter([batches[0], packets[len(batches[0]):40], *packets[40:]])) + mixed.flush()
    assert len(out) == 57 and _rows(out) == _rows(out2) == _rows(out3)
    for m in (by_batch, by_packet, mixed):
        assert m.stats()["packets"] == len(packets) == 136
    with pytest.raises(TypeError):
        FlowMeter().feed(b"\x00" * 60)


def test_engine_driver_offline_matches_softflowd(corpus):
    """EngineDriver feeds whole batches; with the default timeouts nothing expires in this 6 s
    capture, so every flow comes out of flush(): the 57 flows softflowd exported (nfdump)."""
    m = FlowMeter()
    got = []
    driver = EngineDriver(m, got.extend)
    driver.run_offline(wirekit.open(str(corpus / "flows" / "wikipedia.pcap"), chunk_size=4096).batches())
    assert got == [] and driver.batches_fed > 2 and driver.packets_fed == 136
    flows = m.flush()
    protos = {"UDP": 17, "TCP": 6, "ICMP": 1, "ICMP6": 58}
    theirs = sorted((r["sa"], r["da"], int(r["sp"]), int(float(r["dp"])), protos[r["pr"].strip()],
                     int(r["ipkt"]), int(r["ibyt"]))
                    for r in nfdump_csv(corpus / "netflow" / "softflowd-v9.nfdump.csv"))
    assert len(flows) == len(theirs) == 57
    assert sorted((r.src, r.dst, r.src_port, r.dst_port, r.proto, r.packets, r.bytes) for r in flows) == theirs


def _expected_records(packets, idle_ns, linger_ns):
    """Independent model of unidirectional expiry: per 5-tuple, a record ends at the first
    packet at or after min(last + idle, FIN/RST + linger). Returns (records, packet times)."""
    state = {}  # key -> (last_ns, closing_at or None)
    records = 0
    for p in packets:
        d = p.data
        et = d[12:14]
        if et == b"\x08\x00":
            ihl = (d[14] & 15) * 4
            proto, src, dst, l4 = d[23], d[26:30], d[30:34], 14 + ihl
        elif et == b"\x86\xdd":
            proto, src, dst, l4 = d[20], d[22:38], d[38:54], 54
            assert proto in (6, 17, 58)
        else:
            continue
        flags = 0
        if proto in (6, 17):
            sp, dp = struct.unpack_from("!HH", d, l4)
            if proto == 6:
                flags = d[l4 + 13]
        elif proto in (1, 58):
            sp, dp = 0, d[l4] * 256 + d[l4 + 1]
        else:
            sp = dp = 0
        key = (src, dst, proto, sp, dp)
        t = p.ts_ns
        if key in state:
            last, closing = state[key]
            deadline = min(last + idle_ns, closing if closing is not None else last + idle_ns)
            assert t != deadline  # no tie: the model need not know how ties break
            if t > deadline:
                records += 1
                del state[key]
        last, closing = state.get(key, (t, None))
        if closing is None and flags & 0x05:
            closing = t + linger_ns
        state[key] = (t, closing)
    return records + len(state)


def test_engine_driver_offline_expires_between_batches(corpus):
    """A 1 s idle timeout and small batches: the driver's advance() calls expire flows as packet
    time passes; the total equals an independent per-key model of the timeouts."""
    path = corpus / "flows" / "wikipedia.pcap"
    packets = [p for b in wirekit.open(str(path)).batches() for p in b.packets()]
    want = _expected_records(packets, S, S // 2)
    m = FlowMeter(idle_timeout_s=1, fin_linger_s=0.5)
    got = []
    driver = EngineDriver(m, got.extend)
    driver.run_offline(wirekit.open(str(path), chunk_size=2048).batches())
    before_flush = len(got)
    got += m.flush()
    assert driver.advances > 0 and before_flush > 0
    assert EndReason.IDLE_TIMEOUT in {r.end_reason for r in got}
    assert len(got) == want
    assert sum(r.packets for r in got) == m.stats()["packets"] - m.stats()["non_ip"]


def test_engine_driver_with_packet_lists():
    """The driver also takes lists of Packets as 'batches' (the shape tests and live helpers use)."""
    frames = [[Packet(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(1000 + i, 53)), ts_ns=i * S)] for i in range(3)]
    m = FlowMeter(idle_timeout_s=1.5)
    got = []
    EngineDriver(m, got.extend).run_offline([_ListBatch(f) for f in frames])
    assert [(r.src_port, r.end_reason) for r in got] == [(1000, EndReason.IDLE_TIMEOUT)]


class _ListBatch(list):
    def ts_ns(self):
        return [p.ts_ns for p in self]
