"""The collector/decoder against every NetFlow/IPFIX capture of the corpus and its expected
decode: pmacct's nfacctd JSON, nfdump's CSV of softflowd exports, nfstream's summaries."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from wirekit.flow.collect_cli import decode_capture

from .helpers import meter_file, nfdump_csv

PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "gre": 47, "esp": 50, "vrrp": 112,
         "ospf": 89, "pim": 103, "sctp": 132}
TCP_FLAG_BITS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}
NFDUMP_PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}


def _mpls_stack(rec):
    """pmacct's mpls_label_stack ("<index>-<label>") from the MPLS label elements 70-79."""
    out = []
    for i in range(1, 11):
        raw = rec.get(f"mpls_label_{i}") if i <= 3 else rec.get(f"ie{69 + i}")
        if not raw:
            break
        v = int(raw, 16)
        if v == 0:
            break
        out.append(f"{i - 1}-{v >> 4}")
        if v & 1:  # bottom of stack
            break
    return out


def _pmacct_key(e, renormalize: bool):
    """The fields pmacct printed, as (name, value) pairs; None for fields we don't compare."""
    key = []
    for name, ours in (("ip_src", "src"), ("ip_dst", "dst"), ("port_src", "src_port"),
                       ("port_dst", "dst_port"), ("tos", "tos"), ("iface_in", "in_iface"),
                       ("iface_out", "out_iface"), ("mask_src", "src_mask"), ("mask_dst", "dst_mask")):
        if name in e:
            key.append((ours, e[name]))
    if "ip_proto" in e:
        p = e["ip_proto"]
        key.append(("proto", PROTO[p] if isinstance(p, str) and not p.isdigit() else int(p)))
    if "tcp_flags" in e:
        key.append(("tcp_flags", sum(TCP_FLAG_BITS[f] for f in e["tcp_flags"])))
    if "mpls_label_stack" in e:
        key.append(("mpls", tuple(e["mpls_label_stack"])))
    for name, ours in (("timestamp_start", "first_s"), ("timestamp_end", "last_s")):
        if name in e:
            key.append((ours, int(float(e[name]))))
    return tuple(key)


def _pmacct_seconds(r, which):
    """nfacctd's seconds: for v9 it subtracts the whole seconds of (sysUptime - switched) from
    unix_secs (v9 headers have no sub-second part), i.e. rounds the age down, not the time."""
    if r["version"] == 9:
        return r["unix_secs"] - (r["sys_uptime_ms"] - r[f"{which}_switched"]) // 1000
    return r[f"{which}_ms"] // 1000


def _our_key(r, names, renormalize):
    vals = []
    for n in names:
        if n == "proto":
            vals.append((n, r["proto"]))
        elif n == "tcp_flags":
            vals.append((n, r.get("tcp_flags", 0) & 0xFF))
        elif n == "mpls":
            vals.append((n, tuple(_mpls_stack(r))))
        elif n in ("first_s", "last_s"):
            vals.append((n, _pmacct_seconds(r, n[:-2])))
        elif n in ("src_mask", "dst_mask", "in_iface", "out_iface", "tos"):
            vals.append((n, r.get(n, 0)))
        else:
            vals.append((n, r[n]))
    return tuple(vals)


PMACCT = ["pmacct-100", "pmacct-101", "pmacct-104", "pmacct-106", "pmacct-112"]


@pytest.mark.parametrize("name", PMACCT)
def test_pmacct_expected_json(corpus, name):
    base = corpus / "netflow" / f"{name}-traffic-00"
    conf = (corpus / "netflow" / f"{name}-traffic-00.pmacct-test.txt").read_text()
    renormalize = "nfacctd_renormalize: true" in conf
    expected = [json.loads(line) for line in open(f"{base}.output-flow-00.json") if line.strip()]
    recs, c = decode_capture(f"{base}.pcap")
    assert c.stats["malformed"] == 0
    want = Counter()
    names = None
    for e in expected:
        k = _pmacct_key(e, renormalize)
        names = [n for n, _ in k]
        want[k + (("packets", e["packets"]), ("bytes", e["bytes"]))] += 1
    # nfacctd sums records with equal aggregation keys; do the same with ours.
    sums: dict = {}
    for r in recs:
        mult = r.get("sampling_interval", 1) if renormalize else 1
        k = _our_key(r, names, renormalize)
        p, b = sums.get(k, (0, 0))
        sums[k] = (p + r["packets"] * mult, b + r["bytes"] * mult)
    got = Counter(k + (("packets", p), ("bytes", b)) for k, (p, b) in sums.items())
    assert got == want


def _nfdump_rows(path):
    rows = []
    for r in nfdump_csv(path):
        dp = r["dp"]
        dport = int(float(dp)) if "." not in dp else int(dp.split(".")[0]) * 256 + int(dp.split(".")[1])
        times = (r["ts"], r["te"])
        if float(r["td"]) > 1e12:
            # nfdump printed te < ts with an underflowed duration (a uint64 wrap) for a few of
            # softflowd's IPFIX records: compare the two times as a pair, not their order.
            times = tuple(sorted(times))
        rows.append((r["sa"], r["da"], int(r["sp"]), dport, NFDUMP_PROTO.get(r["pr"].strip(), r["pr"]),
                     int(r["ipkt"]), int(r["ibyt"])) + times)
    return sorted(rows)


