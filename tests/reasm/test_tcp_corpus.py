"""TCP reassembly against real captures with expected outputs (../shared/corpus/tcp-reassembly):
PcapPlusPlus reassembled payloads byte for byte, suricata-verify overlap cases per policy,
Zeek conn.log byte counts."""

from __future__ import annotations

import pytest

import wirekit
from wirekit.reasm import Reassembler, StreamData, StreamGap, StreamOpened

from conftest import CORPUS

TCP = CORPUS / "tcp-reassembly"

pytestmark = pytest.mark.skipif(not TCP.is_dir(), reason=f"corpus not found at {TCP} (set WIREKIT_CORPUS)")


def conn_payloads(name: str, **kw) -> list[bytes]:
    """Per connection (in opening order): all reassembled payload in delivery order, both
    directions interleaved, as PcapPlusPlus' expected files are written."""
    out: dict[int, bytearray] = {}
    order: list[int] = []
    for ev in Reassembler(**kw).iter_events(wirekit.open(TCP / name).batches()):
        if isinstance(ev, StreamOpened):
            order.append(ev.conn_id)
            out[ev.conn_id] = bytearray()
        elif isinstance(ev, StreamData):
            out[ev.conn_id] += ev.data
    return [bytes(out[c]) for c in order]


PCPP = [
    ("one_tcp_stream.pcap", ["one_tcp_stream_output.txt"]),
    ("one_tcp_stream_max_seq.pcap", ["one_tcp_stream_output.txt"]),  # ISNs near 2^32
    ("one_http_stream_fin.pcap", ["one_http_stream_fin_output.txt"]),
    ("one_http_stream_fin2.pcap", ["one_http_stream_fin2_output.txt"]),
    ("one_http_stream_rst.pcap", ["one_http_stream_rst_output.txt"]),  # PPPoE
    ("three_http_streams.pcap", [f"three_http_streams_conn_{i}_output.txt" for i in (1, 2, 3)]),
    ("one_ipv6_http_stream.pcap", ["one_ipv6_http_stream.txt"]),
    ("four_ipv6_http_streams.pcap", [f"one_ipv6_http_stream{i}.txt" for i in (2, 3, 4)]),  # linktype 12
]


@pytest.mark.parametrize("pcap,expected", PCPP, ids=[p for p, _ in PCPP])
def test_pcapplusplus_reassembled_payload_byte_for_byte(pcap, expected):
    got = conn_payloads(pcap)
    for name in expected:
        want = (TCP / name).read_bytes()
        assert got.count(want) == 1, f"{name}: no connection reassembles to it ({[len(g) for g in got]})"


def test_three_http_streams_are_three_connections_in_order():
    got = conn_payloads("three_http_streams.pcap")
    assert len(got) == 3
    assert got == [g for g in got if g]  # none empty


def direction_bytes(name: str, **kw) -> dict[int, bytes]:
    out = {0: b"", 1: b""}
    for ev in Reassembler(**kw).iter_events(wirekit.open(TCP / name).batches()):
        if isinstance(ev, StreamData):
            out[int(ev.direction)] += ev.data
    return out


# sv-tcp-overlap: "GOOD" then "EVIL" at the same sequence numbers before the ACK.
@pytest.mark.parametrize("policy,want", [("first", b"GOOD"), ("windows", b"GOOD"), ("bsd", b"GOOD"),
                                         ("linux", b"EVIL"), ("old-linux", b"EVIL"), ("last", b"EVIL")])
def test_suricata_overlap_same_range(policy, want):
    assert direction_bytes("sv-tcp-overlap.pcap", policy=policy, delivery="on_ack")[0] == want


def test_suricata_overlap_host_os_policy_table():
    # eve-overlap-payload-02-policy-oldlinux: windows by default, old-linux for 2.2.2.2.
    table = [("0.0.0.0/0", "windows"), ("2.2.2.2", "old-linux")]
    assert direction_bytes("sv-tcp-overlap.pcap", policy_table=table, delivery="on_ack")[0] == b"EVIL"
    table = [("0.0.0.0/0", "windows")]
    assert direction_bytes("sv-tcp-overlap.pcap", policy_table=table, delivery="on_ack")[0] == b"GOOD"


