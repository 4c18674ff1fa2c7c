"""The tshark fields the wire tests compare `Decoded.to_json()` against, and how to run it.

Regenerate the golden files (tshark output, third-party truth) after a corpus change with

    python tests/wire/wire_tshark_fields.py            # writes tests/data/wire/tshark/*.tsv.gz

and review the diff. The test reads the golden files, or runs tshark live when
WIREKIT_LIVE_TSHARK=1.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "wire" / "tshark"
FOLDERS = ("decode", "banners")

FIELDS = [
    "frame.number", "eth.src", "eth.dst", "eth.type", "vlan.id", "ieee8021ad.id",
    "ip.version", "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.len", "ip.id",
    "ip.frag_offset", "ip.flags.mf", "ip.flags.df", "ip.hdr_len",
    "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen", "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags",
    "tcp.window_size_value", "tcp.hdr_len", "tcp.len",
    "udp.srcport", "udp.dstport", "udp.length",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
]
# Reassembly and heuristics off: one row per frame, fields as the frame carries them.
PREFS = ["ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE"]


def corpus_dir() -> Path | None:
    env = os.environ.get("WIREKIT_CORPUS")
    p = Path(env) if env else REPO.parent / "shared" / "corpus"
    return p if p.is_dir() else None


def corpus_files(corpus: Path) -> list[Path]:
    out = []
    for folder in FOLDERS:
        out += sorted(p for p in (corpus / folder).rglob("*")
                      if p.suffix in (".pcap", ".pcapng", ".cap") and p.is_file())
    return out


def golden_name(corpus: Path, path: Path) -> str:
    return str(path.relative_to(corpus)).replace("/", "__") + ".tsv.gz"


def run_tshark(path: Path) -> str:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=|", "-E", "header=n"]
    for p in PREFS:
        cmd += ["-o", p]
    for f in FIELDS:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.stdout


def parse_rows(text: str) -> dict[int, dict[str, list[str]]]:
    """frame number -> field -> list of occurrences (outermost first)."""
    rows = {}
    for line in text.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rec = {f: (c.split("|") if c else []) for f, c in zip(FIELDS, cols)}
        rows[int(rec["frame.number"][0])] = rec
    return rows


def main() -> int:
    corpus = corpus_dir()
    if corpus is None:
        print("corpus not found (set WIREKIT_CORPUS)", file=sys.stderr)
        return 1
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for path in corpus_files(corpus):
        # mtime=0: the same tshark output gives the same bytes (reviewable diffs).
        (GOLDEN / golden_name(corpus, path)).write_bytes(
            gzip.compress(run_tshark(path).encode(), mtime=0))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
