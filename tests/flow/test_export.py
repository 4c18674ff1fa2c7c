"""Encoders: hand-checked header/record bytes, datagram limits, templates, sequence numbers,
padding, biflow elements, and encoder -> collector round trips field for field."""

from __future__ import annotations

import struct

import pytest
from wirekit.flow import EndReason, FlowRecord
from wirekit.flow.collect import Collector, sniff
from wirekit.flow.export import (
    IPFIXEncoder,
    V1Encoder,
    V5Encoder,
    V9Encoder,
    parse_hostport,
)
from wirekit.flow.ies import PEN_REVERSE

from .helpers import meter_file

START = 1_700_000_000_123_456_789


def rec(i=0, **kw):
    d = dict(src="10.0.0.1", dst="10.0.0.2", src_port=1000 + i, dst_port=80, proto=6, packets=3,
             bytes=180, first_ns=START + 1_500_000, last_ns=START + 2_000_500_000, tcp_flags=0x1B,
             tos=0x10, ttl_min=60, ttl_max=64, end_reason=EndReason.IDLE_TIMEOUT)
    d.update(kw)
    return FlowRecord(**d)


def test_v5_header_and_record_bytes():
    enc = V5Encoder(start_ns=START)
    (dg,) = enc.encode([rec()], 1_700_000_005_000_000_000)
    assert dg.hex() == (
        "0005" "0001" "0000130d" "6553f105" "00000000" "00000000" "00" "00" "0000"  # 4877 ms up
        "0a000001" "0a000002" "00000000" "0000" "0000" "00000003" "000000b4"
        "00000001" "000007d0" "03e8" "0050" "00" "1b" "06" "10" "0000" "0000" "00" "00" "0000")
    assert enc.flow_sequence == 1


def test_v1_record_bytes_and_24_record_limit():
    enc = V1Encoder(start_ns=START)
    dgs = enc.encode([rec(i) for i in range(50)], 1_700_000_005_000_000_000)
    assert [struct.unpack_from("!HH", d) for d in dgs] == [(1, 24), (1, 24), (1, 2)]
    assert [len(d) for d in dgs] == [16 + 48 * 24, 16 + 48 * 24, 16 + 48 * 2]
    assert dgs[0][:16].hex() == "0001" "0018" "0000130d" "6553f105" "00000000"
    assert dgs[0][16:64].hex() == (
        "0a000001" "0a000002" "00000000" "0000" "0000" "00000003" "000000b4" "00000001"
        "000007d0" "03e8" "0050" "0000" "06" "10" "1b" "000000" "00000000")
    assert all(sniff(d) == 1 for d in dgs)


def test_v1_v5_skip_ipv6_and_split_biflows():
    enc = V5Encoder(start_ns=START)
    v6 = rec(src="2001:db8::1", dst="2001:db8::2", ip_version=6)
    bi = rec(biflow=True, rev_packets=2, rev_bytes=100, rev_first_ns=START + 2_000_000,
             rev_last_ns=START + 3_000_000, rev_tcp_flags=0x12)
    (dg,) = enc.encode([v6, bi], START + 5_000_000_000)
    recs = Collector().feed(dg, ("192.0.2.1", 9), 0)
    assert enc.skipped_ipv6 == 1
    assert [(r["src"], r["src_port"], r["packets"], r["bytes"], r["tcp_flags"]) for r in recs] == [
        ("10.0.0.1", 1000, 3, 180, 0x1B), ("10.0.0.2", 80, 2, 100, 0x12)]


def _sets(dg, hdr_len):
    out, off = [], hdr_len
    while off < len(dg):
        sid, ln = struct.unpack_from("!HH", dg, off)
        out.append((sid, ln))
        off += ln
    return out


