"""Per-packet decode into header objects: lazy, never raising, with visible dispatch tables.

Theory of operation. `decode_packet(pkt)` only wraps the packet's bytes: nothing is parsed
until an attribute of the returned `Decoded` is read. The first such read walks the whole
chain once - link layer (LINKTYPE_DISPATCH), VLAN tags, MPLS label stack, PPPoE session
and network layer (ETHERTYPE_DISPATCH, PPP_PROTO_DISPATCH), transport (IP_PROTO_DISPATCH) -
and fills every layer attribute. The commonest shape (Ethernet, IPv4 without options,
unfragmented, TCP or UDP, lengths sound) takes a fast path instead: the same checks and
offsets, but the Ethernet, IPv4 and TCP/UDP header objects are only built when read (so
`.payload` builds none, `.tcp` one); it gives exactly what the walk gives, and any
register_* replacement of those handlers turns it off. Checksums are only verified when
`anomalies` (or `ip_checksum_ok` / `l4_checksum_ok`) is read, because summing the payload is
the one cost proportional to the packet size.

Malformed input never raises: the walk stops at the bad layer, the layers before it stay
available and an anomaly code (wirekit.anomalies) says why. The length rules are those of the
Rust batch decoder (wirekit_core::decode), so both report the same anomalies:

* The captured bytes bound every read. The IP length bounds the datagram, so Ethernet padding
  and trailers never reach `payload`. An IPv4 total length of 0 (TCP segmentation offload:
  the NIC fills it in, so the sender's own capture shows 0) or an IPv6 payload length of 0
  with bytes after the header (jumbogram, offload) takes the frame's length instead
  (`ip_len_zero_tso`); a length beyond the frame on the wire is `ip_len_mismatch`, below the
  header `bad_ip_len`. A capture cut by the snaplen (caplen < wire_len) is not a mismatch.
* A first fragment decodes its L4 header; a later one (offset > 0) stops at the IP layer and
  its fragment data is `payload`. L4 checksums are only checked on unfragmented datagrams
  whose bytes were all captured.

Beyond the Rust summary, this decoder also walks LLC/SNAP (RFC 1042) under 802.3 frames, reads
an EtherType from a NULL header whose value is no address family, and reports
`ipv6_routing0_hdr`, `bad_ipv6_option_len`, `too_many_ipv6_ext_headers` and `bad_tcp_option`;
it reports `frag_too_large` for fragments only (not for a TSO/BIG TCP super-frame). JSON
`payload_len` is the L4 payload length the IP header implies (tshark's tcp.len, tcpdump's
"length"), which exceeds `len(payload)` when the capture was cut. Under an MPLS stack or a
PPPoE session that does not carry IP, the Rust summary keeps `l3_offset` at the MPLS/PPPoE
header; this decoder keeps the labels / session header and makes the bytes after them
`unknown_payload` ("mpls_payload" / "ppp_protocol"). Neither bounds the IP packet by the
PPPoE length field (the IP header's length does, as on Ethernet; tcpdump agrees, tshark
does not).

Extending: `register_ethertype(0x88cc, handler)` with `handler(decoded, data, offset)`,
`register_ip_proto(132, handler)` with `handler(decoded, data, offset, end)`,
`register_linktype(147, handler)` with `handler(decoded, data)`. A handler sets attributes on
`decoded` (e.g. `decoded.sctp = ...`), calls `decoded.add_anomaly(code)` and may hand on to
`dispatch_ethertype` / `dispatch_ip_proto`. It may raise DecodeError: that stops the walk with
the anomaly `truncated_header` (TruncatedError) or `malformed_header`.
"""

from __future__ import annotations

import socket
import struct
from typing import Callable

from .. import anomalies as A
from ..errors import DecodeError, TruncatedError
from .arp import ARPHeader
from ._util import enum_or_int
from .checksum import ones_sum
from .ethernet import EtherType
from .ethernet import _parse_at as _eth_at
from .icmp import ICMPHeader
from .icmpv6 import ICMPv6Header
from .ipv4 import _parse_at as _ipv4_at
from .ipproto import IPProto
from .ipv6 import IPv6Fragment, IPv6Header, IPv6Options, IPv6Routing, walk_ext_headers
from .linklayer import AF_TO_ETHERTYPE, NullHeader, SLL2Header, SLLHeader
from .mpls import MPLSLabel
from .pppoe import PPPoEHeader
from .tcp import _parse_at as _tcp_at
from .tcp import flags_str
from .udp import _parse_at as _udp_at
from .vlan import TPIDS, VLANTag

__all__ = [
    "Decoded",
    "decode_packet",
    "decode_bytes",
    "ETHERTYPE_DISPATCH",
    "IP_PROTO_DISPATCH",
    "PPP_PROTO_DISPATCH",
    "LINKTYPE_DISPATCH",
    "register_ethertype",
    "register_ip_proto",
    "register_linktype",
    "dispatch_ethertype",
    "dispatch_ip_proto",
    "MAX_VLAN_TAGS",
]

