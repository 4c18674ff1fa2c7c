"""Capturing on `lo`: each packet once, as tcpdump (libpcap) shows it.

The loopback device hands every packet to packet sockets twice, as it leaves
(PACKET_OUTGOING) and as it comes back in (PACKET_HOST); libpcap drops the outgoing copy
on lo, and so must wirekit. The capture runs in a fresh namespace, so its lo carries only
the test's own traffic.
"""

from __future__ import annotations

import os
import tempfile

import pytest

import wirekit
from wirekit.capture.live import open_live
from tests.lab.netns import Lab, require_lab, start_tcpdump, stop_tcpdump

pytestmark = pytest.mark.lab

UDP_SENDER = (
    "import socket\n"
    "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "[s.sendto(b'wirekit-lo-%d' % n, ('127.0.0.1', 9)) for n in range(5)]\n"
)


def test_loopback_packets_are_captured_once_like_tcpdump():
    require_lab("tcpdump", "ping")
    with Lab(1) as lab, tempfile.TemporaryDirectory() as tmp:
        (a,) = lab.hosts
        path = os.path.join(tmp, "lo.pcap")
        expr = "udp port 9 or icmp"
        with a.inside():
            cap = open_live("lo", filter=expr, timeout_ms=20)
        with cap:
            td = start_tcpdump(a, path, expr, iface="lo")
            a.run(["python3", "-c", UDP_SENDER])
            a.run(["ping", "-c2", "-i0.2", "-W2", "127.0.0.1"])
            stop_tcpdump(td)
            got = [(p.wire_len, p.data) for b in cap.batches(idle_timeout_ms=300) for p in b.packets()]
        want = [(p.wire_len, p.data) for p in wirekit.open(path)]
        # 5 datagrams, each with its ICMP port unreachable (nothing listens on port 9), then
        # 2 echo requests and 2 echo replies: 14 packets, each once.
        assert len(want) == 14
        assert [d[-12:] for _, d in want[0:10:2]] == [b"wirekit-lo-%d" % n for n in range(5)]
        # (IP protocol, ICMP type)
        assert [(d[23], d[34] if d[23] == 1 else None) for _, d in want] == (
            [(17, None), (1, 3)] * 5 + [(1, 8), (1, 0), (1, 8), (1, 0)])
        assert got == want
