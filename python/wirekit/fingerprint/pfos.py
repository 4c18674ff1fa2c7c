"""OpenBSD pf.os fingerprints (pf's ``osfp``) and pf's matching rules.

Theory of operation
-------------------
A pf.os line is ``window:ttl:df:size:options:class:version:subtype:description``
(pf.os(5)). pf fingerprints IPv4 and IPv6 TCP SYNs (SYN set, ACK clear) only; every
line becomes an IPv4 fingerprint and an IPv6 one (DF implied, packet size + 20 bytes for
the longer IP header), as pfctl loads them.

A SYN matches a fingerprint when, as in pf's ``pf_osfp_find``:

* the TCP option *kinds* are the same, in the same order, and as many (options after an
  EOL are not looked at; a SYN with any option other than N, M, W, S, T is not
  fingerprinted at all);
* the fingerprint's TTL is at or above the observed TTL and at most 40 above it
  (``PF_OSFP_MAXTTL_OFFSET``);
* DF and "timestamp is zero" (``T0``) agree;
* packet size (IP total length), MSS (``Mnn``) and window scale (``Wnn``): literal,
  ``*`` (any) or ``%n`` (a multiple of n); a fingerprint without an M or W option does
  not care about that value;
* window: literal, ``*``, ``%n``, ``Snn`` (nn times the MSS) or ``Tnn`` (nn times the
  MTU, MSS + 40). With ``S``/``T`` a SYN without an MSS never matches, and a window that
  is a multiple of 1460 (MSS) / 1500 (MTU) matches too: "smart" NAT devices rewrite the
  MSS (pf's ``SMART_MSS`` fallback).

The first matching line in file order wins; lines with an identical fingerprint are merged
behind it (pf keeps one entry with several OS names), reported as `candidates`.

Deliberate difference from pf: pf's kernel does not compare the address family when it
searches, so an IPv4 SYN with DF set can match the IPv6 copy of a line (size + 20); here
IPv4 SYNs are matched against IPv4 copies only and IPv6 SYNs against IPv6 copies.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from .guess import OSGuess
from .tcpsig import TCPSignatureInput

__all__ = ["PfOsDatabase", "PfOsFingerprint", "PfOsMatch", "PfOsPacketView", "packet_view",
           "MAXTTL_OFFSET"]

#: How far below a fingerprint's TTL the observed TTL may be (pf PF_OSFP_MAXTTL_OFFSET).
MAXTTL_OFFSET = 40
#: pf's "smart NAT" MSS and the matching MTU (SMART_MSS + 20 + 20).
SMART_MSS = 1460
MTU_OVERHEAD = 40
SMART_MTU = SMART_MSS + MTU_OVERHEAD

# Modifiers of a numeric field.
EXACT, ANY, MOD, MSS_MULT, MTU_MULT = "exact", "any", "mod", "mss", "mtu"


@dataclass(frozen=True, slots=True)
class PfOsFingerprint:
    """One pf.os line, for one address family."""

    window: int
    window_mod: str
    ttl: int
    df: bool
    psize: int
    psize_mod: str
    options: tuple[str, ...]   # option kinds: "N", "M", "W", "S", "T" (others never match)
    mss: int
    mss_mod: str
    wscale: int
    wscale_mod: str
    ts0: bool
    ipv6: bool
    os_class: str
    version: str
    subtype: str
    description: str
    generic: bool
    line_no: int

    def key(self) -> tuple:
        """Every matching-relevant field: lines with equal keys are one pf entry."""
        return (self.window, self.window_mod, self.ttl, self.df, self.psize, self.psize_mod,
                self.options, self.mss, self.mss_mod, self.wscale, self.wscale_mod, self.ts0,
                self.ipv6)

    @property
    def label(self) -> str:
        """Class, version and subtype joined the way pfctl prints them."""
        out = self.os_class
        if self.version:
            out += " " + self.version
            if self.subtype:
                if " " in self.version:
                    out += " "
                elif "." in self.version and self.subtype[0].isdigit():
                    out += "."
                elif self.subtype.startswith("."):
                    pass
                else:
                    out += " "
                out += self.subtype
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PfOsPacketView:
    """A SYN as pf sees it."""

    ipv6: bool
    window: int
    ttl: int
    df: bool
    psize: int
    options: tuple[str, ...]
    mss: int
    wscale: int
    ts0: bool


def packet_view(sig: TCPSignatureInput) -> PfOsPacketView | None:
    """pf's view of a SYN, or None when pf would not fingerprint it (not a SYN, an option
    pf does not know, a malformed option)."""
    if sig.tcp_flags & 0x12 != 0x02:
        return None
    opts = sig.options
    cnt = len(opts)
    i = 0
    kinds: list[str] = []
    mss = wscale = 0
    ts0 = False
    while cnt > 0:
        kind = opts[i]
        if kind == 0:  # EOL ends the list
            break
        if kind == 1:
            kinds.append("N")
            optlen = 1
        else:
            if cnt < 2:
                return None
            optlen = opts[i + 1]
            if optlen > cnt or optlen < 2:
                return None
            if kind == 2:
                if optlen >= 4:
                    mss = (opts[i + 2] << 8) | opts[i + 3]
                kinds.append("M")
            elif kind == 3:
                if optlen >= 3:
                    wscale = opts[i + 2]
                kinds.append("W")
            elif kind == 4:
                kinds.append("S")
            elif kind == 8:
                if optlen >= 10 and struct.unpack_from("!I", opts, i + 2)[0] == 0:
                    ts0 = True
                kinds.append("T")
            else:
                return None
        i += optlen
        cnt -= optlen
    ipv6 = sig.ip_version == 6
    return PfOsPacketView(ipv6=ipv6, window=sig.window, ttl=sig.ttl, df=sig.df or ipv6,
                          psize=sig.ip_total_len, options=tuple(kinds), mss=mss,
                          wscale=wscale, ts0=ts0)


def _int_field(text: str, allowed: str, line_no: int, what: str) -> tuple[int, str]:
    """pfctl's get_int: a number, optionally prefixed by the modifiers in `allowed`
    ('*' any, '%' modulo, 'S' MSS multiple, 'T' MTU multiple)."""
    t = text.strip()
    if not t:
        raise ValueError(f"pf.os line {line_no}: empty {what}")
    mod = EXACT
    c = t[0]
    if c in "%ST*":
        if c not in allowed:
            raise ValueError(f"pf.os line {line_no}: {what} does not allow {c!r}")
        mod = {"*": ANY, "%": MOD, "S": MSS_MULT, "T": MTU_MULT}[c]
        t = t[1:]
        if mod == ANY:
            if t:
                raise ValueError(f"pf.os line {line_no}: long '*' {what}")
            return 0, ANY
        if not t:
            if mod == MOD:
                raise ValueError(f"pf.os line {line_no}: modulus {what} must have a value")
            return 0, mod
    if not t.isdigit():
        raise ValueError(f"pf.os line {line_no}: non-digit character in {what}")
    return int(t), mod


def _options(text: str, line_no: int):
    """pfctl's get_tcpopts: returns kinds, mss, mss_mod, wscale, wscale_mod, ts0."""
    kinds: list[str] = []
    mss, mss_mod, ws, ws_mod, ts0 = 0, ANY, 0, ANY, False
    if text == ".":
        return (), mss, mss_mod, ws, ws_mod, ts0
    for item in text.split(","):
        if not item:
            raise ValueError(f"pf.os line {line_no}: empty TCP option")
        k, rest = item[0].upper(), item[1:]
        if k in "NS":
            if rest:
                raise ValueError(f"pf.os line {line_no}: unknown option to {k} TCP opt")
        elif k in "MW":
            if rest == "*":
                val, mod = 0, ANY
            else:
                mod = EXACT
                if rest.startswith("%"):
                    mod, rest = MOD, rest[1:]
                if not rest.isdigit():
                    raise ValueError(f"pf.os line {line_no}: bad {k} TCP opt {item!r}")
                val = int(rest)
            if k == "M":
                mss, mss_mod = val, mod
            else:
                ws, ws_mod = val, mod
        elif k == "T":
            if rest == "0":
                ts0 = True
            elif rest:
                raise ValueError(f"pf.os line {line_no}: unknown option to T TCP opt")
        else:
            # pfctl counts an unknown letter but packs nothing for it, so the line can
            # never match a real SYN; keep it as an unmatchable kind.
            k = "?" + k
        kinds.append(k)
    return tuple(kinds), mss, mss_mod, ws, ws_mod, ts0


