"""wirekit.reasm: TCP stream reassembly (libnids' model, IPv4 and IPv6) and defragmentation.

`Reassembler` is the Pythonic API (events, callbacks, `want` to choose streams);
`wirekit.reasm.nids` is a pynids-shaped facade over the same engine.
"""

from .events import (
    Anomaly,
    Direction,
    Event,
    IPPacket,
    StreamClosed,
    StreamData,
    StreamGap,
    StreamKey,
    StreamOpened,
    StreamReset,
    StreamTimedOut,
    UDPDatagram,
)
from .reassembler import CallbackError, Reassembler
from .defrag import DefragAnomaly, Defragmenter, DefragStats
from .policy import OverlapPolicy

__all__ = [
    "Reassembler",
    "Defragmenter",
    "DefragAnomaly",
    "DefragStats",
    "OverlapPolicy",
    "CallbackError",
    "Direction",
    "StreamKey",
    "StreamOpened",
    "StreamData",
    "StreamGap",
    "StreamClosed",
    "StreamReset",
    "StreamTimedOut",
    "UDPDatagram",
    "IPPacket",
    "Anomaly",
    "Event",
]
