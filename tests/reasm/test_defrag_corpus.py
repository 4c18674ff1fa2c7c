"""Defragmentation on real captures: PcapPlusPlus expected frames byte for byte, the
suricata-verify and Zeek fragment cases, IPv6 atomic fragments."""

from __future__ import annotations

import base64
import re

import pytest

import wirekit
from wirekit.reasm.defrag import Defragmenter, DefragAnomaly, Outcome

from conftest import CORPUS

pytestmark = pytest.mark.skipif(
    not (CORPUS / "defrag").is_dir(), reason=f"corpus not found at {CORPUS} (set WIREKIT_CORPUS)"
)


def packets(name: str):
    return [p for b in wirekit.open(CORPUS / "defrag" / name).batches() for p in b.packets()]


def run(name: str, **kw) -> tuple[Defragmenter, list]:
    """The packet stream with fragments replaced by datagrams, as PcapPlusPlus numbers it
    (non-fragments pass through and count), plus events."""
    d = Defragmenter(**kw)
    return d, list(d.process(packets(name)))


def split(out: list) -> tuple[list, list[str]]:
    pkts = [o for o in out if isinstance(o, wirekit.Packet)]
    codes = [o.code for o in out if isinstance(o, DefragAnomaly)]
    return pkts, codes


def expected_hex(name: str) -> bytes:
    return bytes.fromhex((CORPUS / "defrag" / name).read_text().strip())


def test_ip4_fragments_pcapplusplus_frames():
    d, out = run("ip4_fragments.pcap")
    pkts, codes = split(out)
    # PcapPlusPlus numbers reassembled and pass-through packets alike.
    for n in (1, 4, 6):
        assert pkts[n - 1].data == expected_hex(f"ip4_fragments_packet{n}.txt"), n
    # 9 trains with duplicated fragments: every duplicate is reported, none corrupts.
    assert codes.count("duplicate_fragment") == 12
    assert "overlap_different_data" not in codes
    assert d.stats.datagrams_completed == 6
    # The duplicated last fragments arriving after completion start trains that never end.
    ev = d.advance(2**62)
    assert [e.code for e in ev] == ["fragment_timeout"] * d.stats.datagrams_timed_out
    assert d.stats.datagrams_in_progress == 0 and d.stats.bytes_buffered == 0


def test_reassembled_datagram_keeps_last_fragment_time_and_decodes_whole():
    frags = packets("ip4_fragments.pcap")
    d = Defragmenter()
    done = [p for p in d.feed(frags[:6]) if isinstance(p, wirekit.Packet)]
    assert len(done) == 1
    assert done[0].ts_ns == frags[5].ts_ns
    assert done[0].linktype == frags[5].linktype
    ip = done[0].decode().ip
    assert ip.total_len == len(done[0].data) - 14 == 8340
    assert not ip.is_fragment and ip.verify_checksum()


def test_ip6_fragments_pcapplusplus_frames():
    _, out = run("ip6_fragments.pcap")
    pkts, _ = split(out)
    for n in (1, 2):
        want = bytearray(expected_hex(f"ip6_fragments_packet{n}.txt"))
        got = pkts[n - 1].data
        # The upstream expectation carries a payload length 4 short (its test patches the
        # field before comparing); ours is the true length. Everything else byte for byte.
        assert int.from_bytes(got[18:20], "big") == len(got) - 14 - 40
        want[18:20] = got[18:20]
        assert got == bytes(want), n


def test_frag_http_req_pcapplusplus_frame():
    _, out = run("frag_http_req.pcap")
    pkts, _ = split(out)
    assert len(pkts) == 1
    assert pkts[0].data == expected_hex("frag_http_req_reassembled.txt")


def test_frag_with_padding_does_not_leak_padding():
    _, out = run("frag_with_padding.pcap")
    pkts, codes = split(out)
    want = bytes.fromhex(re.sub(r"\s", "", (CORPUS / "defrag" / "frag_with_padding_defragmented.dat").read_text()))
    assert [p.data for p in pkts] == [want]
    # These fragments carry DF (as Zeek's fragment_with_DF): one event per fragment.
    assert codes == ["fragment_with_df"] * 8


