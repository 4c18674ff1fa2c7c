"""pf.os matching, one test per pf rule (OpenBSD pf_osfp.c / pfctl_osfp.c), on crafted SYNs."""

from __future__ import annotations

import pytest

from wirekit.fingerprint import PfOsDatabase, TCPSignatureInput

from tests.fingerprint.craft import EOL, MSS, NOP, SOK, TS, WS, ipv4, ipv6, tcp


def db(*lines: str) -> PfOsDatabase:
    d = PfOsDatabase.parse("\n".join(lines))
    assert not d.errors, d.errors
    return d


def label(d: PfOsDatabase, pkt: bytes) -> str | None:
    sig = TCPSignatureInput.from_ip(pkt)
    assert sig is not None
    m = d.match(sig)
    return None if m is None else m.fingerprint.description


# Linux-like SYN: MSS 1460, SACK, TS, NOP, WS 7 -> 60 bytes
LINUX = MSS(1460) + SOK + TS(100, 0) + NOP + WS(7)
LINUX_LAYOUT = "M*,S,T,N,W7"


@pytest.mark.parametrize("window,win,expect", [
    ("5840", 5840, True), ("5840", 5841, False),
    ("*", 1234, True),
    ("%1000", 3000, True), ("%1000", 3001, False),
    ("S4", 4 * 1460, True), ("S4", 5 * 1460, False),
    ("T4", 4 * 1500, True), ("T4", 4 * 1460, False),
])
def test_window_forms(window, win, expect):
    d = db(f"{window}:64:1:60:{LINUX_LAYOUT}:Linux:x::win")
    assert (label(d, ipv4(tcp(win=win, opts=LINUX))) == "win") is expect


def test_window_mss_multiple_uses_packet_mss_then_smart_mss():
    d = db("S4:64:1:60:M*,S,T,N,W7:Linux:x::S4")
    opts = MSS(1400) + SOK + TS(1, 0) + NOP + WS(7)
    assert label(d, ipv4(tcp(win=4 * 1400, opts=opts))) == "S4"
    # "smart" NATs rewrite the MSS: 4 x 1460 still matches an MSS-1400 SYN
    assert label(d, ipv4(tcp(win=4 * 1460, opts=opts))) == "S4"
    assert label(d, ipv4(tcp(win=5 * 1400, opts=opts))) is None


def test_window_mtu_multiple_and_smart_mtu():
    d = db("T2:64:1:60:M*,S,T,N,W7:Linux:x::T2")
    opts = MSS(1400) + SOK + TS(1, 0) + NOP + WS(7)
    assert label(d, ipv4(tcp(win=2 * 1440, opts=opts))) == "T2"
    assert label(d, ipv4(tcp(win=2 * 1500, opts=opts))) == "T2"


def test_window_mss_multiple_needs_an_mss():
    d = db("S0:64:1:44:W0,N:X:x::no-mss", "*:64:1:44:W0,N:X:y::fallback")
    # no MSS option: S-windows cannot match (even S0 with window 0)
    assert label(d, ipv4(tcp(win=0, opts=WS(0) + NOP))) == "fallback"


@pytest.mark.parametrize("ttl,expect", [(64, True), (40, True), (24, True), (23, False), (65, False)])
def test_ttl_at_or_above_within_40(ttl, expect):
    d = db(f"*:64:1:60:{LINUX_LAYOUT}:Linux:x::ttl")
    assert (label(d, ipv4(tcp(opts=LINUX), ttl=ttl)) == "ttl") is expect


def test_df_must_agree():
    d = db(f"*:64:1:60:{LINUX_LAYOUT}:A:x::df", f"*:64:0:60:{LINUX_LAYOUT}:B:x::nodf")
    assert label(d, ipv4(tcp(opts=LINUX), df=True)) == "df"
    assert label(d, ipv4(tcp(opts=LINUX), df=False)) == "nodf"


@pytest.mark.parametrize("size,expect", [("60", True), ("64", False), ("*", True), ("%20", True),
                                         ("%7", False)])
def test_packet_size_forms(size, expect):
    d = db(f"*:64:1:{size}:{LINUX_LAYOUT}:Linux:x::size")
    assert (label(d, ipv4(tcp(opts=LINUX))) == "size") is expect


def test_option_order_and_count_exact():
    d = db("*:64:1:*:M*,S,T,N,W*:A:x::order")
    assert label(d, ipv4(tcp(opts=LINUX))) == "order"
    swapped = SOK + MSS(1460) + TS(100, 0) + NOP + WS(7)
    assert label(d, ipv4(tcp(opts=swapped))) is None
    extra = LINUX + NOP + NOP + NOP + NOP
    assert label(d, ipv4(tcp(opts=extra))) is None


