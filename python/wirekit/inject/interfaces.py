"""Interface list (name, index, MTU, MAC, flags, addresses) over rtnetlink, as `ip -j addr`."""

from __future__ import annotations

import enum
import ipaddress
import socket
import struct
from dataclasses import dataclass

from .netlink import (RTM_GETADDR, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, NetlinkSocket, no_such_device,
                      parse_attrs)

__all__ = ["Interface", "InterfaceFlags", "interfaces", "interface", "LinkStatsReader"]

_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU = 1, 2, 3, 4
IFLA_OPERSTATE = 16
IFLA_STATS64 = 23
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFA_FLAGS = 8

#: rtnl_link_stats64 field positions (u64 each) that libpcap counts as interface drops.
_STATS64_RX_DROPPED, _STATS64_RX_MISSED = 6, 15

_OPERSTATES = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING", 5: "DORMANT", 6: "UP"}


class InterfaceFlags(enum.IntFlag):
    """IFF_* (linux/if.h)."""

    UP = 0x1
    BROADCAST = 0x2
    DEBUG = 0x4
    LOOPBACK = 0x8
    POINTOPOINT = 0x10
    NOTRAILERS = 0x20
    RUNNING = 0x40
    NOARP = 0x80
    PROMISC = 0x100
    ALLMULTI = 0x200
    MASTER = 0x400
    SLAVE = 0x800
    MULTICAST = 0x1000
    PORTSEL = 0x2000
    AUTOMEDIA = 0x4000
    DYNAMIC = 0x8000
    LOWER_UP = 0x10000
    DORMANT = 0x20000
    ECHO = 0x40000


@dataclass(frozen=True, slots=True, kw_only=True)
class Interface:
    """One network interface of the current namespace."""

    name: str
    index: int
    #: Maximum transmission unit, bytes.
    mtu: int
    #: Link-layer address as "aa:bb:..." (None when the link has none, e.g. tun).
    mac: str | None
    flags: InterfaceFlags
    #: ARPHRD_* hardware type (1 = Ethernet, 772 = loopback).
    hardware_type: int
    operstate: str
    #: Addresses with their prefix, IPv4 first, in kernel order.
    addresses: tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]

    @property
    def is_up(self) -> bool:
        return bool(self.flags & InterfaceFlags.UP)

    @property
    def ipv4(self) -> list[ipaddress.IPv4Interface]:
        return [a for a in self.addresses if a.version == 4]

    @property
    def ipv6(self) -> list[ipaddress.IPv6Interface]:
        return [a for a in self.addresses if a.version == 6]


def _mac(b: bytes | None) -> str | None:
    return ":".join(f"{x:02x}" for x in b) if b else None


def _links(nl: NetlinkSocket) -> list[tuple[int, int, int, dict[int, bytes]]]:
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    out = []
    for mtype, msg in nl.request(RTM_GETLINK, body, dump=True):
        if mtype != RTM_NEWLINK:
            continue
        _fam, hwtype, index, flags, _change = _IFINFOMSG.unpack_from(msg, 0)
        out.append((index, hwtype, flags, parse_attrs(msg, _IFINFOMSG.size)))
    return out


def _addresses(nl: NetlinkSocket) -> dict[int, list]:
    body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    by_index: dict[int, list] = {}
    for mtype, msg in nl.request(RTM_GETADDR, body, dump=True):
        if mtype != RTM_NEWADDR:
            continue
        family, prefix_len, _flags, _scope, index = _IFADDRMSG.unpack_from(msg, 0)
        attrs = parse_attrs(msg, _IFADDRMSG.size)
        # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on p2p links.
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is None:
            continue
        if family == socket.AF_INET:
            a = ipaddress.IPv4Interface((ipaddress.IPv4Address(raw), prefix_len))
        elif family == socket.AF_INET6:
            a = ipaddress.IPv6Interface((ipaddress.IPv6Address(raw), prefix_len))
        else:
            continue
        by_index.setdefault(index, []).append(a)
    return by_index


def interfaces() -> list[Interface]:
    """Every interface in the calling thread's network namespace, by index."""
    with NetlinkSocket() as nl:
        links = _links(nl)
        addrs = _addresses(nl)
    out = []
    for index, hwtype, flags, attrs in sorted(links, key=lambda t: t[0]):
        name = attrs.get(IFLA_IFNAME, b"").rstrip(b"\x00").decode(errors="replace")
        mtu = struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else 0
        oper = attrs.get(IFLA_OPERSTATE)
        a = addrs.get(index, [])
        out.append(Interface(
            name=name, index=index, mtu=mtu, mac=_mac(attrs.get(IFLA_ADDRESS)), flags=InterfaceFlags(flags),
            hardware_type=hwtype, operstate=_OPERSTATES.get(oper[0], str(oper[0])) if oper else "UNKNOWN",
            addresses=tuple(sorted(a, key=lambda x: x.version)),
        ))
    return out


def interface(name_or_index: str | int) -> Interface:
    """The interface with this name or index; OSError(ENODEV) when there is none."""
    for itf in interfaces():
        if itf.name == name_or_index or itf.index == name_or_index:
            return itf
    raise no_such_device(str(name_or_index))


class LinkStatsReader:
    """Reads per-interface receive drop counters (rx_dropped + rx_missed) through a netlink
    socket made at construction, so it keeps reading the namespace it was made in."""

    def __init__(self):
        self._nl = NetlinkSocket()

    def rx_drop_counts(self) -> dict[int, int]:
        out = {}
        for index, _hw, _flags, attrs in _links(self._nl):
            st = attrs.get(IFLA_STATS64)
            if st and len(st) >= 8 * (_STATS64_RX_MISSED + 1):
                vals = struct.unpack_from(f"={_STATS64_RX_MISSED + 1}Q", st)
                out[index] = vals[_STATS64_RX_DROPPED] + vals[_STATS64_RX_MISSED]
        return out

    def close(self) -> None:
        self._nl.close()
