"""Two-ended TCP reassembly tests: crafted segments, explicit time, exact events and bytes."""

from __future__ import annotations

import pytest

from wirekit.reasm import StreamData, StreamOpened

from .tcphelpers import ACK, FIN, PSH, RST, SYN, Pair, stream_bytes, summary

POLICIES = ["first", "last", "linux", "bsd", "bsd-right", "windows", "solaris"]


def test_handshake_data_both_ways_and_fin_close():
    p = Pair()
    assert summary(p.c(SYN, 1000)) == []
    assert summary(p.s(SYN | ACK, 5000, 1001)) == []
    assert summary(p.c(ACK, 1001, 5001)) == [("open",)]
    assert summary(p.c(PSH | ACK, 1001, 5001, b"GET / HTTP/1.0\r\n\r\n")) == [
        ("data", 0, 0, b"GET / HTTP/1.0\r\n\r\n")]
    assert summary(p.s(PSH | ACK, 5001, 1019, b"HTTP/1.0 200 OK\r\n")) == [("data", 1, 0, b"HTTP/1.0 200 OK\r\n")]
    assert summary(p.s(FIN | ACK, 5018, 1019)) == []
    assert summary(p.c(FIN | ACK, 1019, 5019)) == [("closed", "fin")]
    # The last ACK after close belongs to no connection: nothing.
    assert summary(p.s(ACK, 5019, 1020)) == []
    opened = p.events[0]
    assert isinstance(opened, StreamOpened)
    assert opened.key.addr == (("10.0.0.1", 40000), ("10.0.0.2", 80))
    assert opened.conn_id == p.events[-1].conn_id


def test_no_handshake_no_stream_by_default():
    p = Pair()
    assert summary(p.c(PSH | ACK, 1001, 5001, b"abc")) == []
    assert p.finish() == []


def test_syn_retransmission_is_one_connection():
    p = Pair()
    p.c(SYN, 1000)
    p.c(SYN, 1000)
    p.s(SYN | ACK, 5000, 1001)
    p.s(SYN | ACK, 5000, 1001)
    p.c(ACK, 1001, 5001)
    p.c(ACK, 1001, 5001, b"x")
    assert summary(p.events) == [("open",), ("data", 0, 0, b"x")]


def test_new_isn_before_handshake_restarts_connection():
    p = Pair()
    p.c(SYN, 1000)
    p.c(SYN, 7000)  # a new attempt with another ISN replaces the first
    p.s(SYN | ACK, 5000, 7001)
    p.c(ACK, 7001, 5001, b"hi")
    assert summary(p.events) == [("open",), ("data", 0, 0, b"hi")]


def test_synack_with_wrong_ack_is_ignored():
    p = Pair()
    p.c(SYN, 1000)
    p.s(SYN | ACK, 5000, 4242)
    p.c(ACK, 1001, 5001)
    assert summary(p.events) == [("anomaly", "tcp_synack_bad_ack")]


def test_simultaneous_open():
    # RFC 793 figure 8: both ends send SYN, then each SYN/ACK.
    p = Pair()
    p.c(SYN, 1000)
    p.s(SYN, 5000)
    p.c(SYN | ACK, 1000, 5001)
    p.s(SYN | ACK, 5000, 1001)
    p.c(ACK, 1001, 5001, b"ping")
    p.s(ACK, 5001, 1005, b"pong")
    assert summary(p.events) == [("open",), ("data", 0, 0, b"ping"), ("data", 1, 0, b"pong")]


def test_split_handshake_four_way():
    # Server answers the SYN with its own SYN, the client then SYN/ACKs (sv-split-handshake).
    p = Pair()
    p.c(SYN, 1000)
    p.s(SYN, 5000)
    p.c(SYN | ACK, 1000, 5001)
    p.s(ACK, 5001, 1001)
    p.c(PSH | ACK, 1001, 5001, b"abc")
    assert summary(p.events) == [("open",), ("data", 0, 0, b"abc")]


def test_reordered_segments_delivered_in_order():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001 + 6, 5001, b"ghi")
    p.c(ACK, 1001 + 3, 5001, b"def")
    assert summary(p.events)[1:] == []
    p.c(ACK, 1001, 5001, b"abc")
    assert summary(p.events)[1:] == [("data", 0, 0, b"abc"), ("data", 0, 3, b"def"), ("data", 0, 6, b"ghi")]


