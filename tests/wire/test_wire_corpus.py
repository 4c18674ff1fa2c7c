"""The whole corpus (malformed/ included) decodes without raising, with the length
invariants holding, and the named edge cases come out right. Skipped without the corpus."""

from __future__ import annotations

import pytest

import wirekit
from wirekit import anomalies as A
from tshark_golden import corpus_dir

CORPUS = corpus_dir()
pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(CORPUS is None, reason="corpus (../shared/corpus or "
                                 "WIREKIT_CORPUS) absent")]


def _packets(rel):
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"{rel} not in the corpus")
    out = []
    try:
        for pkt in wirekit.open(path):
            out.append(pkt)
    except wirekit.CaptureFileError:
        pass  # damaged files: the packets before the damage
    return out


def _all_captures():
    if CORPUS is None:
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*")
                  if p.suffix in (".pcap", ".pcapng", ".cap") and p.is_file())


@pytest.mark.parametrize("rel", _all_captures())
def test_every_capture_decodes_with_invariants(rel):
    for pkt in _packets(rel):
        d = pkt.decode()
        js = d.to_json()
        d.summary_line()
        assert set(d.anomalies) <= A.ALL
        if d.ip is not None:
            # Nothing after the IP datagram (padding, trailers) is ever payload.
            assert d.l3_offset + d.ip_len >= (d.l4_offset or d.l3_offset)
            assert len(d.payload) <= d.ip_len
        if d.tcp is not None and pkt.caplen == pkt.wire_len and not d.ip.is_fragment \
                and A.IP_LEN_MISMATCH not in d.anomalies:
            assert len(d.payload) == js["tcp"]["payload_len"]


def test_parsed_ip_headers_rebuild_byte_for_byte():
    """parse(x).build() == x on real traffic: every IPv4 header, IPv6 header chain and TCP
    header of the decode/ captures."""
    from wirekit.wire import IPv4Header, IPv6Header, TCPHeader
    n = 0
    for path in sorted((CORPUS / "decode").rglob("*.pcap*")):
        for pkt in _packets(str(path.relative_to(CORPUS))):
            d = pkt.decode()
            ip = d.ip
            if ip is None or "ipv6_ext_truncated" in d.anomalies:
                continue
            raw = d.data[d.l3_offset:d.l3_offset + ip.header_len]
            cls = IPv4Header if ip.version == 4 else IPv6Header
            assert cls.parse(raw + d.payload).build_header() == raw, path.name
            n += 1
            if d.tcp is not None:
                seg = d.data[d.l4_offset:d.l4_offset + d.tcp.header_len]
                assert TCPHeader.parse(seg).build() == seg, path.name
    assert n > 500


def test_padding_does_not_leak():
    pkts = _packets("decode/encap/tcp-http-with-padding.pcap")
    padded = 0
    for pkt in pkts:
        d = pkt.decode()
        if d.tcp is not None:
            assert len(d.payload) == d.ip_len - d.ip.header_len - d.tcp.header_len
            padded += len(pkt.data) > 14 + d.ip_len
    assert padded > 0  # the capture does carry padding


def test_tso_capture():
    pkts = _packets("decode/encap/ipv4_tcp_http_xml_tso.pcap")
    tso = [p.decode() for p in pkts if p.decode().ip is not None and p.decode().ip.total_len == 0]
    assert tso
    for d in tso:
        assert A.IP_LEN_ZERO_TSO in d.anomalies
        assert d.to_json()["ip"]["len"] == len(d.data) - 14
        assert len(d.payload) == d.to_json()["tcp"]["payload_len"] > 0


def test_qinq_capture():
    d = _packets("decode/encap/802.1ad_QinQ.pcap")[0].decode()
    assert [t["id"] for t in d.to_json()["vlan"]] == [200, 2001]
    assert d.eth.type == 0x88A8 and d.arp is not None


@pytest.mark.parametrize("rel, layer", [
    ("decode/linktypes/LINKTYPE_RAW_ipv4.pcap", "ip"),
    ("decode/linktypes/LINKTYPE_RAW_ipv6.pcap", "ip"),
    ("decode/linktypes/linux_dlt_sll2.pcap", "ip_or_arp"),
    ("decode/linktypes/linuxsll-arp.pcap", "arp"),
    ("decode/linktypes/null_loopback.pcap", "ip"),
    ("tcp-reassembly/four_ipv6_http_streams.pcap", "tcp"),
])
def test_link_types_reach_the_network_layer(rel, layer):
    pkts = _packets(rel)
    assert pkts
    if layer == "ip_or_arp":  # the SLL2 capture holds an ARP and a RARP exchange too
        decoded = [p.decode().ip or p.decode().arp for p in pkts]
    else:
        decoded = [getattr(p.decode(), layer) for p in pkts]
    assert all(x is not None for x in decoded), rel
