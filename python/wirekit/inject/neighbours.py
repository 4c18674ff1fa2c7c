"""Neighbours: the kernel's ARP/NDP cache, and resolving a next hop's MAC when it is absent.

`lookup()` reads the cache (rtnetlink RTM_GETNEIGH, as `ip neigh`). `resolve()` returns a
cached entry when there is a usable one, otherwise asks the wire itself: an ARP request
(RFC 826) for IPv4, a Neighbor Solicitation (RFC 4861 section 7.2.2) for IPv6, retried a
bounded number of times, and returns the MAC from the reply or raises TimeoutError.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import time
from dataclasses import dataclass

from ..privileges import privilege_error
from .interfaces import interface
from .netlink import RTM_GETNEIGH, RTM_NEWNEIGH, NetlinkSocket, parse_attrs
from .routes import route_get

__all__ = ["Neighbour", "neighbours", "lookup", "resolve", "NUD"]

_NDMSG = struct.Struct("=BxxxiHBB")
NDA_DST, NDA_LLADDR = 1, 2

#: Neighbour states (NUD_*, linux/neighbour.h).
NUD = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
       0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}
#: States whose link-layer address can be used to send now.
_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80

ETH_P_ARP = 0x0806
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True, kw_only=True)
class Neighbour:
    address: IPAddress
    ifindex: int
    #: Link-layer address "aa:bb:cc:dd:ee:ff", None while unresolved.
    mac: str | None
    #: "REACHABLE", "STALE", ... (several flags joined by "|").
    state: str

    @property
    def usable(self) -> bool:
        return self.mac is not None and any(NUD.get(b) in self.state.split("|") for b in (2, 4, 8, 16, 64, 128))


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _state(mask: int) -> str:
    return "|".join(name for bit, name in NUD.items() if mask & bit) or "NONE"


def neighbours(family: int = socket.AF_UNSPEC) -> list[Neighbour]:
    """The neighbour cache of the calling thread's namespace."""
    out = []
    with NetlinkSocket() as nl:
        for mtype, msg in nl.request(RTM_GETNEIGH, _NDMSG.pack(family, 0, 0, 0, 0), dump=True):
            if mtype != RTM_NEWNEIGH:
                continue
            fam, ifindex, state, _flags, _type = _NDMSG.unpack_from(msg, 0)
            a = parse_attrs(msg, _NDMSG.size)
            if NDA_DST not in a or fam not in (socket.AF_INET, socket.AF_INET6):
                continue
            addr = ipaddress.ip_address(a[NDA_DST])
            ll = a.get(NDA_LLADDR)
            out.append(Neighbour(address=addr, ifindex=ifindex, mac=_mac(ll) if ll else None, state=_state(state)))
    return out


def lookup(address: str | IPAddress, ifindex: int | None = None) -> str | None:
    """The cached, usable MAC of `address` (on `ifindex` if given), or None."""
    addr = ipaddress.ip_address(address)
    fam = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    for n in neighbours(fam):
        if n.address == addr and (ifindex is None or n.ifindex == ifindex) and n.usable:
            return n.mac
    return None


def _arp_request(sender_mac: bytes, sender_ip: bytes, target_ip: bytes) -> bytes:
    # RFC 826: htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, op 1 (request).
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sender_mac, sender_ip, b"\x00" * 6, target_ip)


def _resolve_arp(target: ipaddress.IPv4Address, iface: str, src: ipaddress.IPv4Address, mac: bytes,
                 timeout_s: float, attempts: int) -> str:
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ARP))
    except PermissionError as e:
        raise privilege_error(e, "sending an ARP request") from None
    with s:
        s.bind((iface, ETH_P_ARP))
        req = _arp_request(mac, src.packed, target.packed)
        for _ in range(attempts):
            s.sendto(req, (iface, ETH_P_ARP, 0, 0, b"\xff" * 6))
            deadline = time.monotonic() + timeout_s
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                data = s.recv(2048)
                if len(data) >= 28:
                    _h, _p, _hl, _pl, op, smac, sip, _tmac, _tip = struct.unpack_from("!HHBBH6s4s6s4s", data)
                    if op == 2 and sip == target.packed:
                        return _mac(smac)
    raise TimeoutError(f"no ARP reply from {target} on {iface} after {attempts} requests")


def _solicited_node(target: ipaddress.IPv6Address) -> str:
    # RFC 4291 section 2.7.1: ff02::1:ff00:0/104 plus the low 24 bits of the address.
    return str(ipaddress.IPv6Address(b"\xff\x02" + b"\x00" * 9 + b"\x01\xff" + target.packed[13:]))


def _resolve_ns(target: ipaddress.IPv6Address, iface: str, ifindex: int, mac: bytes,
                timeout_s: float, attempts: int) -> str:
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except PermissionError as e:
        raise privilege_error(e, "sending a neighbor solicitation") from None
    with s:
        # RFC 4861 7.1.1: neighbor discovery messages must carry hop limit 255.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        # Type 135, code 0, checksum (the kernel fills it), reserved, target, then the
        # source link-layer address option (type 1, length 1 = 8 bytes).
        ns = struct.pack("!BBHI16s", 135, 0, 0, 0, target.packed) + b"\x01\x01" + mac
        dst = (_solicited_node(target), 0, 0, ifindex)
        for _ in range(attempts):
            s.sendto(ns, dst)
            deadline = time.monotonic() + timeout_s
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                data = s.recv(2048)
                if len(data) >= 24 and data[0] == 136 and data[8:24] == target.packed:
                    off = 24
                    while off + 2 <= len(data) and data[off + 1]:
                        opt_type, opt_len = data[off], data[off + 1] * 8
                        if opt_type == 2 and opt_len >= 8:  # target link-layer address
                            return _mac(data[off + 2: off + 8])
                        off += opt_len
    raise TimeoutError(f"no neighbor advertisement from {target} on {iface} after {attempts} solicitations")


def resolve(address: str | IPAddress, iface: str | None = None, *, timeout_s: float = 1.0,
            attempts: int = 3) -> str:
    """MAC address of the on-link neighbour `address`: from the cache, or by asking.

    `iface` defaults to the interface the route to `address` takes. Waits at most
    `timeout_s` per attempt, `attempts` times; raises TimeoutError when nobody answers.
    To find the MAC to send a frame towards an off-link destination, resolve
    `route_get(dst).next_hop`.
    """
    addr = ipaddress.ip_address(address)
    if iface is None:
        iface = route_get(addr).interface
    itf = interface(iface)
    cached = lookup(addr, itf.index)
    if cached:
        return cached
    if itf.mac is None:
        raise OSError(f"interface {iface} has no link-layer address to resolve with")
    mac = bytes.fromhex(itf.mac.replace(":", ""))
    if addr.version == 4:
        src = route_get(addr, oif=itf.index).source or (itf.ipv4[0].ip if itf.ipv4 else ipaddress.IPv4Address(0))
        return _resolve_arp(addr, iface, src, mac, timeout_s, attempts)
    return _resolve_ns(addr, iface, itf.index, mac, timeout_s, attempts)
