"""`wirekit dump -i` end to end in a lab: the same packets as tcpdump at the same time, with and
without a filter; SIGTERM leaves a complete file and prints statistics; -c stops by itself;
a bad filter exits 2 before any capture starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import wirekit
from tests.lab.netns import Lab, require_lab, start_tcpdump, stop_tcpdump

pytestmark = pytest.mark.lab


def _wirekit(*args):
    env_path = os.pathsep.join(p for p in sys.path if p)
    return ["env", f"PYTHONPATH={env_path}", sys.executable, "-m", "wirekit.cli", *args]


def _wait_for_socket(proc, host, timeout_s=10.0):
    """Waits until the dump process has its AF_PACKET socket open (seen in /proc)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in host.run(["ip", "netns", "pids", host.name]).stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"wirekit.cli" in f.read() and _has_packet_socket(int(pid)):
                        return
            except OSError:
                continue  # the process went away meanwhile
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode(errors="replace"))
        time.sleep(0.05)
    raise TimeoutError("wirekit dump did not open its capture")


def _has_packet_socket(pid: int) -> bool:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open(f"/proc/{pid}/net/packet") as f:
        return any(line.split()[-1] in inodes for line in f.readlines()[1:])


@pytest.mark.parametrize("expr", [None, "icmp"])
def test_dump_live_equals_tcpdump_and_sigterm_keeps_file_valid(expr):
    require_lab("tcpdump", "ping")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        wk_path, td_path = os.path.join(tmp, "wk.pcap"), os.path.join(tmp, "td.pcap")
        filt = [expr] if expr else []
        wk = a.spawn(_wirekit("dump", "-i", a.ifname, "-w", wk_path, *filt), stderr=subprocess.PIPE)
        _wait_for_socket(wk, a)
        td = start_tcpdump(a, td_path, expr)
        a.run(["ping", "-c3", "-i0.2", "-W2", b.ipv4])
        a.run(["ping", "-6", "-c2", "-i0.2", "-W2", b.ipv6])
        stop_tcpdump(td)
        wk.send_signal(signal.SIGTERM)
        wk.wait(timeout=10)
        err = wk.stderr.read().decode()
        got = [(p.wire_len, p.data) for p in wirekit.open(wk_path)]
        want = [(p.wire_len, p.data) for p in wirekit.open(td_path)]
        # wirekit started first: it may hold background packets from before tcpdump listened.
        assert got[len(got) - len(want):] == want and len(want) >= 6
        assert f"{len(got)} packets captured" in err
        assert "dropped by kernel" in err
        if expr == "icmp":
            assert len(got) == 6 and all(d[12:14] == b"\x08\x00" and d[23] == 1 for _, d in got)


def test_dump_count_and_bad_filter():
    require_lab("ping")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        path = os.path.join(tmp, "c.pcap")
        wk = a.spawn(_wirekit("dump", "-i", a.ifname, "-c", "2", "-w", path, "icmp"), stderr=subprocess.PIPE)
        _wait_for_socket(wk, a)
        a.run(["ping", "-c3", "-i0.2", "-W2", b.ipv4])
        assert wk.wait(timeout=10) == 0
        assert len(list(wirekit.open(path))) == 2
        r = a.run(_wirekit("dump", "-i", a.ifname, "tcp", "port"), check=False)
        assert r.returncode == 2 and "syntax error" in r.stderr
