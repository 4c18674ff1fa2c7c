"""The Ethernet/IPv4/TCP-UDP fast path of Decoded gives exactly what the full walk gives, and
builds only the headers that are read.

The walk is forced by replacing the IPv4 dispatch entry with a wrapper (the fast path only
runs while the tables hold the stock handlers). Compared: every layer object, the offsets,
payload, JSON, summary line, anomalies and checksum verdicts, over hand-made edge cases,
seeded byte mutations of them, and every Ethernet packet of the corpus.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import pytest
import wirekit
from tshark_golden import corpus_dir
from wirekit.wire import (
    EthernetHeader,
    IPv4Header,
    TCPFlags,
    TCPHeader,
    TCPOption,
    UDPHeader,
    build_packet,
)
from wirekit.wire import decode as D

ETH = EthernetHeader(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")
IP4 = IPv4Header(src="10.0.0.1", dst="10.0.0.2", id=7, dont_fragment=True)
TS = [TCPOption(1), TCPOption(1), TCPOption(8, bytes(range(8)))]
ACK = TCPHeader(src_port=1234, dst_port=80, seq=1, ack=2, flags=TCPFlags.ACK | TCPFlags.PSH, options=TS)
UDP = UDPHeader(src_port=53, dst_port=5353)

CASES = {
    "tcp_ts": build_packet(ETH, IP4, ACK, payload=b"GET / HTTP/1.1\r\n\r\n"),
    "tcp_no_options": build_packet(ETH, IP4, TCPHeader(src_port=1, dst_port=2, flags=TCPFlags.ACK), payload=b"x"),
    "tcp_syn_options": build_packet(ETH, IP4, TCPHeader(src_port=1, dst_port=2, options=[
        TCPOption.mss(1460), TCPOption(4), TCPOption(1), TCPOption(3, b"\x07")])),
    "tcp_bad_option": build_packet(ETH, IP4, TCPHeader(src_port=1, dst_port=2, header_len=24,
                                                       options=[TCPOption(2, b"\x05", True)])),
    "tcp_padding": build_packet(ETH, IP4, ACK) + bytes(12),
    "udp": build_packet(ETH, IP4, UDP, payload=b"abc"),
    "udp_len_zero": build_packet(ETH, IP4, UDPHeader(src_port=1, dst_port=2, length=0, checksum=0), payload=b"abc"),
    "udp_padding": build_packet(ETH, IP4, UDP, payload=b"a") + bytes(17),
    "ip_options": build_packet(ETH, IPv4Header(src="1.2.3.4", dst="5.6.7.8", options=b"\x01\x01\x01\x00"), UDP),
    "first_fragment": build_packet(ETH, IPv4Header(src="1.2.3.4", dst="5.6.7.8", more_fragments=True), UDP, payload=b"x" * 16),
    "later_fragment": build_packet(ETH, IPv4Header(src="1.2.3.4", dst="5.6.7.8", frag_offset=8, proto=17), payload=b"x" * 16),
    "icmp_proto": build_packet(ETH, IPv4Header(src="1.2.3.4", dst="5.6.7.8", proto=1), payload=b"\x08\x00" + bytes(6)),
}


@contextmanager
def walk_only():
    saved = D.ETHERTYPE_DISPATCH[0x0800]
    D.ETHERTYPE_DISPATCH[0x0800] = lambda d, data, off: saved(d, data, off)
    try:
        yield
    finally:
        D.ETHERTYPE_DISPATCH[0x0800] = saved


def snapshot(d: D.Decoded) -> tuple:
    # The payload first and the headers one by one: the order a lazy reader meets them.
    return (d.payload, d.tcp, d.udp, d.ip, d.eth, d.link, d.l3_offset, d.l4_offset, d.ip_len,
            d.l4_segment, d.vlan, d.mpls, d.pppoe, d.arp, d.icmp, d.unknown_layer, d.unknown_type,
            d.unknown_payload, d.anomalies, d.ip_checksum_ok, d.l4_checksum_ok, d.to_json(),
            d.summary_line())


def both(data: bytes, wire_len: int | None = None) -> tuple[tuple, tuple, bool]:
    fast = D.Decoded(data, 1, wire_len)
    fast.payload
    took_fast = "ip" not in fast.__dict__
    with walk_only():
        walked = snapshot(D.Decoded(data, 1, wire_len))
    return snapshot(fast), walked, took_fast


@pytest.mark.parametrize("name", CASES)
def test_fast_path_equals_walk(name):
    data = CASES[name]
    for n in sorted({len(data), len(data) - 1, 54, 53, 42, 41, 34}):
        for wire_len in (None, len(data) + 100):  # a snaplen cut too
            fast, walked, _ = both(data[:n], wire_len)
            assert fast == walked, (name, n, wire_len)


def test_fast_path_taken_only_for_the_common_shapes():
    taken = {name for name, data in CASES.items() if both(data)[2]}
    assert taken == {"tcp_ts", "tcp_no_options", "tcp_syn_options", "tcp_bad_option", "tcp_padding",
                     "udp", "udp_len_zero", "udp_padding"}


def test_fast_path_equals_walk_on_mutations():
    rng = random.Random(1234)
    bases = list(CASES.values())
    taken = 0
    for _ in range(3000):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            # Mostly header bytes: lengths, flags, offsets, ports, data offset, options.
            i = rng.randrange(12, min(len(data), 70))
            data[i] = rng.choice((0, 1, 0xFF, rng.randrange(256), data[i] ^ (1 << rng.randrange(8))))
        fast, walked, took = both(bytes(data[:rng.randint(30, len(data))]))
        assert fast == walked, bytes(data).hex()
        taken += took
    assert taken > 150  # the fast path is exercised, not just skipped


def test_only_the_read_headers_are_built():
    d = D.Decoded(CASES["tcp_ts"], 1, None)
    assert d.payload == b"GET / HTTP/1.1\r\n\r\n"
    assert not {"eth", "link", "ip", "tcp"} & d.__dict__.keys()
    assert d.tcp.dst_port == 80
    assert "tcp" in d.__dict__ and not {"eth", "ip"} & d.__dict__.keys()
    assert d.ip.src == "10.0.0.1" and "eth" not in d.__dict__
    assert d.link is d.eth


def test_replaced_handler_disables_the_fast_path():
    calls = []
    saved = D.IP_PROTO_DISPATCH[6]

    def counting(d, data, off, end):
        calls.append(off)
        saved(d, data, off, end)

    D.IP_PROTO_DISPATCH[6] = counting
    try:
        assert D.Decoded(CASES["tcp_ts"], 1, None).tcp.dst_port == 80
    finally:
        D.IP_PROTO_DISPATCH[6] = saved
    assert calls == [34]


CORPUS = corpus_dir()


@pytest.mark.corpus
@pytest.mark.skipif(CORPUS is None, reason="corpus (../shared/corpus or WIREKIT_CORPUS) absent")
def test_fast_path_equals_walk_on_the_corpus():
    taken = compared = 0
    for path in sorted(CORPUS.rglob("*.pcap*")):
        try:
            for pkt in wirekit.open(path):
                if pkt.linktype != 1:
                    continue
                fast, walked, took = both(pkt.data, pkt.wire_len)
                assert fast == walked, (path.name, compared)
                compared += 1
                taken += took
        except wirekit.CaptureFileError:
            pass  # damaged files: the packets before the damage were compared
    assert taken > 1000 and compared > taken
