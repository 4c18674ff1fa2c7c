"""Passive OS fingerprinting from TCP SYN and SYN+ACK headers: p0f v3 and OpenBSD pf.os.

    from wirekit.fingerprint import TCPSignatureInput, Fingerprinter
    fp = Fingerprinter()                      # the databases shipped with wirekit
    sig = TCPSignatureInput.from_ip(ip_bytes)
    for guess in fp.guess(sig):               # p0f first, then pf.os (SYNs only)
        print(guess.db, guess.label, guess.match, guess.distance)

SYNs are matched against SYN databases (p0f ``[tcp:request]``, pf.os) and SYN+ACKs only
against response signatures (p0f ``[tcp:response]``; pf.os has none). The module is pure
Python and usable without the rest of wirekit.
"""

from __future__ import annotations

from pathlib import Path

from .guess import OSGuess
from .p0f import P0fDatabase, P0fMatch
from .pfos import PfOsDatabase, PfOsMatch
from .tcpsig import TCPFlag, TCPSignatureInput

__all__ = [
    "Fingerprinter",
    "OSGuess",
    "P0fDatabase",
    "P0fMatch",
    "PfOsDatabase",
    "PfOsMatch",
    "TCPFlag",
    "TCPSignatureInput",
    "data_path",
]

_DATA = Path(__file__).resolve().parent.parent / "data" / "fingerprint"


def data_path(name: str) -> Path:
    """Path of a database shipped with wirekit ("p0f.fp" or "pf.os")."""
    return _DATA / name


class Fingerprinter:
    """Both databases together; `guess()` returns every database's verdict, p0f first
    (its database is the newer one; a fuzzy p0f match is flagged, not demoted)."""

    def __init__(self, p0f: P0fDatabase | None = None, pfos: PfOsDatabase | None = None):
        self.p0f = p0f if p0f is not None else P0fDatabase.load()
        self.pfos = pfos if pfos is not None else PfOsDatabase.load()

    def guess(self, sig: TCPSignatureInput, *, syn_mss: int = 0) -> list[OSGuess]:
        out: list[OSGuess] = []
        m = self.p0f.match(sig, syn_mss=syn_mss)
        if m is not None and (g := m.to_guess()) is not None:
            out.append(g)
        if sig.is_syn:
            pm = self.pfos.match(sig)
            if pm is not None:
                out.append(pm.to_guess())
        return out