def test_retransmission_is_not_delivered_twice():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"abcdef")
    p.c(ACK, 1001, 5001, b"abcdef")
    p.c(ACK, 1004, 5001, b"defghi")  # partial retransmission: only "ghi" is new
    assert summary(p.events)[1:] == [("data", 0, 0, b"abcdef"), ("data", 0, 6, b"ghi")]


# Overlap geometries behind a hole, under every policy. Byte 0 is delivered, byte 1 is the
# hole; an "old" segment is queued, then a "new" one overlapping it, then the hole is filled.
# Expected results follow the pair rules of wirekit_reasm::policy (Novak's target-based model).
GEOMETRIES = {
    # name: (old (offset, bytes), new (offset, bytes), policies where new wins, old result, new result)
    "new_covers_old_starting_before": ((3, b"AA"), (2, b"bbbb"),
                                       {"last", "bsd", "linux", "bsd-right", "windows", "solaris"},
                                       b"01bAAb", b"01bbbb"),
    "same_start_same_end": ((2, b"AA"), (2, b"bb"), {"last", "linux", "bsd-right"}, b"01AA", b"01bb"),
    "new_starts_inside_ends_after": ((2, b"AA"), (3, b"bbb"), {"last", "bsd-right"}, b"01AAbb", b"01Abbb"),
    "new_inside_old": ((2, b"AAAA"), (3, b"bb"), {"last"}, b"01AAAA", b"01Abba"[:4] + b"bA"),
    "new_starts_before_ends_inside": ((3, b"AAA"), (2, b"bbb"), {"last", "bsd", "linux"}, b"01bAAA", b"01bbbA"),
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("geometry", sorted(GEOMETRIES))
def test_overlap_geometry_under_policy(policy, geometry):
    (oo, od), (no, nd), new_wins, old_result, new_result = GEOMETRIES[geometry]
    p = Pair(policy=policy)
    p.handshake()
    p.c(ACK, 1001, 5001, b"0")
    p.c(ACK, 1001 + oo, 5001, od)
    evs = p.c(ACK, 1001 + no, 5001, nd)
    assert ("anomaly", "tcp_overlap_conflict") in summary(evs)
    p.c(ACK, 1002, 5001, b"1")
    want = new_result if policy in new_wins else old_result
    assert stream_bytes(p.events, 0) == want


def test_overlap_geometry_table_is_consistent():
    # new_inside_old's "new" result is old bytes around the new ones.
    assert GEOMETRIES["new_inside_old"][4] == b"01AbbA"


@pytest.mark.parametrize("policy,want", [("first", b"GOOD"), ("windows", b"GOOD"), ("linux", b"EVIL"),
                                         ("last", b"EVIL"), ("bsd", b"GOOD")])
def test_in_order_conflicting_retransmission_on_ack(policy, want):
    # sv-tcp-overlap: "GOOD" then "EVIL" at the same sequence number before the ACK. With
    # delivery on ACK the receiver's policy decides which copy the stream carries.
    p = Pair(policy=policy, delivery="on_ack")
    p.handshake()
    p.c(ACK, 1001, 5001, b"GOOD")
    p.c(ACK, 1001, 5001, b"EVIL")
    assert stream_bytes(p.events, 0) == b""
    p.s(ACK, 5001, 1005)
    assert stream_bytes(p.events, 0) == want


def test_wrap_around_near_2_32():
    isn = 0xFFFFFFF0
    p = Pair()
    p.handshake(cisn=isn)
    base = (isn + 1) & 0xFFFFFFFF
    chunks = [bytes([65 + i]) * 10 for i in range(4)]
    order = [1, 0, 3, 2]
    for i in order:
        p.c(ACK, (base + 10 * i) & 0xFFFFFFFF, 5001, chunks[i])
    assert stream_bytes(p.events, 0) == b"".join(chunks)
    assert [e.offset for e in p.events if isinstance(e, StreamData)] == [0, 10, 20, 30]
    p.c(FIN | ACK, (base + 40) & 0xFFFFFFFF, 5001)
    p.s(FIN | ACK, 5001, (base + 41) & 0xFFFFFFFF)
    assert summary(p.events)[-1] == ("closed", "fin")


def test_rst_in_window_resets():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"abc")
    assert summary(p.s(RST | ACK, 5001, 1004)) == [("reset", 1)]
    assert summary(p.c(ACK, 1004, 5001, b"late")) == []


