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
from .capture import CaptureFile, LinkType, PcapngWriter, PcapWriter, open_capture
from .capture.live import open_live
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
from .privileges import drop_privileges
from .flow import FlowMeter, FlowRecord
from .reasm import Reassembler

__version__ = _core.__version__

#: ``wirekit.open(path)`` reads a pcap or pcapng file: iterate it for packets.
open = open_capture  # noqa: A001 - the name users expect, as in tarfile.open

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
