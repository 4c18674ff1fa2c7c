"""Run wirekit's p0f observer over the corpus files p0f-3.09b.reference.log covers, and pair
each of p0f's SYN / SYN+ACK lines with wirekit's verdict on the same packet."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import wirekit
from wirekit.fingerprint import P0fDatabase, TCPSignatureInput
from wirekit.fingerprint.observer import P0fObserver

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    env = os.environ.get("WIREKIT_CORPUS")
    return Path(env) if env else (REPO / ".." / "shared" / "corpus").resolve()


_LINE = re.compile(r"^\[[^\]]*\] mod=(syn|syn\+ack)\|cli=([^|]*)\|srv=([^|]*)\|subj=\w+\|"
                   r"(?:os|app)=([^|]*)\|dist=([^|]*)\|params=([^|]*)\|raw_sig=(.*)$")


@dataclass(frozen=True)
class RefEntry:
    file: str
    kind: str
    cli: str
    srv: str
    os: str          # "???" when p0f found nothing
    dist: str
    params: str
    raw_sig: str


def parse_reference(path: Path) -> dict[str, list[RefEntry]]:
    out: dict[str, list[RefEntry]] = defaultdict(list)
    cur = None
    for line in path.read_text().splitlines():
        if line.startswith("# ==== corpus file: "):
            cur = line.split(": ", 1)[1].strip()
            out[cur]  # noqa: B018 - files with only non-TCP lines still count
            continue
        m = _LINE.match(line)
        if m and cur:
            out[cur].append(RefEntry(cur, *m.groups()))
    return dict(out)


def _p0f_addr(addr: str) -> str:
    # p0f prints IPv6 as eight %x groups, no '::' compression
    if ":" not in addr:
        return addr
    import ipaddress

    return ":".join(f"{int(g, 16):x}" for g in ipaddress.IPv6Address(addr).exploded.split(":"))


@dataclass(frozen=True)
class Ours:
    kind: str
    cli: str
    srv: str
    os: str
    dist: int
    fuzzy: bool
    generic: bool
    raw_sig: str


# p0f's fixed link-header lengths (process.c find_offset); other link types are probed.
_P0F_OFFSETS = {101: 0, 12: 0, 14: 0, 0: 4, 9: 4, 108: 8, 1: 14, 113: 16, 117: 28, 105: 32}


def _packets(cap):
    try:
        yield from cap
    except wirekit.CaptureFileError:
        return  # p0f, too, stops at the broken record after the good ones


def run_wirekit(path: Path, db: P0fDatabase) -> list[Ours]:
    """wirekit's observations for a capture, reading frames as p0f 3.09b does (fixed link
    header per link type, so VLAN-tagged Ethernet frames are not IP to p0f either)."""
    obs = P0fObserver(db)
    out: list[Ours] = []
    with wirekit.open(path) as cap:
        for pkt in _packets(cap):
            off = _P0F_OFFSETS.get(pkt.linktype)
            if off is None:
                from wirekit.fingerprint.tcpsig import link_ip_offset

                off = link_ip_offset(pkt.linktype, pkt.data)
                if off is None:
                    continue
            data = pkt.data
            sig = TCPSignatureInput.from_ip(memoryview(data)[off:min(len(data), pkt.wire_len)])
            if sig is None:
                continue
            o = obs.feed(sig, pkt.ts_ns)
            if o is None:
                continue
            m = o.match
            out.append(Ours(o.kind, f"{_p0f_addr(o.client)}/{o.client_port}",
                            f"{_p0f_addr(o.server)}/{o.server_port}",
                            m.label.text if m.label else "???", m.distance, m.fuzzy,
                            m.generic, m.raw_sig))
    return out


def pair(ref: list[RefEntry], ours: list[Ours]):
    """Pair entries by (kind, client, server) in order of occurrence. Yields (ref, ours or
    None) for every reference entry, then (None, ours) for wirekit-only observations."""
    pool: dict[tuple, list[Ours]] = defaultdict(list)
    for o in ours:
        pool[(o.kind, o.cli, o.srv)].append(o)
    for r in ref:
        lst = pool.get((r.kind, r.cli, r.srv))
        yield r, (lst.pop(0) if lst else None)
    for lst in pool.values():
        for o in lst:
            yield None, o
