"""Helpers for the wire tests: an independent reference checksum and hex input."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "wire"


def h(text: str) -> bytes:
    """Hex with spaces, newlines and '|' separators allowed."""
    return bytes.fromhex("".join(text.replace("|", " ").split()))


def ref_checksum(data: bytes) -> int:
    """RFC 1071 by the book (a word loop with end-around carry): the oracle the fast
    big-integer implementation is checked against."""
    if len(data) % 2:
        data += b"\x00"
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
