"""An OS guess: what a fingerprint database said about one SYN or SYN+ACK."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OSGuess"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OSGuess:
    """One database's verdict on one packet.

    Attributes:
        db: "p0f" or "pf.os".
        label: the signature's label as the database's own tool prints it
            (p0f: name and flavor, e.g. "Linux 2.2.x-3.x"; pf.os: class, version,
            subtype, e.g. "Linux 2.6").
        match: "exact", or "fuzzy" when the database's tolerance rules were needed
            (p0f: TTL out of range, df/id+ lost, id-/ecn gained). pf.os has no fuzzy mode.
        distance: hops between the sender and the observer (signature initial TTL minus
            the observed TTL), or None when unknown.
        generic: the signature is a generic one (p0f ``g:``, pf.os ``@``).
        userland: p0f ``!`` class: a tool such as nmap rather than an OS stack.
        line_no: the signature's line in its database file (1-based), for explanation.
    """

    db: str
    label: str
    match: str
    distance: int | None
    generic: bool = False
    userland: bool = False
    line_no: int = 0
