"""`wirekit streams`: files and index on corpus captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache

import pytest

from conftest import CORPUS

TCP = CORPUS / "tcp-reassembly"
pytestmark = pytest.mark.skipif(not TCP.is_dir(), reason=f"corpus not found at {TCP} (set WIREKIT_CORPUS)")

FIELDS = ["client", "client_port", "server", "server_port", "client_file", "server_file", "client_bytes",
          "server_bytes", "state", "client_gap_bytes", "server_gap_bytes", "first_ts_ns", "last_ts_ns"]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wirekit.cli", "streams", *argv],
                          capture_output=True, timeout=60)


def streams(tmp_path, pcap: str, *extra: str) -> list[dict]:
    out = tmp_path / "out"
    r = run("-r", str(TCP / pcap), "-o", str(out), *extra)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""  # no progress bar when not on a terminal
    return [json.loads(line) for line in (out / "streams.jsonl").read_text().splitlines()]


def is_interleaving(whole: bytes, a: bytes, b: bytes) -> bool:
    """`whole` is a merge of `a` and `b` in order (PcapPlusPlus writes both directions
    message by message into one file)."""
    if len(whole) != len(a) + len(b):
        return False

    @lru_cache(maxsize=None)
    def ok(i: int, j: int) -> bool:
        k = i + j
        if k == len(whole):
            return True
        return ((i < len(a) and a[i] == whole[k] and ok(i + 1, j))
                or (j < len(b) and b[j] == whole[k] and ok(i, j + 1)))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(whole) + 1000))
    return ok(0, 0)


def test_three_http_streams_files_and_index(tmp_path):
    rows = streams(tmp_path, "three_http_streams.pcap")
    assert len(rows) == 3
    expected = [(TCP / f"three_http_streams_conn_{i}_output.txt").read_bytes() for i in (1, 2, 3)]
    for row in rows:
        assert list(row) == FIELDS
        c2s = (tmp_path / "out" / row["client_file"]).read_bytes()
        s2c = (tmp_path / "out" / row["server_file"]).read_bytes()
        assert (len(c2s), len(s2c)) == (row["client_bytes"], row["server_bytes"])
        assert c2s.startswith(b"GET ") and s2c.startswith(b"HTTP/1.")
        assert sum(is_interleaving(e, c2s, s2c) for e in expected) == 1
        assert row["state"] == "closed" and row["server_port"] == 80
        assert row["client_gap_bytes"] == row["server_gap_bytes"] == 0
        assert row["first_ts_ns"] < row["last_ts_ns"]


def test_reset_state_and_pppoe(tmp_path):
    (row,) = streams(tmp_path, "one_http_stream_rst.pcap")
    assert row["state"] == "reset"
    whole = (TCP / "one_http_stream_rst_output.txt").read_bytes()
    c2s = (tmp_path / "out" / row["client_file"]).read_bytes()
    s2c = (tmp_path / "out" / row["server_file"]).read_bytes()
    assert is_interleaving(whole, c2s, s2c)


def test_gap_bytes_match_zeek_missed_bytes(tmp_path):
    # miss_end_data: Zeek conn.log orig_bytes 538, resp_bytes 2902, missed_bytes 2902.
    (row,) = streams(tmp_path, "miss_end_data.pcap")
    assert (row["client_bytes"], row["server_bytes"], row["server_gap_bytes"]) == (538, 0, 2902)
    assert (tmp_path / "out" / row["server_file"]).read_bytes() == b""  # never zero-filled


def test_open_at_end_of_input_ipv6(tmp_path):
    (row,) = streams(tmp_path, "one_ipv6_http_stream.pcap")
    assert row["state"] == "open"
    assert ":" in row["client"] and row["server_port"] == 80
    whole = (TCP / "one_ipv6_http_stream.txt").read_bytes()
    c2s = (tmp_path / "out" / row["client_file"]).read_bytes()
    s2c = (tmp_path / "out" / row["server_file"]).read_bytes()
    assert is_interleaving(whole, c2s, s2c)


def test_json_prints_the_index(tmp_path):
    out = tmp_path / "o"
    r = run("-r", str(TCP / "three_http_streams.pcap"), "-o", str(out), "--json")
    assert r.returncode == 0
    assert r.stdout.decode() == (out / "streams.jsonl").read_text()


def test_filter_and_midstream(tmp_path):
    assert streams(tmp_path, "three_http_streams.pcap", "tcp", "port", "81") == []
    assert streams(tmp_path, "missing-syn.pcap") == []
    rows = streams(tmp_path, "missing-syn.pcap", "--midstream")
    assert [(r["client_bytes"], r["server_bytes"]) for r in rows] == [(98, 9417)]  # Zeek conn.log


def test_errors(tmp_path):
    r = run("-r", str(tmp_path / "missing.pcap"), "-o", str(tmp_path / "o"))
    assert r.returncode == 1 and r.stderr.startswith(b"wirekit streams: ")
    assert not (tmp_path / "o").exists()
    r = run("-r", str(TCP / "three_http_streams.pcap"), "-o", str(tmp_path / "o"), "tcp", "port")
    assert r.returncode == 2 and b"filter" in r.stderr
    r = run("-o", str(tmp_path / "o"))
    assert r.returncode == 2


def test_help_is_complete():
    r = subprocess.run([sys.executable, "-m", "wirekit.cli", "streams", "--help"], capture_output=True, timeout=30)
    text = r.stdout.decode()
    for word in ["-r FILE", "-i IFACE", "-o DIR", "--json", "streams.jsonl", "client_gap_bytes", "timed_out",
                 "--policy", "--midstream", "EXPRESSION"]:
        assert word in text, word


def test_progress_bar_only_on_a_terminal(tmp_path):
    import os
    import pty

    master, slave = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "wirekit.cli", "streams", "-r", str(TCP / "three_http_streams.pcap"),
                            "-o", str(tmp_path / "o")], stderr=slave, stdout=subprocess.DEVNULL, timeout=60)
    finally:
        os.close(slave)
    out = b""
    try:
        while chunk := os.read(master, 4096):
            out += chunk
    except OSError:
        pass
    os.close(master)
    assert r.returncode == 0
    # A small file ends before the first redraw; the bar is cleared at the end either way.
    assert out == b"" or out.startswith(b"\r")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs (root)")
def test_full_output_filesystem_is_a_clear_error_and_keeps_the_index_true(tmp_path):
    # A tmpfs with room for 6 inodes (its root, streams.jsonl and 4 stream files): the
    # third of three_http_streams' connections cannot get its files.
    out = tmp_path / "small"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nr_inodes=6,size=1m", "tmpfs", str(out)], check=True)
    try:
        r = run("-r", str(TCP / "three_http_streams.pcap"), "-o", str(out))
        assert r.returncode == 1
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"wirekit streams: {out}/"), r.stderr
        assert lines[0].endswith(": No space left on device")
        rows = [json.loads(line) for line in (out / "streams.jsonl").read_text().splitlines()]
        assert len(rows) < 3
        for row in rows:  # what the index says was written, was
            assert (out / row["client_file"]).stat().st_size == row["client_bytes"]
            assert (out / row["server_file"]).stat().st_size == row["server_bytes"]
    finally:
        subprocess.run(["umount", str(out)], check=True)