@pytest.mark.parametrize(
    "name",
    ["sv-bug-6887-ipv4-tcp-syn.pcap", "sv-bug-6887-eth-vlan-ipv4-tcp-syn.pcap", "sv-bug-6887-eth-vlan-ipv6-tcp.pcap"],
)
def test_suricata_bug_6887_tiny_fragments_give_expected_packet(name):
    text = (CORPUS / "defrag" / name.replace(".pcap", ".suricata-verify.txt")).read_text()
    want = base64.b64decode(re.search(r'packet: "([^"]+)"', text).group(1))
    _, out = run(name)
    pkts, codes = split(out)
    assert [p.data for p in pkts] == [want]
    summary = pkts[0].summary()
    # A whole TCP segment again: the SYN of the IPv4 cases, an ACK with data for IPv6.
    assert (summary.proto, summary.tcp_flags) == (6, 0x02 if "syn" in name else 0x10)
    if "ipv4" in name:
        # The first fragment holds 8 of the TCP header's 20 bytes (RFC 1858 tiny fragment).
        assert codes == ["tiny_first_fragment"]


def test_suricata_ipv6_overlap_different_data():
    # Two fragments at offset 408 with 'Z' then 'A' bytes: suricata-verify expects
    # ipv6.frag_overlap.
    _, out = run("sv-ipv6-malformed-fragments-4.pcap")
    pkts, codes = split(out)
    assert codes == ["overlap_different_data"]
    ev = [o for o in out if isinstance(o, DefragAnomaly)][0]
    assert (ev.ip_version, ev.frag_offset, ev.byte_count, ev.proto) == (6, 408, 400, 0)


@pytest.mark.parametrize(("policy", "fill"), [("first", b"Z"), ("bsd", b"Z"), ("linux", b"A"), ("last", b"A")])
def test_suricata_ipv6_overlap_resolved_by_policy(policy, fill):
    _, out = run("sv-ipv6-malformed-fragments-4.pcap", policy=policy)
    big = [p for p in split(out)[0] if len(p.data) > 1000]
    assert len(big) == 1
    payload = big[0].data[14 + 40 :]
    assert len(payload) == 1208
    assert payload[408:808] == fill * 400


@pytest.mark.parametrize("mode", ["ipv6", "always"])
def test_rfc5722_discards_the_overlapping_ipv6_datagram(mode):
    d, out = run("sv-ipv6-malformed-fragments-4.pcap", discard_overlaps=mode)
    pkts, codes = split(out)
    assert [p for p in pkts if len(p.data) > 1000] == []
    assert codes == ["overlap_different_data", "overlap_datagram_discarded"]
    assert d.stats.fragments_dropped == 2  # the overlapping one and the last one after it
    assert d.advance(2**62) == []  # the tombstone expires silently
    assert d.stats.datagrams_in_progress == 0


def test_rfc5722_ipv6_mode_still_resolves_ipv4_by_policy():
    _, out = run("zeek-fragmented-4.pcap", policy="first", discard_overlaps="ipv6")
    whole = [p for p in split(out)[0] if len(p.data) > 100]
    assert whole[0].data[14 + 20 + 20 :] == URL_FIRST


def test_suricata_ipv6_invalid_length_dropped():
    # A non-last fragment of 175 bytes: suricata-verify expects ipv6.frag_invalid_length.
    d, out = run("sv-ipv6-malformed-fragments-24.pcap")
    _, codes = split(out)
    assert codes == ["fragment_bad_length"]
    assert d.stats.datagrams_completed == 0


def test_suricata_ipv6_last_fragment_before_held_end():
    # A last fragment ending at 9 after fragments up to 808 (Suricata: frag_overlap).
    _, out = run("sv-ipv6-malformed-fragments-29.pcap")
    assert split(out)[1] == ["fragment_end_inconsistent"]


def test_zeek_fragmented_1_unaligned_then_inconsistent_end():
    # Zeek: excessively_small_fragment, fragment_size_inconsistency, fragment_inconsistency.
    d, out = run("zeek-fragmented-1.pcap")
    assert split(out) == ([], ["fragment_bad_length", "fragment_end_inconsistent"])
    assert d.stats.datagrams_in_progress == 1


def test_zeek_fragmented_2_duplicate_first_fragment():
    # Zeek: excessively_small_fragment x2, fragment_overlap.
    _, out = run("zeek-fragmented-2.pcap")
    assert split(out) == ([], ["fragment_bad_length", "fragment_bad_length", "duplicate_fragment"])


def test_zeek_fragmented_3_fragments_with_df():
    _, out = run("zeek-fragmented-3.pcap")
    assert split(out)[1] == ["fragment_with_df"] * 5