def test_options_after_eol_are_ignored():
    d = db("*:64:1:*:M*:A:x::eol")
    assert label(d, ipv4(tcp(opts=MSS(1460) + EOL + b"\x01\x01\x01"))) == "eol"


def test_unknown_option_is_not_fingerprinted():
    d = db("*:64:1:*:M*:A:x::mss")
    opts = MSS(1460) + b"\x1e\x04\x00\x00"  # option 30 (MPTCP): pf gives up
    assert label(d, ipv4(tcp(opts=opts))) is None


@pytest.mark.parametrize("opt,mss,expect", [("M1460", 1460, True), ("M1460", 1400, False),
                                            ("M*", 1234, True), ("M%100", 1400, True),
                                            ("M%100", 1460, False)])
def test_mss_forms(opt, mss, expect):
    d = db(f"*:64:1:*:{opt}:A:x::mss")
    assert (label(d, ipv4(tcp(opts=MSS(mss)))) == "mss") is expect


@pytest.mark.parametrize("opt,ws,expect", [("W7", 7, True), ("W7", 2, False), ("W*", 9, True),
                                           ("W%2", 4, True), ("W%2", 3, False)])
def test_wscale_forms(opt, ws, expect):
    d = db(f"*:64:1:*:N,{opt}:A:x::ws")
    assert (label(d, ipv4(tcp(opts=NOP + WS(ws)))) == "ws") is expect


def test_zero_timestamp_must_agree():
    d = db("*:64:1:*:M*,N,N,T0:A:x::t0", "*:64:1:*:M*,N,N,T:B:x::ts")
    assert label(d, ipv4(tcp(opts=MSS(1460) + NOP + NOP + TS(0, 0)))) == "t0"
    assert label(d, ipv4(tcp(opts=MSS(1460) + NOP + NOP + TS(5, 0)))) == "ts"


def test_first_match_in_file_order_and_merged_candidates():
    d = db("*:64:1:*:M*:First:1::first", "*:64:1:*:M*:Second:2::second",
           "%2:64:1:*:M*:Third:3::third")
    m = d.match(TCPSignatureInput.from_ip(ipv4(tcp(win=8, opts=MSS(1460)))))
    assert m.fingerprint.description == "first"
    assert [c.description for c in m.candidates] == ["first", "second"]
    assert m.distance == 0


def test_only_syns():
    d = db("*:64:1:*:M*:A:x::mss")
    assert label(d, ipv4(tcp(flags=0x12, ack=1, opts=MSS(1460)))) is None
    assert label(d, ipv4(tcp(flags=0x02, opts=MSS(1460)))) == "mss"


def test_ipv6_copy_adds_header_bytes_and_implies_df():
    d = db("*:64:0:44:M*:A:x::v4-44")
    assert label(d, ipv4(tcp(opts=MSS(1460)), df=False)) == "v4-44"
    # 40 + 24 = 64 = 44 + 20; DF is implied for IPv6 even though the line says 0
    assert label(d, ipv6(tcp(opts=MSS(1440)), hlim=60)) == "v4-44"


def test_label_formatting_and_guess():
    d = db("S4:64:1:60:M*,S,T,N,W0:Linux:2.4:.18-21:Linux 2.4.18 and newer",
           "65535:128:1:48:M*,N,N,S:@Windows:XP::Windows XP")
    m = d.match(TCPSignatureInput.from_ip(ipv4(tcp(win=4 * 1460, opts=MSS(1460) + SOK + TS(1, 0) + NOP + WS(0)), ttl=60)))
    g = m.to_guess()
    assert (g.db, g.label, g.match, g.distance, g.generic) == ("pf.os", "Linux 2.4.18-21", "exact", 4, False)
    m = d.match(TCPSignatureInput.from_ip(ipv4(tcp(win=65535, opts=MSS(1460) + NOP + NOP + SOK), ttl=120)))
    assert m.label == "Windows XP" and m.to_guess().generic


def test_shipped_database():
    d = PfOsDatabase.load()
    assert len(d) > 200 and not d.errors
    # a Linux 2.6 SYN: S4 window, TTL 64, DF, 60 bytes, M*,S,T,N,W5
    syn = ipv4(tcp(win=4 * 1460, opts=MSS(1460) + SOK + TS(7, 0) + NOP + WS(5)), ttl=55)
    m = d.match(TCPSignatureInput.from_ip(syn))
    assert m.label == "Linux 2.6" and m.distance == 9


def test_descriptions_shorter_than_two_are_refused_as_pfctl_does():
    d = PfOsDatabase.parse("*:64:1:*:M*:A:x::m")
    assert len(d) == 0 and d.errors[0][0] == 1
