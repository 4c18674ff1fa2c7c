"""The flow meter: counters, keys, expiry on packet time, biflows, fragments; agreement with
Zeek conn.log (per direction) and softflowd's export of the same capture."""

from __future__ import annotations

import pytest
from wirekit import Packet
from wirekit.flow import EndReason, FlowMeter

from .conftest import REPO
from .helpers import eth_ipv4, meter_file, nfdump_csv, tcp, udp, zeek_log

S = 1_000_000_000


def pk(frame, ts_ns):
    return Packet(frame, ts_ns=ts_ns)


def test_counts_ip_level_bytes_flags_tos_ttl():
    m = FlowMeter(idle_timeout_s=10)
    out = m.feed_batch([
        pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1000, 80, 0x02), ttl=64, tos=0x10), 0),
        pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1000, 80, 0x18, b"x" * 10), ttl=60), 5),
        pk(eth_ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 1000, 0x12), ttl=50), 3),
    ])
    assert out == []
    recs = sorted(m.flush(), key=lambda r: r.src_port)
    a, b = recs
    assert (a.src, a.dst, a.src_port, a.dst_port, a.proto) == ("10.0.0.2", "10.0.0.1", 80, 1000, 6)
    assert (a.packets, a.bytes, a.tcp_flags) == (1, 40, 0x12)
    assert (b.packets, b.bytes, b.tcp_flags, b.tos) == (2, 40 + 50, 0x1A, 0x10)
    assert (b.first_ns, b.last_ns, b.ttl_min, b.ttl_max) == (0, 5, 60, 64)
    assert b.end_reason is EndReason.FORCED_END


def test_idle_timeout_uses_packet_time_and_replays_identically():
    frames = [(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(5, 6, b"a")), t * S) for t in (0, 1, 20, 21)]
    runs = []
    for _ in range(2):
        m = FlowMeter(idle_timeout_s=10)
        out = []
        for f, t in frames:
            out += m.feed(pk(f, t))
        out += m.flush()
        runs.append(out)
    assert runs[0] == runs[1]
    first, second = runs[0]
    assert (first.packets, first.first_ns, first.last_ns, first.end_reason) == (2, 0, S, EndReason.IDLE_TIMEOUT)
    assert (second.packets, second.first_ns) == (2, 20 * S)


def test_advance_expires_without_packets():
    m = FlowMeter(idle_timeout_s=10)
    m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(5, 6)), 0))
    assert m.next_deadline() == 10 * S
    assert m.advance(10 * S - 1) == []
    (r,) = m.advance(10 * S)
    assert r.end_reason is EndReason.IDLE_TIMEOUT
    assert len(m) == 0


def test_rst_linger_then_end_of_flow():
    m = FlowMeter(fin_linger_s=1)
    m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x04)), 0))
    m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x10)), S // 2))
    (r,) = m.advance(S)
    assert (r.packets, r.end_reason) == (2, EndReason.END_OF_FLOW)


def test_cache_full_evicts_earliest_deadline_and_counts():
    m = FlowMeter(max_flows=2)
    out = []
    for i, sp in enumerate((1, 2, 1, 3)):
        out += m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(sp, 9)), i))
    assert [(r.src_port, r.end_reason) for r in out] == [(2, EndReason.LACK_OF_RESOURCES)]
    assert m.stats()["evicted_cache_full"] == 1
    assert m.anomalies() == {"flow_table_full": 1}


