"""examples/syn_probe.py against a namespace host: a crafted SYN to a real listening port
gets its SYN+ACK back through the capture; a closed port answers RST; a silent host is
"filtered"."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.lab.netns import Lab, require_lab

pytestmark = pytest.mark.lab

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "syn_probe.py"


def _run(host, *args):
    env_path = os.pathsep.join(p for p in sys.path if p)
    return host.run(["env", f"PYTHONPATH={env_path}", sys.executable, str(EXAMPLE), *args], timeout=30)


@pytest.mark.parametrize("family", [4, 6])
def test_syn_probe_open_and_closed(family):
    require_lab()
    with Lab(2) as lab:
        a, b = lab.hosts
        addr = b.ipv4 if family == 4 else b.ipv6
        bind = b.ipv4 if family == 4 else "::"
        b.spawn([sys.executable, "-m", "http.server", "8000", "--bind", bind], cwd="/")
        b.wait_tcp(8000, address=addr)
        r = _run(a, addr, "8000,8001", "--timeout", "1")
        assert r.stdout.splitlines() == ["8000 open", "8001 closed"], r.stderr


def test_syn_probe_filtered_when_nobody_answers():
    require_lab()
    with Lab(2) as lab:
        a, b = lab.hosts
        # b stops answering on its interface: ARP works no more, no SYN gets there.
        b.run(["ip", "link", "set", b.ifname, "arp", "off"])
        a.run(["ip", "neigh", "flush", "dev", a.ifname])
        r = _run(a, b.ipv4, "22", "--timeout", "0.5")
        assert r.stdout.splitlines() == ["22 filtered"], r.stderr
