"""Software version strings parsed into name, major, minor, minor2, minor3 and addl.

The shape is Zeek's ``software.log`` (``Software::Version``): numbers are ints or None,
``addl`` is the first word after the numbers ("p1" in ``OpenSSH_9.2p1 Debian-2``) and the
input is kept verbatim as ``unparsed``.

    >>> parse_version("OpenSSH_9.2p1 Debian-2+deb12u3")
    Software(name='OpenSSH', major=9, minor=2, minor2=None, minor3=None, addl='p1', ...)
    >>> parse_version("nginx/1.22.1").version
    '1.22.1'

Three parsers, chosen by the caller (a detector knows what kind of string it holds):
``parse_version`` for ``product/1.2.3``-like strings (Server headers, SSH software ids, FTP
and SMTP product names), ``parse_user_agent`` for browser-like User-Agents (which put the
real product last, after ``Mozilla/5.0``), and ``find_product`` for free-text greetings,
driven by the visible table ``GREETING_PRODUCTS``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Software", "parse_version", "parse_user_agent", "find_product", "GREETING_PRODUCTS"]

#: Results of each parser are cached (the same software strings recur on every connection
#: to a server); Software is immutable, so sharing a result is safe. Bounded: least
#: recently used strings are forgotten first.
PARSE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class Software:
    """A parsed software name and version (Zeek ``software.log`` fields).

    Attributes:
        name: product name ("OpenSSH", "nginx", "Firefox").
        major, minor, minor2, minor3: version numbers, None when absent.
        addl: the additional version word ("p1", "beta2"), None when absent.
        unparsed: the string it was parsed from, verbatim.
    """

    name: str
    major: int | None = None
    minor: int | None = None
    minor2: int | None = None
    minor3: int | None = None
    addl: str | None = None
    unparsed: str = ""

    @property
    def version(self) -> str:
        """The numeric version, dotted ("9.2", "1.22.1"); "" when there is none."""
        parts = []
        for n in (self.major, self.minor, self.minor2, self.minor3):
            if n is None:
                break
            parts.append(str(n))
        return ".".join(parts)

    def __str__(self) -> str:
        s = self.name
        if self.version:
            s += " " + self.version
        if self.addl:
            s += " " + self.addl
        return s


# Where the version starts: an optional separator ("/", "-", "_", " ", " v", " (") then
# digits. The name is everything before the first such place, so "Microsoft-IIS/10.0" keeps
# its dash and "OpenSSH_9.2" splits at the underscore.
_SPLIT = re.compile(r"(?:[/\-_]|\s+[(v]*)?(?=\d)")
_NUMBERS = re.compile(r"(\d+)(?:[.,_](\d+))?(?:[.,_](\d+))?(?:[.,_](\d+))?")
_ADDL = re.compile(r"^[\-._,+]?([A-Za-z0-9][^\s;()\[\]]*)")
_NAME_TRAILER = re.compile(r"[\s/\-_(,;:]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_version(unparsed: str) -> Software | None:
    """Parse ``name<sep>1.2.3[addl]...``; the name alone when there is no number.

    Returns None for an empty string (nothing names a product).
    """
    # A name or version never spans a control character (an escape sequence from the wire
    # is not part of a product name): parse up to the first one.
    s = _CONTROL.split(unparsed, maxsplit=1)[0].strip()
    if not s:
        return None
    m = None
    # The name must be non-empty: skip a match at position 0 ("4.69" alone has no name).
    for cand in _SPLIT.finditer(s):
        if cand.start() > 0:
            m = cand
            break
    if m is None:
        return Software(name=_first_word_name(s), unparsed=unparsed)
    name = _NAME_TRAILER.sub("", s[:m.start()]) or s[:m.start()]
    nums = _NUMBERS.match(s, m.end())
    assert nums is not None  # _SPLIT's lookahead guarantees a digit
    vals = [int(g) if g is not None else None for g in nums.groups()]
    rest = s[nums.end():]
    addl = None
    am = _ADDL.match(rest)
    if am:
        addl = am.group(1)
    return Software(name=name, major=vals[0], minor=vals[1], minor2=vals[2], minor3=vals[3],
                    addl=addl, unparsed=unparsed)


def _first_word_name(s: str) -> str:
    # "Apache" -> "Apache"; "gws" -> "gws"; "Apache (Debian)" -> "Apache"
    return re.split(r"[\s(;]", s, maxsplit=1)[0] or s


def _from_token(token_re: str, ua: str, name: str | None = None) -> Software | None:
    m = re.search(token_re, ua)
    if not m:
        return None
    sw = parse_version(f"{name or m.group('name')}/{m.group('ver')}")
    if sw is None:
        return None
    return Software(name=sw.name, major=sw.major, minor=sw.minor, minor2=sw.minor2,
                    minor3=sw.minor3, addl=sw.addl, unparsed=ua)


# Browser-like User-Agents, checked in order (first match wins). Order matters: Edge and
# Opera also say Chrome and Safari; Chrome also says Safari; Safari's own version is in
# "Version/". Modelled on the cases Zeek's software framework distinguishes.
_BROWSER_RULES: list[tuple[str, str | None]] = [
    (r"(?P<name>AdobeAIR)/(?P<ver>\d[\d.]*)", None),
    (r"\bEdg(?:e|A|iOS)?/(?P<ver>\d[\d.]*)", "Edge"),
    (r"\bOPR/(?P<ver>\d[\d.]*)", "Opera"),
    (r"\bOpera[/ ](?P<ver>\d[\d.]*)", "Opera"),
    (r"\b(?P<name>Firefox|Thunderbird|SeaMonkey|Netscape)/(?P<ver>\d[\d.a-z]*)", None),
    (r"\bChrome/(?P<ver>\d[\d.]*)", "Chrome"),
    (r"\bCriOS/(?P<ver>\d[\d.]*)", "Chrome"),
    (r"Version/(?P<ver>\d[\d.]*).*\bSafari/", "Safari"),
    (r"\bMSIE (?P<ver>\d[\d.]*)", "MSIE"),
    (r"\bTrident/7\.0;.*\brv:(?P<ver>\d[\d.]*)", "MSIE"),
]


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_user_agent(ua: str) -> Software | None:
    """A User-Agent header: browsers by their own token, tools (``curl/8.5.0``,
    ``Wget/1.14 (darwin12.2.0)``) like any product string."""
    s = ua.strip()
    if not s:
        return None
    if s.startswith(("Mozilla/", "Opera/")):
        for token_re, name in _BROWSER_RULES:
            sw = _from_token(token_re, s, name)
            if sw is not None:
                return sw
    return parse_version(ua)


#: Products recognised inside free-text greetings (SMTP/FTP/POP3/IMAP 220/+OK/* OK lines),
#: as (regex, name): the regex's optional group ``ver`` holds the version string. First
#: match wins; extend by appending (then call ``find_product.cache_clear()``).
GREETING_PRODUCTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bExim (?P<ver>\d[\w.]*)"), "Exim"),
    (re.compile(r"\bPostfix\b"), "Postfix"),
    (re.compile(r"\bSendmail (?P<ver>\d[\w.]*)", re.I), "Sendmail"),
    (re.compile(r"\bMicrosoft ESMTP MAIL Service(?:, Version: (?P<ver>\d[\d.]*))?"),
     "Microsoft-ESMTP"),
    (re.compile(r"\bSubEthaSMTP\b"), "SubEthaSMTP"),
    (re.compile(r"\bOpenSMTPD\b"), "OpenSMTPD"),
    (re.compile(r"\bqmail\b"), "qmail"),
    (re.compile(r"\(vsFTPd (?P<ver>\d[\w.]*)\)"), "vsFTPd"),
    (re.compile(r"\bProFTPD (?P<ver>\d[\w.]*)"), "ProFTPD"),
    (re.compile(r"\bPure-FTPd\b"), "Pure-FTPd"),
    (re.compile(r"\bFileZilla Server(?: version)? (?P<ver>\d[\w.]*)"), "FileZilla Server"),
    (re.compile(r"\bMicrosoft FTP Service\b"), "Microsoft-FTP"),
    (re.compile(r"\b(?:NetBSD|FreeBSD|OpenBSD)-ftpd (?P<ver>\d+)"), "BSD-ftpd"),
    (re.compile(r"\bDovecot\b"), "Dovecot"),
    (re.compile(r"\bCyrus (?:POP3|IMAP4?) (?:v)?(?P<ver>\d[\w.]*)"), "Cyrus"),
    (re.compile(r"\bCourier-IMAP\b"), "Courier-IMAP"),
    (re.compile(r"\bCoremail\b"), "Coremail"),
]


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def find_product(text: str) -> Software | None:
    """The first ``GREETING_PRODUCTS`` entry found in a greeting, with its version."""
    for pattern, name in GREETING_PRODUCTS:
        m = pattern.search(text)
        if m is None:
            continue
        # BSD-ftpd keeps the real name found in the text ("NetBSD-ftpd").
        if name == "BSD-ftpd":
            name = m.group(0).split()[0]
        ver = m.groupdict().get("ver")
        if ver:
            sw = parse_version(f"{name}/{ver}")
            assert sw is not None
            return Software(name=name, major=sw.major, minor=sw.minor, minor2=sw.minor2,
                            minor3=sw.minor3, addl=sw.addl, unparsed=text)
        return Software(name=name, unparsed=text)
    return None
