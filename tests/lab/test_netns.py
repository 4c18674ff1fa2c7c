"""The lab helper itself: builds, carries traffic, and leaves nothing behind."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.lab.netns import Lab, require_lab

pytestmark = pytest.mark.lab


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_two_hosts_ping_and_teardown():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        assert {a.name, b.name} <= _namespaces()
        a.run(["ping", "-c1", "-W2", b.ipv4])
        a.run(["ping", "-6", "-c1", "-W2", b.ipv6])
        sleeper = b.spawn(["sleep", "60"])
        with a.inside():
            names = [n for _, n in socket.if_nameindex()]
        assert names == ["lo", "veth0"]
    assert sleeper.poll() is not None
    assert not ({a.name, b.name} & _namespaces())


def test_three_hosts_route_through_middle():
    require_lab("ping")
    with Lab(3) as lab:
        a, _, c = lab.hosts
        a.run(["ping", "-c1", "-W2", c.ipv4])
        a.run(["ping", "-6", "-c1", "-W2", c.ipv6])


def test_teardown_on_exception():
    require_lab()
    names = []
    with pytest.raises(ZeroDivisionError):
        with Lab(2) as lab:
            names = [h.name for h in lab.hosts]
            lab.hosts[0].spawn(["sleep", "60"])
            1 / 0
    assert names and not (set(names) & _namespaces())


def test_http_server_and_curl():
    require_lab("curl")
    with Lab(2) as lab:
        a, b = lab.hosts
        b.spawn(["python3", "-m", "http.server", "8000", "--bind", b.ipv4], cwd="/")
        b.wait_tcp(8000)
        out = a.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{b.ipv4}:8000/"]).stdout
        assert out == "200"
