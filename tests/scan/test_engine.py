"""The sans-IO SYN scanner: permutation, probe packets, pacing, retries, reply matching."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from conftest import oracle_ones_sum
from wirekit.scan.engine import (CLOSED, FILTERED, OPEN, Permutation, SynScanner, TokenBucket,
                                 probe_seq)
from wirekit.scan.targets import TargetError, parse_ports, parse_targets, service_name, top_ports

SRC4, SRC6 = "192.0.2.1", "2001:db8::1"



def parse_syn(pkt: bytes):
    """(dst, dport, sport, seq), checking both checksums and the SYN shape."""
    if pkt[0] >> 4 == 4:
        assert oracle_ones_sum(pkt[:20]) == 0xFFFF
        src, dst, seg = pkt[12:16], pkt[16:20], pkt[20:]
        assert struct.unpack("!H", pkt[2:4])[0] == len(pkt)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
        dst_s = str(ipaddress.IPv4Address(dst))
    else:
        src, dst, seg = pkt[8:24], pkt[24:40], pkt[40:]
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
        dst_s = str(ipaddress.IPv6Address(dst))
    assert oracle_ones_sum(pseudo + seg) == 0xFFFF
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", seg[:14])
    assert (flags, ack, off >> 4) == (0x02, 0, 6)
    return dst_s, dport, sport, seq


def reply(v: int, src: str, dst: str, sport: int, dport: int, ack: int, flags: int,
          win: int = 29200, ttl: int = 61) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 12345, ack, 5 << 4, flags, win, 0, 0)
    if v == 4:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, ttl, 6, 0,
                           ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed) + tcp
    return struct.pack("!IHBB16s16s", 6 << 28, 20, 6, ttl, ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + tcp


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 65535])
def test_permutation_is_a_bijection(n):
    p = Permutation(n, b"key")
    assert sorted(p) == list(range(n))


def test_permutation_depends_on_key_and_is_not_identity():
    a, b = list(Permutation(1000, b"k1")), list(Permutation(1000, b"k2"))
    assert a != b and a != list(range(1000))


def test_targets_ports_parsing():
    t = parse_targets(["10.0.0.0/30", "10.0.0.8-10", "10.0.0.20-10.0.0.21", "2001:db8::/126"],
                      ["10.0.0.1,10.0.0.9"])
    addrs = [t.address(i) for i in range(len(t))]
    assert [str(ipaddress.ip_address(a)) if v == 4 else str(ipaddress.IPv6Address(a))
            for v, a in addrs] == ["10.0.0.0", "10.0.0.2", "10.0.0.3", "10.0.0.8", "10.0.0.10",
                                   "10.0.0.20", "10.0.0.21", "2001:db8::", "2001:db8::1",
                                   "2001:db8::2", "2001:db8::3"]
    assert "10.0.0.9" not in t and "10.0.0.8" in t
    assert parse_ports("22,80,8000-8002,80") == [22, 80, 8000, 8001, 8002]
    assert parse_ports("-") == list(range(1, 65536))
    with pytest.raises(TargetError):
        parse_ports("0")
    with pytest.raises(TargetError):
        parse_targets(["10.0.0.5-10.0.0.1"])
    assert len(top_ports(10)) == 10 and len(set(top_ports(100))) == 100
    assert service_name(22) == "ssh"


def test_every_probe_once_valid_syns_with_keyed_sequence_numbers():
    t = parse_targets(["198.51.100.0/29", "2001:db8::10-2001:db8::12"])
    ports = [22, 80, 443]
    sc = SynScanner(t, ports, secret=b"s" * 16, src4=SRC4, src6=SRC6, rate_pps=0, retries=0)
    pkts = sc.poll_send(0, 10_000)
    seen = [parse_syn(p) for p in pkts]
    assert len(seen) == (8 + 3) * 3
    assert {(d, p) for d, p, _s, _q in seen} == {
        (str(ipaddress.ip_address(a) if v == 4 else ipaddress.IPv6Address(a)), port)
        for v, a in (t.address(i) for i in range(len(t))) for port in ports}
    for d, p, s, q in seen:
        a = ipaddress.ip_address(d)
        assert q == probe_seq(b"s" * 16, a.version, int(a), p, s)
    # permuted: not in target-major order
    assert [(d, p) for d, p, _s, _q in seen] != sorted((d, p) for d, p, _s, _q in seen)


def test_exclusions_are_never_probed():
    t = parse_targets(["198.51.100.0/28"], ["198.51.100.4/30"])
    sc = SynScanner(t, [80], src4=SRC4, rate_pps=0, retries=2, wait_ns=0, retry_delay_ns=0)
    dsts = set()
    now = 0
    while not sc.done:
        for p in sc.poll_send(now, 1000):
            dsts.add(parse_syn(p)[0])
        sc.advance(now)
        now += 1
    assert dsts == {f"198.51.100.{i}" for i in range(16) if not 4 <= i <= 7}


def test_token_bucket_rate_holds_under_retries():
    t = parse_targets(["198.51.100.0/24"])
    sc = SynScanner(t, [80, 443], src4=SRC4, rate_pps=1000, retries=2, wait_ns=0,
                    retry_delay_ns=0)
    sent_at = []
    now = 0
    while not sc.done and now < 5_000_000_000:
        for _p in sc.poll_send(now, 64):
            sent_at.append(now)
        sc.advance(now)
        now += 1_000_000  # poll every ms
    assert len(sent_at) == 3 * 512  # three passes, nothing answered
    # in any one-second window, no more than rate + burst probes
    burst = sc.bucket.burst
    j = 0
    for i, ts in enumerate(sent_at):
        while sent_at[j] <= ts - 1_000_000_000:
            j += 1
        assert i - j + 1 <= 1000 + burst
    assert 1.3e9 <= sent_at[-1] <= 1.7e9  # 1536 probes at 1000/s


def test_token_bucket_unlimited_and_next_ns():
    b = TokenBucket(0)
    assert b.take(0, 10**6) == 10**6
    b = TokenBucket(100, burst=1)
    assert b.take(0, 5) == 1 and b.take(0, 5) == 0
    assert b.next_ns(0) == 10_000_001
    assert b.take(10_000_001, 5) == 1


def _scan_one(ports=(22, 80, 443, 8080), retries=1, **kw):
    t = parse_targets(["198.51.100.7", "2001:db8::7"])
    return SynScanner(t, list(ports), secret=b"k" * 16, src4=SRC4, src6=SRC6, rate_pps=0,
                      retries=retries, wait_ns=1_000, retry_delay_ns=500, **kw)


def test_replies_open_closed_icmp_and_unmatched():
    sc = _scan_one()
    probes = {(d, p): (s, q) for d, p, s, q in map(parse_syn, sc.poll_send(0, 100))}
    s, q = probes[("198.51.100.7", 22)]
    (r,) = sc.receive(reply(4, "198.51.100.7", SRC4, 22, s, q + 1, 0x12), 10)
    assert (r.addr, r.port, r.state, r.reason, r.ttl, r.window, r.ts_ns) == (
        "198.51.100.7", 22, OPEN, "syn-ack", 61, 29200, 10)
    assert r.reply is not None
    s, q = probes[("2001:db8::7", 80)]
    (r,) = sc.receive(reply(6, "2001:db8::7", SRC6, 80, s, q + 1, 0x14, win=0), 11)
    assert (r.addr, r.port, r.state, r.reason) == ("2001:db8::7", 80, CLOSED, "rst")
    # a wrong ACK, a non-target, a bare RST without ACK: nothing
    s, q = probes[("198.51.100.7", 443)]
    assert sc.receive(reply(4, "198.51.100.7", SRC4, 443, s, q + 2, 0x12), 12) == []
    assert sc.receive(reply(4, "198.51.100.8", SRC4, 443, s, q + 1, 0x12), 12) == []
    assert sc.receive(reply(4, "198.51.100.7", SRC4, 443, s, q + 1, 0x04), 12) == []
    assert sc.unmatched == 2
    # ICMP port/admin unreachable quoting the probe: filtered
    (i443,) = [i for i in range(sc.total) if sc.probe(i)[0] == 4 and sc.probe(i)[2] == 443]
    syn = sc.build_syn(i443, 0)
    icmp = struct.pack("!BBHI", 3, 13, 0, 0) + syn[:28]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 250, 1, 0,
                     ipaddress.IPv4Address("203.0.113.1").packed,
                     ipaddress.IPv4Address(SRC4).packed) + icmp
    (r,) = sc.receive(ip, 13)
    assert (r.addr, r.port, r.state, r.reason, r.icmp_from) == (
        "198.51.100.7", 443, FILTERED, "icmp-unreachable", "203.0.113.1")
    # duplicates are counted, not reported twice
    s, q = probes[("198.51.100.7", 22)]
    assert sc.receive(reply(4, "198.51.100.7", SRC4, 22, s, q + 1, 0x12), 14) == []
    assert sc.duplicates == 1


def test_retries_resend_only_unanswered_then_filtered():
    sc = _scan_one(ports=(22, 80), retries=1)
    first = [parse_syn(p) for p in sc.poll_send(0, 100)]
    assert len(first) == 4
    for d, p, s, q in first:
        if (d, p) == ("198.51.100.7", 22):
            sc.receive(reply(4, d, SRC4, p, s, q + 1, 0x12), 5)
    assert sc.next_deadline() == 500  # retry pass starts after the retry delay
    assert sc.poll_send(499, 100) == []
    second = [parse_syn(p) for p in sc.poll_send(500, 100)]
    assert sorted((d, p) for d, p, _s, _q in second) == [
        ("198.51.100.7", 80), ("2001:db8::7", 22), ("2001:db8::7", 80)]
    assert second[0][2] != first[0][2]  # a new source port on the retry pass
    # a reply to the retry (new source port) still matches
    d, p, s, q = [x for x in second if x[:2] == ("2001:db8::7", 22)][0]
    assert sc.receive(reply(6, d, SRC6, p, s, q + 1, 0x14), 600)[0].state == CLOSED
    assert sc.poll_send(600, 100) == []
    assert sc.next_deadline() == 1500
    assert sc.advance(1499) == []
    fin = sc.advance(1500)
    assert sorted((r.addr, r.port, r.state, r.reason) for r in fin) == [
        ("198.51.100.7", 80, FILTERED, "no-response"), ("2001:db8::7", 80, FILTERED, "no-response")]
    assert sc.done and sc.counts == {OPEN: 1, CLOSED: 1, FILTERED: 2}


def test_decoupled_listener_with_the_same_key():
    t = parse_targets(["198.51.100.7"])
    sender = SynScanner(t, [22, 25], secret=b"shared", src4=SRC4, rate_pps=0, retries=0)
    listener = SynScanner(t, [22, 25], secret=b"shared", rate_pps=0, listen_only=True)
    listener.start(0)
    (d, p, s, q), _ = [parse_syn(x) for x in sender.poll_send(0, 10)]
    (r,) = listener.receive(reply(4, d, SRC4, p, s, q + 1, 0x12), 3)
    assert (r.port, r.state) == (p, OPEN)
    other = SynScanner(t, [22, 25], secret=b"other", rate_pps=0, listen_only=True)
    assert other.receive(reply(4, d, SRC4, p, s, q + 1, 0x12), 3) == []


def test_receive_batch_matches_like_receive(tmp_path):
    """Replies read back from a capture file (raw IP link type) through the batch path."""
    import wirekit
    from wirekit.capture.writers import PcapWriter

    sc = _scan_one(ports=(22, 80, 443))
    probes = {(d, p): (s, q) for d, p, s, q in map(parse_syn, sc.poll_send(0, 100))}
    frames = []
    s, q = probes[("198.51.100.7", 22)]
    frames.append(reply(4, "198.51.100.7", SRC4, 22, s, q + 1, 0x12))
    s, q = probes[("2001:db8::7", 80)]
    frames.append(reply(6, "2001:db8::7", SRC6, 80, s, q + 1, 0x14))
    frames.append(reply(6, "2001:db8::7", SRC6, 443, s, q + 1, 0x14))  # wrong port for the seq
    (i443,) = [i for i in range(sc.total) if sc.probe(i)[0] == 4 and sc.probe(i)[2] == 443]
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + sc.build_syn(i443, 0)[:28]
    frames.append(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 250, 1, 0,
                              ipaddress.IPv4Address("198.51.100.7").packed,
                              ipaddress.IPv4Address(SRC4).packed) + icmp)
    path = tmp_path / "replies.pcap"
    with PcapWriter(str(path), linktype=101) as w:
        for k, f in enumerate(frames):
            w.write(data=f, ts_ns=k)
    results = []
    with wirekit.open(path) as cap:
        for b in cap.batches():
            results += sc.receive_batch(b, 99)
    assert sorted((r.addr, r.port, r.state, r.reason, r.ttl) for r in results) == [
        ("198.51.100.7", 22, OPEN, "syn-ack", 61), ("198.51.100.7", 443, FILTERED, "icmp-unreachable", None),
        ("2001:db8::7", 80, CLOSED, "rst", 61)]
    assert sc.unmatched == 1
    (opened,) = [r for r in results if r.state == OPEN]
    assert opened.reply == frames[0] and opened.window == 29200


def test_no_final_wait_when_every_probe_is_answered():
    sc = _scan_one(ports=(22,), retries=1)
    for d, p, s, q in map(parse_syn, sc.poll_send(0, 100)):
        v = 6 if ":" in d else 4
        sc.receive(reply(v, d, SRC4 if v == 4 else SRC6, p, s, q + 1, 0x14), 5)
    assert sc.poll_send(5, 100) == []  # nothing left to retry: the scan ends here
    assert sc.next_deadline() == 5
    assert sc.advance(5) == [] and sc.done and sc.counts[CLOSED] == 2


@pytest.mark.parametrize("n", [1, 2, 17, 1000, 65535])
def test_permutation_inverse(n):
    p = Permutation(n, b"inv")
    assert [p.index(p[i]) for i in range(n)] == list(range(n))


def test_waits_adapt_to_measured_round_trips_within_the_cap():
    t = parse_targets(["198.51.100.7"])
    sc = SynScanner(t, [22, 80, 443], secret=b"k" * 16, src4=SRC4, rate_pps=0, retries=1,
                    wait_ns=10_000_000_000, retry_delay_ns=5_000_000_000)
    assert sc._wait(sc.wait_ns) == 10_000_000_000  # nothing timed yet: the full cap
    sent = {p: (s, q) for _d, p, s, q in map(parse_syn, sc.poll_send(1_000_000_000, 10))}
    s, q = sent[22]
    sc.receive(reply(4, "198.51.100.7", SRC4, 22, s, q + 1, 0x12), 1_030_000_000)  # 30 ms RTT
    assert sc.rtt_max_ns == 30_000_000
    assert sc._wait(sc.wait_ns) == 120_000_000  # 4 x the slowest round trip
    # the retry pass (planned when pass 0 ended, before the reply) keeps its first plan;
    # the final wait uses what was measured
    while sc.end_ns is None:
        sc.poll_send(sc.next_deadline(), 10)
    assert sc.next_deadline() == sc.end_ns + 120_000_000
    sc2 = SynScanner(t, [22], secret=b"k" * 16, src4=SRC4, rate_pps=0, wait_ns=10_000_000_000,
                     adaptive=False)
    sc2.rtt_max_ns = 1
    assert sc2._wait(sc2.wait_ns) == 10_000_000_000


def test_first_retry_pass_is_timed_per_probe_from_its_own_send():
    # 8 probes at 1000/s with a burst of 1: one every ms. Nothing answers; the round-trip
    # allowance is 4 x 1 ms (measured below) -> each retry goes out 4 ms after its own
    # pass-0 send, not 4 ms after the pass ended, and never above the rate.
    t = parse_targets(["198.51.100.7"])
    sc = SynScanner(t, list(range(1, 9)), secret=b"k" * 16, src4=SRC4, rate_pps=1000, burst=1,
                    retries=1, wait_ns=1_000_000_000, retry_delay_ns=1_000_000_000)
    sc.MIN_ADAPTIVE_WAIT_NS = 0
    sent = []  # (now_ns, pass, port)
    now = 0
    while not sc.done and now < 3_000_000_000:
        pass_no = sc.pass_no  # poll_send may end the pass it sends the last probe of
        for p in sc.poll_send(now, 8):
            sent.append((now, pass_no, parse_syn(p)[1]))
        if sc.pass_no == 0 and sc.rtt_max_ns is None and sent:
            # one reply (port 8 stays unanswered otherwise): a 1 ms round trip
            d, port, s_, q = next(map(parse_syn, [sc.build_syn(sc.perm[0], 0)]))
            (r,) = sc.receive(reply(4, d, SRC4, port, s_, q + 1, 0x14), now + 1_000_000)
        sc.advance(now)
        now += 250_000
    first = {port: ts for ts, pn, port in sent if pn == 0}
    retried = {port: ts for ts, pn, port in sent if pn == 1}
    assert len(first) == 8 and len(retried) == 7  # the answered probe is not re-sent
    for port, ts in retried.items():
        assert ts >= first[port] + 4_000_000  # its own allowance has passed
    # the retry pass began before pass 0's last probe was 4 ms old
    assert min(retried.values()) < max(first.values()) + 4_000_000
    # and the rate holds across both passes: one probe per ms at most
    times = sorted(ts for ts, _pn, _p in sent)
    assert all(b - a >= 1_000_000 - 250_000 for a, b in zip(times, times[1:]))
    assert sc.counts[FILTERED] == 7


def test_round_trips_timed_from_capture_timestamps(tmp_path):
    """With ts_offset_ns, a reply's round trip runs to its capture time, not to when a busy
    caller got round to it (which would stretch the adaptive waits)."""
    import wirekit
    from wirekit.capture.writers import PcapWriter

    sc = _scan_one(ports=(22,))
    sent_ns = 1_000_000_000
    probes = {(d, p): (s, q) for d, p, s, q in map(parse_syn, sc.poll_send(sent_ns, 100))}
    s, q = probes[("198.51.100.7", 22)]
    path = tmp_path / "reply.pcap"
    with PcapWriter(str(path), linktype=101) as w:
        # captured (wall clock) 7 ms after the send, given an offset of -5 s between clocks
        w.write(data=reply(4, "198.51.100.7", SRC4, 22, s, q + 1, 0x12),
                ts_ns=sent_ns + 7_000_000 + 5_000_000_000)
    with wirekit.open(path) as cap:
        (b,) = list(cap.batches())
    # handled 200 ms after the send: the round trip is still 7 ms
    assert [r.state for r in sc.receive_batch(b, sent_ns + 200_000_000, -5_000_000_000)] == [OPEN]
    assert sc.rtt_max_ns == 7_000_000
    # without the offset, the call's time is what counts
    sc2 = _scan_one(ports=(22,))
    sc2.poll_send(sent_ns, 100)
    sc2.receive_batch(b, sent_ns + 200_000_000)
    assert sc2.rtt_max_ns == 200_000_000
