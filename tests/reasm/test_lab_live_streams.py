"""`wirekit streams -i`: live capture in a lab namespace while real HTTP downloads run; the
index lines appear while it runs (--json and streams.jsonl), the files hold the served
bytes, and Ctrl-C ends it cleanly."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import wait_for
from tests.lab.content import random_files
from tests.lab.netns import Lab, require_lab



@pytest.mark.lab
def test_live_streams_write_each_download_while_running(tmp_path):
    require_lab("curl")
    www = tmp_path / "www"
    served = {f"/{name}": sha for name, sha in random_files(www, [300_000, 304_093]).items()}
    out = tmp_path / "out"
    stdout = tmp_path / "stdout.jsonl"
    with Lab(2) as lab:
        client, server = lab.hosts
        server.spawn([sys.executable, "-m", "http.server", "8080", "--bind", server.ipv4, "--directory", str(www)])
        server.wait_tcp(8080, server.ipv4)
        with open(stdout, "wb") as so:
            tool = client.spawn([sys.executable, "-m", "wirekit.cli", "streams", "-i", client.ifname, "-o", str(out),
                                 "--json", "tcp", "port", "8080"], stdout=so, stderr=subprocess.PIPE)
        # streams.jsonl is created once the capture is open.
        assert wait_for(lambda: (out / "streams.jsonl").exists() or tool.poll() is not None), "the capture did not open"
        assert tool.poll() is None, tool.stderr.read().decode()
        for path in served:
            r = client.run(["curl", "-s", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://{server.ipv4}:8080{path}"], timeout=30)
            assert r.stdout == "200"
        # Both connections end (FIN both ways) and are indexed while the tool still runs.
        assert wait_for(lambda: len((out / "streams.jsonl").read_text().splitlines()) >= 2, 15), "no two index lines"
        assert tool.poll() is None
        os.killpg(tool.pid, signal.SIGINT)
        assert tool.wait(timeout=10) == 0, tool.stderr.read().decode()
    rows = [json.loads(line) for line in (out / "streams.jsonl").read_text().splitlines()]
    assert [json.loads(line) for line in stdout.read_text().splitlines()] == rows
    assert len(rows) == 2
    got = {}
    for row in rows:
        assert row["state"] == "closed" and row["server_port"] == 8080
        assert (row["client"], row["server"]) == (client.ipv4, server.ipv4)
        assert row["client_gap_bytes"] == row["server_gap_bytes"] == 0
        request = (out / row["client_file"]).read_bytes()
        response = (out / row["server_file"]).read_bytes()
        assert (len(request), len(response)) == (row["client_bytes"], row["server_bytes"])
        path = request.split(b" ")[1].decode()
        got[path] = hashlib.sha256(response.split(b"\r\n\r\n", 1)[1]).hexdigest()
    assert got == served
