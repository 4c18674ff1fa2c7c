"""`wirekit demo` on the bundled sample: the README's first command. The sample is a fixed
file (python/wirekit/data/samples/demo.pcap), so the numbers are exact; tcpdump counts were
checked by hand against the same file."""

from __future__ import annotations

import subprocess
import sys


def test_demo_tells_what_is_in_the_sample():
    res = subprocess.run([sys.executable, "-m", "wirekit.cli", "demo"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "99 packets, 22178 bytes on the wire" in out
    assert "      67  IPv4 TCP" in out and "       2  ARP" in out
    # the reassembled HTTP exchange over IPv6 and the SSH session, both closed cleanly
    assert "[fd77::1]:46362 -> [fd77::2]:80  83 bytes up, 308 bytes down, closed" in out
    assert "10.77.0.1:54862 -> 10.77.0.2:22  2937 bytes up, 2813 bytes down, closed" in out
    # the fragmented 3 KB UDP reply counts as one flow with its fragments
    assert "UDP    10.77.0.1:33375 <-> 10.77.0.2:5353  4+4 packets, 3194+3194 bytes" in out
    assert "server 10.77.0.2:80             http  nginx 1.22.1" in out
    assert "server 10.77.0.2:22             ssh   OpenSSH 9.2        SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" in out
    assert "client 10.77.0.1:22             ttl  64 win 64240  Linux 2.2.x-3.x [p0f, exact]" in out
    assert "anomalies" not in out  # captured with checksum offload off: a clean wire


def test_demo_reads_another_file(tmp_path):
    res = subprocess.run([sys.executable, "-m", "wirekit.cli", "demo", "-r", str(tmp_path / "missing.pcap")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.startswith("wirekit demo: ") and "missing.pcap" in res.stderr
