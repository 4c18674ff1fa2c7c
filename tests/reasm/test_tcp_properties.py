"""Property tests (hypothesis): any arrival order, duplication, overlap (with consistent
bytes), loss, FIN/RST placement and policy gives contiguous Data/Gap events per direction
whose bytes are exactly the sender's bytes at those offsets; nothing is zero-filled."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wirekit.reasm import StreamData, StreamGap

from .tcphelpers import ACK, FIN, RST, Pair

POLICIES = ["first", "last", "linux", "bsd", "bsd-right", "windows", "solaris"]


@st.composite
def scenario(draw):
    size = draw(st.integers(min_value=1, max_value=300))
    truth = bytes(draw(st.lists(st.integers(0, 255), min_size=size, max_size=size)))
    segs = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 64)), min_size=1, max_size=30))
    order = draw(st.permutations(range(len(segs))))
    policy = draw(st.sampled_from(POLICIES))
    delivery = draw(st.sampled_from(["immediate", "on_ack"]))
    isn = draw(st.sampled_from([1000, 0xFFFFFF00, 0xFFFFFFFF, 0x7FFFFFF0]))
    ending = draw(st.sampled_from(["finish", "fin", "rst"]))
    cap = draw(st.sampled_from([1 << 20, 64]))
    return truth, [segs[i] for i in order], policy, delivery, isn, ending, cap


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_delivered_bytes_are_the_senders_bytes(sc):
    truth, segs, policy, delivery, isn, ending, cap = sc
    p = Pair(policy=policy, delivery=delivery, max_buffer_per_stream=cap)
    p.handshake(cisn=isn)
    base = (isn + 1) & 0xFFFFFFFF
    for off, ln in segs:
        p.c(ACK, base + off, 5001, truth[off:off + ln])
        if delivery == "on_ack" and off % 3 == 0:
            p.s(ACK, 5001, base + off)
    if ending == "fin":
        p.c(FIN | ACK, base + len(truth), 5001)
        p.s(FIN | ACK, 5001, base + len(truth) + 1)
        p.c(ACK, base + len(truth) + 1, 5002)
    elif ending == "rst":
        p.c(RST, base + len(truth))
    p.finish()
    pos = 0
    for ev in p.events:
        if isinstance(ev, StreamData):
            assert ev.direction == 0
            assert ev.offset == pos
            assert ev.data == truth[ev.offset:ev.offset + len(ev.data)]
            pos += len(ev.data)
        elif isinstance(ev, StreamGap):
            assert ev.offset == pos and ev.length > 0
            pos += ev.length
    covered = set()
    for off, ln in segs:
        covered.update(range(off, min(off + ln, len(truth))))
    # Every byte that arrived was delivered (or, after a cap, accounted as gap), and the
    # stream never runs past what was sent.
    assert pos <= len(truth) + 0
    if cap >= 1 << 20:
        end = max(covered) + 1
        assert pos >= end
