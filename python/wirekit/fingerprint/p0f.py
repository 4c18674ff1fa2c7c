"""p0f v3 TCP fingerprints: the p0f.fp database and p0f 3.09b's matching rules.

Theory of operation
-------------------
A p0f.fp TCP signature is ``ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass``
(docs/README section 5). ``[tcp:request]`` signatures describe SYNs, ``[tcp:response]``
ones SYN+ACKs; a SYN is only ever compared with request signatures and a SYN+ACK with
response signatures.

From a packet we derive the same fields (`P0fPacketView`): the option layout (kinds in
order, EOL padding counted), MSS, window scale, the quirks, the payload class. Matching
(p0f's ``tcp_find_match``), over the signatures whose option layout is identical, in file
order:

* quirks must be equal, except that ``df``/``id+`` disappearing or ``id-``/``ecn``
  appearing makes the candidate *fuzzy* (only until a first fuzzy candidate is found);
  a ``*`` IP version drops the quirks that do not apply to the packet's IP version;
* EOL padding and IP option length are exact;
* TTL: the signature's initial TTL must be at or above the observed TTL and within
  ``MAX_DIST`` (35) hops; otherwise the candidate is fuzzy. A ``ttl-`` (bad TTL)
  signature only requires the initial TTL to be at or above the observed one;
* MSS, window scale and payload class: exact or ``*``;
* window: literal, ``*``, ``%N`` (a multiple of N), ``mss*N`` / ``mtu*N`` (the window is
  N times the MSS / MTU, as p0f's ``detect_win_multi`` decides, which also tries
  MSS-12 with timestamps, 1460/1448 (1500-byte MTU), and on SYN+ACKs the peer's MSS).

The first exact, non-generic candidate wins; else the first generic (``g:``) exact one;
else the first fuzzy one (never for userland ``!`` classes). Distance is the signature TTL
minus the observed TTL, or p0f's guess (to the next of 32/64/128/255) when nothing fits.

What this module deliberately does not do: p0f's NAT/uptime/HTTP analysis, and flow
bookkeeping (which SYN+ACK gets fingerprinted, duplicate SYNs); that lives in
`wirekit.fingerprint.observer`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from .guess import OSGuess
from .tcpsig import TCPFlag, TCPSignatureInput

__all__ = [
    "P0fDatabase",
    "P0fLabel",
    "P0fSignature",
    "P0fPacketView",
    "P0fMatch",
    "packet_view",
    "Quirk",
    "MAX_DIST",
]

#: Maximum TTL distance for a non-fuzzy match (p0f config.h MAX_DIST).
MAX_DIST = 35
#: Options beyond this count are not parsed (p0f config.h MAX_TCP_OPT).
MAX_TCP_OPT = 24
#: Window and MSS of p0f-sendsyn probes.
SPECIAL_MSS = 1331
SPECIAL_WIN = 1337

# TCP option kinds (RFC 793, 1323/7323, 2018).
OPT_EOL, OPT_NOP, OPT_MSS, OPT_WS, OPT_SACKOK, OPT_SACK, OPT_TS = 0, 1, 2, 3, 4, 5, 8
_OPT_NAMES = {OPT_EOL: "eol", OPT_NOP: "nop", OPT_MSS: "mss", OPT_WS: "ws",
              OPT_SACKOK: "sok", OPT_SACK: "sack", OPT_TS: "ts"}
_OPT_BY_NAME = {v: k for k, v in _OPT_NAMES.items()}


class Quirk:
    """p0f quirk bits; `NAMES` gives the p0f.fp spelling in p0f's print order."""

    DF = 0x00000001       # IPv4 DF set
    NZ_ID = 0x00000002    # DF set but IP ID non-zero
    ZERO_ID = 0x00000004  # DF clear but IP ID zero
    ECN = 0x00000008      # explicit congestion notification support
    NZ_MBZ = 0x00000010   # IPv4 "must be zero" flag set
    FLOW = 0x00000020     # IPv6 flow label non-zero
    ZERO_SEQ = 0x00001000
    NZ_ACK = 0x00002000   # ACK number non-zero, ACK flag clear
    ZERO_ACK = 0x00004000  # ACK number zero, ACK flag set
    NZ_URG = 0x00008000   # urgent pointer non-zero, URG clear
    URG = 0x00010000
    PUSH = 0x00020000
    OPT_ZERO_TS1 = 0x01000000
    OPT_NZ_TS2 = 0x02000000
    OPT_EOL_NZ = 0x04000000  # non-zero bytes after EOL
    OPT_EXWS = 0x08000000    # window scale > 14
    OPT_BAD = 0x10000000     # malformed options

    NAMES = (
        ("df", DF), ("id+", NZ_ID), ("id-", ZERO_ID), ("ecn", ECN), ("0+", NZ_MBZ),
        ("flow", FLOW), ("seq-", ZERO_SEQ), ("ack+", NZ_ACK), ("ack-", ZERO_ACK),
        ("uptr+", NZ_URG), ("urgf+", URG), ("pushf+", PUSH), ("ts1-", OPT_ZERO_TS1),
        ("ts2+", OPT_NZ_TS2), ("opt+", OPT_EOL_NZ), ("exws", OPT_EXWS), ("bad", OPT_BAD),
    )
    BY_NAME = dict(NAMES)
    IPV4_ONLY = DF | NZ_ID | ZERO_ID | NZ_MBZ
    IPV6_ONLY = FLOW


