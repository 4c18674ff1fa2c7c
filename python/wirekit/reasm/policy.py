"""Overlap policies: which copy of a byte wins when fragments or segments overlap.

The rules live in Rust (`wirekit_reasm::policy`, whose header has the table); this module
names them for Python callers. A policy is chosen per destination like Suricata's
host-os-policy: a default plus a mapping of CIDRs to policies (longest prefix wins).

| policy      | the newcomer wins an overlap when                          | targets (Novak 2005)   |
|-------------|------------------------------------------------------------|------------------------|
| first       | never                                                      | HP-UX 11, MacOS        |
| last        | always                                                     | Cisco IOS              |
| bsd         | it starts before the held range                            | *BSD, AIX, HP-UX 10    |
| linux       | it starts at or before the held range                      | Linux                  |
| bsd-right   | it reaches further right (ties: starts at or before)       | HP JetDirect           |
| windows     | it starts before and ends after the held range             | Windows                |
| solaris     | it starts before and ends at or after the held range       | Solaris 9, 10          |
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping


class OverlapPolicy(str, enum.Enum):
    FIRST = "first"
    LAST = "last"
    LINUX = "linux"
    BSD = "bsd"
    BSD_RIGHT = "bsd-right"
    WINDOWS = "windows"
    SOLARIS = "solaris"

    def __str__(self) -> str:
        return self.value


# Suricata host-os-policy OS names, mapped as its defrag engine maps them.
ALIASES: dict[str, OverlapPolicy] = {
    "macos": OverlapPolicy.FIRST,
    "hpux11": OverlapPolicy.FIRST,
    "old-solaris": OverlapPolicy.FIRST,
    "old-linux": OverlapPolicy.LINUX,
    "hpux10": OverlapPolicy.BSD,
    "irix": OverlapPolicy.BSD,
    "bsdright": OverlapPolicy.BSD_RIGHT,
    "vista": OverlapPolicy.WINDOWS,
    "windows2k3": OverlapPolicy.WINDOWS,
}


def parse_policy(name: str | OverlapPolicy) -> OverlapPolicy:
    """A policy from its name or a Suricata OS alias (case-insensitive, `_` = `-`)."""
    if isinstance(name, OverlapPolicy):
        return name
    norm = str(name).strip().lower().replace("_", "-")
    try:
        return OverlapPolicy(norm)
    except ValueError:
        pass
    if norm in ALIASES:
        return ALIASES[norm]
    names = ", ".join(p.value for p in OverlapPolicy)
    raise ValueError(f"unknown overlap policy {name!r} (expected one of {names})")


def policy_pairs(
    policy_by_cidr: Mapping[str, str | OverlapPolicy] | Iterable[tuple[str, str | OverlapPolicy]] | None,
) -> list[tuple[str, str]]:
    """Validate a CIDR -> policy mapping into (cidr, policy name) pairs for the engine."""
    if not policy_by_cidr:
        return []
    items = policy_by_cidr.items() if isinstance(policy_by_cidr, Mapping) else policy_by_cidr
    out = []
    for cidr, pol in items:
        net = ipaddress.ip_network(str(cidr), strict=False)
        out.append((str(net), parse_policy(pol).value))
    return out
