"""Greeting-first text protocols: SMTP and FTP (220 replies), POP3 (+OK), IMAP (* OK).

SMTP and FTP greet alike ("220 text"), so neither decides on the code alone. The greeting
text decides when it names its protocol ("ESMTP", "FTP server"); otherwise the client's
first command does (EHLO/HELO is SMTP, USER/AUTH/FEAT/SYST is FTP), and the greeting waits
for it. A greeting nothing decides is left to the generic first-line detector.

Multi-line replies: RFC 959 4.2 (FTP): "the first line will begin with the exact required
reply code, followed immediately by a Hyphen ... The last line will begin with the same
code, followed immediately by Space"; lines in between may begin with anything. RFC 5321
4.2.1 (SMTP) puts the code on every line. Both read the same here: lines until ``220 ``.
The banner's text is the reply's lines without their ``220-``/``220 `` prefixes, joined
with LF.

SMTP clients: the EHLO/HELO argument (RFC 5321 4.1.1.1) and, after DATA, the message's
``User-Agent``/``X-Mailer`` header (the mail client, as Zeek's smtp.log ``user_agent``).
"""

from __future__ import annotations

import re

from .base import _CLIENT, _SERVER, Banner, Direction, LineDetector, register_detector, starts_like
from .version import find_product, parse_user_agent

__all__ = ["SMTPDetector", "FTPDetector", "POP3Detector", "IMAPDetector"]

_NOT_COMMAND_TEXT = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x80-\xff]")

#: Longest multi-line greeting read, in lines.
MAX_GREETING_LINES = 64


def _prefix_ok(partial: bytes, prefix: bytes) -> bool:
    n = min(len(partial), len(prefix))
    return partial[:n] == prefix[:n]


