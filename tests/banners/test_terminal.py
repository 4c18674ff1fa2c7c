"""Wire text never reaches a terminal raw."""

from __future__ import annotations

import pytest

from wirekit.banners import escape_for_terminal


@pytest.mark.parametrize("raw,shown", [
    (b"SSH-2.0-OpenSSH_9.7", "SSH-2.0-OpenSSH_9.7"),
    (b"evil\x1b[2J\x1b]0;title\x07", "evil\\x1b[2J\\x1b]0;title\\x07"),
    (b"a\r\nb\tc", "a\\r\\nb\\tc"),
    (b"nul\x00del\x7f", "nul\\x00del\\x7f"),
    (b"\xff\xfe", "\\xff\\xfe"),                      # invalid UTF-8: each byte shown
    (b"back\\x41slash", "back\\\\x41slash"),          # a literal backslash is doubled
    ("caf\u00e9".encode(), "caf\u00e9"),              # printable UTF-8 stays readable
    ("c1\u009bcsi".encode(), "c1\\x9bcsi"),           # C1 CSI as a code point
    ("rtl\u202eevil".encode(), "rtl\\u202eevil"),     # bidi override (Trojan Source)
])
def test_escape_bytes(raw, shown):
    assert escape_for_terminal(raw) == shown


def test_escape_str_and_no_control_survives():
    s = escape_for_terminal("x\x1b\x9b\u2066\ud800y")
    assert s == "x\\x1b\\x9b\\u2066\\ud800y"
    every = bytes(range(256))
    out = escape_for_terminal(every)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
