"""Passive inventory: services from SYN+ACKs, clients from SYNs, each with its OS guess."""

from __future__ import annotations

import pytest

import wirekit
from wirekit.scan.passive import PassiveInventory

from tests.fingerprint.craft import MSS, NOP, SOK, TS, WS, ipv4, ipv6, tcp
from tests.fingerprint.p0f_reference import corpus_dir, parse_reference

LINUX = MSS(1460) + SOK + TS(5, 0) + NOP + WS(7)
A, B = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"


def test_syn_gives_client_synack_gives_server_once():
    inv = PassiveInventory()
    syn = ipv4(tcp(sport=40000, dport=22, win=1460 * 44, opts=LINUX), src=A, dst=B)
    r = inv.feed_ip(syn, 1_000)
    assert (r.role, r.addr, r.port, r.ttl, r.window, r.ts_ns) == ("client", "10.0.0.1", 22, 64, 64240, 1000)
    assert (r.os, r.db, r.match, r.distance) == ("Linux 2.2.x-3.x", "p0f", "exact", 0)
    # same client, same service: not repeated
    assert inv.feed_ip(ipv4(tcp(sport=40001, dport=22, win=1460 * 44, opts=LINUX), src=A, dst=B), 2_000) is None
    synack = ipv4(tcp(sport=22, dport=40001, flags=0x12, ack=2, win=1460 * 10,
                      opts=MSS(1460) + SOK + TS(7, 5) + NOP + WS(7)), src=B, dst=A, ip_id=0, ttl=60)
    r = inv.feed_ip(synack, 3_000)
    assert (r.role, r.addr, r.port, r.ttl) == ("server", "10.0.0.2", 22, 60)
    assert (r.os, r.match, r.distance) == ("Linux 3.x", "exact", 4)
    assert inv.feed_ip(synack, 4_000) is None
    assert [x.role for x in inv.records] == ["client", "server"]
    assert (inv.syns, inv.synacks) == (2, 2)


def test_synack_window_read_with_the_syns_mss():
    inv = PassiveInventory()
    syn = ipv4(tcp(sport=40000, dport=80, win=1400 * 44, opts=MSS(1400) + SOK + TS(5, 0) + NOP + WS(7)),
               src=A, dst=B)
    inv.feed_ip(syn, 1)
    # window 10 x the *client's* MSS (1400), the server's own MSS being 1460
    synack = ipv4(tcp(sport=80, dport=40000, flags=0x12, ack=2, win=1400 * 10,
                      opts=MSS(1460) + SOK + TS(7, 5) + NOP + WS(7)), src=B, dst=A, ip_id=0)
    r = inv.feed_ip(synack, 2)
    assert r.os == "Linux 3.x"
    other = PassiveInventory()
    assert other.feed_ip(synack, 2).os is None  # without the SYN, p0f's rules find nothing


def test_guesses_from_both_databases_p0f_first():
    inv = PassiveInventory()
    # IRIX 6.5 SYN (pf.os line "61440:64:0:48:M*,N,N,S"): pf.os matches exactly; p0f only
    # fuzzily (a Windows signature, TTL out of range). p0f leads, flagged fuzzy.
    r = inv.feed_ip(ipv4(tcp(win=61440, opts=MSS(1460) + NOP + NOP + SOK), df=False, ip_id=5, ttl=60), 1)
    assert [(g.db, g.label, g.match) for g in r.guesses] == [
        ("p0f", "Windows NT kernel", "fuzzy"), ("pf.os", "IRIX 6.5.12-21", "exact")]
    assert (r.os, r.db, r.match, r.distance) == ("Windows NT kernel", "p0f", "fuzzy", 4)


def test_ipv6_records():
    inv = PassiveInventory()
    r = inv.feed_ip(ipv6(tcp(dport=443, win=1440 * 20, opts=MSS(1440) + SOK + TS(1, 0) + NOP + WS(7))), 9)
    assert (r.role, r.addr, r.port, r.os) == ("client", "2001::1", 443, "Linux 3.11 and newer")


def test_record_table_is_bounded():
    inv = PassiveInventory(max_entries=2)
    for port in (1, 2, 3, 4):
        inv.feed_ip(ipv4(tcp(dport=port, win=1460 * 44, opts=LINUX)), port)
    assert len(inv.records) == 2 and inv.dropped_records == 2


CORPUS = corpus_dir()
FILES = ["fingerprints/var-services-std-ports.pcap", "fingerprints/modbus-and-non-modbus-p502.pcap",
         "fingerprints/nmap-vsn.pcap", "banners/get.pcap"]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "fingerprints").exists(), reason="corpus not found")
@pytest.mark.parametrize("name", FILES)
def test_batch_path_agrees_with_p0f_on_first_sightings(name):
    """Every service / client wirekit lists is one p0f fingerprinted, with p0f's label for
    its first SYN+ACK / SYN (where p0f had one; otherwise pf.os may answer)."""
    ref = parse_reference(CORPUS / "fingerprints" / "p0f-3.09b.reference.log")[name]
    inv = PassiveInventory()
    with wirekit.open(CORPUS / name) as cap:
        for b in cap.batches():
            inv.feed_batch(b)
    assert inv.records
    first: dict[tuple, str] = {}
    for e in ref:
        cli, srv = e.cli.rsplit("/", 1), e.srv.rsplit("/", 1)
        key = ("server", srv[0], int(srv[1])) if e.kind == "syn+ack" else ("client", cli[0], int(srv[1]))
        first.setdefault(key, e.os)
    for r in inv.records:
        key = (r.role, r.addr, r.port)
        if key not in first:
            continue  # e.g. a SYN+ACK p0f skips (no SYN seen, or an nmap SYN before it)
        if first[key] == "???":
            assert r.db != "p0f"
        else:
            assert (r.db, r.os) == ("p0f", first[key]), key
    # and the per-packet path gives the same records
    inv2 = PassiveInventory()
    with wirekit.open(CORPUS / name) as cap:
        for pkt in cap:
            from wirekit.fingerprint.tcpsig import link_ip_offset

            off = link_ip_offset(pkt.linktype, pkt.data)
            if off is not None:
                inv2.feed_ip(pkt.data[off:], pkt.ts_ns)
    assert [(r.role, r.addr, r.port, r.os) for r in inv2.records] == [
        (r.role, r.addr, r.port, r.os) for r in inv.records]