# Window kinds in a signature.
WIN_NORMAL, WIN_ANY, WIN_MOD, WIN_MSS, WIN_MTU = "normal", "any", "mod", "mss", "mtu"

# Minimal IPv4 + TCP and IPv6 + TCP header sizes (bytes).
MIN_TCP4 = 40
MIN_TCP6 = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class P0fPacketView:
    """A packet as p0f sees it (p0f's ``packet_data`` reduced to the TCP fingerprint)."""

    ip_version: int
    ttl: int
    tos: int              # DSCP (TOS byte >> 2), printed by p0f as tos:0x..
    ip_options_len: int
    quirks: int
    layout: tuple[int, ...]
    eol_pad: int
    mss: int
    wscale: int
    ts1: int
    window: int
    pay_class: int        # 0: no payload, 1: payload
    total_header_len: int  # IP + TCP header bytes
    is_syn: bool


def packet_view(sig: TCPSignatureInput) -> P0fPacketView:
    """Derive p0f's view of a segment: quirks and option layout, as p0f 3.09b's
    ``parse_packet`` does (option parsing problems become the ``bad`` quirk)."""
    q = 0
    flags = sig.tcp_flags
    tcp_type = flags & 0x17
    if sig.ip_version == 4:
        # RFC 3168: ECT(0), ECT(1) or CE codepoints in the low two TOS bits.
        if sig.tos & 0x03:
            q |= Quirk.ECN
        if sig.ip_mbz:
            q |= Quirk.NZ_MBZ
        if sig.df:
            q |= Quirk.DF
            if sig.ip_id:
                q |= Quirk.NZ_ID
        elif not sig.ip_id:
            q |= Quirk.ZERO_ID
        tos = sig.tos >> 2
    else:
        if sig.flow_label:
            q |= Quirk.FLOW
        if sig.tos & 0x03:
            q |= Quirk.ECN
        tos = sig.tos >> 2
    if flags & (TCPFlag.ECE | TCPFlag.CWR | TCPFlag.NS):
        q |= Quirk.ECN
    if not sig.seq:
        q |= Quirk.ZERO_SEQ
    if flags & TCPFlag.ACK:
        if not sig.ack:
            q |= Quirk.ZERO_ACK
    elif (sig.ack >> 24) & 1 and not flags & TCPFlag.RST:
        # p0f 3.09b tests `RD32(tcp->ack) & !(flags & TCP_RST)`: a bitwise AND with 0/1,
        # i.e. the lowest bit of the ACK field read in host (little-endian) order, which
        # is bit 0 of the field's first byte. p0f.fp was written with p0f's own output,
        # so the database means this bit by "ack+"; we compute it the same way to agree.
        q |= Quirk.NZ_ACK
    if flags & TCPFlag.URG:
        q |= Quirk.URG
    elif sig.urg_ptr:
        q |= Quirk.NZ_URG
    if flags & TCPFlag.PSH:
        q |= Quirk.PUSH

    opts = sig.options
    end = len(opts)
    i = 0
    layout: list[int] = []
    eol_pad = mss = wscale = ts1 = 0
    bad = False
    while i < end and len(layout) < MAX_TCP_OPT:
        kind = opts[i]
        layout.append(kind)
        i += 1
        if kind == OPT_EOL:
            eol_pad = end - i
            if any(opts[i:end]):
                q |= Quirk.OPT_EOL_NZ
            i = end
        elif kind == OPT_NOP:
            continue
        elif kind == OPT_MSS:
            if i + 3 > end:
                bad = True
                break
            if opts[i] != 4:
                q |= Quirk.OPT_BAD
            mss = (opts[i + 1] << 8) | opts[i + 2]
            i += 3
        elif kind == OPT_WS:
            if i + 2 > end:
                bad = True
                break
            if opts[i] != 3:
                q |= Quirk.OPT_BAD
            wscale = opts[i + 1]
            if wscale > 14:
                q |= Quirk.OPT_EXWS
            i += 2
        elif kind == OPT_SACKOK:
            if i + 1 > end:
                bad = True
                break
            if opts[i] != 2:
                q |= Quirk.OPT_BAD
            i += 1
        elif kind == OPT_SACK:
            if i == end or not 10 <= opts[i] <= 34 or i - 1 + opts[i] > end:
                bad = True
                break
            i += opts[i] - 1
        elif kind == OPT_TS:
            if i + 9 > end:
                bad = True
                break
            if opts[i] != 10:
                q |= Quirk.OPT_BAD
            ts1, ts2 = struct.unpack_from("!II", opts, i + 1)
            if not ts1:
                q |= Quirk.OPT_ZERO_TS1
            if tcp_type == TCPFlag.SYN and ts2:
                q |= Quirk.OPT_NZ_TS2
            i += 9
        else:
            if i == end or not 2 <= opts[i] <= 40 or i - 1 + opts[i] > end:
                bad = True
                break
            i += opts[i] - 1
    if bad or i != end:
        q |= Quirk.OPT_BAD
    return P0fPacketView(
        ip_version=sig.ip_version, ttl=sig.ttl, tos=tos, ip_options_len=sig.ip_options_len,
        quirks=q, layout=tuple(layout), eol_pad=eol_pad, mss=mss, wscale=wscale, ts1=ts1,
        window=sig.window, pay_class=1 if sig.payload_len else 0,
        total_header_len=sig.ip_header_len + sig.tcp_header_len,
        is_syn=tcp_type == TCPFlag.SYN,
    )