def test_cache_full_victim_is_earliest_deadline_not_lru():
    """A flow in its FIN linger is due before an older idle flow, so it is the one evicted
    (LRU would evict the idle one); the docstrings say so."""
    m = FlowMeter(max_flows=2, fin_linger_s=2)
    out = m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x01)), 0))          # FIN: due at 2 s
    out += m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(3, 4)), S))             # due at 16 s
    out += m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x10)), S + S // 2))  # still due at 2 s
    out += m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(5, 6)), S + S * 6 // 10))
    assert [(r.proto, r.src_port, r.packets, r.end_reason) for r in out] == [
        (6, 1, 2, EndReason.LACK_OF_RESOURCES)]
    assert "expiry deadline comes first" in FlowMeter.__doc__
    assert "earliest expiry deadline" in (REPO / "python/wirekit/flow/record.py").read_text()
    assert "deadline comes first" in (REPO / "python/wirekit/tools/flow.py").read_text()
    for path in ("python/wirekit/flow/meter.py", "python/wirekit/flow/record.py", "python/wirekit/tools/flow.py",
                 "crates/wirekit-flow/src/lib.rs", "crates/wirekit-flow/src/meter.rs", "crates/wirekit-flow/README.md"):
        text = (REPO / path).read_text()
        assert "least recently used" not in text and "i.e. the\n  least recently seen" not in text, path


def test_table_cap_holds_with_timeouts_disabled():
    """idle and active timeouts 0 (flows never expire): max_flows still holds, oldest flow out
    first, and there is no deadline to wait for."""
    m = FlowMeter(max_flows=2, idle_timeout_s=0, active_timeout_s=0)
    out = []
    for i in range(5):
        out += m.feed(pk(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(100 + i, 9)), i * S))
    assert len(m) == 2
    assert [(r.src_port, r.end_reason) for r in out] == [(p, EndReason.LACK_OF_RESOURCES) for p in (100, 101, 102)]
    assert m.next_deadline() is None and m.advance(10**6 * S) == []
    assert m.anomalies() == {"flow_table_full": 3}


def test_fragments_join_their_datagram_flow():
    first = eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(4000, 53, b"q" * 24), ip_id=77, mf=True)
    rest = eth_ipv4("10.0.0.1", "10.0.0.2", 17, b"r" * 100, ip_id=77, frag=32)
    orphan = eth_ipv4("10.0.0.1", "10.0.0.2", 17, b"o" * 8, ip_id=78, frag=64)
    m = FlowMeter()
    m.feed_batch([pk(first, 0), pk(rest, 1), pk(orphan, 2)])
    recs = {r.src_port: r for r in m.flush()}
    assert (recs[4000].dst_port, recs[4000].packets, recs[4000].bytes) == (53, 2, 52 + 120)
    assert (recs[0].dst_port, recs[0].packets, recs[0].bytes) == (0, 1, 28)
    assert m.stats()["frag_ports_unknown"] == 1


def test_icmp_type_code_in_dst_port():
    echo = bytes([8, 0, 0, 0, 0, 1, 0, 1])
    reply = bytes([0, 0, 0, 0, 0, 1, 0, 1])
    m = FlowMeter(bidirectional=True)
    m.feed_batch([pk(eth_ipv4("10.0.0.1", "10.0.0.2", 1, echo), 0),
                  pk(eth_ipv4("10.0.0.2", "10.0.0.1", 1, reply), 1)])
    (r,) = m.flush()
    assert (r.src_port, r.dst_port, r.packets, r.rev_packets, r.rev_bytes) == (0, 0x0800, 1, 1, 28)


def _zeek_check(flows, rows):
    """Per-direction packets and IP bytes of every conn.log row, matched by endpoints."""
    by_dir = {}
    for r in flows:
        by_dir[(r.src, r.src_port, r.dst, r.dst_port)] = (r.packets, r.bytes, r.rev_packets, r.rev_bytes)
        by_dir[(r.dst, r.dst_port, r.src, r.src_port)] = (r.rev_packets, r.rev_bytes, r.packets, r.bytes)
    checked = 0
    for z in rows:
        if z.get("proto") == "icmp":
            continue  # ICMP ports differ by convention (Zeek: type/code; NetFlow: 0/type*256+code)
        key = (z["id.orig_h"], int(z["id.orig_p"]), z["id.resp_h"], int(z["id.resp_p"]))
        want = tuple(int(z[k]) for k in ("orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"))
        assert by_dir.get(key) == want, key
        checked += 1
    return checked


