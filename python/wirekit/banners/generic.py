"""The fallback: the server's first line, when the server spoke first, the line is printable
text and no other detector recognised that direction of the stream (a banner nothing else knows:
a proprietary daemon, a custom greeting). The engine holds these banners until every other
detector is done with the direction, and drops them when another one reported."""

from __future__ import annotations

import re

from .base import _CLIENT, _SERVER, Banner, Direction, LineDetector, register_detector
from .version import parse_version

__all__ = ["FirstLineDetector"]

#: A line must have at least this many characters to be a banner (bare "OK" is not).
MIN_LINE_CHARS = 4
_LETTER = re.compile(rb"[A-Za-z]")
_NOT_PRINTABLE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f-\xff]")
_NOT_PRINTABLE_PARTIAL = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f-\xff]")  # CR may end it


def is_printable_line(line: bytes) -> bool:
    """ASCII letters, digits, punctuation, space and tab only, with a letter somewhere."""
    if len(line) < MIN_LINE_CHARS:
        return False
    if _NOT_PRINTABLE.search(line):
        return False
    return _LETTER.search(line) is not None


@register_detector
class FirstLineDetector(LineDetector):
    protocol = "generic"
    fallback = True
    max_bytes = 512

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        return direction is _SERVER and 0x20 <= first[0] < 0x7F

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        return _NOT_PRINTABLE_PARTIAL.search(partial) is None

    def __init__(self) -> None:
        super().__init__()
        self._client_spoke = False

    def missed(self, direction: Direction) -> None:
        # Attached on the server's first bytes after the client spoke: not a banner.
        self.stop()

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        # A banner is what a server says before being asked: once the client has spoken
        # first, the server's first line is an answer, not a banner. Client first lines
        # are requests, never reported by the fallback.
        if direction is _CLIENT:
            self._client_spoke = True
            self.stop(direction)
            if self._lineno[1] == 0 and not self._buf[1]:
                self.stop(_SERVER)
            return []
        return super().feed(direction, data, ts_ns)

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        self.stop(direction)
        if not is_printable_line(line):
            return []
        software = parse_version(line.decode("ascii"))
        # A number-less first word is a guess, not a product: keep only "name/1.2"-like.
        if software is not None and software.major is None:
            software = None
        return [self.banner(role=direction, kind="first-line", raw=line, ts_ns=ts_ns,
                            software=software)]
