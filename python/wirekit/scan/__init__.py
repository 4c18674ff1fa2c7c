"""Scanning engines (sans-IO): the passive service inventory and the active SYN scanner.

`passive.PassiveInventory` turns captured SYNs and SYN+ACKs into services and clients with
OS guesses; `engine.SynScanner` plans, paces and matches an active SYN scan. Neither reads
a clock or a socket: the `wirekit scan` tool wires them to capture and injection.
"""

__all__ = ["PassiveInventory", "PassiveRecord"]


def __getattr__(name: str):
    # Lazy (PEP 562): the passive inventory pulls in the fingerprint databases' parsers,
    # which an active scan (wirekit.scan.engine) does not need before its first open port.
    if name in __all__:
        from . import passive

        return getattr(passive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