def guess_dist(ttl: int) -> int:
    """Hops from the next common initial TTL (32, 64, 128, 255) down to the observed one."""
    for initial in (32, 64, 128):
        if ttl <= initial:
            return initial - ttl
    return 255 - ttl


def window_multiplier(p: P0fPacketView, syn_mss: int = 0) -> tuple[int, bool] | None:
    """(multiplier, of_mtu) when the window is a multiple of the MSS or MTU, else None.

    p0f's ``detect_win_multi``: the divisors are tried in this order, and the first that
    divides the window decides (window scaling deliberately ignored, as stacks do).
    """
    win, mss = p.window, p.mss
    if not win or mss < 100:
        return None
    cands: list[tuple[int, bool]] = [(mss, False)]
    if p.ts1:
        cands.append((mss - 12, False))  # some stacks subtract the timestamp option
    cands += [(1500 - MIN_TCP4, False), (1500 - MIN_TCP4 - 12, False)]
    if p.ip_version == 6:
        cands += [(1500 - MIN_TCP6, False), (1500 - MIN_TCP6 - 12, False)]
    cands += [(mss + MIN_TCP4, True), (mss + p.total_header_len, True)]
    if p.ip_version == 6:
        cands.append((mss + MIN_TCP6, True))
    cands.append((1500, True))
    if syn_mss:
        # On SYN+ACKs some stacks use the peer's MSS.
        cands += [(syn_mss, False), (syn_mss - 12, False)]
    for div, of_mtu in cands:
        if div > 0 and win % div == 0:
            return win // div, of_mtu
    return None


