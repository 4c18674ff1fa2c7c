"""SSH identification strings (RFC 4253 section 4.2), both sides, SSH-1.x included.

RFC 4253 4.2: "SSH-protoversion-softwareversion SP comments CR LF" ... "The server MAY send
other lines of data before sending the version string. Each line SHOULD be terminated by a
Carriage Return and Line Feed. Such lines MUST NOT begin with 'SSH-'". So the server side
skips text lines until one starts with ``SSH-`` (bounded by ``max_bytes``); the client side
must start with it. Old implementations end the line with LF alone (RFC 4253 4.2 asks
servers to accept that), so LF is enough here too. SSH-1.99 (a server speaking both
versions) and SSH-1.5 parse the same way.
"""

from __future__ import annotations

import re

from .base import _CLIENT, Banner, Direction, LineDetector, looks_like_text, register_detector, starts_like
from .version import parse_version

__all__ = ["SSHDetector", "parse_ssh_ident"]

_IDENT = re.compile(rb"^SSH-(\d+\.\d+)-(.*)$", re.S)
_PREFIX = b"SSH-"


def parse_ssh_ident(line: bytes):
    """``SSH-2.0-OpenSSH_9.2p1 Debian-2`` -> (b"2.0", Software(OpenSSH 9.2 p1)); None when
    the line is not an identification string."""
    m = _IDENT.match(line)
    if not m:
        return None
    software = parse_version(m.group(2).decode("utf-8", "backslashreplace"))
    return m.group(1), software


_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _is_text(line: bytes) -> bool:
    # Pre-banner lines are text; a control byte other than tab means this is not SSH.
    return _CONTROL.search(line) is None


@register_detector
class SSHDetector(LineDetector):
    protocol = "ssh"
    #: Pre-banner text can be long (a server printing an ASCII-art notice): 32 KiB of it.
    max_bytes = 32768

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        if direction is _CLIENT:
            return starts_like(first, _PREFIX)
        # the identification, or text that may precede it (server only)
        return starts_like(first, _PREFIX) or looks_like_text(first[:256])

    def __init__(self) -> None:
        super().__init__()
        # Pre-banner lines are the server's opening words; when a non-SSH client spoke
        # first (an HTTP request to an SSH server, say) the server's first line must be the
        # identification itself. (An SSH client may send its identification first and
        # still get pre-banner lines.)
        self._client_first = False

    def missed(self, direction: Direction) -> None:
        if direction is _CLIENT:
            # attached on the server's bytes: the client's first bytes were not "SSH-"
            self._client_first = True
        super().missed(direction)

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        if (direction is _CLIENT and self._lineno[1] == 0 and not self._buf[1]
                and self._lineno[0] == 0 and not self._buf[0] and not starts_like(data, _PREFIX)):
            self._client_first = True
        return super().feed(direction, data, ts_ns)

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        if direction is _CLIENT or self._client_first:
            n = min(len(partial), len(_PREFIX))
            return partial[:n] == _PREFIX[:n]
        return _is_text(partial)

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        parsed = parse_ssh_ident(line)
        if parsed is None:
            # Client: the identification must come first. Server: other text lines may
            # precede it (RFC 4253 4.2), binary may not.
            if direction is _CLIENT or self._client_first or not _is_text(line):
                self.stop(direction)
            return []
        self.stop(direction)
        proto_version, software = parsed
        return [self.banner(role=direction, kind="ssh-ident", raw=line, ts_ns=ts_ns,
                            software=software,
                            attrs=(("proto_version", proto_version.decode()),))]
