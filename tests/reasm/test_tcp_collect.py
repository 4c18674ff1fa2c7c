"""Collect decisions (libnids' `collect`) and sequence bases: a direction no longer collected
yields no data and no gap, and no gap is ever computed from a sequence base never learned."""

from __future__ import annotations

import pytest

import wirekit
from wirekit.reasm import Reassembler, StreamData, StreamGap, StreamOpened

from conftest import CORPUS

from .tcphelpers import ACK, PSH, RST, Pair, summary

FLASH = CORPUS / "banners" / "flash-version.pcap"


def test_rst_with_data_from_side_never_seen_is_not_a_gap_from_base_zero():
    # Midstream pickup from the client's data: the server's ISN is unknown. Its RST carries
    # diagnostic text (RFC 1122 4.2.2.12) at sequence 652380428: that is its offset 0, not a
    # 652380428-byte hole after a base of 0.
    p = Pair(midstream=True)
    assert summary(p.c(PSH | ACK, 1001, 5001, b"abc")) == [
        ("anomaly", "tcp_midstream_pickup"), ("open", True), ("data", 0, 0, b"abc")]
    assert summary(p.s(RST | ACK, 652380428, 1004, b"diag")) == [("data", 1, 0, b"diag"), ("reset", 1)]


def test_uncollected_directions_yield_no_data_and_no_gap():
    p = Pair()
    p.handshake()
    conn_id = p.events[0].conn_id
    p.c(ACK, 1001, 5001, b"ab")
    p.c(ACK, 1005, 5001, b"ef")  # [2, 4) missing, queued
    assert summary(p.r.set_collect(conn_id, False, True)) == []
    assert summary(p.c(ACK, 1003, 5001, b"cd")) == []
    assert summary(p.s(ACK, 5001, 1007, b"xy")) == [("data", 1, 0, b"xy")]
    assert summary(p.r.set_collect(conn_id, False, False)) == []
    assert summary(p.s(ACK, 5004, 1007, b"zz")) == []  # a hole in the uncollected direction
    assert summary(p.finish()) == [("closed", "end_of_input")]


@pytest.mark.skipif(not FLASH.is_file(), reason=f"corpus capture not found: {FLASH}")
@pytest.mark.parametrize("midstream", [False, True])
def test_flash_version_set_collect_off_at_every_packet(midstream):
    packets = [pkt for b in wirekit.open(FLASH).batches() for pkt in b.packets()]
    for cut in range(len(packets)):
        r = Reassembler(midstream=midstream)
        after: list = []
        conn_ids: list[int] = []
        for i, pkt in enumerate(packets):
            evs = r.feed(pkt)
            conn_ids += [e.conn_id for e in evs if isinstance(e, StreamOpened)]
            if i > cut:
                after += evs
            if i == cut and conn_ids:
                after += r.set_collect(conn_ids[-1], False, False)
        after += r.finish()
        assert conn_ids == [1]
        if cut >= 2:  # the connection opened at packet 2 and was switched off at `cut`
            assert [e for e in after if isinstance(e, (StreamData, StreamGap))] == [], cut
