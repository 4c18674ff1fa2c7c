"""`wirekit streams` file writing on thousands of interleaved connections: every file holds
exactly what the Python Reassembler delivers for that direction, whichever way the bytes
reach the writer threads (in place from a mapped file, copied from Python batches, written
in many appended pieces)."""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys

import pytest

import wirekit
from conftest import REPO
from wirekit import _core
from wirekit.reasm import Reassembler, StreamData, StreamOpened

GEN = REPO.parent / "shared" / "bench" / "gen_synth.py"
pytestmark = pytest.mark.skipif(not GEN.is_file(), reason=f"{GEN} not found")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "synth.pcap"
    subprocess.run([sys.executable, str(GEN), str(path), "10000"], check=True, capture_output=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def expected(synth):
    """(client, client_port, server, server_port, sha256 c2s, sha256 s2c) per connection,
    from the Python Reassembler's data events."""
    keys, hashes = {}, {}

    def on(ev):
        if isinstance(ev, StreamOpened):
            keys[ev.conn_id] = ev.key
            hashes[ev.conn_id] = (hashlib.sha256(), hashlib.sha256())
        else:
            hashes[ev.conn_id][int(ev.direction)].update(ev.data)

    r = Reassembler()
    r.on(on, StreamOpened, StreamData)
    for batch in wirekit.open(synth).batches():
        r.feed(batch)
    r.finish()
    return collections.Counter(
        (k.client, k.client_port, k.server, k.server_port, hashes[c][0].hexdigest(), hashes[c][1].hexdigest())
        for c, k in keys.items())


def written(out, lines: list[str]) -> collections.Counter:
    got = collections.Counter()
    for line in lines:
        row = json.loads(line)
        data = [(out / row[f]).read_bytes() for f in ("client_file", "server_file")]
        assert [len(d) for d in data] == [row["client_bytes"], row["server_bytes"]]
        got[(row["client"], row["client_port"], row["server"], row["server_port"],
             hashlib.sha256(data[0]).hexdigest(), hashlib.sha256(data[1]).hexdigest())] += 1
    return got


def test_mapped_file_gives_the_reassemblers_bytes(synth, expected, tmp_path):
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "wirekit.cli", "streams", "-r", str(synth), "-o", str(out)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = (out / "streams.jsonl").read_text().splitlines()
    assert len(lines) > 1000
    assert written(out, lines) == expected
    # One pair of files per connection and nothing else.
    assert len(list(out.iterdir())) == 2 * len(lines) + 1


def test_python_batches_and_a_filter_give_the_same_directory(synth, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out, extra in ((a, []), (b, ["tcp"])):
        r = subprocess.run([sys.executable, "-m", "wirekit.cli", "streams", "-r", str(synth), "-o", str(out), *extra],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:  # streams.jsonl too: same lines, same order
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_small_flushes_append_in_order(synth, expected, tmp_path):
    # Flushing every 300 bytes sends each direction to its file in many appended pieces,
    # through both lanes; the files still hold each stream exactly.
    p = _core.TcpPipeline(verify_checksums=False)
    p.open_file_sink(tmp_path, 300)
    lines, frames, error = p.feed_file_files(str(synth))
    lines += p.finish_files()
    assert error is None and frames > 10000
    assert written(tmp_path, lines) == expected
    assert p.sink_stats() == {"copies_cap_hits": 0}  # mapped bytes are no copies
    # The sink wrote the index itself, the same lines in the same order.
    assert (tmp_path / "streams.jsonl").read_text().splitlines() == lines


def test_copied_bytes_cap_writes_early_and_loses_nothing(synth, expected, tmp_path):
    # Fed from Python batches every byte is a copy. With a 4 KiB cap on copies held (and
    # no flush threshold to speak of), the writer keeps writing every open connection's
    # bytes out early, in many appended pieces; the files still hold each stream exactly.
    p = _core.TcpPipeline(verify_checksums=False)
    p.open_file_sink(tmp_path, 1 << 30, 4096)
    lines = []
    for batch in wirekit.open(str(synth)).batches():
        lines += p.feed_batch_files(batch)
    lines += p.finish_files()
    assert written(tmp_path, lines) == expected
    assert p.sink_stats()["copies_cap_hits"] > 100
    assert (tmp_path / "streams.jsonl").read_text().splitlines() == lines


def test_without_echo_the_index_is_written_and_nothing_returned(synth, tmp_path):
    p = _core.TcpPipeline(verify_checksums=False)
    p.open_file_sink(tmp_path, echo=False)
    lines, _frames, error = p.feed_file_files(str(synth))
    assert error is None and lines == [] and p.finish_files() == []
    rows = (tmp_path / "streams.jsonl").read_text().splitlines()
    assert len(rows) > 1000 and all(json.loads(r)["client_file"].endswith(".c2s") for r in rows)