class _Reply220Detector(LineDetector):
    """A 220 greeting, possibly multi-line, claimed by keyword or by the client's command."""

    own_keyword: re.Pattern[bytes]
    other_keyword: re.Pattern[bytes]
    own_commands: frozenset[bytes]
    other_commands: frozenset[bytes]
    kind: str

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[bytes] = []
        self._greeting: tuple[bytes, int] | None = None  # complete, awaiting a verdict
        self._client_verdict: bool | None = None

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        if direction is _SERVER:
            return starts_like(first, b"220")
        return first[:4].isalpha()  # a command verb (EHLO, HELO, USER, AUTH, ...)

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        if direction is _SERVER:
            return _prefix_ok(partial, b"220") and (len(partial) < 4 or partial[3] in b" -\r\n")
        # A client command line is text; binary (a TLS hello, say) is not ours.
        return _NOT_COMMAND_TEXT.search(partial) is None

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        if direction is _CLIENT:
            return self.client_line(lineno, line, ts_ns)
        if lineno == 0:
            if not (line[:3] == b"220" and line[3:4] in (b"", b" ", b"-")):
                self.stop(direction)
                return []
        last = line[:4] == b"220 " or line == b"220" or (lineno == 0 and line[3:4] != b"-")
        self._lines.append(line[4:] if line[:4] in (b"220-", b"220 ") else line)
        if not last and len(self._lines) < MAX_GREETING_LINES:
            return []
        self.stop(direction)
        text = b"\n".join(self._lines)
        if self.own_keyword.search(text):
            return [self._greeting_banner(text, ts_ns)]
        if self.other_keyword.search(text) or self._client_verdict is False:
            return []
        if self._client_verdict:
            return [self._greeting_banner(text, ts_ns)]
        self._greeting = (text, ts_ns)
        return []

    def _greeting_banner(self, text: bytes, ts_ns: int) -> Banner:
        self.claim()  # the peer of a recognised server speaks the same protocol
        software = find_product(text.decode("utf-8", "backslashreplace"))
        return self.banner(role=_SERVER, kind=self.kind, raw=text, ts_ns=ts_ns,
                           software=software)

    def client_verdict(self, line: bytes) -> list[Banner]:
        """Judge the client's first command; release a waiting greeting if it is ours."""
        word = line.split(b" ", 1)[0].upper()
        if word in self.own_commands:
            self._client_verdict = True
            self.claim(_CLIENT)
        elif word in self.other_commands or not line:
            self._client_verdict = False
        else:
            self._client_verdict = None
        out: list[Banner] = []
        if self._greeting is not None and self._client_verdict is not None:
            if self._client_verdict:
                out.append(self._greeting_banner(*self._greeting))
            self._greeting = None
        return out

    def client_line(self, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        self.stop(_CLIENT)
        return self.client_verdict(line)


_SMTP_COMMANDS = frozenset({b"EHLO", b"HELO", b"LHLO"})
_FTP_COMMANDS = frozenset({b"USER", b"AUTH", b"FEAT", b"SYST", b"OPTS", b"HOST", b"CLNT",
                           b"PASS", b"PBSZ"})
_SMTP_WORDS = re.compile(rb"E?SMTP|\bExim\b|Postfix|Sendmail|\bMail Service\b|\bMTA\b", re.I)
_FTP_WORDS = re.compile(rb"FTP", re.I)


@register_detector
class SMTPDetector(_Reply220Detector):
    protocol = "smtp"
    kind = "smtp-220"
    max_bytes = 16384
    own_keyword = _SMTP_WORDS
    other_keyword = _FTP_WORDS
    own_commands = _SMTP_COMMANDS
    other_commands = _FTP_COMMANDS

    def __init__(self) -> None:
        super().__init__()
        self._client_state = "first"  # first -> commands -> headers (after DATA) -> done

    def client_line(self, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        if self._client_state == "first":
            out = self.client_verdict(line)
            if not self._client_verdict:
                self.stop(_CLIENT)
                return out
            self._client_state = "commands"
            name = line[5:].strip()
            if name:
                out.append(self.banner(role=_CLIENT, kind="smtp-ehlo", raw=name,
                                       ts_ns=ts_ns))
            return out
        if self._client_state == "commands":
            word = line.split(b" ", 1)[0].upper()
            if word == b"DATA":
                self._client_state = "headers"
            elif word in (b"STARTTLS", b"QUIT", b"BDAT"):
                # The rest is encrypted, over, or binary chunks: nothing more to read.
                self.stop(_CLIENT)
            return []
        # Message header section (RFC 5322 2.1): ends at the first empty line.
        if not line or line == b".":
            self.stop(_CLIENT)
            return []
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in (b"user-agent", b"x-mailer"):
            raw = value.strip()
            self.stop(_CLIENT)
            return [self.banner(role=_CLIENT, kind="smtp-user-agent", raw=raw,
                                ts_ns=ts_ns,
                                software=parse_user_agent(raw.decode("utf-8", "backslashreplace")))]
        return []


@register_detector
class FTPDetector(_Reply220Detector):
    protocol = "ftp"
    kind = "ftp-220"
    max_bytes = 8192
    own_keyword = _FTP_WORDS
    other_keyword = _SMTP_WORDS
    own_commands = _FTP_COMMANDS
    other_commands = _SMTP_COMMANDS


class _OneLineGreeting(LineDetector):
    """A server greeting on the first line starting with ``prefix``; clients say nothing."""

    prefixes: tuple[bytes, ...]
    kind: str
    max_bytes = 1024

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        return direction is _SERVER and any(starts_like(first, p) for p in cls.prefixes)

    def first_bytes_ok(self, direction: Direction, partial: bytes) -> bool:
        if direction is _CLIENT:
            return False  # the client has no banner here; do not hold its bytes
        return any(_prefix_ok(partial, p) for p in self.prefixes)

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        if direction is _CLIENT:
            self.stop(direction)
            return []
        return super().feed(direction, data, ts_ns)

    def line(self, direction: Direction, lineno: int, line: bytes, ts_ns: int) -> list[Banner]:
        self.stop(direction)
        for p in self.prefixes:
            if line.startswith(p):
                self.claim()
                text = line[len(p):]
                software = find_product(text.decode("utf-8", "backslashreplace"))
                return [self.banner(role=direction, kind=self.kind, raw=text, ts_ns=ts_ns,
                                    software=software,
                                    attrs=(("status", p.strip().decode()),))]
        return []


@register_detector
class POP3Detector(_OneLineGreeting):
    """RFC 1939 4: "the POP3 server issues a one line greeting" beginning "+OK"."""

    protocol = "pop3"
    kind = "pop3-greeting"
    prefixes = (b"+OK ", b"+OK")


@register_detector
class IMAPDetector(_OneLineGreeting):
    """RFC 9051 7.1: the greeting is an untagged OK, PREAUTH or BYE response."""

    protocol = "imap"
    kind = "imap-greeting"
    prefixes = (b"* OK ", b"* PREAUTH ", b"* BYE ")