def test_rst_out_of_window_is_ignored():
    p = Pair()
    p.handshake()
    assert summary(p.s(RST, 5001 + 10_000_000, 0)) == [("anomaly", "tcp_rst_out_of_window")]
    assert summary(p.c(ACK, 1001, 5001, b"still")) == [("data", 0, 0, b"still")]


def test_rst_flushes_queued_data_with_gap():
    p = Pair()
    p.handshake()
    p.c(ACK, 1004, 5001, b"def")
    assert summary(p.c(RST, 1007)) == [("gap", 0, 0, 3), ("data", 0, 3, b"def"), ("reset", 0)]


def test_connection_reuse_after_close():
    p = Pair()
    p.handshake()
    p.c(FIN | ACK, 1001, 5001)
    p.s(FIN | ACK, 5001, 1002)
    first = p.events[0].conn_id
    p.events.clear()
    p.handshake(cisn=90000, sisn=70000)
    p.c(ACK, 90001, 70001, b"again")
    assert summary(p.events) == [("open",), ("data", 0, 0, b"again")]
    assert p.events[0].conn_id != first


def test_syn_on_half_closed_tuple_reuses_it():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"one")
    p.c(FIN | ACK, 1004, 5001)
    p.events.clear()
    p.c(SYN, 424242)
    assert summary(p.events) == [("closed", "reused")]


def test_syn_with_new_isn_on_established_is_anomaly():
    p = Pair()
    p.handshake()
    assert summary(p.c(SYN, 777)) == [("anomaly", "tcp_syn_on_established")]
    assert summary(p.c(ACK, 1001, 5001, b"ok")) == [("data", 0, 0, b"ok")]


def test_idle_timeout():
    p = Pair(idle_timeout_ns=5_000_000_000)
    p.handshake()
    p.c(ACK, 1003, 5001, b"cd")  # hole at [0, 2)
    deadline = p.r.next_deadline()
    assert deadline is not None and deadline <= p.now_ns + 5_000_000_000
    assert p.r.advance(p.now_ns + 1_000_000_000) == []
    evs = p.r.advance(p.now_ns + 5_000_000_000)
    assert summary(evs) == [("gap", 0, 0, 2), ("data", 0, 2, b"cd"), ("timeout",)]
    assert p.r.finish() == []


def test_handshake_timeout_forgets_silently():
    p = Pair(handshake_timeout_ns=1_000_000_000)
    p.c(SYN, 1000)
    assert p.r.advance(p.now_ns + 2_000_000_000) == []
    assert p.r.stats()["conns_in_table"] == 0


def test_midstream_off_and_on():
    p = Pair(midstream=True)
    p.s(ACK, 5001, 1001, b"HTTP/1.1 200 OK\r\n")
    p.c(ACK, 1001, 5018, b"more")
    assert summary(p.events) == [("anomaly", "tcp_midstream_pickup"), ("open", True),
                                 ("data", 1, 0, b"HTTP/1.1 200 OK\r\n"), ("data", 0, 0, b"more")]
    # Port heuristic: the side on port 80 is the server even though it spoke first.
    assert p.events[1].key.server_port == 80


def test_midstream_direction_from_synack():
    p = Pair(midstream=True, client=("10.0.0.1", 80), server=("10.0.0.2", 8080))
    p.s(SYN | ACK, 5000, 1001)
    p.c(ACK, 1001, 5001, b"x")
    opened = [e for e in p.events if isinstance(e, StreamOpened)]
    assert opened[0].key.server_port == 8080 and opened[0].midstream


def test_gap_before_fin_reported_at_close():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"ab")
    p.c(ACK, 1005, 5001, b"ef")  # [2, 4) never captured
    p.c(FIN | ACK, 1007, 5001)
    p.s(FIN | ACK, 5001, 1008)
    p.c(ACK, 1008, 5002)
    assert summary(p.events)[1:] == [("data", 0, 0, b"ab"), ("gap", 0, 2, 2), ("data", 0, 4, b"ef"),
                                     ("closed", "fin")]


