"""Builds TLS ClientHello records byte by byte (RFC 8446 4.1.2), for tests and for the
script that makes tests/data/banners/tls-hellos.pcap."""

from __future__ import annotations

import struct


def _u16(v: int) -> bytes:
    return struct.pack(">H", v)


def _vec(data: bytes, len_bytes: int) -> bytes:
    return len(data).to_bytes(len_bytes, "big") + data


def ext(etype: int, body: bytes) -> bytes:
    return _u16(etype) + _vec(body, 2)


def sni_ext(name: bytes) -> bytes:
    return ext(0x0000, _vec(b"\x00" + _vec(name, 2), 2))


def alpn_ext(protos: list[bytes]) -> bytes:
    return ext(0x0010, _vec(b"".join(_vec(p, 1) for p in protos), 2))


def u16_list_ext(etype: int, values: list[int], len_bytes: int = 2) -> bytes:
    return ext(etype, _vec(b"".join(_u16(v) for v in values), len_bytes))


def client_hello(*, version: int = 0x0303, ciphers: list[int], extensions: list[bytes],
                 session_id: bytes = b"\x11" * 32, random: bytes = b"\x22" * 32) -> bytes:
    """A handshake message (type 1 + 24-bit length + body)."""
    body = (_u16(version) + random + _vec(session_id, 1)
            + _vec(b"".join(_u16(c) for c in ciphers), 2) + _vec(b"\x00", 1)
            + _vec(b"".join(extensions), 2))
    return b"\x01" + len(body).to_bytes(3, "big") + body


def record(handshake: bytes, version: int = 0x0301) -> bytes:
    return b"\x16" + _u16(version) + _vec(handshake, 2)


# The FoxIO JA4 spec's worked example (technical_details/JA4.md): 15 ciphers, 16
# extensions incl. SNI and ALPN h2, TLS 1.3, signature algorithms in wire order.
SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
SPEC_EXT_ORDER = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005,
                  0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
SPEC_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def spec_example_hello(*, grease: bool) -> bytes:
    """The spec's example hello; with ``grease``, GREASE values (RFC 8701) are added to the
    ciphers, the extensions, the supported versions and groups, as Chrome sends them."""
    exts = []
    if grease:
        exts.append(ext(0x0A0A, b""))
    for e in SPEC_EXT_ORDER:
        if e == 0x0000:
            exts.append(sni_ext(b"example.com"))
        elif e == 0x0010:
            exts.append(alpn_ext([b"h2", b"http/1.1"]))
        elif e == 0x000D:
            exts.append(u16_list_ext(0x000D, SPEC_SIGALGS))
        elif e == 0x002B:
            exts.append(u16_list_ext(0x002B, ([0x2A2A] if grease else []) + [0x0304, 0x0303], 1))
        elif e == 0x000A:
            exts.append(u16_list_ext(0x000A, ([0x3A3A] if grease else []) + [0x001D, 0x0017, 0x0018]))
        elif e == 0x000B:
            exts.append(ext(0x000B, b"\x01\x00"))
        elif e == 0x0033:
            exts.append(ext(0x0033, _vec(_u16(0x001D) + _vec(b"\x33" * 32, 2), 2)))
        else:
            exts.append(ext(e, b""))
    if grease:
        exts.append(ext(0x1A1A, b"\x00"))
    ciphers = ([0x4A4A] if grease else []) + SPEC_CIPHERS
    return client_hello(ciphers=ciphers, extensions=exts)
