"""HTTP/1.x (and 0.9) request and response heads: who serves, who asks.

Server side: the first response's ``Server``, ``X-Powered-By`` and ``Via`` header values
(1xx interim responses are skipped: RFC 9110 15.2, a final response follows). Client side:
the first request's ``User-Agent`` and ``Host`` (and Adobe's ``X-Flash-Version``, which
Zeek's software framework reports as a browser plugin). Header names are matched
case-insensitively (RFC 9110 5.1: "Field names are case-insensitive"), so lower-case
headers are found as well. An HTTP/0.9 request (RFC 1945 4.1: ``GET SP Request-URI CRLF``,
no version, no headers) yields no header banner, and its response has no head at all.
Only the first request and response of a connection are read: enough for an inventory,
and it keeps the stream short-lived.
"""

from __future__ import annotations

import re

from .base import _CLIENT, _SERVER, Banner, Direction, LineDetector, register_detector, starts_like
from .version import Software, parse_user_agent, parse_version

__all__ = ["HTTPDetector"]

# RFC 9110 9.1 method = token; real methods are upper-case letters (and '-' in a few
# WebDAV/odd ones seen in the wild, e.g. "VERSION-CONTROL").
# Request lines are matched leniently (Zeek and tshark both accept "GET / HTTP/1." or a
# missing URI): a method, a space, then anything; "HTTP/" anywhere after it means a
# versioned request with a header section.
_REQUEST = re.compile(rb"^([A-Z][A-Z_-]{1,19}) (.*)$")
_STATUS = re.compile(rb"^HTTP/(\d)\.(\d) +(\d{3})", re.I)
_METHOD_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
# The empty line ending a header section (RFC 9112 2.1), CRLF or bare LF; the section may be
# empty (the empty line comes first).
_HEAD_END = re.compile(rb"(?:\A|\n)\r?\n")
# The header fields wanted, names case-insensitive (RFC 9110 5.1), values without the
# optional whitespace around them (RFC 9110 5.5).
_HEADER_LINE = re.compile(
    rb"^(server|x-powered-by|via|user-agent|host|x-flash-version)[ \t]*:[ \t]*(.*?)[ \t]*\r?$",
    re.I | re.M)

# header name (lower case) -> (kind, role of the sender is the side that sent the head)
_SERVER_HEADERS = {b"server": "http-server", b"x-powered-by": "http-x-powered-by",
                   b"via": "http-via"}
_CLIENT_HEADERS = {b"user-agent": "http-user-agent", b"host": "http-host",
                   b"x-flash-version": "http-x-flash-version"}


def _via_software(value: str) -> Software | None:
    # RFC 9110 7.6.3: Via = received-protocol received-by [comment]; the comment usually
    # names the proxy software ("1.1 cache01 (squid/5.7)"), else nothing does.
    m = re.search(r"\(([^()]+)\)", value)
    return parse_version(m.group(1)) if m else None


