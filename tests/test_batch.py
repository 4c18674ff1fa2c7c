"""Batch decode (Rust summaries): batch columns agree with per-packet values, exact 5-tuples
for hand-checked packets, and the decoded fields agree with tshark on corpus captures."""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess

import pytest

import wirekit
from wirekit import _core, anomalies
from wirekit._core import Packet

from conftest import corpus_files

CAPTURES = [p for p in corpus_files("decode/**/*.pcap", "decode/**/*.pcapng", "banners/**/*.pcap",
                                    "defrag/**/*.pcap", "flows/**/*.pcap")]

# Every field of a summary, as named in Batch.summaries() and on Summary objects.
FIELDS = [
    "l3_offset", "ethertype", "vlan_count", "vlan_outer", "vlan_inner", "ip_version", "proto",
    "ttl", "tos", "ip_len", "ip_header_len", "ip_id", "frag_offset", "more_fragments",
    "dont_fragment", "is_fragment", "frag_header_offset", "l4_offset", "src_port", "dst_port",
    "tcp_seq", "tcp_ack", "tcp_flags", "tcp_window", "l4_header_len", "payload_offset",
    "payload_len",
]


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def ip4(s):
    return ipaddress.IPv4Address(s).packed


def ip6(s):
    return ipaddress.IPv6Address(s).packed


# ---------------------------------------------------------------- hand-built packets
ETH = bytes.fromhex("001122334455" "66778899aabb")
# IPv4 192.0.2.1 -> 198.51.100.7, TTL 64, proto 6, total length 44, id 0x1234, DF.
IPV4_TCP = bytes.fromhex(
    "4500002c12344000" "4006" "0000" "c0000201" "c6336407"
    # TCP 40000 -> 443, seq 1000, ack 0, data offset 5, SYN, window 65535
    "9c4001bb" "000003e8" "00000000" "5002ffff" "00000000"
    "61626364"  # 4 bytes of payload
)
# IPv6 2001:db8::1 -> 2001:db8::2, UDP 5353 -> 53 length 10, 2 bytes payload, hop limit 255.
IPV6_UDP = bytes.fromhex(
    "60000000000a11ff" "20010db8000000000000000000000001" "20010db8000000000000000000000002"
    "14e90035000a0000" "7879"
)
# ICMPv4 echo request 10.0.0.1 -> 10.0.0.2 (type 8, code 0).
IPV4_ICMP = bytes.fromhex("4500001c00010000" "4001" "0000" "0a000001" "0a000002" "0800f7ff00000000")


HAND = [
    # (name, linktype, data, expected flow key)
    ("eth-ipv4-tcp", 1, ETH + b"\x08\x00" + IPV4_TCP,
     (ip4("192.0.2.1"), ip4("198.51.100.7"), 40000, 443, 6)),
    ("eth-ipv4-tcp-padded", 1, ETH + b"\x08\x00" + IPV4_TCP + b"\x00" * 2,
     (ip4("192.0.2.1"), ip4("198.51.100.7"), 40000, 443, 6)),
    ("qinq-ipv6-udp", 1, ETH + bytes.fromhex("88a8 0064 8100 00c8 86dd") + IPV6_UDP,
     (ip6("2001:db8::1"), ip6("2001:db8::2"), 5353, 53, 17)),
    ("raw-ipv4-icmp", 101, IPV4_ICMP, (ip4("10.0.0.1"), ip4("10.0.0.2"), 8, 0, 1)),
    ("raw12-ipv6", 12, IPV6_UDP, (ip6("2001:db8::1"), ip6("2001:db8::2"), 5353, 53, 17)),
    ("null-le-ipv4", 0, struct.pack("<I", 2) + IPV4_TCP,
     (ip4("192.0.2.1"), ip4("198.51.100.7"), 40000, 443, 6)),
    ("null-be-ipv6-darwin", 0, struct.pack(">I", 30) + IPV6_UDP,
     (ip6("2001:db8::1"), ip6("2001:db8::2"), 5353, 53, 17)),
    ("loop-ipv4", 108, struct.pack(">I", 2) + IPV4_ICMP, (ip4("10.0.0.1"), ip4("10.0.0.2"), 8, 0, 1)),
    ("sll-ipv4", 113, bytes(14) + b"\x08\x00" + IPV4_TCP,
     (ip4("192.0.2.1"), ip4("198.51.100.7"), 40000, 443, 6)),
    ("sll2-ipv6", 276, b"\x86\xdd" + bytes(18) + IPV6_UDP,
     (ip6("2001:db8::1"), ip6("2001:db8::2"), 5353, 53, 17)),
    ("arp", 1, ETH + b"\x08\x06" + bytes(28), None),
    ("raw-bad-version", 101, b"\x50" + IPV4_TCP[1:], None),
    ("unknown-linktype", 147, IPV4_TCP, None),
]


