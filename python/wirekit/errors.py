"""The wirekit error tree.

Input that cannot be parsed raises at the single boundary where it enters (a capture file,
a header parse); asking for something impossible raises BuildError. Suspicious but parseable
traffic is never an error: it is an anomaly (see wirekit.anomalies).
"""

from __future__ import annotations

__all__ = [
    "WirekitError",
    "DecodeError",
    "TruncatedError",
    "CaptureFileError",
    "BuildError",
    "FilterError",
    "PrivilegeError",
]


class WirekitError(Exception):
    """Base of every error wirekit raises on purpose."""


class DecodeError(WirekitError, ValueError):
    """Bytes that cannot be parsed as what they claim to be."""


class TruncatedError(DecodeError):
    """Bytes that end before the header or record they start."""


class CaptureFileError(DecodeError):
    """A capture file that stops making sense.

    Every good packet before the bad spot has already been yielded. `offset` is the absolute
    byte offset of the record or header where reading stopped, `record` the 0-based number
    of the packet record that could not be read (= packets read before it), `kind` one of
    "bad_magic", "corrupt", "truncated".
    """

    def __init__(self, message: str, *, path: str | None, offset: int, record: int, kind: str):
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path = path
        self.offset = offset
        self.record = record
        self.kind = kind


class CaptureTruncatedError(CaptureFileError, TruncatedError):
    """A capture file that ends inside a header or record."""


class BuildError(WirekitError, ValueError):
    """A header or packet that cannot be built as asked (a field out of range, say)."""


class FilterError(WirekitError, ValueError):
    """A BPF filter expression that does not compile; the message is libpcap's."""


class PrivilegeError(WirekitError, PermissionError):
    """An operation the process lacks the privilege for; the message names the capability."""


__all__.append("CaptureTruncatedError")