# sv-tcp-overlap2: "GOOD" at 1..5 then "XXX" at 2..5: the stream keeps GOOD except where the
# receiver's policy lets the later, right-aligned copy win.
@pytest.mark.parametrize("policy,want", [("first", b"GOOD"), ("windows", b"GOOD"), ("linux", b"GOOD"),
                                         ("bsd-right", b"GOOD"), ("last", b"GXXX")])
def test_suricata_partial_overlap(policy, want):
    assert direction_bytes("sv-tcp-overlap2.pcap", policy=policy, delivery="on_ack")[0] == want


def test_immediate_delivery_keeps_first_copy():
    # libnids' model: in-order bytes go out at once, a later copy cannot change them.
    assert direction_bytes("sv-tcp-overlap.pcap", policy="last")[0] == b"GOOD"


def zeek_conn_rows(log: str) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in (TCP / log).read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


ZEEK = [
    ("miss_end_data.pcap", "miss_end_data.zeek.core.tcp.miss-end-data.conn.log"),
    ("missing-syn.pcap", "missing-syn.zeek.core.tcp.missing-syn.conn.log"),
    ("http-on-irc-port-missing-syn.pcapng", "http-on-irc-port-missing-syn.zeek.core.tcp.flip-without-syn.conn.log"),
    ("retransmit-fast009.pcap", "retransmit-fast009.zeek.core.tcp.rxmit-history.conn-1.log"),
]


@pytest.mark.parametrize("pcap,log", ZEEK, ids=[p for p, _ in ZEEK])
def test_zeek_conn_log_byte_counts(pcap, log):
    # Zeek's orig_bytes/resp_bytes count sequence space (missed bytes included); missed_bytes
    # are the holes. Ours: delivered + gap bytes per direction, gap bytes summed.
    counts: dict[tuple, list[int]] = {}
    for ev in Reassembler(midstream=True).iter_events(wirekit.open(TCP / pcap).batches()):
        if isinstance(ev, (StreamData, StreamGap)):
            k = ev.key
            c = counts.setdefault((k.client, k.client_port, k.server, k.server_port), [0, 0, 0])
            n = len(ev.data) if isinstance(ev, StreamData) else ev.length
            c[int(ev.direction)] += n
            if isinstance(ev, StreamGap):
                c[2] += n
    for row in zeek_conn_rows(log):
        if row["orig_bytes"] == "-":
            continue
        key = (row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"], int(row["id.resp_p"]))
        assert counts[key] == [int(row["orig_bytes"]), int(row["resp_bytes"]), int(row["missed_bytes"])], key


def test_midstream_pickup_is_off_by_default():
    assert conn_payloads("missing-syn.pcap") == []


def test_one_sided_capture_with_missing_packet():
    # Only the client side was captured, and its segment 1420:2840 is missing: with midstream
    # pickup the stream is followed, the hole is a gap (never zero-filled), and the server's
    # bytes the client acknowledged but the capture never saw are a gap too.
    evs = list(Reassembler(midstream=True).iter_events(
        wirekit.open(TCP / "unidirectional_tcp_stream_with_missing_packet.pcap").batches()))
    gaps = [(int(e.direction), e.offset, e.length) for e in evs if isinstance(e, StreamGap)]
    assert gaps[0] == (0, 1420, 1420)
    assert gaps[-1][0] == 1 and gaps[-1][1] == 0
    first = next(e for e in evs if isinstance(e, StreamData))
    assert first.offset == 0 and first.data.startswith(b"POST /GetSearchMultipleSuggestions.ashx HTTP/1.1")


def test_one_sided_server_capture_imap():
    got = direction_bytes("sv-tcp-async-imap.pcap", midstream=True)
    assert got[0] == b""
    assert got[1].startswith(b"* OK")
