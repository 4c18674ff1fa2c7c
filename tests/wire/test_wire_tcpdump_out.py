"""A second opinion: tcpdump's own test outputs (*.out beside the corpus captures) agree with
the decode on TCP flags, window and payload length, UDP length, VLAN tags, and on the
anomalies tcpdump points out (TSO length, bad IP / TCP / UDP checksums)."""

from __future__ import annotations

import re

import pytest

import wirekit
from wirekit import anomalies as A
from wirekit.wire.tcp import flags_str
from tshark_golden import corpus_dir

CORPUS = corpus_dir()
pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(CORPUS is None, reason="corpus (../shared/corpus or "
                                 "WIREKIT_CORPUS) absent")]

# A record starts with tcpdump's `-#` packet number.
_RECORD = re.compile(r"^\s{0,4}(\d+)\s{2}", re.M)
_TCP = re.compile(r"Flags \[([^\]]*)\](.*?)(?:, length (\d+)|$)", re.S)
_WIN = re.compile(r", win (\d+)")
_UDP_LEN = re.compile(r": UDP, length (\d+)")
_VLAN = re.compile(r"vlan (\d+), p (\d+)")


def _out_files():
    if CORPUS is None:
        return []
    pairs = []
    for out in sorted((CORPUS / "decode").rglob("*.out")):
        stem = out.name[:-4]
        for cand in (stem, stem.removesuffix("-v"), stem.removesuffix("v")):
            for ext in (".pcap", ".pcapng"):
                cap = out.with_name(cand + ext)
                if cap.exists() and not out.name.startswith("_shared.zeek"):
                    pairs.append((out, cap))
                    break
            else:
                continue
            break
    return pairs


def _records(text: str) -> dict[int, str]:
    marks = list(_RECORD.finditer(text))
    return {int(m.group(1)): text[m.end():(marks[i + 1].start() if i + 1 < len(marks)
                                             else len(text))]
            for i, m in enumerate(marks)}


PAIRS = _out_files()


@pytest.mark.parametrize("out, cap", PAIRS, ids=[p[0].name for p in PAIRS])
def test_tcpdump_output_agrees(out, cap):
    records = _records(out.read_text(errors="replace"))
    pkts = []
    try:
        pkts.extend(wirekit.open(cap))
    except wirekit.CaptureFileError:
        pass
    checked = 0
    for n, pkt in enumerate(pkts, start=1):
        rec = records.get(n)
        if rec is None:
            continue
        d = pkt.decode()
        js = d.to_json()
        m = _TCP.search(rec)
        if m and d.tcp is not None and "[|tcp]" not in rec:
            assert flags_str(d.tcp.flags) == m.group(1), (n, rec)
            w = _WIN.search(m.group(2))
            if w:
                assert d.tcp.window == int(w.group(1)), (n, rec)
            if m.group(3) is not None:
                assert js["tcp"]["payload_len"] == int(m.group(3)), (n, rec)
            checked += 1
        u = _UDP_LEN.search(rec)
        if u and d.udp is not None:
            assert d.udp.length - 8 == int(u.group(1)), (n, rec)
            checked += 1
        tags = [(int(a), int(b)) for a, b in _VLAN.findall(rec)]
        if tags:
            assert [(t.vid, t.pcp) for t in d.vlan] == tags, (n, rec)
            checked += 1
        if "presumed TSO" in rec or "presumed BIG TCP" in rec:
            assert A.IP_LEN_ZERO_TSO in d.anomalies, (n, rec)
        if "bad cksum" in rec:
            assert A.BAD_IP_CHECKSUM in d.anomalies, (n, rec)
        if re.search(r"cksum 0x[0-9a-f]+ \(incorrect", rec):
            assert A.BAD_L4_CHECKSUM in d.anomalies, (n, rec)
        if re.search(r"cksum 0x[0-9a-f]+ \(correct\)", rec):
            assert A.BAD_L4_CHECKSUM not in d.anomalies, (n, rec)
    if _TCP.search(out.read_text(errors="replace")):
        assert checked, "tcpdump shows TCP but nothing was compared"
