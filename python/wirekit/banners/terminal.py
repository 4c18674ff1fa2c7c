"""Make wire text safe to print on a terminal.

Banners are attacker-controlled: a server can send ESC sequences that retitle the window,
move the cursor, rewrite earlier lines or (on some terminals) answer back with input.
``escape_for_terminal`` turns every C0 control (including ESC, CR, LF, BS, BEL, NUL), DEL,
every C1 control (U+0080..U+009F, which some terminals treat like ESC+letter) and the
Unicode bidirectional overrides/isolates (which reorder what is shown) into visible
escapes, and doubles backslashes so an escape in the output always means one on the wire.
"""

from __future__ import annotations

__all__ = ["escape_for_terminal"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\"}
# RFC 9839-style "problematic" code points for display: bidi controls (Trojan Source).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F:
        return f"\\x{o:02x}"
    if ch in _BIDI or 0xD800 <= o <= 0xDFFF:
        return f"\\u{o:04x}"
    return ch


_TABLE = {c: _escape_char(chr(c)) for c in range(0xA0)}
_TABLE.update({ord(c): _escape_char(c) for c in _BIDI})
_TABLE = {k: v for k, v in _TABLE.items() if v != chr(k)}


def escape_for_terminal(text: str | bytes) -> str:
    """Text with every control character, ESC sequence introducer, bidi override and
    backslash made visible (``\\x1b``, ``\\n``, ``\\u202e``, ``\\\\``). Bytes are decoded as
    UTF-8 first, each invalid byte becoming ``\\xNN``: the result is unambiguous."""
    if isinstance(text, (bytes, bytearray)):
        # surrogateescape maps each undecodable byte b to U+DC00+b, exactly recoverable.
        text = bytes(text).decode("utf-8", errors="surrogateescape")
        byte_escapes = True
    else:
        byte_escapes = False
    s = text.translate(_TABLE)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        s = "".join(_surrogate(c, byte_escapes) if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)
    return s


def _surrogate(ch: str, byte_escapes: bool) -> str:
    o = ord(ch)
    if byte_escapes and 0xDC80 <= o <= 0xDCFF:
        return f"\\x{o - 0xDC00:02x}"
    return f"\\u{o:04x}"