def _int_matches(want: int, mod: str, got: int) -> bool:
    if mod == ANY:
        return True
    if mod == MOD:
        return want != 0 and got % want == 0
    return want == got


@dataclass(frozen=True, slots=True)
class PfOsMatch:
    """The first matching fingerprint and the other lines pf merged with it."""

    fingerprint: PfOsFingerprint
    distance: int
    candidates: tuple[PfOsFingerprint, ...]

    @property
    def label(self) -> str:
        return self.fingerprint.label

    def to_guess(self) -> OSGuess:
        return OSGuess(db="pf.os", label=self.fingerprint.label, match="exact",
                       distance=self.distance, generic=self.fingerprint.generic,
                       line_no=self.fingerprint.line_no)


@dataclass
class PfOsDatabase:
    """A pf.os file: fingerprints in file order, IPv4 and IPv6 copies kept apart."""

    v4: list[PfOsFingerprint] = field(default_factory=list)
    v6: list[PfOsFingerprint] = field(default_factory=list)
    path: str | None = None
    #: Lines pfctl would have refused (line number, reason); skipped as pfctl does.
    errors: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PfOsDatabase":
        if path is None:
            from . import data_path

            path = data_path("pf.os")
        with open(path, encoding="utf-8", errors="replace") as f:
            db = cls.parse(f.read())
        db.path = str(path)
        return db

    @classmethod
    def parse(cls, text: str) -> "PfOsDatabase":
        db = cls()
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(":")]
            if len(parts) != 9:
                db.errors.append((no, "expected 9 ':'-separated fields"))
                continue
            try:
                window, wmod = _int_field(parts[0], "*%ST", no, "window size")
                ttl, _ = _int_field(parts[1], "", no, "ttl")
                df, _ = _int_field(parts[2], "", no, "don't fragment flag")
                psize, pmod = _int_field(parts[3], "*%", no, "overall packet size")
                if not parts[4] or not parts[5] or len(parts[8]) < 2:
                    raise ValueError(f"pf.os line {no}: too short field")
                kinds, mss, mss_mod, ws, ws_mod, ts0 = _options(parts[4], no)
            except ValueError as e:
                db.errors.append((no, str(e)))
                continue
            cls_name = parts[5]
            generic = cls_name.startswith("@")
            if cls_name[0] in "@*":
                cls_name = cls_name[1:]
            fp = PfOsFingerprint(window, wmod, ttl, bool(df), psize, pmod, kinds, mss, mss_mod,
                                 ws, ws_mod, ts0, False, cls_name, parts[6], parts[7], parts[8],
                                 generic, no)
            db.v4.append(fp)
            # pfctl adds an IPv6 copy of every line: DF implied, 20 more header bytes.
            db.v6.append(PfOsFingerprint(window, wmod, ttl, True, psize + 20, pmod, kinds, mss,
                                         mss_mod, ws, ws_mod, ts0, True, cls_name, parts[6],
                                         parts[7], parts[8], generic, no))
        return db

    def __len__(self) -> int:
        return len(self.v4)

    def _bucket(self, ipv6: bool, options: tuple[str, ...]) -> list[PfOsFingerprint]:
        # Option kinds must be identical, so only that bucket (file order kept) is searched.
        idx = getattr(self, "_index", None)
        if idx is None or idx[0] is not self.v4 or idx[1] is not self.v6:
            buckets: tuple[dict, dict] = ({}, {})
            for d, fps in ((0, self.v4), (1, self.v6)):
                for f in fps:
                    buckets[d].setdefault(f.options, []).append(f)
            idx = self._index = (self.v4, self.v6, buckets)
        return idx[2][1 if ipv6 else 0].get(options, [])

    def match(self, sig: TCPSignatureInput | PfOsPacketView) -> PfOsMatch | None:
        """The first fingerprint (file order) matching a SYN, or None."""
        p = sig if isinstance(sig, PfOsPacketView) else packet_view(sig)
        if p is None:
            return None
        fps = self._bucket(p.ipv6, p.options)
        for f in fps:
            if (f.ttl < p.ttl or f.ttl - p.ttl > MAXTTL_OFFSET
                    or f.df != p.df or f.ts0 != p.ts0):
                continue
            if not _int_matches(f.psize, f.psize_mod, p.psize):
                continue
            if not _int_matches(f.mss, f.mss_mod, p.mss):
                continue
            if not _int_matches(f.wscale, f.wscale_mod, p.wscale):
                continue
            wm = f.window_mod
            if wm == MSS_MULT:
                if p.mss == 0:
                    continue
                if not (p.window % p.mss == 0 and p.window // p.mss == f.window) and not (
                        p.window % SMART_MSS == 0 and p.window // SMART_MSS == f.window):
                    continue
            elif wm == MTU_MULT:
                if p.mss == 0:
                    continue
                mtu = p.mss + MTU_OVERHEAD
                if not (p.window % mtu == 0 and p.window // mtu == f.window) and not (
                        p.window % SMART_MTU == 0 and p.window // SMART_MTU == f.window):
                    continue
            elif not _int_matches(f.window, wm, p.window):
                continue
            key = f.key()
            cands = tuple(g for g in fps if g.key() == key)
            return PfOsMatch(f, f.ttl - p.ttl, cands)
        return None