@pytest.mark.parametrize("name,log", [
    ("wikipedia", "wikipedia.zeek.scripts.policy.protocols.conn.speculative-service.conn-wiki.log"),
    ("ctu-64702-888", "ctu-64702-888.zeek.core.conn-size-flip.conn.log.ctu"),
    ("one-sided-2745", "one-sided-2745.zeek.core.conn-size-flip.conn.log.one-sided"),
])
def test_biflows_agree_with_zeek_conn_log(corpus, name, log):
    flows, _ = meter_file(corpus / "flows" / f"{name}.pcap", bidirectional=True, idle_timeout_s=60)
    rows = zeek_log(corpus / "flows" / log)
    assert _zeek_check(flows, rows) == len([z for z in rows if z.get("proto") != "icmp"]) > 0


@pytest.mark.parametrize("csv_name,v4only", [("softflowd-v5.nfdump.csv", True),
                                              ("softflowd-v9.nfdump.csv", False),
                                              ("softflowd-v10.nfdump.csv", False)])
def test_unidirectional_agrees_with_softflowd(corpus, csv_name, v4only):
    """softflowd 1.1.0 on the same capture (its v5 export: IPv4 only; v9/IPFIX with -6: IPv4
    and IPv6), decoded by nfdump: the same flows with the same packets and bytes (every flow
    ended at end of input in both runs)."""
    flows, _ = meter_file(corpus / "flows" / "wikipedia.pcap")
    ours = sorted((r.src, r.dst, r.src_port, r.dst_port, r.proto, r.packets, r.bytes)
                  for r in flows if r.ip_version == 4 or not v4only)
    protos = {"UDP": 17, "TCP": 6, "ICMP": 1, "ICMP6": 58}
    theirs = sorted((r["sa"], r["da"], int(r["sp"]), int(float(r["dp"])), protos[r["pr"].strip()],
                     int(r["ipkt"]), int(r["ibyt"]))
                    for r in nfdump_csv(corpus / "netflow" / csv_name))
    assert len(ours) == (54 if v4only else 57)
    assert ours == theirs


def test_small_zeek_baselines(corpus):
    """Zeek's view of three small captures: one ICMP echo connection (request/reply paired,
    orig 172.16.133.2); a UDP broadcast not flipped; an unknown IP protocol (253) as one
    port-0 flow whose non-empty payloads are 4, 8 and 12 bytes."""
    d = corpus / "flows"
    (ping,) = meter_file(d / "5-pings.pcap", bidirectional=True)[0]
    assert (ping.src, ping.dst, ping.proto, ping.dst_port) == ("172.16.133.2", "172.217.11.78", 1, 8 * 256)
    assert (ping.packets, ping.rev_packets) == (5, 5)
    assert "new_connection" in (d / "5-pings.zeek.core.connection_status_update.out").read_text()
    (bc,) = meter_file(d / "udp-broadcast.pcap", bidirectional=True)[0]
    z = zeek_log(d / "udp-broadcast.zeek.core.udp-broadcast-no-flip.conn.log.cut")[0]
    assert (bc.src, bc.src_port, bc.dst, bc.dst_port) == (z["id.orig_h"], int(z["id.orig_p"]),
                                                          z["id.resp_h"], int(z["id.resp_p"]))
    (unk,) = meter_file(d / "unknown-ip-short-payload.pcap", bidirectional=True)[0]
    lens = [int(line.rsplit("len=", 1)[1]) for line in
            (d / "unknown-ip-short-payload.zeek.scripts.base.protocols.conn.unknown-ip-short-payload.output")
            .read_text().splitlines() if "len=" in line]
    assert (unk.proto, unk.src_port, unk.dst_port) == (253, 0, 0)
    assert unk.bytes == 20 * unk.packets + sum(lens)
