"""`wirekit flow ... --json - | head -1` and `wirekit flow collect ... | head`: when the reader
closes the pipe, the tool exits with status 0 and says nothing (no traceback, no errno)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from wirekit.capture.writers import PcapWriter

from .helpers import eth_ipv4, udp

CLI = [sys.executable, "-m", "wirekit.cli", "flow"]
#: As a user's shell runs it: buffered stdout. (Under PYTHONUNBUFFERED=1, which some CI and
#: container setups export, CPython's unbuffered sys.stdout drops short writes silently; the
#: tool writes through a buffered stream of its own so both behave the same.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _many_flows_pcap(path, flows: int) -> None:
    # One UDP packet per flow: `flows` JSON lines (about 300 bytes each) at end of input,
    # far more than a pipe buffer holds.
    with PcapWriter(str(path)) as w:
        for i in range(flows):
            w.write(data=eth_ipv4(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "10.255.0.1", 17,
                                  udp(1024 + i % 50000, 53)), ts_ns=1_700_000_000 * 10**9 + i * 1000)


def _read_one_line_then_close(proc) -> bytes:
    line = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `head -1` does
    return line


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_flow_read_exits_quietly_when_stdout_closes(tmp_path, fmt):
    pcap = tmp_path / "many.pcap"
    _many_flows_pcap(pcap, 5000)
    proc = subprocess.Popen(CLI + ["-r", str(pcap), fmt, "-", "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    try:
        first = _read_one_line_then_close(proc)
        err = proc.stderr.read()
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first.startswith(b'{"src":"10.0.0.0"' if fmt == "--json" else b"src,dst,")
    assert err == b""
    assert rc == 0


def _export_payloads(corpus) -> list[bytes]:
    from wirekit.flow.collect_cli import udp_payloads

    return [p for _, _, p in udp_payloads(str(corpus / "netflow" / "softflowd-v9.pcap"))]


def test_flow_collect_exits_quietly_when_stdout_closes(corpus):
    payloads = _export_payloads(corpus)  # templates, then 57 records
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(CLI + ["collect", "-l", f"127.0.0.1:{port}", "--timeout", "20", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    stop = threading.Event()

    def send_until_stopped():
        # Until the test stops it (the collector's startup time is unknown): every 0.1 s the
        # whole export, so records keep coming after the reader has gone.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(300):
                if stop.wait(0.1):
                    return
                for p in payloads:
                    tx.sendto(p, ("127.0.0.1", port))

    sender = threading.Thread(target=send_until_stopped, daemon=True)
    sender.start()
    try:
        first = _read_one_line_then_close(proc)
        assert first.startswith(b'{"exporter":"127.0.0.1"')
        err = proc.stderr.read()  # EOF when the collector exits
        rc = proc.wait(timeout=30)
    finally:
        stop.set()
        sender.join(timeout=5)
        if proc.poll() is None:
            proc.kill()
    assert err == b""
    assert rc == 0


def _wait_bound(port: int, timeout_s: float = 20.0) -> None:
    """Waits until some process has bound UDP 127.0.0.1:port (our bind then fails)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on UDP port {port}")


def test_flow_collect_exits_when_reader_leaves_and_no_more_datagrams_come(corpus):
    """`collect | head` after head is done, with the exporter gone quiet: the collector notices
    the closed pipe by itself (within its 0.2 s receive timeout), not at the next datagram."""
    from wirekit.flow.collect import Collector

    payloads = _export_payloads(corpus)
    # Up to the first datagram with records: after it the collector has nothing to write.
    c = Collector()
    k = next(i for i, p in enumerate(payloads) if c.feed(p, ("127.0.0.1", 9), 0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(CLI + ["collect", "-l", f"127.0.0.1:{port}", "--timeout", "60", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        _wait_bound(port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for p in payloads[:k + 1]:
                tx.sendto(p, ("127.0.0.1", port))
        first = proc.stdout.readline()
        assert first.startswith(b'{"exporter":"127.0.0.1"')
        proc.stdout.close()
        t0 = time.monotonic()
        rc = proc.wait(timeout=10)
        waited_s = time.monotonic() - t0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err == b""
    assert rc == 0
    assert waited_s < 5


@pytest.mark.parametrize("unbuffered", [False, True])
def test_export_still_gets_every_flow_when_stdout_reader_leaves(tmp_path, unbuffered):
    """`flow -r F -e COLLECTOR --json - | head -1`: the JSON reader leaving stops the run
    quietly, but every flow still goes to the collector (none lost with the pipe)."""
    from wirekit.flow.collect import Collector

    env = dict(ENV, PYTHONUNBUFFERED="1") if unbuffered else ENV
    pcap = tmp_path / "many.pcap"
    _many_flows_pcap(pcap, 3000)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    port = rx.getsockname()[1]
    proc = subprocess.Popen(CLI + ["-r", str(pcap), "--json", "-", "-q", "-e", f"127.0.0.1:{port}", "-V", "9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    c = Collector()
    records = []
    try:
        first = _read_one_line_then_close(proc)
        err = proc.stderr.read()
        rc = proc.wait(timeout=60)
        while True:
            try:
                data, addr = rx.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                break
            records += c.feed(data, addr, time.time_ns())
    finally:
        rx.close()
        if proc.poll() is None:
            proc.kill()
    assert first.startswith(b'{"src":"10.0.0.0"')
    assert (err, rc) == (b"", 0)
    assert len(records) == 3000
    assert {r["src"] for r in records} == {f"10.0.{i >> 8 & 255}.{i & 255}" for i in range(3000)}
