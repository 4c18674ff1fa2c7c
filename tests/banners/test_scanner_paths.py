"""BannerScanner has two ways to read the reassembler: capture batches go through the TCP
pipeline's raw event tuples (the fast path), anything else (Packet lists) through
``Reassembler`` events. Both must give the same banners, in the same order."""

from __future__ import annotations

import pytest

import wirekit
from wirekit.banners.streams import BannerScanner

from .conftest import corpus_dir
from .pcapbuild import conversation, write_pcap


def _run(path, *, batches: bool):
    scanner = BannerScanner()
    out = []
    for batch in wirekit.open(str(path)).batches():
        out += scanner.feed(batch if batches else list(batch.packets()))
    out += scanner.finish()
    return out, dict(scanner.counters)


def _check_same(path):
    fast, fast_counters = _run(path, batches=True)
    slow, slow_counters = _run(path, batches=False)
    assert [repr(b) for b in fast] == [repr(b) for b in slow]
    assert fast_counters == slow_counters
    return fast


def test_same_banners_on_crafted_conversations(tmp_path):
    convs = [
        conversation(("10.0.0.1", 40000), ("10.0.0.2", 22),
                     [("s", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), ("c", b"SSH-2.0-PuTTY_Release_0.78\r\n")]),
        conversation(("10.0.0.3", 40001), ("10.0.0.4", 80),
                     [("c", b"GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.5.0\r\n\r\n"),
                      ("s", b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Length: 0\r\n\r\n")],
                     ts_ns=1_700_000_000_500_000_000),
        # a stream the detectors give up on early (binary first bytes)
        conversation(("10.0.0.5", 40002), ("10.0.0.6", 9999), [("c", b"\x00\x01\x02\x03"), ("s", b"\xff\xfe")],
                     ts_ns=1_700_000_000_700_000_000),
        # SMTP greeting cut by the end of the conversation (flushed at close)
        conversation(("10.0.0.7", 40003), ("10.0.0.8", 25), [("s", b"220 mail.example ESMTP Postfix")],
                     ts_ns=1_700_000_000_900_000_000),
    ]
    pcap = tmp_path / "c.pcap"
    write_pcap(pcap, convs)
    banners = _check_same(pcap)
    texts = {(b.addr, b.port, b.kind, b.text) for b in banners}
    assert ("10.0.0.2", 22, "ssh-ident", "SSH-2.0-OpenSSH_9.2p1 Debian-2") in texts
    assert ("10.0.0.3", 40001, "http-user-agent", "curl/8.5.0") in texts
    assert ("10.0.0.4", 80, "http-server", "nginx/1.24.0") in texts


def test_same_banners_on_corpus_captures():
    root = corpus_dir()
    if root is None:
        pytest.skip("corpus not found (../shared/corpus or $WIREKIT_CORPUS)")
    pcaps = sorted((root / "banners").glob("*.pcap"))
    if not pcaps:
        pytest.skip("no banner captures in the corpus")
    total = 0
    for pcap in pcaps:
        total += len(_check_same(pcap))
    assert total > 0