@register_detector
class HTTPDetector(LineDetector):
    protocol = "http"
    max_bytes = 16384

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        if direction is _CLIENT:
            return 0x41 <= first[0] <= 0x5A  # a method starts with an upper-case letter
        return starts_like(first[:5].upper(), b"HTTP/")

    def __init__(self) -> None:
        super().__init__()
        self._in_head = {_CLIENT: False, _SERVER: False}
        self._user_agent: str | None = None
        self._interim = False  # the server head being read is a 1xx one
        self._connect = False  # the request is CONNECT: a 2xx answer opens a tunnel
        self._status = b""
        self._early = bytearray()  # client bytes sent after a CONNECT head, before the answer
        self._head = [b"", b""]  # an incomplete header section, per direction

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        if direction is _SERVER:
            n = min(len(partial), 5)
            return partial[:n].upper() == b"HTTP/"[:n]
        for i, b in enumerate(partial[:21]):
            if b == 0x20:
                return i >= 2
            if b not in _METHOD_CHARS:
                return False
        return len(partial) < 21

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        # Start lines only: once one is read, the header section goes to raw() whole.
        return self._start_line(direction, line)

    def _header(self, direction: Direction, name: bytes, value: bytes, ts_ns: int) -> list[Banner]:
        table = _SERVER_HEADERS if direction is _SERVER else _CLIENT_HEADERS
        kind = table.get(name.lower())
        if kind is None:
            return []
        raw = value.strip(b" \t")
        text = raw.decode("utf-8", "backslashreplace")
        if kind == "http-user-agent":
            software = parse_user_agent(text)
            self._user_agent = text
        elif kind == "http-via":
            software = _via_software(text)
        elif kind == "http-host":
            software = None
        elif kind == "http-x-flash-version":
            # Zeek: AdobeAIR clients' Flash is "AdobeAIR-Flash", others' "Flash".
            plugin = "AdobeAIR-Flash" if self._user_agent and "AdobeAIR" in self._user_agent \
                else "Flash"
            software = parse_version(f"{plugin}/{text}")
        else:
            software = parse_version(text)
        return [self.banner(role=direction, kind=kind, raw=raw, ts_ns=ts_ns,
                            software=software)]

    def _headers(self, direction: Direction, block: bytes, ts_ns: int) -> list[Banner]:
        """The banners of a header section (its lines, without the empty line)."""
        out: list[Banner] = []
        for m in _HEADER_LINE.finditer(block):
            out += self._header(direction, m.group(1), m.group(2), ts_ns)
        return out

    def _start_line(self, direction: Direction, line: bytes) -> list[Banner]:
        if direction is _CLIENT:
            m = _REQUEST.match(line)
            if m is None:
                self.stop(direction)
                return []
            self.claim(direction)
            self._connect = m.group(1) == b"CONNECT"
            if b"HTTP/" not in m.group(2).upper():
                # HTTP/0.9 (RFC 1945 4.1 Simple-Request): no headers, and the response is
                # the bare entity body, so neither side has a head to read.
                self.stop()
                self.claim()
                return []
        else:
            m = _STATUS.match(line)
            if m is None:
                self.stop(direction)
                return []
            self.claim(direction)
            self._status = m.group(3)
            self._interim = m.group(3).startswith(b"1")
        self._in_head[direction] = True
        # The header section is read in one pass (raw mode), not line by line: only a few
        # of its fields matter, and heads are where HTTP streams spend their bytes.
        self.raw_mode(direction)
        return []

    def finish(self, direction: Direction, ts_ns: int) -> list[Banner]:
        i = direction is _SERVER
        if self._in_head[direction] and self._head[i] and self._wanted[i]:
            # The capture (or the budget) ended inside a head: its lines still count.
            block, self._head[i] = self._head[i], b""
            self.stop(direction)
            return self._headers(direction, block, ts_ns)
        return super().finish(direction, ts_ns)

    def _end_head(self, direction: Direction) -> None:
        self._in_head[direction] = False
        if direction is _SERVER and self._interim:
            return  # a 1xx head: the final response's head follows
        if self._connect:
            if direction is _CLIENT:
                # Keep the client's bytes until the proxy answers: if it accepts, they are
                # the tunnel's first bytes (RFC 9110 9.3.6).
                self.raw_mode(_CLIENT)
                return
            self.stop()
            if self._status.startswith(b"2"):
                # RFC 9110 9.3.6: "A tunnel is closed when a tunnel intermediary detects
                # that either side has closed its connection"; after a 2xx the connection
                # carries the tunneled protocol from the next byte on.
                self.raw_mode(_SERVER)
                self.tunnel = (bytes(self._early), b"")
            return
        self.stop(direction)

    def raw(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        i = direction is _SERVER
        if self._in_head[direction]:
            buf = self._head[i] + data if self._head[i] else data
            m = _HEAD_END.search(buf)
            if m is None:
                self._head[i] = buf  # bounded: the engine feeds at most max_bytes
                return []
            self._head[i] = b""
            out = self._headers(direction, buf[:m.start()], ts_ns)
            self._raw[i] = False  # back to lines: a 1xx head is followed by a status line
            self._end_head(direction)
            rest = buf[m.end():]
            if rest and (self._wanted[i] or self._raw[i]):
                out += self.feed(direction, rest, ts_ns)
            return out
        if direction is _CLIENT and self.tunnel is None:
            self._early += data[: self.max_bytes - len(self._early)]
        elif direction is _SERVER and self.tunnel is not None:
            # bytes in the same segment as the 2xx head: the tunnel's first server bytes
            self.tunnel = (self.tunnel[0], self.tunnel[1] + data)
        return []
