"""Hostile input: a flood of never-completed fragment trains stays under the caps, with the
cap anomalies counted, while well-formed trains interleaved with it still reassemble."""

from __future__ import annotations

import struct

import pytest

import wirekit
from wirekit.reasm.defrag import Defragmenter, DefragAnomaly

ETH = bytes.fromhex("020000000002020000000001") + b"\x08\x00"


def ipv4(src: int, ip_id: int, offset: int, more: bool, payload: bytes) -> bytes:
    flags_offset = (0x2000 if more else 0) | (offset // 8)
    return ETH + struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ip_id, flags_offset, 64, 17, 0, src, 0xC0A80001) + payload


def write_flood(path, flood: int, every: int) -> int:
    """`flood` lone first fragments of distinct datagrams (512 bytes each), with a complete
    2-fragment train after every `every` of them; 10 µs apart. Returns the train count."""
    rec = struct.Struct("<IIII")
    n = trains = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))

        def write(frame: bytes) -> None:
            nonlocal n
            ts_ns = 1_700_000_000_000_000_000 + n * 10_000
            f.write(rec.pack(ts_ns // 10**9, ts_ns % 10**9, len(frame), len(frame)) + frame)
            n += 1

        for i in range(flood):
            write(ipv4(0xAC100000 + (i >> 16), i & 0xFFFF, 0, True, b"f" * 512))
            if i % every == every - 1:
                write(ipv4(0x0A000001, trains, 0, True, b"a" * 64))
                write(ipv4(0x0A000001, trains, 64, False, b"b" * 10))
                trains += 1
    return trains


@pytest.fixture(scope="module")
def flood_pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("defrag") / "flood.pcap"
    return path, write_flood(path, flood=30_000, every=50)


@pytest.mark.parametrize("cap_policy", ["evict_oldest", "drop_new"])
def test_flood_stays_under_byte_cap(flood_pcap, cap_policy):
    path, trains = flood_pcap
    max_bytes = 1 << 19
    d = Defragmenter(max_bytes=max_bytes, max_datagrams=100_000, cap_policy=cap_policy)
    whole, events = [], []
    for batch in wirekit.open(path).batches():
        for item in d.feed(batch):
            (whole if isinstance(item, wirekit.Packet) else events).append(item)
        assert d.stats.bytes_buffered <= max_bytes
    s = d.stats
    assert s.peak_bytes_buffered <= max_bytes
    # 512 KiB holds about 600 flood datagrams of 512 bytes + bookkeeping: the rest hit the cap.
    assert s.anomalies["frag_cap_hit"] >= 29_000
    caps = [e for e in events if e.code == "frag_cap_hit"]
    assert {e.cap for e in caps} == {"bytes"}
    # Rate-limited to one event per second of capture time (0.3 s here), counts add up.
    assert len(caps) == 1 and caps[0].count == 1
    if cap_policy == "evict_oldest":
        # Old flood buffers make room: every legit train completes.
        assert len(whole) == trains == 600
        assert all(p.data[34:] == b"a" * 64 + b"b" * 10 for p in whole)
        assert s.datagrams_evicted == s.anomalies["frag_cap_hit"]
    else:
        # Nothing is evicted; new datagrams are refused once full (the small legit trains
        # still fit in the room a refused 512-byte flood fragment leaves, and free it again).
        assert s.datagrams_evicted == 0
        assert s.fragments_dropped == s.anomalies["frag_cap_hit"]
        assert s.datagrams_in_progress < 650
    # Time passing releases everything: one timeout per datagram held.
    held = s.datagrams_in_progress
    assert len(d.advance(d.next_deadline())) == 1
    expired = d.advance(2**62)
    assert len(expired) == held - 1 and all(e.code == "fragment_timeout" for e in expired)
    assert d.stats.bytes_buffered == 0 and d.stats.datagrams_in_progress == 0


def test_datagram_cap_and_per_datagram_fragment_cap():
    d = Defragmenter(max_datagrams=4, max_fragments_per_datagram=3, cap_event_interval_s=0)
    pkts = [wirekit.Packet(ipv4(0x0A000002, i, 0, True, b"x" * 8), ts_ns=i) for i in range(6)]
    events = [e for e in d.feed(pkts) if isinstance(e, DefragAnomaly)]
    assert [(e.code, e.cap, e.ip_id) for e in events] == [
        ("frag_cap_hit", "datagrams", 0),
        ("frag_cap_hit", "datagrams", 1),
    ]
    assert d.stats.datagrams_in_progress == 4
    # A datagram with too many fragments: the 4th is dropped.
    frags = [wirekit.Packet(ipv4(0x0A000003, 99, off, True, b"y" * 8), ts_ns=10) for off in (8, 16, 24, 32)]
    events = [e for e in d.feed(frags) if isinstance(e, DefragAnomaly)]
    assert [(e.code, e.cap, e.frag_offset) for e in events][-1] == ("frag_cap_hit", "fragments_per_datagram", 32)


def test_timeout_is_from_first_fragment_and_advance_reports_it():
    d = Defragmenter(timeout_s=2.0)
    first = wirekit.Packet(ipv4(0x0A000004, 7, 0, True, b"x" * 16), ts_ns=5_000_000_000)
    assert d.feed(first) == []
    assert d.next_deadline() == 7_000_000_000
    assert d.advance(6_999_999_999) == []
    (ev,) = d.advance(7_000_000_000)
    # byte_count: the 16 payload bytes held, not the byte-cap charge (headers + overhead).
    assert (ev.code, ev.src, ev.dst, ev.ip_id, ev.proto, ev.ts_ns, ev.byte_count) == (
        "fragment_timeout", "10.0.0.4", "192.168.0.1", 7, 17, 7_000_000_000, 16)
    assert d.next_deadline() is None
    # The rest of the train arriving late starts afresh and does not complete.
    late = wirekit.Packet(ipv4(0x0A000004, 7, 16, False, b"y" * 4), ts_ns=8_000_000_000)
    assert d.feed(late) == []
    assert d.stats.datagrams_in_progress == 1
