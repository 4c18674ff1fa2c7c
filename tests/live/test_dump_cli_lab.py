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


def _wait_for_socket(proc, host, timeout_s=10.0, count=1):
    """Waits until `count` dump processes have their AF_PACKET socket open (seen in /proc)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = 0
        for pid in host.run(["ip", "netns", "pids", host.name]).stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"wirekit.cli" in f.read() and _has_packet_socket(int(pid)):
                        ready += 1
            except OSError:
                continue  # the process went away meanwhile
        if ready >= count:
            return
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


def test_dump_live_equals_tcpdump_and_sigterm_keeps_file_valid():
    """Two dumps at once, without and with a filter, each beside a tcpdump with the same filter."""
    require_lab("tcpdump", "ping")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        exprs = [None, "icmp"]
        wk_paths = [os.path.join(tmp, f"wk{i}.pcap") for i in range(2)]
        td_paths = [os.path.join(tmp, f"td{i}.pcap") for i in range(2)]
        wks = []
        for expr, path in zip(exprs, wk_paths):
            wks.append(a.spawn(_wirekit("dump", "-i", a.ifname, "-w", path, *([expr] if expr else [])),
                               stderr=subprocess.PIPE))
        for wk in wks:
            _wait_for_socket(wk, a, count=len(wks))
        tds = [start_tcpdump(a, path, expr) for expr, path in zip(exprs, td_paths)]
        a.run(["ping", "-c3", "-i0.2", "-W2", b.ipv4])
        a.run(["ping", "-6", "-c2", "-i0.2", "-W2", b.ipv6])
        for i, td in enumerate(tds):
            stop_tcpdump(td, settle_s=1.2 if i == 0 else 0)
        for wk in wks:
            wk.send_signal(signal.SIGTERM)
        for expr, wk, wk_path, td_path in zip(exprs, wks, wk_paths, td_paths):
            wk.wait(timeout=10)
            err = wk.stderr.read().decode()
            got = [(p.wire_len, p.data) for p in wirekit.open(wk_path)]
            want = [(p.wire_len, p.data) for p in wirekit.open(td_path)]
            # wirekit ran longer than tcpdump on both ends: it may hold background packets
            # (MLD, ND) from before tcpdump listened or after it stopped. tcpdump's capture
            # must be one unbroken run inside wirekit's.
            assert len(want) >= 6
            assert any(got[i:i + len(want)] == want for i in range(len(got) - len(want) + 1)), expr
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