URL_FIRST = b"GET /msadc/..%2f../..%2f../..%2f../winnt/system32/cmd.exe?/c+dir+c:\\\n"
URL_LAST = b"GET /msadc/..%2f../..%2f../.RKNWUrdooM+WskO2IiALQTI\x00d.exe?/c+dir+c:\\\n"


@pytest.mark.parametrize(
    ("policy", "url"),
    [
        ("first", URL_FIRST),
        ("windows", URL_FIRST),  # newcomer [24,72) does not strictly contain [48,72)
        ("last", URL_LAST),
        ("bsd", URL_LAST),  # newcomer starts first
        ("linux", URL_LAST),
        ("solaris", URL_LAST),  # starts before, same end
        ("bsd-right", URL_LAST),  # same end, starts first
    ],
)
def test_zeek_fragmented_4_inconsistent_overlap_per_policy(policy, url):
    # Zeek: fragment_inconsistency. The evasion hides an IIS exploit URL under first-wins.
    _, out = run("zeek-fragmented-4.pcap", policy=policy)
    pkts, codes = split(out)
    whole = [p for p in pkts if len(p.data) > 100]
    assert len(whole) == 1
    assert whole[0].data[14 + 20 + 20 :] == url
    assert codes == ["overlap_different_data"]


def test_policy_by_cidr_picks_destination_policy():
    _, out = run("zeek-fragmented-4.pcap", policy="last", policy_by_cidr={"10.0.0.0/24": "first"})
    whole = [p for p in split(out)[0] if len(p.data) > 100]
    assert whole[0].data[14 + 20 + 20 :] == URL_FIRST


def test_ipv6_atomic_fragments_pass_through():
    src = packets("ipv6-http-atomic-frag.pcap")
    d = Defragmenter()
    out = list(d.process(src))
    pkts, codes = split(out)
    # Every packet passes through untouched; atomic ones are reported, none is buffered.
    assert pkts == src
    assert codes == ["ipv6_atomic_fragment"] * 5
    assert d.stats.datagrams_in_progress == 0 and d.stats.fragments == 0


def test_ipv6_reassembly_state_leak_expires_everything():
    d, out = run("ipv6-reassembly-state-leak.pcap", timeout_s=1.0)
    codes = split(out)[1]
    assert codes.count("oversized_datagram") >= 1
    d.advance(2**62)
    assert d.stats.datagrams_in_progress == 0
    assert d.stats.bytes_buffered == 0
    assert d.next_deadline() is None


def test_ip4_bad_fragment_is_dropped_as_truncated():
    # An MPLS-labelled frame whose inner IPv4 header is garbage (IHL 15, total length 3841,
    # offset 288 in a 60-byte frame). The decoder walks the MPLS label to it, so it is a
    # fragment that cannot be held: dropped with fragment_truncated (PcapPlusPlus: "must be
    # dropped"), nothing buffered.
    (pkt,) = packets("ip4_bad_fragment.pcap")
    d = Defragmenter()
    outcome, frame, events = d.push(pkt)
    assert (outcome, frame) == (Outcome.DROPPED, None)
    assert [(e.code, e.src, e.dst, e.ip_id, e.proto, e.frag_offset) for e in events] == [
        ("fragment_truncated", "0.0.0.1", "0.0.0.1", 260, 29, 288)]
    assert d.stats.datagrams_in_progress == 0 and d.stats.bytes_buffered == 0


def test_ipv6_fragmented_dns_matches_zeek():
    # Zeek's core.ipv6-frag baseline lists the IPv6 packets after reassembly: payload length,
    # next header, hop limit, UDP ports. The 3238-byte DNS response is the reassembled one.
    zeek = (CORPUS / "defrag" / "ipv6-fragmented-dns.zeek.core.ipv6-frag.output").read_text()
    want = [
        (int(m[0]), int(m[1]), int(m[2]), int(m[3]), int(m[4]))
        for m in re.findall(r"len=(\d+), nxt=(\d+), hlim=(\d+).*sport=(\d+)/udp, dport=(\d+)/udp", zeek)
    ]
    _, out = run("ipv6-fragmented-dns.pcap")
    got = []
    for p in split(out)[0]:
        s = p.summary()
        got.append((int.from_bytes(p.data[18:20], "big"), p.data[20], p.data[21], s.src_port, s.dst_port))
    assert got == want
    assert max(w[0] for w in want) == 3238