@dataclass(frozen=True, slots=True)
class P0fLabel:
    """A ``label = type:class:name:flavor`` line; `cls` is None for userland (``!``)."""

    generic: bool
    cls: str | None
    name: str
    flavor: str
    line_no: int
    sys: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """As p0f prints it: name, then the flavor if any."""
        return f"{self.name} {self.flavor}" if self.flavor else self.name


@dataclass(frozen=True, slots=True)
class P0fSignature:
    """One ``sig = ...`` line of a TCP section."""

    ip_version: int | None   # None for '*'
    ittl: int
    bad_ttl: bool
    ip_options_len: int
    mss: int | None          # None for '*'
    win_type: str
    win: int
    wscale: int | None
    layout: tuple[int, ...]
    eol_pad: int
    quirks: int
    pay_class: int | None
    label: P0fLabel
    line_no: int
    text: str

    @classmethod
    def parse(cls, text: str, label: P0fLabel, line_no: int) -> "P0fSignature":
        """Parse p0f.fp's signature syntax; ValueError with the line number when malformed."""
        def bad(why: str) -> ValueError:
            return ValueError(f"p0f.fp line {line_no}: {why}: {text!r}")

        parts = text.split(":")
        if len(parts) != 8:
            raise bad("expected 8 ':'-separated fields")
        ver_s, ttl_s, olen_s, mss_s, win_s, layout_s, quirks_s, pclass_s = parts
        ver = {"4": 4, "6": 6, "*": None}.get(ver_s, -1)
        if ver == -1:
            raise bad("IP version")
        bad_ttl = False
        if ttl_s.endswith("-"):
            bad_ttl, ittl = True, int(ttl_s[:-1])
        elif "+" in ttl_s:
            a, b = ttl_s.split("+", 1)
            ittl = int(a) + int(b)
        else:
            ittl = int(ttl_s)
        if not 1 <= ittl <= 255:
            raise bad("initial TTL")
        olen = int(olen_s)
        mss = None if mss_s == "*" else int(mss_s)
        if "," not in win_s:
            raise bad("window")
        wsize_s, scale_s = win_s.split(",", 1)
        if wsize_s == "*":
            win_type, win = WIN_ANY, 0
        elif wsize_s.startswith("%"):
            win_type, win = WIN_MOD, int(wsize_s[1:])
        elif wsize_s.startswith("mss*"):
            win_type, win = WIN_MSS, int(wsize_s[4:])
        elif wsize_s.startswith("mtu*"):
            win_type, win = WIN_MTU, int(wsize_s[4:])
        else:
            win_type, win = WIN_NORMAL, int(wsize_s)
        wscale = None if scale_s == "*" else int(scale_s)
        layout: list[int] = []
        eol_pad = 0
        for o in layout_s.split(",") if layout_s else []:
            if o.startswith("eol+"):
                layout.append(OPT_EOL)
                eol_pad = int(o[4:])
            elif o.startswith("?"):
                layout.append(int(o[1:]))
            elif o in _OPT_BY_NAME:
                layout.append(_OPT_BY_NAME[o])
            else:
                raise bad(f"TCP option {o!r}")
        quirks = 0
        for qn in quirks_s.split(",") if quirks_s else []:
            if qn not in Quirk.BY_NAME:
                raise bad(f"quirk {qn!r}")
            quirks |= Quirk.BY_NAME[qn]
        pay = {"*": None, "0": 0, "+": 1}.get(pclass_s, -1)
        if pay == -1:
            raise bad("payload class")
        return cls(ver, ittl, bad_ttl, olen, mss, win_type, win, wscale, tuple(layout),
                   eol_pad, quirks, pay, label, line_no, text)


