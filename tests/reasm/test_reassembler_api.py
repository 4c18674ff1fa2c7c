"""The Pythonic Reassembler: want/collect, callbacks and their failures, sources, events."""

from __future__ import annotations

import dataclasses

import pytest

from wirekit import Packet
from wirekit import anomalies
from wirekit.reasm import Reassembler, StreamData, StreamOpened

from .tcphelpers import ACK, FIN, PSH, SYN, Pair, stream_bytes, summary, tcp_frame


def test_want_selects_directions():
    p = Pair(want=lambda opened: (True, False))
    p.handshake()
    p.c(PSH | ACK, 1001, 5001, b"request")
    p.s(PSH | ACK, 5001, 1008, b"response")
    assert stream_bytes(p.events, 0) == b"request"
    assert stream_bytes(p.events, 1) == b""


def test_want_sees_data_in_the_opening_segment():
    # The ACK completing the handshake carries data: the decision comes before it flows.
    seen = []
    p = Pair(want=lambda o: seen.append(o.key.server_port) or True)
    p.c(SYN, 1000)
    p.s(SYN | ACK, 5000, 1001)
    p.c(PSH | ACK, 1001, 5001, b"first")
    assert seen == [80]
    assert summary(p.events) == [("open",), ("data", 0, 0, b"first")]


def test_unwanted_streams_keep_nothing():
    p = Pair(want=lambda o: False)
    p.handshake()
    p.c(ACK, 1005, 5001, b"queued")  # out of order: would be buffered if collected
    assert p.r.stats()["buffered_bytes"] == 0
    p.c(FIN | ACK, 1011, 5001)
    p.s(FIN | ACK, 5001, 1012)
    assert summary(p.events) == [("open",), ("closed", "fin")]


def test_collect_false_default():
    p = Pair(collect=False)
    p.handshake()
    p.c(ACK, 1001, 5001, b"abc")
    assert summary(p.events) == [("open",)]
    p.r.set_collect(p.events[0].conn_id, True, True)
    p.c(ACK, 1004, 5001, b"def")
    # Offsets stay in stream coordinates even for bytes before collection started.
    assert summary(p.events)[1:] == [("data", 0, 3, b"def")]


def test_callback_exception_is_reported_and_run_goes_on():
    errors = []
    got = []
    p = Pair(on_error=errors.append)

    def bad(ev):
        raise RuntimeError("boom")

    p.r.on(bad)
    p.r.on(got.append, StreamData)
    p.handshake()
    p.c(ACK, 1001, 5001, b"abc")
    p.c(ACK, 1004, 5001, b"def")
    assert [e.data for e in got] == [b"abc", b"def"]
    assert len(errors) == 3  # open + two data events
    assert "RuntimeError: boom" in errors[0].traceback
    assert len(p.r.errors) == 3


def test_callback_exception_default_report_goes_to_stderr(capsys):
    p = Pair()
    p.r.on(lambda ev: 1 / 0)
    p.handshake()
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_want_exception_is_reported_and_stream_not_collected():
    errors = []

    def want(o):
        raise ValueError("nope")

    p = Pair(want=want, on_error=errors.append)
    p.handshake()
    p.c(ACK, 1001, 5001, b"abc")
    assert summary(p.events) == [("open",)]
    assert isinstance(errors[0].exception, ValueError)


def test_events_are_frozen_slotted_keyword_only():
    p = Pair()
    p.handshake()
    ev = p.events[0]
    assert isinstance(ev, StreamOpened)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.conn_id = 5  # type: ignore[misc]
    assert not hasattr(ev, "__dict__")
    with pytest.raises(TypeError):
        StreamOpened(1, ev.key, 0)  # type: ignore[misc]


def test_feed_accepts_lists_and_iterables_of_packets():
    frames = [
        tcp_frame("10.1.1.1", "10.1.1.2", 1234, 25, 10, 0, SYN),
        tcp_frame("10.1.1.2", "10.1.1.1", 25, 1234, 20, 11, SYN | ACK),
        tcp_frame("10.1.1.1", "10.1.1.2", 1234, 25, 11, 21, ACK, b"HELO x\r\n"),
    ]
    pkts = [Packet(f, ts_ns=i + 1) for i, f in enumerate(frames)]
    a = Reassembler().feed(pkts)
    b = Reassembler().feed(iter(pkts))
    assert summary(a) == summary(b) == [("open",), ("data", 0, 0, b"HELO x\r\n")]
    assert [e.ts_ns for e in a] == [3, 3]


