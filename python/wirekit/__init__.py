"""wirekit: a Python toolkit for network security tools.

    import wirekit
    for pkt in wirekit.open("trace.pcap"):
        d = pkt.decode()
        if d.ip is not None:
            print(pkt.ts_ns, d.ip.src, d.ip.dst)
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as e:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "wirekit's compiled core (wirekit._core) is missing or does not load: "
        f"{e}. Install wirekit with `pip install .` (it builds the Rust core with maturin)."
    ) from e

from ._core import Batch, Packet
from .errors import (
    BuildError,
    CaptureFileError,
    CaptureTruncatedError,
    DecodeError,
    FilterError,
    PrivilegeError,
    TruncatedError,
    WirekitError,
)

__version__ = _core.__version__

# The rest is imported on first use (PEP 562): a tool that reads a file need not pay for
# asyncio, the reassembler or the flow exporters, and start-up time is a scan's first probe.
_LAZY = {
    "CaptureFile": (".capture", "CaptureFile"),
    "LinkType": (".capture", "LinkType"),
    "PcapWriter": (".capture", "PcapWriter"),
    "PcapngWriter": (".capture", "PcapngWriter"),
    "open_capture": (".capture", "open_capture"),
    #: ``wirekit.open(path)`` reads a pcap or pcapng file: iterate it for packets.
    "open": (".capture", "open_capture"),
    "open_live": (".capture.live", "open_live"),
    "drop_privileges": (".privileges", "drop_privileges"),
    "FlowMeter": (".flow", "FlowMeter"),
    "FlowRecord": (".flow", "FlowRecord"),
    "Reassembler": (".reasm", "Reassembler"),
}


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'wirekit' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Batch",
    "BuildError",
    "CaptureFile",
    "CaptureFileError",
    "CaptureTruncatedError",
    "DecodeError",
    "FilterError",
    "LinkType",
    "Packet",
    "PcapWriter",
    "PcapngWriter",
    "PrivilegeError",
    "TruncatedError",
    "WirekitError",
    "open",
    "open_capture",
    "open_live",
    "drop_privileges",
    "FlowMeter",
    "Reassembler",
    "FlowRecord",
]