@pytest.mark.parametrize("name,linktype,data,key", HAND, ids=[h[0] for h in HAND])
def test_hand_built_flow_key(name, linktype, data, key):
    pkt = Packet(data, linktype=linktype)
    assert pkt.flow_key() == key
    assert pkt.summary().flow_key() == key


def packed(key):
    src, dst, sport, dport, proto = key
    return src + dst + struct.pack(">HHB", sport, dport, proto)


@pytest.mark.parametrize("name,linktype,data,key", HAND, ids=[h[0] for h in HAND])
def test_hand_built_packed_flow_key(name, linktype, data, key):
    pkt = Packet(data, linktype=linktype)
    assert pkt.flow_key(packed=True) == (None if key is None else packed(key))


def test_packed_key_layout():
    pkt = Packet(ETH + b"\x08\x00" + IPV4_TCP, linktype=1)
    # 192.0.2.1, 198.51.100.7, 40000, 443, 6: 13 bytes.
    assert pkt.flow_key(packed=True) == bytes.fromhex("c0000201" "c6336407" "9c40" "01bb" "06")


def test_hand_built_tcp_fields():
    s = Packet(ETH + b"\x08\x00" + IPV4_TCP + b"\x00\x00", linktype=1).summary()
    assert (s.l3_offset, s.ethertype, s.ip_version, s.ttl, s.ip_id) == (14, 0x0800, 4, 64, 0x1234)
    assert (s.ip_len, s.ip_header_len, s.dont_fragment, s.is_fragment) == (44, 20, True, False)
    assert (s.l4_offset, s.tcp_seq, s.tcp_ack, s.tcp_flags, s.tcp_window) == (34, 1000, 0, 0x02, 65535)
    # The 2 padding bytes after the datagram are not payload.
    assert (s.l4_header_len, s.payload_offset, s.payload_len) == (20, 54, 4)
    assert s.anomalies == ()
    assert s.src == ip4("192.0.2.1") and s.dst == ip4("198.51.100.7")


def test_hand_built_vlan_and_ipv6():
    s = Packet(ETH + bytes.fromhex("88a8 0064 8100 a0c8 86dd") + IPV6_UDP, linktype=1).summary()
    assert (s.vlan_count, s.vlan_outer, s.vlan_inner, s.ethertype, s.l3_offset) == (2, 100, 200, 0x86DD, 22)
    assert (s.ip_len, s.ip_header_len, s.ttl, s.l4_offset, s.payload_len) == (50, 40, 255, 62, 2)


def test_anomalies_are_codes_not_exceptions():
    tso = bytearray(IPV4_TCP)
    tso[2:4] = b"\x00\x00"
    s = Packet(bytes(tso), linktype=101).summary()
    assert s.anomalies == (anomalies.IP_LEN_ZERO_TSO,)
    assert (s.ip_len, s.payload_len) == (44, 4)
    s = Packet(IPV4_TCP[:30], linktype=101, wire_len=44).summary()  # snaplen cut
    assert s.anomalies == (anomalies.TRUNCATED_HEADER,)
    assert (s.ip_len, s.l4_offset, s.src_port) == (44, 0, 0)
    s = Packet(IPV4_TCP[:30], linktype=101).summary()  # whole frame, lying length
    assert anomalies.IP_LEN_MISMATCH in s.anomalies
    assert Packet(b"\x00", linktype=1).summary().anomalies == (anomalies.TRUNCATED_HEADER,)
    assert Packet(IPV4_TCP, linktype=147).summary().anomalies == (anomalies.UNKNOWN_LINKTYPE,)


