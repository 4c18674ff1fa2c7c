"""tshark's view of the corpus captures, live or from stored golden files, for
test_dump_vs_tshark.py.

Regenerate the golden files (third-party truth, reviewed as diffs) after a corpus change, a
tshark upgrade or a change of FIELDS with

    python tests/wire/tshark_golden.py        # writes tests/data/wire/tshark/*.tsv.gz + VERSION

The test runs tshark itself when it is installed (and then also checks that the golden files
are current when the installed tshark is the version that wrote them); without tshark it
reads the golden files.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "wire" / "tshark"
VERSION_FILE = GOLDEN / "VERSION"
#: The captures compared: every file of the corpus's decode/ and banners/ folders.
FOLDERS = ("decode", "banners")
SUFFIXES = (".pcap", ".pcapng", ".cap")

FIELDS = [
    "frame.number", "frame.protocols",
    "eth.src", "eth.dst", "eth.type", "vlan.id", "ieee8021ad.id",
    "mpls.label", "mpls.exp", "mpls.bottom", "mpls.ttl",
    "pppoe.code", "pppoe.session_id", "pppoe.payload_length", "ppp.protocol",
    "ip.version", "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.len", "ip.id",
    "ip.frag_offset", "ip.flags.mf", "ip.flags.df", "ip.hdr_len",
    "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen", "ipv6.nxt",
    "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.dstopts.nxt",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags",
    "tcp.window_size_value", "tcp.hdr_len", "tcp.len",
    "udp.srcport", "udp.dstport", "udp.length",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
]
#: Reassembly off: one row per frame, each fragment and segment as the wire carries it
#: (wirekit dump shows packets, not datagrams).
PREFS = ["ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE"]


def corpus_dir() -> Path | None:
    env = os.environ.get("WIREKIT_CORPUS")
    p = Path(env) if env else REPO.parent / "shared" / "corpus"
    return p.resolve() if p.is_dir() else None


def capture_files(corpus: Path | None) -> list[Path]:
    if corpus is None:
        return []
    out = []
    for folder in FOLDERS:
        out += sorted(p for p in (corpus / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return out


def golden_path(corpus: Path, path: Path) -> Path:
    return GOLDEN / (str(path.relative_to(corpus)).replace("/", "__") + ".tsv.gz")


def tshark_command(path: Path) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=|", "-E", "header=n"]
    for p in PREFS:
        cmd += ["-o", p]
    for f in FIELDS:
        cmd += ["-e", f]
    return cmd


def tshark_version() -> str:
    out = subprocess.run(["tshark", "--version"], capture_output=True, text=True, timeout=60,
                         check=False).stdout
    return out.splitlines()[0].strip() if out else ""


def parse_rows(text: str) -> list[dict[str, list[str]]]:
    """One dict per frame, in order: field -> occurrences (outermost first)."""
    rows = []
    for line in text.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rows.append({f: (c.split("|") if c else []) for f, c in zip(FIELDS, cols)})
    return rows


def read_golden(corpus: Path, path: Path) -> str | None:
    g = golden_path(corpus, path)
    return gzip.decompress(g.read_bytes()).decode() if g.exists() else None


def main() -> int:
    corpus = corpus_dir()
    if corpus is None:
        print("corpus not found (set WIREKIT_CORPUS)", file=sys.stderr)
        return 1
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.tsv.gz"):
        old.unlink()
    for path in capture_files(corpus):
        text = subprocess.run(tshark_command(path), capture_output=True, text=True, timeout=300,
                              check=False).stdout
        # mtime=0: the same tshark output gives the same bytes (reviewable diffs).
        golden_path(corpus, path).write_bytes(gzip.compress(text.encode(), mtime=0))
        print(path.relative_to(corpus))
    VERSION_FILE.write_text(tshark_version() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