def test_v9_templates_first_and_refreshed_by_count_and_time():
    enc = V9Encoder(start_ns=START, source_id=7, template_refresh_packets=2, template_refresh_s=60)
    t = START
    sent = []
    for i in range(4):
        t += 1_000_000_000
        sent += enc.encode([rec(i, first_ns=t - 10, last_ns=t - 5)], t)
    assert [_sets(d, 20)[0][0] for d in sent] == [0, 256, 0, 256]
    # Header: version, count (template records + data records), uptime, secs, sequence, source id.
    v, count, up, secs, seq, sid = struct.unpack_from("!HHIIII", sent[0])
    assert (v, count, seq, sid) == (9, 3, 0, 7)
    assert [struct.unpack_from("!I", d, 12)[0] for d in sent] == [0, 1, 2, 3]
    # Time refresh: 61 s later, templates again even though the count is not reached.
    enc2 = V9Encoder(start_ns=START, template_refresh_packets=100, template_refresh_s=60)
    a = enc2.encode([rec()], START + 3 * 10**9)
    b = enc2.encode([rec()], START + 10 * 10**9)
    c = enc2.encode([rec()], START + 70 * 10**9)
    assert [_sets(d[0], 20)[0][0] for d in (a, b, c)] == [0, 256, 0]


def test_v9_export_time_makes_record_times_exact_and_never_negative():
    enc = V9Encoder(start_ns=START)
    r = rec()
    (dg,) = enc.encode([r], r.last_ns)
    v, count, up, secs, seq, sid = struct.unpack_from("!HHIIII", dg)
    assert secs * 10**9 >= r.last_ns  # exported at the next whole second, not before the flow ended
    (got,) = Collector().feed(dg, ("192.0.2.1", 9), 0)
    assert (got["first_ms"], got["last_ms"]) == (r.first_ns // 10**6, r.last_ns // 10**6)
    assert got["first_switched"] <= got["last_switched"] <= up


def test_ipfix_sequence_padding_and_length():
    enc = IPFIXEncoder(start_ns=START, source_id=42)
    d1 = enc.encode([rec(i) for i in range(3)], START + 5 * 10**9)
    d2 = enc.encode([rec(i) for i in range(2)], START + 6 * 10**9)
    for d in d1 + d2:
        v, length, secs, seq, dom = struct.unpack_from("!HHIII", d)
        assert (v, length, dom) == (10, len(d), 42)
        assert all(ln % 4 == 0 for _, ln in _sets(d, 16))
    # Sequence = data records sent before this message in the domain (RFC 7011 3.1).
    assert struct.unpack_from("!I", d1[0], 8)[0] == 0
    assert struct.unpack_from("!I", d2[0], 8)[0] == 3
    # Data set of 3 IPv4 records of 57 bytes = 4 + 171 + 1 zero padding octet.
    assert _sets(d1[0], 16)[1] == (256, 4 + 3 * 57 + 1)
    off = 16 + _sets(d1[0], 16)[0][1]
    assert d1[0][off + 4 + 171:off + 176] == b"\0"


def test_ipfix_biflow_uses_rfc5103_reverse_elements():
    enc = IPFIXEncoder(start_ns=START, bidirectional=True)
    bi = rec(biflow=True, rev_packets=2, rev_bytes=100, rev_first_ns=START + 2_000_000,
             rev_last_ns=START + 3_000_000_000, rev_tcp_flags=0x12, rev_tos=0)
    (dg,) = enc.encode([bi], START + 5 * 10**9)
    # Template 256 carries enterprise elements: id | 0x8000, length, PEN 29305.
    assert struct.pack("!HHI", 0x8000 | 2, 8, PEN_REVERSE) in dg
    assert struct.pack("!HHI", 0x8000 | 1, 8, PEN_REVERSE) in dg
    (got,) = Collector().feed(dg, ("192.0.2.1", 9), 0)
    assert (got["packets"], got["bytes"], got["rev_packets"], got["rev_bytes"]) == (3, 180, 2, 100)
    assert (got["rev_first_ms"], got["rev_last_ms"]) == ((START + 2_000_000) // 10**6, (START + 3_000_000_000) // 10**6)
    assert got["rev_tcp_flags"] == 0x12 and got["end_reason"] == 1


def test_v9_and_ipfix_sampling_options_announced():
    for enc, hdr in ((V9Encoder(start_ns=START, sampling_interval=100), 20),
                     (IPFIXEncoder(start_ns=START, sampling_interval=100), 16)):
        (dg,) = enc.encode([rec()], START + 5 * 10**9)
        c = Collector()
        (got,) = c.feed(dg, ("192.0.2.1", 9), 0)
        assert c.stats["options_templates"] == 1 and c.stats["options_records"] == 1
        assert got["sampling_interval"] == 100


def test_collector_holds_data_until_template_then_drops_after_hold_time():
    enc = V9Encoder(start_ns=START, template_refresh_packets=100)
    first = enc.encode([rec(0)], START + 10**9)[0]   # templates + data
    later = enc.encode([rec(1)], START + 2 * 10**9)[0]  # data only
    c = Collector(hold_s=5)
    assert c.feed(later, ("192.0.2.1", 9), 0) == []
    got = c.feed(first, ("192.0.2.1", 9), 1)
    assert sorted(r["src_port"] for r in got) == [1000, 1001]
    c2 = Collector(hold_s=5)
    c2.feed(later, ("192.0.2.1", 9), 0)
    c2.advance(6 * 10**9)
    assert c2.stats["data_dropped_no_template"] == 1


@pytest.mark.parametrize("enc_cls", [V1Encoder, V5Encoder, V9Encoder, IPFIXEncoder])
def test_round_trip_corpus_flows(corpus, enc_cls):
    flows, _ = meter_file(corpus / "flows" / "wikipedia.pcap")
    start = min(f.first_ns for f in flows)
    enc = enc_cls(start_ns=start)
    dgs = enc.encode(flows, max(f.last_ns for f in flows))
    c = Collector()
    recs = [r for d in dgs for r in c.feed(d, ("192.0.2.1", 9), 0)]
    v4only = enc_cls in (V1Encoder, V5Encoder)
    want = sorted((f.src, f.dst, f.src_port, f.dst_port, f.proto, f.packets, f.bytes, f.tcp_flags,
                   f.first_ns // 10**6, f.last_ns // 10**6) for f in flows if f.ip_version == 4 or not v4only)
    got = sorted((r["src"], r["dst"], r["src_port"], r["dst_port"], r["proto"], r["packets"], r["bytes"],
                  r["tcp_flags"], r["first_ms"], r["last_ms"]) for r in recs)
    assert got == want
    assert len(got) == (54 if v4only else 57)
    assert c.stats["malformed"] == 0 and all(len(d) <= 1500 for d in dgs)


def test_parse_hostport():
    assert parse_hostport("127.0.0.1:2055") == ("127.0.0.1", 2055)
    assert parse_hostport("[::1]:4739") == ("::1", 4739)
    assert parse_hostport("9995", default_host="0.0.0.0") == ("0.0.0.0", 9995)
    with pytest.raises(ValueError):
        parse_hostport("::1:4739")


@pytest.mark.parametrize("enc_cls,bi", [(V1Encoder, False), (V5Encoder, False), (V9Encoder, False),
                                        (V9Encoder, True), (IPFIXEncoder, False), (IPFIXEncoder, True)])
def test_packed_records_from_the_meter_equal_python_encoding(corpus, enc_cls, bi):
    """The fast path (records laid out by the Rust meter from the encoder's layout) makes the
    same datagrams, byte for byte, as encoding the meter's rows in Python."""
    import wirekit
    from wirekit.flow import FlowMeter

    kw = dict(fin_linger_s=1e6, idle_timeout_s=1e6, bidirectional=bi)
    a, b = FlowMeter(**kw), FlowMeter(**kw)
    enc_kw = {"bidirectional": bi} if enc_cls in (V9Encoder, IPFIXEncoder) else {}
    boot = 1_300_475_166_000_000_000  # a second before the capture's first packet
    ea, eb = enc_cls(start_ns=boot, **enc_kw), enc_cls(start_ns=boot, **enc_kw)
    v4, v6 = eb.layouts()
    b._m.set_export_layout(v4, v6, start_ns=boot, biflow_times=bi)
    for batch in wirekit.open(str(corpus / "flows" / "wikipedia.pcap")).batches():
        assert a.feed_batch_rows(batch) == []
        n4, _, n6, _, _, _ = b._m.feed_batch(batch, packed=True)
        assert n4 == n6 == 0
    rows = a.flush_rows()
    packed = b._m.flush(packed=True)
    assert packed[0] + packed[2] == len(rows) > 30
    now = max(r[11] for r in rows) + 5
    assert ea.encode_rows(rows, now) == eb.encode_packed(packed, now)