@dataclass(frozen=True, slots=True)
class P0fMatch:
    """The outcome of matching one packet: `label` is None when nothing matched."""

    label: P0fLabel | None
    signature: P0fSignature | None
    fuzzy: bool
    distance: int
    view: P0fPacketView
    syn_mss: int = 0

    @property
    def raw_sig(self) -> str:
        """The packet's signature in p0f.fp syntax, as p0f logs it (``raw_sig=``)."""
        return P0fDatabase.raw_sig(self.view, self.syn_mss)

    @property
    def generic(self) -> bool:
        return bool(self.label and self.label.generic)

    def to_guess(self) -> OSGuess | None:
        if self.label is None:
            return None
        return OSGuess(db="p0f", label=self.label.text,
                       match="fuzzy" if self.fuzzy else "exact",
                       distance=self.distance, generic=self.label.generic,
                       userland=self.label.cls is None, line_no=self.signature.line_no
                       if self.signature else 0)


@dataclass
class P0fDatabase:
    """The TCP part of a p0f.fp file: request (SYN) and response (SYN+ACK) signatures."""

    request: list[P0fSignature] = field(default_factory=list)
    response: list[P0fSignature] = field(default_factory=list)
    path: str | None = None

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        # Only signatures with the packet's exact option layout can match; p0f buckets by
        # a hash of the layout for the same reason. Lists keep file order.
        self._by_layout: tuple[dict, dict] = ({}, {})
        for d, sigs in ((0, self.request), (1, self.response)):
            for s in sigs:
                self._by_layout[d].setdefault(s.layout, []).append(s)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "P0fDatabase":
        """Read a p0f.fp file (default: the copy shipped with wirekit)."""
        if path is None:
            from . import data_path

            path = data_path("p0f.fp")
        with open(path, encoding="utf-8", errors="replace") as f:
            db = cls.parse(f.read())
        db.path = str(path)
        return db

    @classmethod
    def parse(cls, text: str) -> "P0fDatabase":
        request: list[P0fSignature] = []
        response: list[P0fSignature] = []
        section = None
        label: P0fLabel | None = None
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                label = None
                continue
            if section not in ("tcp:request", "tcp:response") or "=" not in line:
                continue
            key, _, val = (x.strip() for x in line.partition("="))
            if key == "label":
                parts = val.split(":", 3)
                if len(parts) != 4 or parts[0] not in ("s", "g"):
                    raise ValueError(f"p0f.fp line {no}: bad label {val!r}")
                label = P0fLabel(parts[0] == "g", None if parts[1] == "!" else parts[1],
                                 parts[2], parts[3], no)
            elif key == "sys" and label is not None:
                label = P0fLabel(label.generic, label.cls, label.name, label.flavor,
                                 label.line_no, tuple(s.strip() for s in val.split(",")))
            elif key == "sig":
                if label is None:
                    raise ValueError(f"p0f.fp line {no}: signature without a label")
                sig = P0fSignature.parse(val, label, no)
                (request if section == "tcp:request" else response).append(sig)
        return cls(request, response)

    # -- matching -----------------------------------------------------------------------
    def match(self, sig: TCPSignatureInput | P0fPacketView, *, syn_mss: int = 0) -> P0fMatch | None:
        """Match a SYN against request signatures or a SYN+ACK against response ones.

        `syn_mss` is the MSS of the SYN this SYN+ACK answers (0 if unknown); p0f uses it to
        recognise windows sized from the peer's MSS. Returns None for other segments.
        """
        p = sig if isinstance(sig, P0fPacketView) else packet_view(sig)
        if isinstance(sig, TCPSignatureInput):
            if not (sig.is_syn or sig.is_syn_ack):
                return None
        return self._find(p, 0 if p.is_syn else 1, syn_mss)

    def _find(self, p: P0fPacketView, direction: int, syn_mss: int) -> P0fMatch:
        multi = window_multiplier(p, syn_mss)
        fmatch: P0fSignature | None = None
        gmatch: P0fSignature | None = None
        for ref in self._by_layout[direction].get(p.layout, ()):
            fuzzy = False
            ref_quirks = ref.quirks
            if ref.ip_version is None:
                ref_quirks &= ~Quirk.IPV6_ONLY if p.ip_version == 4 else ~(Quirk.DF | Quirk.NZ_ID | Quirk.ZERO_ID)
            if ref_quirks != p.quirks:
                deleted = (ref_quirks ^ p.quirks) & ref_quirks
                added = (ref_quirks ^ p.quirks) & p.quirks
                # Losing df/id+ or gaining id-/ecn happens along the path (routers,
                # middleboxes): a fuzzy match; any other quirk difference rules it out.
                if (fmatch is not None or deleted & ~(Quirk.DF | Quirk.NZ_ID)
                        or added & ~(Quirk.ZERO_ID | Quirk.ECN)):
                    continue
                fuzzy = True
            if ref.eol_pad != p.eol_pad or ref.ip_options_len != p.ip_options_len:
                continue
            if ref.bad_ttl:
                if ref.ittl < p.ttl:
                    continue
            elif ref.ittl < p.ttl or ref.ittl - p.ttl > MAX_DIST:
                fuzzy = True
            if ref.mss is not None and ref.mss != p.mss:
                continue
            if ref.wscale is not None and ref.wscale != p.wscale:
                continue
            if ref.pay_class is not None and ref.pay_class != p.pay_class:
                continue
            wt = ref.win_type
            if wt == WIN_NORMAL:
                if ref.win != p.window:
                    continue
            elif wt == WIN_MOD:
                if p.window % ref.win:
                    continue
            elif wt == WIN_MSS:
                if multi is None or multi[1] or multi[0] != ref.win:
                    continue
            elif wt == WIN_MTU:
                if multi is None or not multi[1] or multi[0] != ref.win:
                    continue
            if not fuzzy:
                if not ref.label.generic:
                    return P0fMatch(ref.label, ref, False, ref.ittl - p.ttl, p, syn_mss)
                if gmatch is None:
                    gmatch = ref
            elif fmatch is None:
                fmatch = ref
        raw = (p, syn_mss)
        if gmatch is not None:
            return P0fMatch(gmatch.label, gmatch, False, gmatch.ittl - p.ttl, *raw)
        if fmatch is not None and fmatch.label.cls is None:
            # p0f: no fuzzy matching for userland tools.
            return P0fMatch(None, None, False, 0, *raw)
        if (fmatch is None or fmatch.ittl < p.ttl
                or (not fmatch.bad_ttl and fmatch.ittl - p.ttl > MAX_DIST)):
            dist = guess_dist(p.ttl)
        else:
            dist = fmatch.ittl - p.ttl
        if fmatch is None:
            return P0fMatch(None, None, False, dist, *raw)
        return P0fMatch(fmatch.label, fmatch, True, dist, *raw)

    @staticmethod
    def raw_sig(p: P0fPacketView, syn_mss: int = 0) -> str:
        """The observed signature in p0f.fp syntax, as p0f logs it in ``raw_sig=``."""
        dist = guess_dist(p.ttl)
        ttl = f"{p.ttl}+?" if dist > MAX_DIST else f"{p.ttl}+{dist}"
        mss = "*" if (p.mss == SPECIAL_MSS and not p.is_syn) else str(p.mss)
        m = window_multiplier(p, syn_mss)
        win = f"{'mtu' if m[1] else 'mss'}*{m[0]}" if m and m[0] > 0 else str(p.window)
        opts = []
        for k in p.layout:
            if k == OPT_EOL:
                opts.append(f"eol+{p.eol_pad}")
            else:
                opts.append(_OPT_NAMES.get(k, f"?{k}"))
        quirks = ",".join(n for n, bit in Quirk.NAMES if p.quirks & bit)
        return (f"{p.ip_version}:{ttl}:{p.ip_options_len}:{mss}:{win},{p.wscale}:"
                f"{','.join(opts)}:{quirks}:{'+' if p.pay_class else '0'}")
