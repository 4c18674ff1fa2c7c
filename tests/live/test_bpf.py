"""BPF: libpcap's compiler through ctypes, wirekit's interpreter checked against tcpdump.

For each corpus capture and filter, `tcpdump -r FILE -w - FILTER` (libpcap's own filter
code) and `compile(FILTER).filter_batch` over wirekit's batches must select exactly the same
packets: same count, same timestamps, same bytes.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import wirekit
from wirekit.capture import bpf
from wirekit.errors import FilterError

CORPUS = Path(os.environ.get("WIREKIT_CORPUS", Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"))

FILES = [
    "decode/encap/tcp-http-with-padding.pcap",
    "decode/encap/q-in-q.pcap",
    "decode/encap/mpls-in-vlan.pcap",
    "decode/encap/gre-sample.pcap",
    "decode/encap/6in4.pcap",
    "decode/ipv6/ipv6-routing-header.pcap",
    "decode/checksums/ip4-tcp-bad-chksum.pcap",
    "decode/linktypes/LINKTYPE_RAW_ipv4.pcap",
    "defrag",
    "flows",
]

FILTERS = [
    "tcp",
    "udp",
    "ip6",
    "icmp or icmp6",
    "tcp port 80",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "ip and greater 200",
    "less 100",
    "vlan",
    "vlan and tcp",
    "ip[6:2] & 0x3fff != 0",
    "net 10.0.0.0/8 or net 192.168.0.0/16",
    "not arp and not tcp",
    "ip proto 47",
    "udp portrange 1-1024",
]


def _captures() -> list[Path]:
    out = []
    for rel in FILES:
        p = CORPUS / rel
        if p.is_dir():
            out.extend(sorted(p.glob("*.pcap"))[:6])
        elif p.exists():
            out.append(p)
    return out


def _records(batches) -> list[tuple[int, bytes]]:
    recs = []
    for b in batches:
        recs.extend((p.ts_ns, p.data) for p in b.packets())
    return recs


def test_compile_reports_libpcap_message():
    with pytest.raises(FilterError, match="syntax error"):
        bpf.compile("tcp port 80 and")
    with pytest.raises(FilterError, match="unknown host|not a host|unknown"):
        bpf.compile("host no-such-host.invalid")


def test_instructions_match_tcpdump_dd():
    if shutil.which("tcpdump") is None:
        pytest.skip("needs tcpdump")
    expr = "tcp port 80 and host 10.0.0.1"
    out = subprocess.run(["tcpdump", "-dd", "-y", "EN10MB", expr], capture_output=True, text=True, check=True).stdout
    want = []
    for line in out.splitlines():
        fields = line.strip().strip("{},").split(",")
        want.append(tuple(int(f.strip().rstrip(" }"), 0) for f in fields))
    assert bpf.compile(expr, linktype=1).instructions == want


def test_empty_filter_accepts_all_and_run_single():
    prog = bpf.compile("")
    assert prog.run(b"\x00" * 60) == bpf.DEFAULT_SNAPLEN
    ip = bpf.compile("ip")
    frame = bytes(12) + b"\x08\x00" + bytes(20)
    assert ip.run(frame) != 0 and ip.run(bytes(12) + b"\x86\xdd" + bytes(40)) == 0
    assert ip.matches(wirekit.Packet(frame))


@pytest.mark.corpus
def test_userland_filter_equals_tcpdump():
    if shutil.which("tcpdump") is None:
        pytest.skip("needs tcpdump")
    caps = _captures()
    if not caps:
        pytest.skip(f"corpus not found at {CORPUS}")
    compared = 0
    for cap in caps:
        linktype = wirekit.open(cap).linktype
        for expr in FILTERS:
            r = subprocess.run(["tcpdump", "-r", str(cap), "-w", "-", expr], capture_output=True)
            try:
                prog = bpf.compile(expr, linktype=linktype)
            except FilterError:
                # libpcap cannot compile it for this link type: tcpdump must fail as well.
                assert r.returncode != 0, (cap, expr)
                continue
            assert r.returncode == 0, (cap, expr, r.stderr)
            want = _records(wirekit.open(io.BytesIO(r.stdout)).batches())
            got = _records(prog.filter_batch(b) for b in wirekit.open(cap).batches())
            assert got == want, (cap.name, expr, len(got), len(want))
            mask = b"".join(prog.match_batch(b) for b in wirekit.open(cap).batches())
            assert sum(mask) == len(want)
            compared += 1
    assert compared > 50
