"""Live `wirekit flow -i` in a lab: SIGTERM during a live run loses no flow (every packet the
tool counted is in an exported record), and the live export reaches a collector."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import wait_for
from tests.lab.netns import Lab, require_lab

pytestmark = pytest.mark.lab



def test_live_sigterm_flushes_every_flow(tmp_path):
    """Also runs with --user nobody: privileges go after the capture and outputs are open."""
    require_lab()
    out = tmp_path / "flows.json"
    pidfile = tmp_path / "flow.pid"
    with Lab(2) as lab:
        a, b = lab.hosts
        proc = b.spawn([sys.executable, "-m", "wirekit.cli", "flow", "-i", b.ifname, "--json", str(out),
                        "--pidfile", str(pidfile), "--idle-timeout", "300", "--user", "nobody", "udp"],
                       stderr=subprocess.PIPE, text=True)
        assert wait_for(pidfile.exists), "wirekit flow did not start"
        time.sleep(0.3)
        with a.inside():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for port in range(20000, 20040):
                for i in range(3):
                    s.sendto(b"x" * (10 + i), (b.ipv4, port))
        finally:
            s.close()
        time.sleep(0.5)  # let the capture hand the last block over, then stop mid-run
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    flows = [json.loads(line) for line in open(out)]
    ours = {(f["src"], f["dst"], f["dst_port"]): (f["packets"], f["bytes"]) for f in flows if f["dst_port"] >= 20000}
    assert ours == {("10.77.0.1", "10.77.0.2", p): (3, 3 * 28 + 10 + 11 + 12) for p in range(20000, 20040)}
    # No loss: the packets the tool counted are exactly those in its records.
    counted = int(err.split(" packets,")[0].split()[-1])
    assert counted == sum(f["packets"] for f in flows)
    assert all(f["end_reason"] == "forced_end" for f in flows)
    # The privileges were dropped: nobody could not remove root's pidfile.
    assert pidfile.exists()


def test_live_stdout_reader_leaving_on_a_quiet_link_ends_the_run(tmp_path):
    """`wirekit flow -i IF --json - | head -1`, then the link goes quiet: the tool notices the
    closed pipe at its next tick (1 s) and exits 0 without a word, instead of running until
    some packet makes it write again."""
    require_lab()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with Lab(2) as lab:
        a, b = lab.hosts
        proc = b.spawn([sys.executable, "-m", "wirekit.cli", "flow", "-i", b.ifname, "--json", "-", "-q",
                        "--idle-timeout", "1", "udp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        time.sleep(1.5)  # capturing
        with a.inside():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(b"x" * 10, (b.ipv4, 20000))  # one flow, expiring after 1 s idle
        finally:
            s.close()
        first = proc.stdout.readline()
        proc.stdout.close()
        t0 = time.monotonic()
        try:
            rc = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        waited_s = time.monotonic() - t0
        err = proc.stderr.read()
    assert json.loads(first)["dst_port"] == 20000
    assert (rc, err) == (0, b"")
    assert waited_s < 5
