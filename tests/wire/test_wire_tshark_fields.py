"""Every IPv4/IPv6/TCP/UDP/ICMP field `Decoded.to_json()` reports equals what tshark reports
for the same frame, over every capture in the corpus's decode/ and banners/ folders.

tshark's answers are stored in tests/data/wire/tshark (regenerate with wire_tshark_fields.py);
WIREKIT_LIVE_TSHARK=1 runs tshark instead. Skipped when the corpus is absent.
"""

from __future__ import annotations

import gzip
import os
import shutil

import pytest

import wirekit
from wire_tshark_fields import GOLDEN, corpus_dir, corpus_files, golden_name, parse_rows, run_tshark

CORPUS = corpus_dir()
FILES = corpus_files(CORPUS) if CORPUS else []
LIVE = os.environ.get("WIREKIT_LIVE_TSHARK") == "1"


def _int(s: str) -> int:
    return int(s, 0)


def _bool(s: str) -> bool:
    return s in ("1", "True", "true")


def _first(rec, field):
    v = rec.get(field) or []
    return v[0] if v else None


def _expected_lines(path):
    if LIVE:
        if shutil.which("tshark") is None:
            pytest.skip("tshark not installed")
        return run_tshark(path)
    golden = GOLDEN / golden_name(CORPUS, path)
    if not golden.exists():
        pytest.skip(f"no golden file {golden.name} (run tests/wire/wire_tshark_fields.py)")
    return gzip.decompress(golden.read_bytes()).decode()


def compare(js: dict, rec: dict) -> list[str]:
    """Field-by-field differences between our JSON and tshark's record for one frame."""
    diffs = []

    def check(name, ours, field, conv=str, index=0):
        vals = rec.get(field) or []
        if len(vals) <= index:
            diffs.append(f"{name}: tshark has no {field} (ours {ours!r})")
            return
        theirs = conv(vals[index])
        if ours != theirs:
            diffs.append(f"{name}: ours {ours!r} != tshark {field} {theirs!r}")

    eth = js.get("eth")
    if eth is not None:
        check("eth.src", eth["src"], "eth.src")
        check("eth.dst", eth["dst"], "eth.dst")
        if eth["type"] > 1500:  # else an IEEE 802.3 length, tshark's eth.len
            check("eth.type", eth["type"], "eth.type", _int)
    if "vlan" in js:
        theirs = sorted(_int(v) for v in (rec["vlan.id"] + rec["ieee8021ad.id"]))
        ours = sorted(t["id"] for t in js["vlan"])
        if theirs != ours:
            diffs.append(f"vlan ids: ours {ours} != tshark {theirs}")
    ip = js.get("ip")
    if ip is not None and ip["version"] == 4:
        check("ip.src", ip["src"], "ip.src")
        check("ip.dst", ip["dst"], "ip.dst")
        check("ip.proto", ip["proto"], "ip.proto", _int)
        check("ip.ttl", ip["ttl"], "ip.ttl", _int)
        check("ip.len", ip["len"], "ip.len", _int)
        check("ip.id", ip["id"], "ip.id", _int)
        # tshark 4.0 prints the fragment offset in 8-byte units.
        check("ip.frag_offset", ip["frag_offset"] // 8, "ip.frag_offset", _int)
        check("ip.more_fragments", ip["more_fragments"], "ip.flags.mf", _bool)
        check("ip.dont_fragment", ip["dont_fragment"], "ip.flags.df", _bool)
        check("ip.header_len", ip["header_len"], "ip.hdr_len", _int)
    elif ip is not None:
        check("ip.src", ip["src"], "ipv6.src")
        check("ip.dst", ip["dst"], "ipv6.dst")
        check("ip.ttl", ip["ttl"], "ipv6.hlim", _int)
        check("ip.len", ip["len"] - 40, "ipv6.plen", _int)
        if rec.get("ipv6.fraghdr.ident"):
            check("ip.id", ip["id"], "ipv6.fraghdr.ident", _int)
            check("ip.frag_offset", ip["frag_offset"] // 8, "ipv6.fraghdr.offset", _int)
            check("ip.more_fragments", ip["more_fragments"], "ipv6.fraghdr.more", _bool)
    if "bad_ipv6_option_len" in js.get("anomalies", ()):
        # tshark stops at an option overrunning a well-delimited extension header; wirekit
        # records the anomaly and goes on (the header's own length is sound).
        return diffs
    tcp = js.get("tcp")
    if tcp is not None:
        check("tcp.src_port", tcp["src_port"], "tcp.srcport", _int)
        check("tcp.dst_port", tcp["dst_port"], "tcp.dstport", _int)
        check("tcp.seq", tcp["seq"], "tcp.seq_raw", _int)
        check("tcp.ack", tcp["ack"], "tcp.ack_raw", _int)
        check("tcp.flags", tcp["flags"], "tcp.flags", _int)
        check("tcp.window", tcp["window"], "tcp.window_size_value", _int)
        check("tcp.header_len", tcp["header_len"], "tcp.hdr_len", _int)
        check("tcp.payload_len", tcp["payload_len"], "tcp.len", _int)
    udp = js.get("udp")
    if udp is not None:
        check("udp.src_port", udp["src_port"], "udp.srcport", _int)
        check("udp.dst_port", udp["dst_port"], "udp.dstport", _int)
        check("udp.len", udp["len"], "udp.length", _int)
    icmp = js.get("icmp")
    if icmp is not None:
        pre = "icmp" if ip is None or ip["version"] == 4 else "icmpv6"
        check("icmp.type", icmp["type"], f"{pre}.type", _int)
        check("icmp.code", icmp["code"], f"{pre}.code", _int)
    return diffs


@pytest.mark.corpus
@pytest.mark.skipif(CORPUS is None, reason="corpus (../shared/corpus or WIREKIT_CORPUS) absent")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES]
                         if CORPUS else [])
def test_fields_equal_tshark(path):
    expected = parse_rows(_expected_lines(path))
    problems = []
    compared = 0
    try:
        for n, pkt in enumerate(wirekit.open(path), start=1):
            rec = expected.get(n)
            if rec is None:
                continue
            js = pkt.decode().to_json()
            compared += 1
            problems += [f"frame {n}: {d}" for d in compare(js, rec)]
    except wirekit.CaptureFileError:
        pass  # damaged files: frames before the damage were compared
    assert compared or not expected
    assert problems == []