def test_checksum_verification_on_request():
    # IPV4_TCP has zero checksums: both are wrong, but only reported when asked.
    pkt = Packet(IPV4_TCP, linktype=101)
    assert pkt.summary().anomalies == ()
    assert set(pkt.summary(verify_checksums=True).anomalies) == {
        anomalies.BAD_IP_CHECKSUM, anomalies.BAD_L4_CHECKSUM}


def test_anomaly_codes_are_registered():
    codes = _core.DECODE_ANOMALY_CODES
    assert set(codes.values()) <= anomalies.ALL
    assert all(bin(bit).count("1") == 1 for bit in codes)


# ---------------------------------------------------------------- batch == per packet
@pytest.mark.skipif(not CAPTURES, reason="corpus not found (set WIREKIT_CORPUS)")
@pytest.mark.parametrize("path", CAPTURES, ids=_ids(CAPTURES))
def test_batch_equals_per_packet(path):
    packets = []
    for batch in wirekit.open(path).batches():
        n = len(batch)
        cols = batch.summaries()
        keys = batch.flow_keys()
        packed_keys = batch.flow_keys(packed=True)
        pkts = batch.packets()
        assert len(keys) == len(pkts) == n
        for name in FIELDS + ["anomalies", "ts_ns", "wire_len", "caplen", "linktype", "src", "dst"]:
            assert len(cols[name]) == n * (16 if name in ("src", "dst") else 1), name
        for i, pkt in enumerate(pkts):
            s = pkt.summary()
            assert batch.summary(i) == s
            assert keys[i] == pkt.flow_key() == s.flow_key()
            assert packed_keys[i] == (None if keys[i] is None else packed(keys[i])) == pkt.flow_key(packed=True)
            for name in FIELDS:
                assert cols[name][i] == getattr(s, name), (i, name)
            assert cols["anomalies"][i] == s.anomaly_bits
            alen = {4: 4, 6: 16}.get(s.ip_version, 0)
            assert cols["src"][16 * i:16 * i + alen] == s.src
            assert cols["dst"][16 * i:16 * i + alen] == s.dst
            assert (cols["ts_ns"][i], cols["wire_len"][i], cols["caplen"][i], cols["linktype"][i]) == (
                pkt.ts_ns, pkt.wire_len, pkt.caplen, pkt.linktype)
            # Offsets stay inside the captured bytes.
            assert s.payload_offset + s.payload_len <= pkt.caplen
        packets += pkts
    assert packets == list(wirekit.open(path))


# ---------------------------------------------------------------- hand-checked corpus packets
CORPUS_KEYS = [
    # (file, frame number (1-based), key); values read off `tshark -V` for that frame.
    ("decode/encap/tcp-http-with-padding.pcap", 1,
     (ip4("167.221.30.181"), ip4("217.207.159.63"), 59406, 27272, 6)),
    ("decode/linktypes/null_loopback.pcap", 1, (ip6("::1"), ip6("::1"), 49888, 81, 6)),
    ("decode/linktypes/null_loopback.pcap", 2,
     (ip4("172.16.1.117"), ip4("172.16.1.255"), 55369, 8612, 17)),
    ("decode/linktypes/linux_dlt_sll2.pcap", 1, (ip4("192.0.2.1"), ip4("192.0.2.1"), 8, 0, 1)),
    ("decode/ipv6/ipv6-hbh-routing0.pcap", 1,
     (ip6("2001:4f8:4:7:2e0:81ff:fe52:ffff"), ip6("2001:4f8:4:7:2e0:81ff:fe52:9a6b"), 53, 53, 17)),
    ("decode/encap/802.1ad_QinQ.pcap", 1, None),  # ARP inside 802.1ad + 802.1Q
]


