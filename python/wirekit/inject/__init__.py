"""Injection and host networking (the libdnet part): raw L2/L3 send, routes, interfaces,
neighbours, random numbers and permutations for scan order."""

from __future__ import annotations

from .interfaces import Interface, InterfaceFlags, interface, interfaces
from .l2 import L2Sender
from .l3 import L3Sender
from .neighbours import Neighbour, lookup, neighbours, resolve
from .rand import Permutation, rand16, rand32
from .routes import Route, route_get

__all__ = [
    "Interface", "InterfaceFlags", "interface", "interfaces",
    "L2Sender", "L3Sender",
    "Neighbour", "lookup", "neighbours", "resolve",
    "Permutation", "rand16", "rand32",
    "Route", "route_get",
]