#: Cap on stacked VLAN tags (as the Rust decoder); more is `too_many_vlan_tags`.
MAX_VLAN_TAGS = 8

_LAYER_DEFAULTS = {
    "link": None, "eth": None, "arp": None, "ip": None, "tcp": None, "udp": None,
    "icmp": None, "pppoe": None, "unknown_layer": None, "unknown_type": None, "unknown_payload": None,
    # private walk state: payload span, L4 payload length, IP offset and end, L4 offset
    "_pl": (0, 0), "_l4_payload_len": None, "_ip_off": None, "_ip_end": 0, "_l4_off": None,
}


class Decoded:
    """The layers of one packet, parsed on first access.

    Attributes (None when absent): `link` (EthernetHeader, SLLHeader, SLL2Header or
    NullHeader), `eth`, `vlan` (list of VLANTag, outermost first), `mpls` (list of MPLSLabel,
    top of the stack first), `pppoe` (PPPoEHeader), `arp`, `ip` (IPv4Header or
    IPv6Header), `tcp`, `udp`, `icmp` (ICMPHeader or ICMPv6Header), `payload` (bytes after the
    last decoded header, inside the IP datagram as captured), `anomalies` (list of codes,
    checksum checks included), `ip_checksum_ok` / `l4_checksum_ok` (True, False, or None when
    not checkable), and when decoding stopped at a number nobody handles: `unknown_layer`
    ("linktype", "ethertype", "af" or "ip_proto"), `unknown_type` (the number) and
    `unknown_payload` (the bytes from there on).

    Offsets into `data`: `l3_offset` (IP header, None without IP), `l4_offset` (TCP/UDP/ICMP
    header, None without one), `ip_len` (the datagram length in bytes as trusted: see the
    module docstring) and `l4_segment` (L4 header plus payload inside the datagram, as
    captured: what the L4 checksum covers).
    """

    def __init__(self, data: bytes, linktype: int = 1, wire_len: int | None = None):
        self.data = data
        self.linktype = linktype
        self.wire_len = len(data) if wire_len is None or wire_len < len(data) else wire_len

    def __getattr__(self, name: str):
        # Only called for attributes not set yet: the first one triggers the decode.
        d = self.__dict__
        if "_anoms" not in d:
            if name[:1] == "_":
                raise AttributeError(name)
            _decode(self)
            if name in d:
                return d[name]
        if name[:1] == "_":
            raise AttributeError(name)
        if name in ("anomalies", "ip_checksum_ok", "l4_checksum_ok"):
            _verify(self)
            return d[name]
        if name == "l3_offset":
            return d["_ip_off"]
        if name == "l4_offset":
            return d["_l4_off"]
        if name == "ip_len":
            return None if d["_ip_off"] is None else d["_ip_end"] - d["_ip_off"]
        if name == "l4_segment":
            off = d["_l4_off"]
            return None if off is None else self.data[off:d["_ip_end"]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def add_anomaly(self, code: str) -> None:
        """Records an anomaly (for dispatch handlers); each code is kept once."""
        anoms = self._anoms
        if code not in anoms:
            anoms.append(code)

    def set_payload(self, offset: int, end: int) -> None:
        """Marks data[offset:end] as the payload after the last decoded header."""
        self.__dict__["_pl"] = (offset, min(end, len(self.data)))
        self.__dict__.pop("payload", None)

    # -- JSON and text forms ------------------------------------------------------------
    def to_json(self) -> dict:
        """The layers as JSON-able dicts, the form `wirekit dump --json` prints (without the
        per-record keys ts_ns/len/caplen/linktype)."""
        _materialize(self)
        out: dict = {}
        eth = self.eth
        if eth is not None:
            out["eth"] = {"src": eth.src, "dst": eth.dst, "type": int(eth.type)}
        if self.vlan:
            out["vlan"] = [{"id": t.vid, "pcp": t.pcp, "type": int(t.type)} for t in self.vlan]
        if self.mpls:
            out["mpls"] = [e.to_json() for e in self.mpls]
        pppoe = self.pppoe
        if pppoe is not None:
            out["pppoe"] = pppoe.to_json()
        arp = self.arp
        if arp is not None:
            out["arp"] = {"op": int(arp.op), "sender_mac": arp.sender_mac,
                          "sender_ip": arp.sender_ip, "target_mac": arp.target_mac,
                          "target_ip": arp.target_ip}
        ip = self.ip
        if ip is not None:
            if ip.version == 4:
                # A TSO length of 0 is reported as the frame gives it (as tshark does).
                length = ip.total_len or d_ip_len(self)
            else:
                length = 40 + ip.payload_len
            out["ip"] = {"version": ip.version, "src": ip.src, "dst": ip.dst,
                         "proto": int(ip.proto), "ttl": ip.ttl, "len": length, "id": ip.id,
                         "frag_offset": ip.frag_offset, "more_fragments": ip.more_fragments,
                         "dont_fragment": ip.dont_fragment, "header_len": ip.header_len}
        tcp = self.tcp
        if tcp is not None:
            out["tcp"] = {"src_port": tcp.src_port, "dst_port": tcp.dst_port, "seq": tcp.seq,
                          "ack": tcp.ack, "flags": int(tcp.flags), "window": tcp.window,
                          "header_len": tcp.header_len,
                          "options": [o.to_json() for o in tcp.options],
                          "payload_len": self._l4_payload_len}
        udp = self.udp
        if udp is not None:
            out["udp"] = {"src_port": udp.src_port, "dst_port": udp.dst_port,
                          "len": udp.length}
        icmp = self.icmp
        if icmp is not None:
            out["icmp"] = {"type": int(icmp.type), "code": icmp.code}
        anoms = self.anomalies
        if anoms:
            out["anomalies"] = list(anoms)
        return out

    def summary_line(self) -> str:
        """One tcpdump-like line: `IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1, ...`."""
        _materialize(self)
        parts = []
        for t in self.vlan:
            parts.append(f"vlan {t.vid}, p {t.pcp}, ")
        if self.mpls:
            parts.append(f"MPLS {' '.join(str(e) for e in self.mpls)} ")
        if self.pppoe is not None:
            parts.append(f"{self.pppoe} ")
        prefix = "".join(parts)
        text = _summary_body(self)
        anoms = self.anomalies
        if anoms:
            text += f" [{', '.join(anoms)}]"
        return prefix + text

    def __repr__(self) -> str:
        if "_anoms" not in self.__dict__:
            return f"<Decoded linktype={self.linktype} caplen={len(self.data)} (not parsed)>"
        return f"<Decoded {self.summary_line()}>"


def d_ip_len(d: Decoded) -> int:
    """The IP datagram length as trusted by the decoder (see the module docstring)."""
    return d.__dict__["_ip_end"] - d.__dict__["_ip_off"]


def decode_packet(pkt) -> Decoded:
    """Wraps a wirekit.Packet for lazy decoding (what `pkt.decode()` returns)."""
    return Decoded(pkt.data, pkt.linktype, pkt.wire_len)


def decode_bytes(data: bytes, linktype: int = 1, wire_len: int | None = None) -> Decoded:
    """Like decode_packet, for raw bytes starting at a `linktype` header."""
    return Decoded(bytes(data), linktype, wire_len)


# ---------------------------------------------------------------------------------------
# The walk

def _decode(d: Decoded) -> None:
    dd = d.__dict__
    if d.linktype == 1 and _fast_ipv4(d, dd):
        return
    dd.update(_LAYER_DEFAULTS)
    dd["vlan"] = []
    dd["mpls"] = []
    dd["_anoms"] = []
    data = d.data
    handler = LINKTYPE_DISPATCH.get(d.linktype)
    if handler is None:
        d.add_anomaly(A.UNKNOWN_LINKTYPE)
        _unknown(d, "linktype", d.linktype, 0)
        return
    try:
        handler(d, data)
    except TruncatedError:
        d.add_anomaly(A.TRUNCATED_HEADER)
    except DecodeError:
        d.add_anomaly(A.MALFORMED_HEADER)


# -- the fast path ---------------------------------------------------------------------------
# Ethernet + IPv4 without options, unfragmented, lengths sound, + TCP or UDP with sound
# lengths: the common case. It checks what the walk would check and records the same offsets,
# but leaves the Ethernet, IPv4 and TCP/UDP header objects to be built on first access (most
# readers want one layer or the payload). Anything else - and any table entry replaced by a
# register_* call - takes the walk, so both give identical results.

_FAST_DEFAULTS = {k: v for k, v in _LAYER_DEFAULTS.items() if k not in ("link", "eth", "ip", "tcp", "udp")}
_FAST_DEFAULTS.update(_ip_off=14, _l4_off=34)
_FAST_TCP = {**_FAST_DEFAULTS, "udp": None}
_FAST_UDP = {**_FAST_DEFAULTS, "tcp": None}
_NOP_NOP_TS = b"\x01\x01\x08\x0a"


def _fast_ipv4(d: Decoded, dd: dict) -> bool:
    data = d.data
    n = len(data)
    # EtherType 0x0800, version 4 with IHL 5; MF clear and offset 0 (DF and the reserved bit
    # may be set).
    if n < 42 or data[12] != 8 or data[13] or data[14] != 0x45 or data[20] & 0x3F or data[21]:
        return False
    total = (data[16] << 8) | data[17]
    if total < 20 or total > d.wire_len - 14:
        return False
    end = 14 + total
    cap_end = end if end < n else n
    proto = data[23]
    if proto == 6:
        if IP_PROTO_DISPATCH.get(6) is not _tcp:
            return False
        doff = (data[46] >> 4) * 4 if n >= 54 else 0
        if doff < 20 or doff > total - 20 or 34 + doff > cap_end:
            return False
        tcp_lazy = doff == 20 or (doff == 32 and data[54:58] == _NOP_NOP_TS)
        l4_payload_len = total - 20 - doff
        pl = (34 + doff, cap_end)
    elif proto == 17:
        if IP_PROTO_DISPATCH.get(17) is not _udp or total < 28 or cap_end < 42:
            return False
        ulen = (data[38] << 8) | data[39]
        l4_payload_len = total - 28
        if ulen:
            if ulen < 8 or ulen > total - 20:
                return False  # bad_udp_len: the walk records it
            if ulen - 8 < l4_payload_len:
                l4_payload_len = ulen - 8
        pl = (42, min(42 + l4_payload_len, n))
    else:
        return False
    if LINKTYPE_DISPATCH.get(1) is not _link_ethernet or ETHERTYPE_DISPATCH.get(0x0800) is not _ipv4:
        return False
    dd.update(_FAST_TCP if proto == 6 else _FAST_UDP)
    dd["vlan"] = []
    dd["mpls"] = []
    anoms = dd["_anoms"] = []
    dd["_ip_end"] = end
    dd["_l4_payload_len"] = l4_payload_len
    dd["_pl"] = pl
    if proto == 6 and not tcp_lazy:  # options worth a look now: a malformed one is an anomaly
        tcp = dd["tcp"] = _tcp_at(data, 34)
        if not tcp.options_ok:
            anoms.append(A.BAD_TCP_OPTION)
    return True


def _materialize(d: Decoded) -> None:
    """Decodes, and builds every header the fast path left unbuilt (for readers of all)."""
    dd = d.__dict__
    if "_anoms" not in dd:
        _decode(d)
    if "ip" not in dd:
        for name, build in _DEFERRED.items():
            if name not in dd:
                build(d, dd)


def _deferred_eth(d: Decoded, dd: dict):
    eth = dd["link"] = dd["eth"] = _eth_at(d.data, 0)
    return eth


def _deferred_ip(d: Decoded, dd: dict):
    ip = dd["ip"] = _ipv4_at(d.data, 14)
    return ip


def _deferred_tcp(d: Decoded, dd: dict):
    tcp = dd["tcp"] = _tcp_at(d.data, 34)
    return tcp


def _deferred_udp(d: Decoded, dd: dict):
    udp = dd["udp"] = _udp_at(d.data, 34)
    return udp


#: Attribute -> builder, for the headers _fast_ipv4 leaves unbuilt (never missing otherwise).
_DEFERRED = {"link": _deferred_eth, "eth": _deferred_eth, "ip": _deferred_ip,
             "tcp": _deferred_tcp, "udp": _deferred_udp}


def _payload(d: Decoded, dd: dict) -> bytes:
    off, end = dd["_pl"]
    p = dd["payload"] = d.data[off:end] if end > off else b""
    return p


class _OnFirstRead:
    """A Decoded attribute computed on first read and then kept in the instance's __dict__
    (which, for a descriptor without __set__, wins over it from then on). Cheaper than the
    __getattr__ fallback, which only runs after a failed lookup has raised."""

    __slots__ = ("name", "compute")

    def __init__(self, name: str, compute: Callable):
        self.name = name
        self.compute = compute

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        d = obj.__dict__
        if "_anoms" not in d:
            _decode(obj)
            v = d.get(self.name, d)
            if v is not d:
                return v
        return self.compute(obj, d)


for _name, _compute in [*_DEFERRED.items(), ("payload", _payload)]:
    setattr(Decoded, _name, _OnFirstRead(_name, _compute))


def _unknown(d: Decoded, layer: str, number: int, offset: int) -> None:
    dd = d.__dict__
    dd["unknown_layer"] = layer
    dd["unknown_type"] = number
    end = len(d.data)
    if dd["_ip_off"] is not None:
        end = min(end, dd["_ip_end"])
    dd["unknown_payload"] = d.data[offset:end]
    d.set_payload(offset, end)


def dispatch_ethertype(d: Decoded, data, offset: int, ethertype: int) -> None:
    """Hands the bytes at `offset` to the ETHERTYPE_DISPATCH handler for `ethertype`."""
    handler = ETHERTYPE_DISPATCH.get(ethertype)
    if handler is None:
        _unknown(d, "ethertype", ethertype, offset)
        return
    handler(d, data, offset)


def dispatch_ip_proto(d: Decoded, data, offset: int, end: int, proto: int) -> None:
    """Hands data[offset:end] (end may lie past the captured bytes) to IP_PROTO_DISPATCH."""
    handler = IP_PROTO_DISPATCH.get(proto)
    if handler is None:
        _unknown(d, "ip_proto", proto, offset)
        return
    handler(d, data, offset, end)


# -- link layers --------------------------------------------------------------------------

def _link_ethernet(d: Decoded, data) -> None:
    if len(data) < 14:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    eth = _eth_at(data, 0)
    dd = d.__dict__
    dd["link"] = dd["eth"] = eth
    etype = eth.type
    if etype > 1500:
        handler = ETHERTYPE_DISPATCH.get(etype)
        if handler is None:
            _unknown(d, "ethertype", etype, 14)
        else:
            handler(d, data, 14)
        return
    # IEEE 802.3: `type` is a length. RFC 1042: IP rides in LLC (DSAP/SSAP 0xAA, control 3)
    # plus a SNAP header whose OUI 0 means "an EtherType follows".
    end = min(len(data), 14 + eth.type)
    if end - 14 >= 8 and data[14] == 0xAA and data[15] == 0xAA and data[16] == 3 \
            and data[17] == data[18] == data[19] == 0:
        dispatch_ethertype(d, data, 22, (data[20] << 8) | data[21])
        return
    _unknown(d, "llc", eth.type, 14)


def _link_raw(d: Decoded, data) -> None:
    if not data:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    v = data[0] >> 4
    if v == 4:
        _ipv4(d, data, 0)
    elif v == 6:
        _ipv6(d, data, 0)
    else:
        d.add_anomaly(A.BAD_IP_VERSION)
        _unknown(d, "ip_version", v, 0)


def _link_ipv4(d: Decoded, data) -> None:
    _ipv4(d, data, 0)


def _link_ipv6(d: Decoded, data) -> None:
    _ipv6(d, data, 0)


def _link_null(d: Decoded, data, network_order: bool | None = None) -> None:
    if len(data) < 4:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    hdr = NullHeader.parse(data, 0, network_order)
    d.link = hdr
    etype = AF_TO_ETHERTYPE.get(hdr.family)
    if etype is None:
        # Some Linux captures put an EtherType in the last two bytes instead of an address
        # family (Wireshark's null dissector reads such a value above 1500 as an EtherType).
        maybe = (data[2] << 8) | data[3]
        if network_order is None and maybe in ETHERTYPE_DISPATCH:
            dispatch_ethertype(d, data, 4, maybe)
            return
        _unknown(d, "af", hdr.family, 4)
        return
    dispatch_ethertype(d, data, 4, etype)


def _link_loop(d: Decoded, data) -> None:
    _link_null(d, data, True)


def _link_sll(d: Decoded, data) -> None:
    if len(data) < 16:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    hdr = SLLHeader.parse(data, 0)
    d.link = hdr
    dispatch_ethertype(d, data, 16, hdr.protocol)


def _link_sll2(d: Decoded, data) -> None:
    if len(data) < 20:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    hdr = SLL2Header.parse(data, 0)
    d.link = hdr
    dispatch_ethertype(d, data, 20, hdr.protocol)


# -- ethertypes ---------------------------------------------------------------------------

def _vlan(d: Decoded, data, offset: int) -> None:
    tags = d.vlan
    if len(tags) >= MAX_VLAN_TAGS:
        d.add_anomaly(A.TOO_MANY_VLAN_TAGS)
        return
    if len(data) - offset < 4:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    tpid = tags[-1].type if tags else (d.eth.type if d.eth is not None else
                                       getattr(d.link, "type", 0x8100))
    tag = VLANTag.parse(data, offset, tpid)
    tags.append(tag)
    dispatch_ethertype(d, data, offset + 4, tag.type)


def _mpls(d: Decoded, data, offset: int) -> None:
    # RFC 3032: label stack entries until the bottom-of-stack bit; then IP by its version
    # nibble (see wire/mpls.py).
    labels = d.mpls
    n = len(data)
    while True:
        if n - offset < 4:
            d.add_anomaly(A.TRUNCATED_HEADER)
            return
        entry = MPLSLabel.parse(data, offset)
        labels.append(entry)
        offset += 4
        if entry.s:
            break
    if offset >= n:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    version = data[offset] >> 4
    if version == 4:
        _ipv4(d, data, offset)
    elif version == 6:
        _ipv6(d, data, offset)
    else:
        _unknown(d, "mpls_payload", version, offset)


def _pppoe_session(d: Decoded, data, offset: int) -> None:
    if len(data) - offset < 8:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    hdr = PPPoEHeader.parse(data, offset)
    d.__dict__["pppoe"] = hdr
    handler = PPP_PROTO_DISPATCH.get(hdr.protocol)
    if handler is None:
        _unknown(d, "ppp_protocol", hdr.protocol, offset + 8)
    else:
        handler(d, data, offset + 8)


def _arp(d: Decoded, data, offset: int) -> None:
    try:
        d.arp = ARPHeader.parse(data, offset)
    except TruncatedError:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    d.set_payload(offset + d.arp.header_len, offset + d.arp.header_len)


def _ipv4(d: Decoded, data, off: int) -> None:
    n = len(data)
    if n - off < 20:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    b0 = data[off]
    if b0 >> 4 != 4:
        d.add_anomaly(A.BAD_IP_VERSION)
        return
    ihl = (b0 & 0x0F) * 4
    if ihl < 20:
        d.add_anomaly(A.BAD_IP_HEADER_LEN)
        return
    if n - off < ihl:  # options cut by the capture
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    ip = _ipv4_at(data, off)
    dd = d.__dict__
    dd["ip"] = ip
    dd["_ip_off"] = off
    frame_l3_len = d.wire_len - off
    total = ip.total_len
    if total == 0:
        # RFC 791 has no zero length; with TSO the NIC fills it in later, so the sending
        # host's capture shows 0 (tcpdump: "[was 0, presumed TSO]").
        d.add_anomaly(A.IP_LEN_ZERO_TSO)
        ip_len = frame_l3_len
    elif ihl <= total <= frame_l3_len:
        ip_len = total
    else:
        ip_len = _trusted_ip_len(d, total, ihl, frame_l3_len)
    end = off + ip_len
    dd["_ip_end"] = end
    if ihl > ip_len:
        d.add_anomaly(A.BAD_IP_HEADER_LEN)
        return
    l4 = off + ihl
    if ip.is_fragment and ip.frag_offset + ip_len - ihl > 65535:
        d.add_anomaly(A.FRAG_TOO_LARGE)
    dd["_pl"] = (l4, end if end < n else n)
    if ip.frag_offset:
        return  # a later fragment: its bytes continue a datagram decoded elsewhere
    handler = IP_PROTO_DISPATCH.get(ip.proto)
    if handler is None:
        _unknown(d, "ip_proto", ip.proto, l4)
    else:
        handler(d, data, l4, end)


def _trusted_ip_len(d: Decoded, claimed: int, min_len: int, frame_l3_len: int) -> int:
    if claimed < min_len:
        d.add_anomaly(A.BAD_IP_LEN)
        return frame_l3_len
    if claimed > frame_l3_len:
        d.add_anomaly(A.IP_LEN_MISMATCH)
        return frame_l3_len
    return claimed


def _ipv6(d: Decoded, data, off: int) -> None:
    n = len(data)
    if n - off < 40:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    if data[off] >> 4 != 6:
        d.add_anomaly(A.BAD_IP_VERSION)
        return
    frame_l3_len = d.wire_len - off
    plen = (data[off + 4] << 8) | data[off + 5]
    if plen == 0 and data[off + 6] != 59 and frame_l3_len > 40:
        # A jumbogram (RFC 2675) or a segmentation-offload capture: the frame says how long.
        d.add_anomaly(A.IP_LEN_ZERO_TSO)
        ip_len = frame_l3_len
    else:
        ip_len = _trusted_ip_len(d, 40 + plen, 40, frame_l3_len)
    end = off + ip_len
    ip = _ipv6_fixed(data, off)
    dd = d.__dict__
    dd["ip"] = ip
    dd["_ip_off"] = off
    dd["_ip_end"] = end
    l4 = off + 40
    nh = ip.next_header
    if nh in _EXT:
        exts, nh, l4, problem = walk_ext_headers(data, l4, min(end, n), nh)
        ip.ext_headers = exts
        if problem is not None:
            d.add_anomaly(A.IPV6_EXT_TRUNCATED if problem == "truncated"
                          else A.TOO_MANY_IPV6_EXT_HEADERS)
            d.set_payload(l4, l4)
            return
        frag = None
        for e in exts:
            cls = e.__class__
            if cls is IPv6Routing and e.routing_type == 0:
                # RFC 5095 deprecates type 0 (amplification attacks); Zeek: routing0_hdr.
                d.add_anomaly(A.IPV6_ROUTING0_HDR)
            elif cls is IPv6Options:
                # The header's own length is sound, so the walk goes on past it; an option
                # overrunning it is only worth a note (Zeek: bad_ipv6_*_opt_len).
                try:
                    e.options()
                except DecodeError:
                    d.add_anomaly(A.BAD_IPV6_OPTION_LEN)
            elif cls is IPv6Fragment:
                frag = e
        if frag is not None:
            if (frag.more_fragments or frag.frag_offset) and \
                    frag.frag_offset + (end - l4) > 65535:
                d.add_anomaly(A.FRAG_TOO_LARGE)
            if frag.frag_offset:
                d.set_payload(l4, end)
                return
    d.set_payload(l4, end)
    dispatch_ip_proto(d, data, l4, end, nh)


_EXT = frozenset({0, 43, 44, 51, 60})
_IP6_FIXED = struct.Struct("!IHBB16s16s")
_inet_ntop = socket.inet_ntop
_AF_INET6 = socket.AF_INET6


def _ipv6_fixed(data, off: int) -> IPv6Header:
    vtf, plen, nh, hlim, src, dst = _IP6_FIXED.unpack_from(data, off)
    return IPv6Header(_inet_ntop(_AF_INET6, src), _inet_ntop(_AF_INET6, dst),
                      enum_or_int(IPProto, nh), hlim, (vtf >> 20) & 0xFF, vtf & 0xFFFFF, plen,
                      [], 6)


# -- transports ---------------------------------------------------------------------------

def _l4_lengths(d: Decoded, off: int, end: int, fixed: int) -> tuple[int, int] | None:
    """(bytes in the datagram, bytes captured) from `off`, or None (anomaly recorded) when
    the fixed header is not there."""
    in_ip = end - off
    avail = min(end, len(d.data)) - off
    if in_ip < fixed:
        # The datagram itself is too short for the header: malformed, not a capture cut.
        return None
    if avail < fixed:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return None
    return in_ip, avail


def _tcp(d: Decoded, data, off: int, end: int) -> None:
    n = len(data)
    in_ip = end - off
    avail = (end if end < n else n) - off
    if in_ip < 20:
        # The datagram itself is too short for the header: malformed, not a capture cut.
        d.add_anomaly(A.BAD_TCP_HEADER_LEN)
        return
    if avail < 20:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    doff = (data[off + 12] >> 4) * 4
    if doff < 20 or doff > in_ip:
        d.add_anomaly(A.BAD_TCP_HEADER_LEN)
        return
    if doff > avail:
        d.add_anomaly(A.TRUNCATED_HEADER)
        return
    tcp = _tcp_at(data, off)
    dd = d.__dict__
    dd["tcp"] = tcp
    dd["_l4_off"] = off
    dd["_l4_payload_len"] = in_ip - doff
    if not tcp.options_ok:
        d.add_anomaly(A.BAD_TCP_OPTION)
    dd["_pl"] = (off + doff, end if end < n else n)


def _udp(d: Decoded, data, off: int, end: int) -> None:
    lens = _l4_lengths(d, off, end, 8)
    if lens is None:
        if end - off < 8:
            d.add_anomaly(A.TRUNCATED_HEADER)
            d.add_anomaly(A.BAD_UDP_LEN)
        return
    in_ip, _ = lens
    udp = _udp_at(data, off)
    dd = d.__dict__
    dd["udp"] = udp
    dd["_l4_off"] = off
    ulen = udp.length
    plen = in_ip - 8
    # RFC 768: the length covers header and data. 0 is what UDP GSO and jumbograms show
    # (RFC 2675 section 4): the IP length is trusted then.
    # A first fragment carries the length of the whole datagram (more than it holds).
    if ulen != 0 and (ulen < 8 or (ulen > in_ip and not d.ip.more_fragments)):
        d.add_anomaly(A.BAD_UDP_LEN)
    if 8 <= ulen and ulen - 8 < plen:
        plen = ulen - 8
    dd["_l4_payload_len"] = plen
    d.set_payload(off + 8, off + 8 + plen)


def _icmp(d: Decoded, data, off: int, end: int) -> None:
    _icmp_any(d, data, off, end, ICMPHeader)


def _icmpv6(d: Decoded, data, off: int, end: int) -> None:
    _icmp_any(d, data, off, end, ICMPv6Header)


def _icmp_any(d: Decoded, data, off: int, end: int, cls) -> None:
    lens = _l4_lengths(d, off, end, 8)
    if lens is None:
        if end - off < 8:
            d.add_anomaly(A.TRUNCATED_HEADER)
        return
    dd = d.__dict__
    dd["icmp"] = cls.parse(data, off)
    dd["_l4_off"] = off
    dd["_l4_payload_len"] = lens[0] - 8
    d.set_payload(off + 8, end)


# -- checksums (on demand) ------------------------------------------------------------------

def _verify(d: Decoded) -> None:
    dd = d.__dict__
    anoms = list(dd["_anoms"])
    ip_ok = l4_ok = None
    ip = d.ip
    data = d.data
    if ip is not None:
        off = dd["_ip_off"]
        if ip.version == 4:
            ip_ok = ones_sum(data[off:off + ip.header_len]) == 0xFFFF
            if not ip_ok:
                anoms.append(A.BAD_IP_CHECKSUM)
        l4 = dd["_l4_off"]
        end = dd["_ip_end"]
        if l4 is not None and end <= len(data) and not ip.is_fragment:
            seg = data[l4:end]
            hdr = d.tcp or d.udp or d.icmp
            l4_ok = hdr.verify_checksum(ip, seg)
            if not l4_ok:
                anoms.append(A.BAD_L4_CHECKSUM)
    dd["anomalies"] = anoms
    dd["ip_checksum_ok"] = ip_ok
    dd["l4_checksum_ok"] = l4_ok


# -- summary line ---------------------------------------------------------------------------

def _summary_body(d: Decoded) -> str:
    arp = d.arp
    if arp is not None:
        return f"{arp}, length {arp.header_len}"
    ip = d.ip
    if ip is None:
        if d.unknown_layer is not None:
            return (f"{d.unknown_layer} 0x{d.unknown_type:04x}, "
                    f"length {len(d.unknown_payload)}")
        inner = d.vlan[-1].type if d.vlan else getattr(d.link, "type", None)
        if inner is not None:  # the network header did not decode (see the anomalies)
            return f"ethertype 0x{inner:04x}, length {len(d.data)}"
        return f"linktype {d.linktype}, length {len(d.data)}"
    fam = "IP" if ip.version == 4 else "IP6"
    tcp, udp, icmp = d.tcp, d.udp, d.icmp
    if tcp is not None:
        plen = d._l4_payload_len
        s = (f"{fam} {ip.src}.{tcp.src_port} > {ip.dst}.{tcp.dst_port}: "
             f"Flags [{flags_str(tcp.flags)}]")
        # As tcpdump: the sequence number only when the segment occupies sequence space.
        if plen > 0:
            s += f", seq {tcp.seq}:{(tcp.seq + plen) & 0xFFFFFFFF}"
        elif tcp.flags & 0x07:  # SYN, FIN, RST
            s += f", seq {tcp.seq}"
        if tcp.flags & 0x10:
            s += f", ack {tcp.ack}"
        s += f", win {tcp.window}"
        opts = [str(o) for o in tcp.options]
        if opts:
            s += f", options [{','.join(opts)}]"
        return s + f", length {plen}"
    if udp is not None:
        return (f"{fam} {ip.src}.{udp.src_port} > {ip.dst}.{udp.dst_port}: UDP, "
                f"length {d._l4_payload_len}")
    if icmp is not None:
        return f"{fam} {ip.src} > {ip.dst}: {icmp}, length {d._l4_payload_len + 8}"
    s = f"{fam} {ip.src} > {ip.dst}:"
    if ip.frag_offset:
        return (s + f" ip-proto-{int(ip.proto)} (frag id {ip.id}, offset {ip.frag_offset}"
                f"{', more' if ip.more_fragments else ''}), length {len(d.payload)}")
    return s + f" ip-proto-{int(ip.proto)}, length {len(d.payload)}"


# ---------------------------------------------------------------------------------------
# Dispatch tables: grep finds every protocol here; extend with the register_* functions.

LINKTYPE_DISPATCH: dict[int, Callable] = {
    0: _link_null,          # NULL: BSD loopback, host byte order
    1: _link_ethernet,      # EN10MB
    12: _link_raw,          # DLT_RAW (OpenBSD value; also written by some Linux tools)
    14: _link_raw,          # DLT_RAW (BSD/OS value)
    101: _link_raw,         # RAW
    108: _link_loop,        # LOOP: OpenBSD loopback, network byte order
    113: _link_sll,         # LINUX_SLL
    228: _link_ipv4,        # IPV4
    229: _link_ipv6,        # IPV6
    276: _link_sll2,        # LINUX_SLL2
}

ETHERTYPE_DISPATCH: dict[int, Callable] = {
    EtherType.IPV4: _ipv4,
    EtherType.ARP: _arp,
    EtherType.RARP: _arp,   # RFC 903: the ARP packet format
    EtherType.VLAN: _vlan,
    EtherType.QINQ: _vlan,
    EtherType.QINQ_OLD: _vlan,
    EtherType.IPV6: _ipv6,
    EtherType.MPLS: _mpls,
    EtherType.MPLS_MULTICAST: _mpls,
    EtherType.PPPOE_SESSION: _pppoe_session,
}
assert TPIDS <= ETHERTYPE_DISPATCH.keys()

#: PPP protocol numbers inside a PPPoE session (RFC 1332, RFC 5072).
PPP_PROTO_DISPATCH: dict[int, Callable] = {
    0x0021: _ipv4,
    0x0057: _ipv6,
}

IP_PROTO_DISPATCH: dict[int, Callable] = {
    IPProto.ICMP: _icmp,
    IPProto.TCP: _tcp,
    IPProto.UDP: _udp,
    IPProto.ICMPV6: _icmpv6,
}


def register_linktype(linktype: int, handler: Callable) -> None:
    """`handler(decoded, data)` decodes frames of `linktype` (replacing any earlier one)."""
    LINKTYPE_DISPATCH[int(linktype)] = handler


def register_ethertype(ethertype: int, handler: Callable) -> None:
    """`handler(decoded, data, offset)` decodes what follows EtherType `ethertype`."""
    ETHERTYPE_DISPATCH[int(ethertype)] = handler


def register_ip_proto(proto: int, handler: Callable) -> None:
    """`handler(decoded, data, offset, end)` decodes IP protocol `proto`; the datagram ends
    at `end`, which may lie past len(data) when the capture cut it."""
    IP_PROTO_DISPATCH[int(proto)] = handler