def test_finish_delivers_open_streams_with_gaps():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"ab")
    p.c(ACK, 1010, 5001, b"zz")
    assert summary(p.finish()) == [("gap", 0, 2, 7), ("data", 0, 9, b"zz"), ("closed", "end_of_input")]


def test_conn_cap_evicts_oldest():
    p = Pair(max_conns=1)
    p.handshake()
    p.client = ("10.0.0.9", 41000)
    p.events.clear()
    p.c(SYN, 1)
    assert summary(p.events) == [("anomaly", "tcp_conn_cap"), ("closed", "evicted")]


def test_conn_cap_drop():
    p = Pair(max_conns=1, conn_cap_policy="drop")
    p.handshake()
    p.client = ("10.0.0.9", 41000)
    p.events.clear()
    p.c(SYN, 1)
    p.s(SYN | ACK, 2, 2)
    p.c(ACK, 2, 3)
    assert summary(p.events) == [("anomaly", "tcp_conn_cap")]
    assert p.r.stats()["conns_in_table"] == 1


def test_stream_buffer_cap_flushes_with_gap():
    p = Pair(max_buffer_per_stream=8)
    p.handshake()
    p.c(ACK, 1003, 5001, b"cdefgh")  # 6 bytes queued behind [0, 2)
    evs = p.c(ACK, 1009, 5001, b"ijkl")  # would make 10 > 8
    assert summary(evs) == [("anomaly", "tcp_stream_buffer_cap"), ("gap", 0, 0, 2), ("data", 0, 2, b"cdefgh"),
                            ("data", 0, 8, b"ijkl")]
    assert p.r.stats()["buffered_bytes"] == 0


def test_stream_buffer_cap_drop_and_stop_collecting():
    p = Pair(max_buffer_per_stream=8, buffer_cap_policy="drop")
    p.handshake()
    p.c(ACK, 1003, 5001, b"cdefgh")
    assert summary(p.c(ACK, 1009, 5001, b"ijkl")) == [("anomaly", "tcp_stream_buffer_cap")]
    p.c(ACK, 1001, 5001, b"ab")
    assert stream_bytes(p.events, 0) == b"abcdefgh"

    p = Pair(max_buffer_per_stream=8, buffer_cap_policy="stop_collecting")
    p.handshake()
    p.c(ACK, 1003, 5001, b"cdefgh")
    assert summary(p.c(ACK, 1009, 5001, b"ijkl")) == [("anomaly", "tcp_stream_buffer_cap")]
    p.c(ACK, 1001, 5001, b"ab")
    p.s(ACK, 5001, 1001, b"reply")
    assert stream_bytes(p.events, 0) == b""
    assert stream_bytes(p.events, 1) == b"reply"


def test_total_buffer_cap():
    p = Pair(max_buffer_total=4)
    p.handshake()
    evs = p.c(ACK, 1003, 5001, b"cdefgh")
    assert summary(evs) == [("anomaly", "tcp_total_buffer_cap"), ("gap", 0, 0, 2), ("data", 0, 2, b"cdefgh")]


def test_bad_checksum_is_anomaly_but_used():
    p = Pair()
    p.handshake()
    assert summary(p.c(ACK, 1001, 5001, b"abc", bad_checksum=True)) == [
        ("anomaly", "tcp_bad_checksum"), ("data", 0, 0, b"abc")]


def test_bad_checksum_dropped_for_configured_cidr():
    p = Pair(checksum_drop=["10.0.0.0/24"])
    p.handshake()
    assert summary(p.c(ACK, 1001, 5001, b"abc", bad_checksum=True)) == [("anomaly", "tcp_bad_checksum")]
    assert summary(p.c(ACK, 1001, 5001, b"abc")) == [("data", 0, 0, b"abc")]


def test_policy_table_per_receiver():
    p = Pair(policy="first", policy_table=[("10.0.0.2/32", "last")], delivery="on_ack")
    p.handshake()
    p.c(ACK, 1001, 5001, b"GOOD")
    p.c(ACK, 1001, 5001, b"EVIL")
    p.s(ACK, 5001, 1005, b"GOOD")
    p.s(ACK, 5001, 1005, b"EVIL")
    p.c(ACK, 1005, 5005)
    assert stream_bytes(p.events, 0) == b"EVIL"  # server 10.0.0.2: last wins
    assert stream_bytes(p.events, 1) == b"GOOD"  # client: default first


