"""Malformed captures: packets or a clear CaptureFileError, never a crash or a hang; decoding
every packet gives anomalies, not exceptions.

The files are read in a child process with a timeout, so that a crash (segfault, abort, Rust
panic escaping as an abort) or a hang fails the test of that file instead of killing or
blocking the run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import corpus_files

FILES = corpus_files("malformed/*.pcap", "malformed/*.pcapng")

TIMEOUT_S = 120

# Reads each file three ways (packets, batches with columns, per-packet decode in Python and
# Rust) and prints one JSON line per file, after a "start" line: if the child dies or hangs,
# the last "start" names the file. Any exception other than CaptureFileError escapes with a
# traceback and a non-zero exit status.
CHILD = r"""
import json, sys
import wirekit
from wirekit import CaptureFileError

for path in sys.argv[1:]:
    print(json.dumps({"start": path}), flush=True)
    out = {"file": path, "packets": 0, "error": None, "rust": [], "python": [], "flags": []}
    try:
        for pkt in wirekit.open(path):
            out["packets"] += 1
            out["rust"].append(list(pkt.summary(verify_checksums=True).anomalies))
            out["python"].append(list(pkt.decode().anomalies))
            out["flags"].append(pkt.flags)
            pkt.flow_key()
    except CaptureFileError as e:
        out["error"] = {"type": type(e).__name__, "offset": e.offset, "record": e.record,
                        "kind": e.kind, "message": str(e)}
    batch_packets = 0
    try:
        for batch in wirekit.open(path).batches():
            cols = batch.summaries(verify_checksums=True)
            batch.flow_keys()
            batch_packets += len(cols["anomalies"])
    except CaptureFileError:
        pass
    out["batch_packets"] = batch_packets
    print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def results() -> dict:
    """file path -> result dict, or -> str explaining how the child failed on that file."""
    if not FILES:
        pytest.skip("corpus not found (set WIREKIT_CORPUS)")
    args = [sys.executable, "-c", CHILD] + [str(p) for p in FILES]
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
        stdout, failure = r.stdout, (None if r.returncode == 0 else
                                     f"child exit status {r.returncode}: {r.stderr[-3000:]}")
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        stdout = out.decode() if isinstance(out, bytes) else out
        failure = f"no result within {TIMEOUT_S} s (hang)"
    res: dict = {}
    current = None
    for line in stdout.splitlines():
        rec = json.loads(line)
        if "start" in rec:
            current = rec["start"]
        else:
            res[rec["file"]] = rec
            current = None
    if current is not None:
        res[current] = failure or "child stopped without a result"
    return res


def result(results, path) -> dict:
    r = results.get(str(path))
    assert r is not None, f"{path.name}: not reached (an earlier file killed the child)"
    assert not isinstance(r, str), f"{path.name}: {r}"
    return r


def _ids(paths):
    return [p.name for p in paths]


@pytest.mark.skipif(not FILES, reason="corpus not found (set WIREKIT_CORPUS)")
@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_packets_or_clear_error(results, path):
    out = result(results, path)
    assert out["batch_packets"] == out["packets"]
    err = out["error"]
    if err is not None:
        # A clear error: where (byte offset, record number) and what.
        assert err["offset"] >= 0 and err["record"] == out["packets"]
        assert f"byte offset {err['offset']}" in err["message"]
        assert f"record {err['record']}" in err["message"]
    else:
        assert out["packets"] > 0
    for codes in out["rust"] + out["python"]:
        assert all(isinstance(c, str) and c for c in codes)


# Hand-checked against tcpdump's .out files, the Zeek truncation baseline and capinfos (see
# the corpus MANIFEST): (packets, error kind and byte offset or None, Rust anomalies by packet).
EXPECTED = {
    "sv-fuzz-caplen.pcap": (1, ("corrupt", 228), None),
    "sv-truncated-file.pcap": (6, ("truncated", 5035), None),
    "ip4-trunc.pcap": (1, None, [["truncated_header"]]),
    "trunc-hdr.pcap": (1, None, [["truncated_header"]]),
    "ip6-trunc.pcap": (1, None, [["truncated_header"]]),
    "icmp-header-trunc.pcap": (2, None, [["truncated_header"], ["truncated_header"]]),
    # Zeek: a truncated ICMP *payload* must not be reported.
    "icmp-payload-trunc.pcap": (4, None, [[], [], [], []]),
    # tcpdump: "IP [length 19 < 20] (invalid)"; IPv6 "[length 39 < 40]".
    "ipv4_invalid_length.pcap": (1, None, [["truncated_header"]]),
    "ipv6_invalid_length.pcap": (1, None, [["truncated_header"]]),
    "ipv4_invalid_hdr_length.pcap": (1, None, [["bad_ip_header_len"]]),
    # Packets 2 and 4 carry ethertype 0x86dd with a version nibble that is not 6.
    "ipv6-bad-version.pcap": (4, None, [[], ["bad_ip_version"], [], ["bad_ip_version"]]),
    # 1 byte captured on LINKTYPE_RAW: tcpdump "IP3 (invalid)".
    "heap-overflow-1.pcap": (1, None, [["bad_ip_version"]]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_outcome(results, corpus, name):
    packets, error, rust = EXPECTED[name]
    out = result(results, corpus / "malformed" / name)
    assert out["packets"] == packets
    if error is None:
        assert out["error"] is None
    else:
        assert (out["error"]["kind"], out["error"]["offset"]) == error
    if rust is not None:
        assert out["rust"] == rust


def test_invalid_nanosecond_fraction_is_flagged(results, corpus):
    out = result(results, corpus / "malformed" / "timestamp_invalid_nano.pcap")
    # tcpdump prints packets 2 and 3 with an invalid fraction; the record flag says so.
    assert out["flags"] == [0, 1, 1]