def test_udp_and_ip_events():
    import struct
    import socket
    payload = b"dns?"
    udp = struct.pack("!HHHH", 5353, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.53"))
    frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp
    evs = Reassembler(udp=True, ip=True).feed(Packet(frame, ts_ns=7))
    assert [type(e).__name__ for e in evs] == ["IPPacket", "UDPDatagram"]
    assert evs[0].data == ip + udp and evs[0].proto == 17
    assert evs[1].addr == (("10.0.0.1", 5353), ("10.0.0.53", 53)) and evs[1].data == payload


def test_anomaly_codes_are_registered():
    for code in ("tcp_bad_checksum", "tcp_overlap_conflict", "tcp_rst_out_of_window", "tcp_conn_cap",
                 "tcp_stream_buffer_cap", "tcp_total_buffer_cap", "tcp_midstream_pickup"):
        assert code in anomalies.ALL


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="policy"):
        Reassembler(policy="nonsense")
    with pytest.raises(ValueError, match="cap policy"):
        Reassembler(conn_cap_policy="whatever")


def _batch_of(tmp_path, frames: list[bytes]):
    import struct

    import wirekit

    path = tmp_path / "raw.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000, i, len(fr), len(fr)) + fr)
    (batch,) = list(wirekit.open(str(path)).batches())
    return batch


def test_feed_raw_gives_the_tuples_the_events_are_made_of(tmp_path):
    from wirekit.reasm.reassembler import RAW_CLOSED, RAW_DATA, RAW_OPENED

    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    frames = [
        tcp_frame(*c[:1], *s[:1], c[1], s[1], 1000, 0, SYN),
        tcp_frame(*s[:1], *c[:1], s[1], c[1], 5000, 1001, SYN | ACK),
        tcp_frame(*c[:1], *s[:1], c[1], s[1], 1001, 5001, PSH | ACK, b"hello"),
        tcp_frame(*s[:1], *c[:1], s[1], c[1], 5001, 1006, PSH | ACK, b"world!"),
        tcp_frame(*c[:1], *s[:1], c[1], s[1], 1006, 5007, FIN | ACK),
        tcp_frame(*s[:1], *c[:1], s[1], c[1], 5007, 1007, FIN | ACK),
    ]
    batch = _batch_of(tmp_path, frames)
    raw_r, obj_r = Reassembler(), Reassembler()
    raw = raw_r.feed_raw(batch)
    objs = obj_r.feed(batch)
    assert [t[0] for t in raw] == [RAW_OPENED, RAW_DATA, RAW_DATA, RAW_CLOSED]
    assert [(t[2], t[3], t[5]) for t in raw if t[0] == RAW_DATA] == [(0, 0, b"hello"), (1, 0, b"world!")]
    assert [(t[10], t[11], t[12], t[13]) for t in raw[:1]] == [(bytes([10, 0, 0, 1]), 40000, bytes([10, 0, 0, 2]), 80)]
    # The event objects carry the same facts.
    assert [type(e).__name__ for e in objs] == ["StreamOpened", "StreamData", "StreamData", "StreamClosed"]
    assert [e.data for e in objs if isinstance(e, StreamData)] == [b"hello", b"world!"]
    assert [t[1] for t in raw] == [e.conn_id for e in objs]


def test_feed_raw_refuses_when_events_are_needed(tmp_path):
    batch = _batch_of(tmp_path, [tcp_frame("10.0.0.1", "10.0.0.2", 1, 2, 0, 0, SYN)])
    r = Reassembler()
    r.on(lambda ev: None)
    assert not r.raw_ok
    with pytest.raises(ValueError, match="no callbacks and no want"):
        r.feed_raw(batch)
    with pytest.raises(ValueError):
        Reassembler(want=lambda o: True).feed_raw(batch)


def test_set_collect_raw_stops_a_direction(tmp_path):
    from wirekit.reasm.reassembler import RAW_DATA

    c, s = "10.0.0.1", "10.0.0.2"
    r = Reassembler()
    opened = r.feed_raw(_batch_of(tmp_path, [
        tcp_frame(c, s, 40000, 80, 1000, 0, SYN),
        tcp_frame(s, c, 80, 40000, 5000, 1001, SYN | ACK),
        tcp_frame(c, s, 40000, 80, 1001, 5001, ACK),
    ]))
    conn_id = opened[0][1]
    assert r.set_collect_raw(conn_id, True, False) == []
    (tmp_path / "2").mkdir()
    raw = r.feed_raw(_batch_of(tmp_path / "2", [
        tcp_frame(c, s, 40000, 80, 1001, 5001, PSH | ACK, b"up"),
        tcp_frame(s, c, 80, 40000, 5001, 1003, PSH | ACK, b"down"),
    ]))
    assert [(t[2], t[5]) for t in raw if t[0] == RAW_DATA] == [(0, b"up")]