def test_ipv6_connection():
    p = Pair(client=("2001:db8::1", 50000), server=("2001:db8::2", 443))
    p.handshake()
    p.c(PSH | ACK, 1001, 5001, b"hello6")
    p.c(FIN | ACK, 1007, 5001)
    p.s(FIN | ACK, 5001, 1008)
    assert summary(p.events) == [("open",), ("data", 0, 0, b"hello6"), ("closed", "fin")]
    assert p.events[0].key.addr == (("2001:db8::1", 50000), ("2001:db8::2", 443))


def test_window_scaling_widens_rst_window():
    # With wscale 7 on both SYNs the server's window of 1000 means 128000 bytes: a RST
    # 100000 bytes ahead of the client's next sequence is inside it.
    p = Pair()
    p.c(SYN, 1000, wscale=7)
    p.s(SYN | ACK, 5000, 1001, wscale=7)
    p.c(ACK, 1001, 5001, window=1000)
    p.s(ACK, 5001, 1001, window=1000)
    assert summary(p.c(RST, 1001 + 100_000)) == [("reset", 0)]
    q = Pair()
    q.c(SYN, 1000)
    q.s(SYN | ACK, 5000, 1001)
    q.c(ACK, 1001, 5001, window=1000)
    q.s(ACK, 5001, 1001, window=1000)
    assert summary(q.c(RST, 1001 + 100_000)) == [("anomaly", "tcp_rst_out_of_window")]


def test_data_on_syn_fast_open():
    p = Pair()
    p.c(SYN, 1000, data=b"early")
    p.s(SYN | ACK, 5000, 1006)
    p.c(ACK, 1006, 5001)
    assert summary(p.events) == [("open",), ("data", 0, 0, b"early")]


def test_total_cap_drops_data_of_connections_not_yet_open():
    # Half-open connections sending data behind a hole (a memory attack): over the total
    # cap, the largest pre-handshake buffer is dropped (nothing can be forced out of it).
    p = Pair(max_buffer_total=100)
    p.c(SYN, 1000)
    p.c(ACK, 1011, 0, b"a" * 60)
    assert p.r.stats()["buffered_bytes"] == 60
    p.client = ("10.0.0.9", 41000)
    p.c(SYN, 3000)
    evs = p.c(ACK, 3011, 0, b"b" * 60)
    assert summary(evs) == [("anomaly", "tcp_total_buffer_cap")]
    assert p.r.stats()["buffered_bytes"] == 60
    assert p.finish() == []


def test_one_sided_capture_client_side_with_midstream():
    # Only the client's packets were captured: its ACK names the server's ISN + 1.
    p = Pair(midstream=True)
    p.c(SYN, 1000)
    p.c(ACK, 1001, 5001)
    p.c(ACK, 1001, 5001, b"abc")
    p.c(ACK, 1007, 5001, b"ghi")
    p.finish()
    assert summary(p.events) == [("open", True), ("data", 0, 0, b"abc"), ("gap", 0, 3, 3), ("data", 0, 6, b"ghi"),
                                 ("closed", "end_of_input")]
    q = Pair()  # without midstream pickup: nothing, as libnids
    q.c(SYN, 1000)
    q.c(ACK, 1001, 5001, b"abc")
    assert q.finish() == []


def test_one_sided_capture_server_side_with_midstream():
    p = Pair(midstream=True)
    p.s(SYN | ACK, 5000, 1001)
    p.s(PSH | ACK, 5001, 1001, b"* OK IMAP\r\n")
    assert summary(p.events) == [("anomaly", "tcp_midstream_pickup"), ("open", True), ("data", 1, 0, b"* OK IMAP\r\n")]


def test_data_after_fin_is_anomaly_not_stream_data_and_no_gap():
    # The client's FIN occupies sequence 1001; bytes at 1002 come after the end of its
    # stream: an anomaly, not delivered, and the FIN's slot is not reported as a gap.
    p = Pair()
    p.handshake()
    assert summary(p.c(ACK, 1001, 5001, b"ab")) == [("data", 0, 0, b"ab")]
    assert summary(p.c(FIN | ACK, 1003, 5001)) == []
    assert summary(p.c(PSH | ACK, 1004, 5001, b"xy")) == [("anomaly", "tcp_data_after_fin")]
    # A retransmission straddling the FIN keeps only its bytes before the FIN (none new).
    assert summary(p.c(PSH | ACK, 1002, 5001, b"bzz")) == [("anomaly", "tcp_data_after_fin")]
    assert summary(p.s(FIN | ACK, 5001, 1004)) == [("closed", "fin")]
    assert stream_bytes(p.events, 0) == b"ab"
    assert [e for e in summary(p.events) if e[0] == "gap"] == []


