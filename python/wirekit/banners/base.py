"""The detector interface, the Banner event and the detector registry.

Theory of operation
-------------------
A *detector* reads the first bytes of both directions of one TCP stream and reports the
software it recognises in them. Detection is by content, never by port: SSH on port 80 is
still SSH. One fresh detector instance per registered class is attached to every stream;
each is fed the stream's bytes in order, direction by direction, as they arrive.

A detector says, per direction, whether it still wants bytes (``wants(direction)``). It stops
wanting a direction once it has read what it looks for there, or once the bytes show the
stream is not its protocol, or once it has read ``max_bytes`` of that direction (the engine
enforces the budget: a detector never sees more). When no detector attached to a stream
wants either direction, the engine tells the reassembler to stop collecting the stream, so
memory stays flat however long the connection lives.

Writing a detector::

    class RedisDetector(Detector):
        protocol = "redis"
        max_bytes = 256

        def feed(self, direction, data, ts_ns):
            self.stop(direction)          # one look is enough either way
            if direction is Direction.SERVER and data.startswith(b"-NOAUTH"):
                return [self.banner(role=direction, kind="redis-error", raw=data.split(b"\\r\\n")[0],
                                    ts_ns=ts_ns)]
            return []

    register_detector(RedisDetector)

What the interface deliberately does not know: addresses and ports (the engine adds them to
each Banner), time other than the ``ts_ns`` of the bytes, and anything after the budget.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

from .version import Software

__all__ = [
    "Direction",
    "Banner",
    "Detector",
    "LineDetector",
    "DETECTORS",
    "register_detector",
    "unregister_detector",
    "decode_text",
    "starts_like",
    "looks_like_text",
]


class Direction(str, enum.Enum):
    """A stream direction, named by the side that *sends* the bytes.

    ``CLIENT`` bytes flow from the connection's initiator (the SYN sender) to the responder;
    ``SERVER`` bytes flow back. A banner's role is the side whose software it names, which is
    the side that sent it.
    """

    CLIENT = "client"
    SERVER = "server"

    @property
    def other(self) -> "Direction":
        return _SERVER if self is _CLIENT else _CLIENT


# Module constants: attribute access on an Enum class costs far more than a global lookup,
# and these are read on every chunk of every stream.
_CLIENT = Direction.CLIENT
_SERVER = Direction.SERVER


def starts_like(data: bytes, prefix: bytes) -> bool:
    """Whether ``data`` and ``prefix`` agree on their common length (``data`` may be a
    shorter piece of something that will start with ``prefix``)."""
    n = min(len(data), len(prefix))
    return data[:n] == prefix[:n]


_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def looks_like_text(data: bytes) -> bool:
    """No control byte other than TAB/CR/LF, no DEL (UTF-8 and Latin-1 bytes allowed)."""
    return _NOT_TEXT.search(data) is None


def decode_text(raw: bytes) -> str:
    """Bytes from the wire as text: UTF-8 where valid, each other byte as ``\\xNN``.

    Lossless enough for a log (distinct byte strings stay distinct except for a literal
    backslash-x sequence) and always encodable as JSON. Never use it to print to a terminal
    without ``escape_for_terminal``.
    """
    return raw.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Banner:
    """One piece of software (or fingerprint) seen in a stream.

    Attributes:
        protocol: detector protocol name ("ssh", "http", "smtp", "ftp", "pop3", "imap",
            "mysql", "tls", "generic", or a user detector's).
        role: the side that sent it (and runs the software): ``Direction.SERVER`` or
            ``Direction.CLIENT``.
        kind: what field it is, stable snake-ish code ("ssh-ident", "http-server",
            "http-user-agent", "http-via", "http-x-powered-by", "http-host", "smtp-220",
            "smtp-ehlo", "ftp-220", "pop3-greeting", "imap-greeting", "mysql-version",
            "tls-client-hello", "tls-server-hello", "first-line").
        raw: the banner bytes exactly as on the wire (line terminators removed).
        text: ``raw`` decoded by ``decode_text`` (UTF-8, other bytes as ``\\xNN``).
        software: the parsed software name and version, or None when the banner names none.
        ts_ns: capture timestamp, in nanoseconds since the epoch, of the segment that
            completed the banner.
        attrs: extra named values as (name, value) string pairs, e.g. TLS ``sni``, ``ja3``,
            ``ja4``; empty for most banners.
        addr, port: the address (text form) and TCP port of the side that sent it; filled in
            by the engine (empty / 0 when a detector is driven directly).
    """

    protocol: str
    role: Direction
    kind: str
    raw: bytes
    text: str
    software: Software | None
    ts_ns: int
    attrs: tuple[tuple[str, str], ...] = ()
    addr: str = ""
    port: int = 0

    def attr(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.attrs:
            if k == name:
                return v
        return default


# The hot path builds many Banners: writing the slots directly gives the same frozen object
# as Banner(...) with every field given, about three times faster (no keyword parsing and
# no frozen-instance check per field; the instance stays frozen to everyone else).
_BANNER_SLOTS = tuple(Banner.__dict__[n].__set__ for n in (
    "protocol", "role", "kind", "raw", "text", "software", "ts_ns", "attrs", "addr", "port"))


def _make_banner(protocol, role, kind, raw, text, software, ts_ns, attrs, addr, port,
                 _new=object.__new__, _slots=_BANNER_SLOTS) -> Banner:
    b = _new(Banner)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _slots
    s0(b, protocol)
    s1(b, role)
    s2(b, kind)
    s3(b, raw)
    s4(b, text)
    s5(b, software)
    s6(b, ts_ns)
    s7(b, attrs)
    s8(b, addr)
    s9(b, port)
    return b


class Detector:
    """Base class of a banner detector. Subclass it, set ``protocol`` and ``max_bytes``,
    implement ``feed``; optionally ``finish``.

    Class attributes:
        protocol: the name written into every Banner it makes.
        max_bytes: per-direction byte budget: the engine feeds at most this many bytes of
            each direction, then treats the detector as done with that direction.
        fallback: True only for detectors whose banners are reported when no other detector
            reported anything for that direction of the stream (the generic first line).
            A fallback is attached only on the stream's very first bytes (the side that
            speaks first).
    """

    protocol: ClassVar[str] = "unknown"
    max_bytes: ClassVar[int] = 4096
    fallback: ClassVar[bool] = False

    def __init__(self) -> None:
        # per direction, indexed by ``direction is _SERVER`` (0 client, 1 server)
        self._wanted = [True, True]
        #: ((client addr, port), (server addr, port)), set by the engine when it attaches the
        #: detector; banners carry the sender's pair.
        self.endpoints: tuple[tuple[str, int], tuple[str, int]] = (("", 0), ("", 0))
        self._claimed = [False, False]
        self._fed = [0, 0]  # bytes the engine fed, per direction (its budget accounting)
        #: Set by a detector that saw a tunnel open (HTTP CONNECT answered 2xx) to the bytes
        #: already received past it, (client bytes, server bytes): the engine then starts
        #: detection afresh on the rest of the stream, as on a new connection.
        self.tunnel: tuple[bytes, bytes] | None = None

    # -- what the engine calls -------------------------------------------------------
    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        """Whether a direction whose first bytes are ``first`` (possibly a single byte)
        could be this protocol: the engine attaches the detector only then. It must be
        prefix-tolerant: whatever it accepts, it accepts the first byte of alone (the
        engine caches its answers per first byte). A detector
        attached on one direction's first bytes after the other direction started does not
        read that other direction. Default: always (attached on the stream's first bytes)."""
        return True

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        """Take the next bytes of one direction (in stream order); return new banners."""
        raise NotImplementedError

    def missed(self, direction: Direction) -> None:
        """Attached after ``direction`` had started: its first bytes were not seen, so by
        default the detector does not read it at all."""
        self.stop(direction)

    def finish(self, direction: Direction, ts_ns: int) -> list[Banner]:
        """The direction ended (FIN/RST/end of capture) or its budget ran out: flush."""
        return []

    def wants(self, direction: Direction) -> bool:
        """Whether more bytes of this direction could still produce a banner."""
        return self._wanted[direction is _SERVER]

    def claims(self, direction: Direction) -> bool:
        """Whether the detector recognised this direction as its protocol (even without a
        banner: an FTP client's ``USER`` line); the engine then drops fallback banners."""
        return self._claimed[direction is _SERVER]

    @property
    def done(self) -> bool:
        """True when the detector wants no more bytes in either direction."""
        return not (self._wanted[0] or self._wanted[1])

    # -- helpers for subclasses -------------------------------------------------------
    def stop(self, direction: Direction | None = None) -> None:
        """Stop wanting one direction (or both when None)."""
        if direction is None:
            self._wanted[0] = self._wanted[1] = False
        else:
            self._wanted[direction is _SERVER] = False

    def claim(self, direction: Direction | None = None) -> None:
        """Mark one direction (or both when None) as recognised."""
        if direction is None:
            self._claimed[0] = self._claimed[1] = True
        else:
            self._claimed[direction is _SERVER] = True

    def banner(self, *, role: Direction, kind: str, raw: bytes, ts_ns: int,
               software: Software | None = None,
               attrs: Iterable[tuple[str, str]] = ()) -> Banner:
        addr, port = self.endpoints[role is _SERVER]
        return _make_banner(self.protocol, role, kind, raw, decode_text(raw), software, ts_ns,
                            tuple(attrs), addr, port)


class LineDetector(Detector):
    """A detector reading CRLF- or LF-terminated lines; subclasses implement ``line``.

    Bytes are buffered per direction until a line ends; the buffer is bounded by
    ``max_bytes`` (the engine's budget), and a line still open at ``finish`` is delivered
    as is, since many captures end right after a banner without its terminator.
    """

    def __init__(self) -> None:
        super().__init__()
        self._buf = [b"", b""]  # the unterminated line of each direction
        self._lineno = [0, 0]
        self._raw = [False, False]  # after raw_mode(): bytes go to raw(), not line()

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        """One line (terminator removed); ``lineno`` counts from 0 per direction."""
        raise NotImplementedError

    def raw_mode(self, direction: Direction) -> None:
        """From the end of the current line on, hand this direction's bytes to ``raw``
        unsplit (for what follows a text head: a body, a tunnel)."""
        self._raw[direction is _SERVER] = True

    def raw(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        """Bytes of a direction in raw mode; default: ignored."""
        return []

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        i = direction is _SERVER
        if self._raw[i]:
            return self.raw(direction, data, ts_ns)
        if self._buf[i]:
            data = self._buf[i] + data
        wanted = self._wanted
        out: list[Banner] = []
        pos = 0
        while wanted[i]:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            raw = data[pos:nl]
            pos = nl + 1
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            n = self._lineno[i]
            self._lineno[i] = n + 1
            got = self.line(direction, n, raw, ts_ns)
            if got:
                out += got
            if self._raw[i]:
                self._buf[i] = b""
                if pos < len(data):
                    out += self.raw(direction, data[pos:], ts_ns)
                return out
        if not wanted[i]:
            self._buf[i] = b""
            return out
        rest = data[pos:]
        self._buf[i] = rest
        if rest and self._lineno[i] == 0 and not self.first_bytes_ok(direction, rest):
            # A partial first line that can never become ours: give up early, so the
            # stream can stop being collected without waiting for the budget.
            self.stop(direction)
            self._buf[i] = b""
        return out

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        """Whether a partial (unterminated) first line may still match; default: yes."""
        return True

    def finish(self, direction: Direction, ts_ns: int) -> list[Banner]:
        i = direction is _SERVER
        buf = self._buf[i]
        if not buf or not self._wanted[i]:
            return []
        raw = buf.rstrip(b"\r")
        self._buf[i] = b""
        n = self._lineno[i]
        self._lineno[i] = n + 1
        out = self.line(direction, n, raw, ts_ns)
        self.stop(direction)
        return out


#: The registered detector classes, in the order they are attached (a visible table; extend
#: it with ``register_detector``). Filled by ``wirekit.banners`` at import.
DETECTORS: list[Callable[[], Detector]] = []


def register_detector(factory: Callable[[], Detector]) -> Callable[[], Detector]:
    """Attach ``factory()`` (usually a Detector subclass) to every new stream; usable as a
    class decorator. Registering twice is a no-op."""
    if factory not in DETECTORS:
        DETECTORS.append(factory)
    return factory


def unregister_detector(factory: Callable[[], Detector]) -> None:
    DETECTORS.remove(factory)