def _ts(ms):
    import datetime as dt

    # nfdump prints local time; the corpus CSVs were made with TZ=UTC.
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _nfdump_times(r):
    """The record's times as nfdump 1.7 computes them. Same as ours except for v9 records whose
    FIRST/LAST_SWITCHED exceed the header's sysUptime (softflowd put packet times from before
    its own boot): we read that as a 32-bit uptime wrap (a flow cannot start after its export),
    nfdump adds the raw difference and lands ~34 days in the future."""
    if r["version"] == 9:
        base = r["unix_secs"] * 1000 - r["sys_uptime_ms"]
        return _ts(base + r["first_switched"]), _ts(base + r["last_switched"])
    return _ts(r["first_ms"]), _ts(r["last_ms"])


@pytest.mark.parametrize("version", [1, 5, 9, 10])
def test_softflowd_exports_match_nfdump_csv(corpus, version):
    recs, c = decode_capture(corpus / "netflow" / f"softflowd-v{version}.pcap")
    ours = sorted((r["src"], r["dst"], r["src_port"], r["dst_port"], r["proto"], r["packets"],
                   r["bytes"]) + tuple(sorted(_nfdump_times(r))) for r in recs)
    assert all(r["first_ms"] <= r["last_ms"] for r in recs)
    theirs = _nfdump_rows(corpus / "netflow" / f"softflowd-v{version}.nfdump.csv")
    assert [x[:7] for x in ours] == [x[:7] for x in theirs]
    assert ours == [x[:7] + tuple(sorted(x[7:])) for x in theirs]
    if version == 1:
        # softflowd put 30 records in its first v1 datagram (the v1 limit is 24): refused, as
        # nfcapd refused it.
        assert c.stats["not_netflow"] == 1


@pytest.mark.parametrize("name", ["nfstream-netflowv9", "nfstream-netflow-fritz"])
def test_nfstream_captures(corpus, name):
    """nfstream's expected result is the export traffic itself as one biflow."""
    import csv

    (row,) = list(csv.DictReader(open(corpus / "netflow" / f"{name}.nfstream-results.csv")))
    flows, _ = meter_file(corpus / "netflow" / f"{name}.pcap", bidirectional=True)
    assert len(flows) == 1
    f = flows[0]
    assert f.packets + f.rev_packets == int(row["bidirectional_packets"])
    recs, c = decode_capture(corpus / "netflow" / f"{name}.pcap")
    assert c.stats["malformed"] == 0 and c.stats["not_netflow"] == 0
    if name == "nfstream-netflowv9":
        # The capture starts after the exporter sent its templates: data cannot be decoded
        # and is counted as dropped, not guessed.
        assert recs == [] and c.stats["data_dropped_no_template"] == 23
    else:
        assert c.stats["options_templates"] == 2 and c.stats["templates"] == 1


def test_scapy_captures(corpus):
    recs, c = decode_capture(corpus / "netflow" / "scapy-netflowv9.pcap")
    assert len(recs) == 24 and c.stats["malformed"] == 0
    assert all(r["version"] == 9 and r["domain"] == 8 for r in recs)
    assert all(r["first_ms"] <= r["last_ms"] for r in recs)
    recs, c = decode_capture(corpus / "netflow" / "scapy-ipfix.pcap")
    assert [(r["src"], r["dst"], r["packets"], r["bytes"]) for r in recs] == [("70.1.115.1", "50.0.71.1", 9, 1312)]


def test_collector_never_raises_on_mutated_datagrams(corpus):
    """Every corpus export datagram, truncated and bit-flipped (fixed seed): the collector
    counts what it cannot use and never raises."""
    import random

    from wirekit.flow.collect import Collector
    from wirekit.flow.collect_cli import udp_payloads

    rng = random.Random(5)
    payloads = [p for f in sorted((corpus / "netflow").glob("*.pcap")) for _, _, p in udp_payloads(f)]
    c = Collector()
    # Templates first, so that mutated data sets are actually parsed.
    for p in payloads:
        c.feed(p, ("192.0.2.1", 1), 0)
    fed = 0
    for p in payloads:
        for _ in range(20):
            b = bytearray(p)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            cut = rng.randint(0, len(b))
            for d in (bytes(b), bytes(b[:cut])):
                out = c.feed(d, ("192.0.2.1", 1), 1)
                assert isinstance(out, list)
                fed += 1
    assert c.stats["datagrams"] == len(payloads) + fed
    assert c.stats["malformed"] + c.stats["not_netflow"] > 0


def test_decode_reassembles_fragmented_export(corpus, tmp_path):
    """An IPFIX message larger than the MTU travels in IP fragments: `flow decode`
    reassembles them before looking for export datagrams."""
    import socket
    import struct

    from wirekit.capture.writers import PcapWriter
    from wirekit.flow.export import IPFIXEncoder

    flows, _ = meter_file(corpus / "flows" / "wikipedia.pcap")
    start = min(f.first_ns for f in flows)
    enc = IPFIXEncoder(start_ns=start, max_datagram=4000)
    (msg,) = enc.encode(flows, max(f.last_ns for f in flows))
    assert len(msg) > 2000
    udp = struct.pack("!HHHH", 40000, 4739, 8 + len(msg), 0) + msg
    src, dst = socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2")

    def frag(offset, data, more):
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 77, (0x2000 if more else 0) | offset // 8,
                          64, 17, 0, src, dst)
        return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + hdr + data

    path = tmp_path / "frag.pcap"
    w = PcapWriter(str(path))
    w.write(data=frag(0, udp[:1480], True), ts_ns=start)
    w.write(data=frag(1480, udp[1480:], False), ts_ns=start + 1000)
    w.close()
    recs, c = decode_capture(path)
    assert len(recs) == len(flows) == 57
    assert {r["exporter"] for r in recs} == {"192.0.2.1"}
