"""`wirekit flow --csv` / `--json`: the same fields; rev_* only in bidirectional mode."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from wirekit.flow.output import CSV_FIELDS, CSV_REV_FIELDS, CsvSink

from .helpers import meter_file


@pytest.mark.parametrize("bidirectional", [False, True])
def test_csv_columns_follow_the_mode_and_match_json(corpus, tmp_path, bidirectional):
    pcap = corpus / "flows" / "wikipedia.pcap"
    out_csv, out_json = tmp_path / "f.csv", tmp_path / "f.json"
    cmd = [sys.executable, "-m", "wirekit.cli", "flow", "-r", str(pcap), "--csv", str(out_csv),
           "--json", str(out_json)] + (["--bidirectional"] if bidirectional else [])
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    with open(out_csv, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    base = ["src", "dst", "src_port", "dst_port", "proto", "packets", "bytes", "first_ns", "last_ns",
            "tcp_flags", "tos", "ttl_min", "ttl_max", "ip_version", "vlan", "ifindex", "end_reason"]
    rev = ["rev_packets", "rev_bytes", "rev_first_ns", "rev_last_ns", "rev_tcp_flags", "rev_tos"]
    assert header == (base + rev if bidirectional else base)
    js = [json.loads(line) for line in out_json.read_text().splitlines()]
    assert all(list(j) == header for j in js)  # same keys, same order
    assert body == [[str(j[k]) for k in header] for j in js]
    flows, _ = meter_file(pcap, bidirectional=bidirectional)
    assert len(body) == len(flows) > 0
    if bidirectional:
        assert sum(int(r[header.index("rev_packets")]) for r in body) == sum(f.rev_packets for f in flows) > 0


def test_csv_sink_refuses_records_of_the_other_mode(corpus, tmp_path):
    flows, _ = meter_file(corpus / "flows" / "5-pings.pcap", bidirectional=True)
    sink = CsvSink(str(tmp_path / "x.csv"))
    with pytest.raises(ValueError):
        sink.write(flows)
    sink.close()
    assert (tmp_path / "x.csv").read_text() == ",".join(CSV_FIELDS) + "\n"
    sink = CsvSink(str(tmp_path / "y.csv"), bidirectional=True)
    sink.write(flows)
    sink.close()
    assert (tmp_path / "y.csv").read_text().splitlines()[0] == ",".join(CSV_FIELDS + CSV_REV_FIELDS)
