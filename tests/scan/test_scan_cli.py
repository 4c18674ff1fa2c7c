"""`wirekit scan` command line: passive filter expressions, refused words, closed pipes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wirekit.capture import bpf
from wirekit.capture.writers import PcapWriter
from wirekit.errors import FilterError

from tests.fingerprint.craft import MSS, NOP, SOK, TS, WS, ipv4, tcp

WIREKIT = [sys.executable, "-m", "wirekit.cli"]
LINUX = MSS(1460) + SOK + TS(5, 0) + NOP + WS(7)
ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"


def _addr(n: int) -> bytes:
    return bytes([10, 0, n >> 8, n & 0xFF])


def _write_handshakes(path, pairs):
    """A SYN and its SYN+ACK per (client n, server n, port), as Ethernet frames."""
    with PcapWriter(str(path)) as w:
        ts = 1_000_000_000
        for c, s, port in pairs:
            syn = ipv4(tcp(sport=40000, dport=port, win=64240, opts=LINUX), src=_addr(c), dst=_addr(s))
            synack = ipv4(tcp(sport=port, dport=40000, flags=0x12, ack=2, win=65160, opts=LINUX),
                          src=_addr(s), dst=_addr(c))
            w.write(data=ETH + syn, ts_ns=ts)
            w.write(data=ETH + synack, ts_ns=ts + 1000)
            ts += 1_000_000


def _scan(*argv, **kw):
    return subprocess.run([*WIREKIT, "scan", *argv], capture_output=True, text=True, timeout=60, **kw)


def _rows(stdout):
    rows = [json.loads(line) for line in stdout.splitlines()]
    return sorted((r["role"], r["addr"], r["port"]) for r in rows if "summary" not in r), rows[-1]


@pytest.fixture
def handshakes(tmp_path):
    path = tmp_path / "hs.pcap"
    _write_handshakes(path, [(1, 2, 22), (1, 3, 80), (4, 2, 22)])
    return str(path)


def test_passive_applies_a_trailing_filter_expression(handshakes):
    r = _scan("--passive", "-r", handshakes, "--json")
    assert r.returncode == 0, r.stderr
    rows, summary = _rows(r.stdout)
    assert summary["packets"] == 6 and len(rows) == 5
    r = _scan("--passive", "-r", handshakes, "--json", "tcp", "port", "22")
    assert r.returncode == 0, r.stderr
    rows, summary = _rows(r.stdout)
    assert rows == [("client", "10.0.0.1", 22), ("client", "10.0.0.4", 22), ("server", "10.0.0.2", 22)]
    assert (summary["packets"], summary["syns"], summary["synacks"]) == (4, 2, 2)
    r = _scan("--passive", "-r", handshakes, "--json", "host 10.0.0.3")
    rows, _ = _rows(r.stdout)
    assert rows == [("client", "10.0.0.1", 80), ("server", "10.0.0.3", 80)]


def test_passive_bad_filter_is_libpcaps_message_and_status_2(handshakes):
    with pytest.raises(FilterError) as e:
        bpf.compile("tcp port", linktype=1)
    r = _scan("--passive", "-r", handshakes, "tcp", "port")
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"wirekit scan: {e.value}\n")
    assert "syntax error" in r.stderr


@pytest.mark.parametrize("argv, word", [
    (["127.0.0.1", "tcp", "port", "22"], "tcp"),
    (["127.0.0.1", "port 22"], "port 22"),
    (["tcp[13]&2!=0"], "tcp[13]&2!=0"),
])
def test_active_refuses_filter_words(argv, word):
    r = _scan("--dry-run", "-p", "22", *argv)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"wirekit scan: '{word}' is not a target: a filter expression applies only "
                        "with --passive (active scans take their ports with -p)\n")


def test_active_refuses_a_bare_number():
    # getaddrinfo would resolve "22" to 0.0.0.22 and probe it
    r = _scan("--dry-run", "-p", "80", "127.0.0.1", "22")
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "wirekit scan: '22' is not a target (a port? use -p 22)\n")


def _closed_pipe(argv):
    """Runs wirekit with stdout to a pipe the reader closes after one line (`| head -1`)."""
    p = subprocess.Popen([*WIREKIT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        p.stdout.close()
        rc = p.wait(timeout=60)
        return first, rc, p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


def test_active_dry_run_into_a_closed_pipe_ends_quietly():
    first, rc, err = _closed_pipe(["scan", "--dry-run", "-p", "-", "127.0.0.1"])
    assert first.startswith(b"SYN 127.0.0.1:")
    assert (rc, err) == (0, "")


def test_passive_into_a_closed_pipe_ends_quietly(tmp_path):
    path = tmp_path / "many.pcap"
    # 4000 distinct clients: far more output than a pipe buffer holds
    _write_handshakes(path, [(1000 + n, 2, 22) for n in range(4000)])
    first, rc, err = _closed_pipe(["scan", "--passive", "-r", str(path), "--json"])
    assert json.loads(first)["port"] == 22
    assert (rc, err) == (0, "")