@pytest.mark.parametrize("rel,frame,key", CORPUS_KEYS, ids=[f"{r}#{f}" for r, f, _ in CORPUS_KEYS])
def test_corpus_flow_key(corpus, rel, frame, key):
    pkts = list(wirekit.open(corpus / rel))
    assert pkts[frame - 1].flow_key() == key
    batch = next(iter(wirekit.open(corpus / rel).batches()))
    assert batch.flow_keys()[frame - 1] == key


def test_corpus_qinq_ids(corpus):
    s = next(iter(wirekit.open(corpus / "decode/encap/802.1ad_QinQ.pcap"))).summary()
    assert (s.vlan_count, s.vlan_outer, s.vlan_inner, s.ethertype) == (2, 200, 2001, 0x0806)


def test_corpus_tso_length(corpus):
    pkts = list(wirekit.open(corpus / "decode/encap/ipv4_tcp_http_xml_tso.pcap"))
    s = pkts[0].summary()
    assert s.anomalies == (anomalies.IP_LEN_ZERO_TSO,)
    # tcpdump: "[was 0, presumed TSO]"; the length is what the frame carries.
    assert s.ip_len == pkts[0].wire_len - 14


# ---------------------------------------------------------------- against tshark
TSHARK_FILES = [
    "decode/encap/tcp-http-with-padding.pcap", "decode/encap/802.1ad_QinQ.pcap",
    "decode/encap/q-in-q.pcap", "decode/encap/ipv4_tcp_http_xml_tso.pcap",
    "decode/linktypes/null_loopback.pcap", "decode/linktypes/linux_dlt_sll2.pcap",
    "decode/linktypes/linuxsll-arp.pcap", "decode/linktypes/LINKTYPE_RAW_ipv4.pcap",
    "decode/linktypes/LINKTYPE_RAW_ipv6.pcap", "decode/ipv6/ipv6-hbh-routing0.pcap",
    "decode/ipv6/ipv6-routing-header.pcap", "decode/pcap-format/many_interfaces-1.pcapng",
    "defrag/ip4_fragments.pcap", "banners/ssh-on-port-80.pcap", "defrag/frag_http_req.pcap",
    "tcp-reassembly/truncated-header.pcap", "decode/ipv6/ipv6-mobility-dst-opts.pcap",
    "decode/encap/geneve.pcap", "defrag/zeek-fragmented-syn.pcap",
]
TSHARK_FIELDS = ["ip.src", "ip.dst", "ip.ttl", "ip.len", "ip.id", "ip.frag_offset", "ip.proto",
                 "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen",
                 "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags",
                 "tcp.window_size_value", "tcp.hdr_len", "tcp.len", "udp.srcport", "udp.dstport",
                 "vlan.id", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code"]


def _tshark(path):
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split("\t") + [""] * len(TSHARK_FIELDS)
        rows.append({f: (c.split("|") if c else []) for f, c in zip(TSHARK_FIELDS, cols)})
    return rows


@pytest.mark.parametrize("rel", TSHARK_FILES)
def test_fields_match_tshark(corpus, rel):
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (.ci/run installs it)")
    path = corpus / rel
    pkts = list(wirekit.open(path))
    rows = _tshark(path)
    assert len(rows) == len(pkts)
    checked = 0
    for n, (pkt, t) in enumerate(zip(pkts, rows), 1):
        s = pkt.summary()
        where = f"frame {n}"
        # The outermost IP header is what the summary describes.
        if s.ip_version == 4:
            assert t["ip.src"] and ipaddress.ip_address(t["ip.src"][0]).packed == s.src, where
            assert ipaddress.ip_address(t["ip.dst"][0]).packed == s.dst, where
            assert (int(t["ip.ttl"][0]), int(t["ip.id"][0], 0), int(t["ip.proto"][0])) == (s.ttl, s.ip_id, s.proto), where
            # tshark 4.0 shows the offset in 8-byte units.
            assert int(t["ip.frag_offset"][0]) * 8 == s.frag_offset, where
            if not s.anomalies:
                assert int(t["ip.len"][0]) == s.ip_len, where
        elif s.ip_version == 6:
            assert ipaddress.ip_address(t["ipv6.src"][0]).packed == s.src, where
            assert ipaddress.ip_address(t["ipv6.dst"][0]).packed == s.dst, where
            assert int(t["ipv6.hlim"][0]) == s.ttl, where
            if not s.anomalies:
                assert int(t["ipv6.plen"][0]) + 40 == s.ip_len, where
        if t["vlan.id"] and s.vlan_count:
            assert int(t["vlan.id"][0]) in (s.vlan_outer, s.vlan_inner), where
        # L4 only when there is a single IP layer (no tunnel, no ICMP-quoted header), and only
        # where tshark decoded it too (it gives up on some malformed extension headers).
        single_ip = len(t["ip.src"]) + len(t["ipv6.src"]) == 1
        if not (single_ip and s.ip_version):
            continue
        if s.is_fragment and not s.l4_offset:
            continue  # a later or tiny fragment: L4 is decoded after reassembly
        if s.proto == 6 and t["tcp.srcport"]:
            assert s.l4_offset, f"{where}: tshark decoded TCP, the summary did not ({s})"
            assert (int(t["tcp.srcport"][0]), int(t["tcp.dstport"][0])) == (s.src_port, s.dst_port), where
            assert (int(t["tcp.seq_raw"][0]), int(t["tcp.ack_raw"][0])) == (s.tcp_seq, s.tcp_ack), where
            assert int(t["tcp.flags"][0], 16) == s.tcp_flags, where
            assert int(t["tcp.window_size_value"][0]) == s.tcp_window, where
            assert int(t["tcp.hdr_len"][0]) == s.l4_header_len, where
            if pkt.caplen == pkt.wire_len and t["tcp.len"]:
                assert int(t["tcp.len"][0]) == s.payload_len, where
            checked += 1
        elif s.proto == 17 and t["udp.srcport"]:
            assert s.l4_offset, f"{where}: tshark decoded UDP, the summary did not ({s})"
            assert (int(t["udp.srcport"][0]), int(t["udp.dstport"][0])) == (s.src_port, s.dst_port), where
            checked += 1
        elif s.proto in (1, 58) and t["icmp.type"] + t["icmpv6.type"]:
            v = "icmp" if s.proto == 1 else "icmpv6"
            assert s.l4_offset, f"{where}: tshark decoded ICMP, the summary did not ({s})"
            assert (int(t[v + ".type"][0]), int(t[v + ".code"][0])) == (s.src_port, s.dst_port), where
            checked += 1
    # Every file with L4 headers outside tunnels had some checked.
    assert checked or rel in ("decode/encap/geneve.pcap",) or not any(p.summary().l4_offset for p in pkts)


# tcpdump: "HBH (jumbo: 80040) ... length 80000"; "HBH (jumbo: 65536)"; IPv4 BIG TCP "length
# 80052 [was 0, presumed BIG TCP] ... length 80000".
JUMBO = [
    ("decode/encap/bigtcp-ipv6-hbh.pcap", 40 + 80040, 80000, ()),
    ("decode/ipv6/ipv6_jumbogram_1.pcap", 40 + 65536, 65536 - 8 - 8, ()),
    ("decode/encap/bigtcp-ipv4.pcap", 80052, 80000, (anomalies.IP_LEN_ZERO_TSO,)),
]


@pytest.mark.parametrize("rel,ip_len,payload_len,codes", JUMBO, ids=[j[0] for j in JUMBO])
def test_jumbo_lengths(corpus, rel, ip_len, payload_len, codes):
    s = next(iter(wirekit.open(corpus / rel))).summary()
    assert (s.ip_len, s.payload_len, s.anomalies) == (ip_len, payload_len, codes)
