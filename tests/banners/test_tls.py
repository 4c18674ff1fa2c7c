"""TLS hellos: JA4 against the FoxIO spec's worked example, JA3/JA3S and SNI against what
tshark computes on real OpenSSL/curl hellos, GREASE handling, records split anywhere."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from wirekit.banners import BannerEngine, Direction, TLSDetector
from wirekit.banners.tls import (
    is_grease,
    ja3_string,
    ja4,
    ja4_r,
    parse_client_hello,
)

from .conftest import banners_simple
from .tshark_ja4 import ja4_from_tshark
from .tlsbuild import alpn_ext, client_hello, ext, record, sni_ext, spec_example_hello, u16_list_ext

PCAP = Path(__file__).resolve().parents[1] / "data" / "banners" / "tls-hellos.pcap"

SPEC_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
SPEC_JA4_R = ("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,"
              "cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,"
              "ff01_0403,0804,0401,0503,0805,0501,0806,0601")


def test_grease_values():
    assert [v for v in range(0x10000) if is_grease(v)] == [0x0A0A + 0x1010 * i for i in range(16)]


@pytest.mark.parametrize("grease", [False, True])
def test_ja4_matches_the_spec_example(grease):
    ch = parse_client_hello(spec_example_hello(grease=grease)[4:])
    assert ch.sni == b"example.com"
    assert ch.alpn == (b"h2", b"http/1.1")
    assert ja4(ch) == SPEC_JA4
    assert ja4_r(ch) == SPEC_JA4_R


def test_ja3_removes_grease_everywhere():
    plain = parse_client_hello(spec_example_hello(grease=False)[4:])
    greased = parse_client_hello(spec_example_hello(grease=True)[4:])
    assert ja3_string(plain) == ja3_string(greased)
    assert ja3_string(plain) == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0")


def test_ja4_no_sni_no_alpn_no_sigalgs_tls12():
    h = client_hello(ciphers=[0x002F, 0xC02F], extensions=[u16_list_ext(0x000A, [0x0017]),
                                                          ext(0xFF01, b"\x00")])
    ch = parse_client_hello(h[4:])
    a, b, c = ja4(ch).split("_")
    assert a == "t12i020200"
    import hashlib
    assert b == hashlib.sha256(b"002f,c02f").hexdigest()[:12]
    assert c == hashlib.sha256(b"000a,ff01").hexdigest()[:12]


def test_ja4_alpn_non_alphanumeric_uses_hex():
    h = client_hello(ciphers=[0x1301], extensions=[sni_ext(b"a"), alpn_ext([b"\xab\x01\xcd"])])
    assert ja4(parse_client_hello(h[4:])).split("_")[0] == "t12d0102ad"


def test_ja4_empty_lists_hash_to_zeros():
    h = client_hello(ciphers=[], extensions=[])
    assert ja4(parse_client_hello(h[4:])) == "t12i000000_000000000000_000000000000"


def _feed_split(chunks):
    eng = BannerEngine([TLSDetector])
    eng.open_stream(1, client=("10.0.0.1", 40000), server=("10.0.0.2", 443))
    out = []
    for i, c in enumerate(chunks):
        out += eng.feed(1, Direction.CLIENT, c, i)
    return out, eng


def test_client_hello_split_byte_by_byte_and_across_records():
    hs = spec_example_hello(grease=True)
    # two records carrying one handshake message, delivered one byte at a time
    data = record(hs[:100]) + record(hs[100:])
    out, eng = _feed_split([data[i:i + 1] for i in range(len(data))])
    assert len(out) == 1
    b = out[0]
    assert (b.kind, b.role, b.addr, b.port, b.ts_ns) == ("tls-client-hello", Direction.CLIENT,
                                                          "10.0.0.1", 40000, len(data) - 1)
    assert b.attr("ja4") == SPEC_JA4 and b.attr("sni") == "example.com"
    assert b.attr("alpn") == "h2,http/1.1" and b.attr("versions") == "TLSv1.3,TLSv1.2"
    assert not eng.wants(1, Direction.CLIENT)


def test_not_tls_stops_at_first_byte():
    out, eng = _feed_split([b"GET / HTTP/1.1\r\n"])
    assert out == [] and not eng.wants(1, Direction.CLIENT)


def _tshark(fields, display_filter):
    r = subprocess.run(["tshark", "-r", str(PCAP), "-Y", display_filter, "-T", "fields",
                        *sum((["-e", f] for f in fields), [])],
                       capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_ja3_ja3s_sni_equal_tshark():
    banners = banners_simple(str(PCAP))
    ours_c = sorted((b.port, b.attr("ja3"), b.attr("ja3_full"), b.attr("sni") or "")
                    for b in banners if b.kind == "tls-client-hello")
    theirs_c = sorted((int(p), j, full, sni) for p, j, full, sni in _tshark(
        ["tcp.srcport", "tls.handshake.ja3", "tls.handshake.ja3_full",
         "tls.handshake.extensions_server_name"], "tls.handshake.type==1"))
    assert len(theirs_c) == 6
    assert ours_c == theirs_c
    ours_s = sorted((b.port, b.attr("ja3s"), b.attr("ja3s_full"))
                    for b in banners if b.kind == "tls-server-hello")
    theirs_s = [(int(p), j, full) for p, j, full in _tshark(
        ["tcp.srcport", "tls.handshake.ja3s", "tls.handshake.ja3s_full"], "tls.handshake.type==2")]
    assert len(theirs_s) == 4
    assert ours_s == sorted(theirs_s)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_ja4_equals_ja4_rebuilt_from_tshark_fields():
    """tshark 4.0 has no JA4 field: JA4 rebuilt from the hello fields it dissects."""
    theirs = ja4_from_tshark(str(PCAP))
    ours = {b.port: b.attr("ja4") for b in banners_simple(str(PCAP)) if b.kind == "tls-client-hello"}
    assert len(theirs) == 6
    assert ours == theirs
