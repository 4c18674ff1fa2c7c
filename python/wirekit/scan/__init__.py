"""Scanning engines (sans-IO): the passive service inventory and the active SYN scanner.

`passive.PassiveInventory` turns captured SYNs and SYN+ACKs into services and clients with
OS guesses; `engine.SynScanner` plans, paces and matches an active SYN scan. Neither reads
a clock or a socket: the `wirekit scan` tool wires them to capture and injection.
"""

from .passive import PassiveInventory, PassiveRecord

__all__ = ["PassiveInventory", "PassiveRecord"]