def test_rst_window_is_half_open():
    # RFC 793 section 3.3 / RFC 5961 section 3.2: acceptable when RCV.NXT <= SEG.SEQ <
    # RCV.NXT + RCV.WND. The client (receiver of the server's RST) acked 5001, window 1000.
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, window=1000)
    assert summary(p.s(RST, 5001 + 1000, 0)) == [("anomaly", "tcp_rst_out_of_window")]
    assert summary(p.s(RST, 5001 + 999, 0)) == [("reset", 1)]


def test_rst_with_zero_window_only_at_rcv_nxt():
    # RFC 793 section 3.3: with RCV.WND = 0 only SEG.SEQ = RCV.NXT is acceptable (a RST too).
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, window=0)
    assert summary(p.s(RST, 5002, 0)) == [("anomaly", "tcp_rst_out_of_window")]
    assert summary(p.s(RST, 5001, 0)) == [("reset", 1)]


def test_finish_stamps_close_with_last_packet_time_not_last_event():
    p = Pair()
    p.handshake()
    p.c(ACK, 1001, 5001, b"ab")
    data_ts = p.now_ns
    p.s(ACK, 5001, 1003)  # a pure ACK: no event, but it is the last packet fed
    last_packet_ts = p.now_ns
    assert last_packet_ts > data_ts
    evs = p.finish()
    assert summary(evs) == [("closed", "end_of_input")]
    assert evs[0].ts_ns == last_packet_ts
    assert evs[0].last_ts_ns == last_packet_ts


def test_finish_explicit_time_and_advance_time():
    p = Pair()
    p.handshake()
    assert [e.ts_ns for e in p.r.finish(now_ns=p.now_ns + 5)] == [p.now_ns + 5]
    q = Pair()
    q.handshake()
    assert q.r.advance(q.now_ns + 7) == []  # before the idle timeout
    assert [e.ts_ns for e in q.r.finish()] == [q.now_ns + 7]


def _closed_pair(**kw) -> Pair:
    p = Pair(midstream=True, **kw)
    p.handshake()
    p.c(PSH | ACK, 1001, 5001, b"hello")
    p.s(PSH | ACK, 5001, 1006, b"world")
    p.c(FIN | ACK, 1006, 5006)
    assert summary(p.s(FIN | ACK, 5006, 1007)) == [("closed", "fin")]
    return p


def test_late_segments_after_close_open_no_midstream_connection():
    p = _closed_pair()
    # The last ACK, a retransmitted request and a retransmitted response, all late.
    assert summary(p.c(ACK, 1007, 5007)) == []
    assert summary(p.c(PSH | ACK, 1001, 5001, b"hello")) == []
    assert summary(p.s(PSH | ACK, 5001, 1006, b"world")) == []
    assert summary(p.s(FIN | ACK, 5006, 1007)) == []
    assert p.finish() == []
    assert p.r.stats()["conns_created"] == 1


def test_after_time_wait_or_new_syn_the_tuple_is_free_again():
    p = _closed_pair()
    p.now_ns += 61_000_000_000  # past TIME_WAIT: midstream pickup applies again
    assert summary(p.c(PSH | ACK, 1001, 5001, b"hello")) == [
        ("anomaly", "tcp_midstream_pickup"), ("open", True), ("data", 0, 0, b"hello")]
    q = _closed_pair()
    assert summary(q.c(SYN, 90000)) == []
    assert summary(q.s(SYN | ACK, 70000, 90001)) == []
    assert summary(q.c(ACK, 90001, 70001)) == [("open",)]


def test_unrelated_sequence_on_closed_tuple_is_picked_up():
    p = _closed_pair()
    assert summary(p.c(PSH | ACK, 1_000_000_000, 5007, b"new")) == [
        ("anomaly", "tcp_midstream_pickup"), ("open", True), ("data", 0, 0, b"new")]
