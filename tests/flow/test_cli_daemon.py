"""`wirekit flow` as a service: --pidfile, SIGHUP reopens output files, SIGTERM flushes every
open flow (no packet counted is lost). Input is a FIFO fed by the test, so the process sits in
a blocking read exactly as a quiet live capture does."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time

from conftest import wait_for

from .helpers import eth_ipv4, udp

S = 1_000_000_000


def _pcap_header() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1)  # nanosecond pcap


def _record(frame: bytes, ts_ns: int) -> bytes:
    sec, ns = divmod(ts_ns, S)
    return struct.pack("<IIII", sec, ns, len(frame), len(frame)) + frame



def _flows(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def test_pidfile_sighup_reopen_and_sigterm_flush(tmp_path):
    fifo = tmp_path / "in.pcap"
    os.mkfifo(fifo)
    out = tmp_path / "flows.json"
    pidfile = tmp_path / "flow.pid"
    t0 = 1_600_000_000 * S
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirekit.cli", "flow", "-r", str(fifo), "--json", str(out),
         "--pidfile", str(pidfile), "--idle-timeout", "15"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        w = open(fifo, "wb", buffering=0)
        # Flow A: 3 packets.
        w.write(_pcap_header() + b"".join(
            _record(eth_ipv4("10.0.0.1", "10.0.0.2", 17, udp(1111, 53, b"a" * i)), t0 + i * S) for i in range(3)))
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(proc.pid))
        time.sleep(0.3)  # the tool has read flow A and waits for more input
        os.rename(out, tmp_path / "flows.json.1")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        # Flow B, 100 s later: A is idle-expired by packet time and must land in the new file.
        w.write(_record(eth_ipv4("10.0.0.3", "10.0.0.4", 17, udp(2222, 53, b"b")), t0 + 100 * S))
        assert wait_for(lambda: len(_flows(out)) == 1)
        # SIGTERM while B is open and the tool blocks on the FIFO: B is flushed, nothing lost.
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        w.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert _flows(tmp_path / "flows.json.1") == []
    got = [(f["src"], f["packets"], f["bytes"], f["end_reason"]) for f in _flows(out)]
    assert got == [("10.0.0.1", 3, 3 * 28 + 3, "idle_timeout"), ("10.0.0.3", 1, 29, "forced_end")]
    assert "4 packets, 2 flows" in err
    assert not pidfile.exists()
