"""TLS hellos: SNI, offered versions, ALPN and the JA3/JA4 client fingerprints; the server's
chosen version and cipher and its JA3S/JA4S fingerprints.

Records (RFC 8446 5.1): content type 22 (handshake), legacy version 0x03xx, 2-byte length;
a handshake message (4-byte header: type, 24-bit length) may span several records and TCP
segments, so handshake bytes are gathered across records until the first message is whole.
ClientHello and ServerHello bodies follow RFC 8446 4.1.2/4.1.3 (TLS 1.2's RFC 5246 7.4.1
layout is the same prefix).

Fingerprints:
- JA3 (salesforce/ja3): "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
  decimal values joined by "-", GREASE values (RFC 8701) removed from every list; MD5 of it.
- JA3S: "SSLVersion,Cipher,Extensions" of the ServerHello; MD5.
- JA4 (FoxIO, technical_details/JA4.md): ``t`` + version (highest non-GREASE
  supported_versions entry, else the hello's version) + ``d``/``i`` (SNI present or not) +
  2-digit cipher count + 2-digit extension count (GREASE excluded, capped at 99) + first
  and last characters of the first ALPN value ("00" when none; its hex form's first and
  last characters when either is not alphanumeric), ``_``, the first 12 hex digits of
  SHA-256 over the sorted 4-hex-digit cipher list joined by ",", ``_``, the same over the
  sorted extension list without SNI (0000) and ALPN (0010), then ``_`` and the signature
  algorithms in wire order when that extension is present. Empty lists hash to
  "000000000000".
- JA4S: ``t`` + chosen version + 2-digit extension count + ALPN chars, ``_``, the cipher in
  4 hex digits, ``_``, 12 hex digits of SHA-256 over the extensions in wire order.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from .base import _CLIENT, _SERVER, Banner, Detector, Direction, register_detector

__all__ = ["TLSDetector", "ClientHello", "ServerHello", "parse_client_hello",
           "parse_server_hello", "is_grease", "ja3", "ja3_string", "ja3s", "ja3s_string",
           "ja4", "ja4_r", "ja4s"]

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_SERVER_HELLO = 2
EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

#: Largest handshake message gathered, in bytes (a hello with post-quantum key shares is
#: ~1.8 KiB; RFC 8446 allows up to 2^24, which nobody sends in a hello).
MAX_HELLO_BYTES = 16384

VERSION_NAMES = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1",
                 0x0303: "TLSv1.2", 0x0304: "TLSv1.3", 0xFEFF: "DTLSv1.0",
                 0xFEFD: "DTLSv1.2", 0xFEFC: "DTLSv1.3"}
_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
                 0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def is_grease(value: int) -> bool:
    """RFC 8701 2: GREASE values are 0x?A?A with both bytes equal (0x0A0A, ..., 0xFAFA)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """The fields of a ClientHello that fingerprints and inventories use.

    ``extensions`` are the extension types in wire order (GREASE included, as sent);
    ``supported_versions``, ``ciphers``, ``groups``, ``signature_algorithms`` likewise raw;
    ``alpn`` the protocol names as bytes; ``sni`` the first host_name, or None.
    """

    version: int
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    sni: bytes | None = None
    alpn: tuple[bytes, ...] = ()
    supported_versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    has_signature_algorithms: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHello:
    """``version`` is the legacy field; ``selected_version`` the supported_versions one
    (RFC 8446 4.2.1) or the legacy field when absent; ``extensions`` in wire order."""

    version: int
    selected_version: int
    cipher: int
    extensions: tuple[int, ...]
    alpn: tuple[bytes, ...] = field(default=())


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise ValueError("truncated hello")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def vec(self, len_bytes: int) -> "_Reader":
        n = int.from_bytes(self.take(len_bytes), "big")
        r = _Reader(self.data, self.pos, self.pos + n)
        if r.end > self.end:
            raise ValueError("truncated hello")
        self.pos += n
        return r

    def left(self) -> int:
        return self.end - self.pos

    def u16s(self) -> tuple[int, ...]:
        raw = self.take(self.left())
        return struct.unpack(f">{len(raw) // 2}H", raw[: len(raw) // 2 * 2])


def _alpn_list(r: _Reader) -> tuple[bytes, ...]:
    lst = r.vec(2)
    out = []
    while lst.left():
        out.append(_take_all(lst.vec(1)))
    return tuple(out)


def _take_all(r: _Reader) -> bytes:
    return r.take(r.left())


def parse_client_hello(body: bytes) -> ClientHello:
    """A ClientHello body (after the 4-byte handshake header); ValueError when malformed."""
    r = _Reader(body)
    version = r.u16()
    r.take(32)  # random
    r.vec(1)  # legacy_session_id
    ciphers = r.vec(2).u16s()
    r.vec(1)  # legacy_compression_methods
    exts: list[int] = []
    kw: dict = {}
    if r.left():
        ext_r = r.vec(2)
        while ext_r.left():
            etype = ext_r.u16()
            data = ext_r.vec(2)
            exts.append(etype)
            if etype == EXT_SERVER_NAME and "sni" not in kw:
                names = data.vec(2)
                while names.left():
                    ntype = names.u8()
                    name = _take_all(names.vec(2))
                    if ntype == 0:
                        kw["sni"] = name
                        break
            elif etype == EXT_ALPN:
                kw["alpn"] = _alpn_list(data)
            elif etype == EXT_SUPPORTED_VERSIONS:
                kw["supported_versions"] = data.vec(1).u16s()
            elif etype == EXT_SUPPORTED_GROUPS:
                kw["groups"] = data.vec(2).u16s()
            elif etype == EXT_EC_POINT_FORMATS:
                kw["point_formats"] = tuple(_take_all(data.vec(1)))
            elif etype == EXT_SIGNATURE_ALGORITHMS:
                kw["signature_algorithms"] = data.vec(2).u16s()
                kw["has_signature_algorithms"] = True
    return ClientHello(version=version, ciphers=ciphers, extensions=tuple(exts), **kw)


def parse_server_hello(body: bytes) -> ServerHello:
    r = _Reader(body)
    version = r.u16()
    r.take(32)
    r.vec(1)
    cipher = r.u16()
    r.u8()  # legacy_compression_method
    exts: list[int] = []
    selected = version
    alpn: tuple[bytes, ...] = ()
    if r.left():
        ext_r = r.vec(2)
        while ext_r.left():
            etype = ext_r.u16()
            data = ext_r.vec(2)
            exts.append(etype)
            if etype == EXT_SUPPORTED_VERSIONS and data.left() == 2:
                selected = data.u16()
            elif etype == EXT_ALPN:
                alpn = _alpn_list(data)
    return ServerHello(version=version, selected_version=selected, cipher=cipher,
                       extensions=tuple(exts), alpn=alpn)


def _dec(values) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(ch: ClientHello) -> str:
    return ",".join([str(ch.version), _dec(ch.ciphers), _dec(ch.extensions), _dec(ch.groups),
                     "-".join(str(v) for v in ch.point_formats)])


def ja3(ch: ClientHello) -> str:
    return hashlib.md5(ja3_string(ch).encode()).hexdigest()


def ja3s_string(sh: ServerHello) -> str:
    return ",".join([str(sh.version), str(sh.cipher), _dec(sh.extensions)])


def ja3s(sh: ServerHello) -> str:
    return hashlib.md5(ja3s_string(sh).encode()).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _alpn_chars(alpn: tuple[bytes, ...]) -> str:
    if not alpn or not alpn[0]:
        return "00"
    first, last = alpn[0][0], alpn[0][-1]
    if chr(first).isascii() and chr(first).isalnum() and chr(last).isascii() and chr(last).isalnum():
        return chr(first) + chr(last)
    h = alpn[0].hex()
    return h[0] + h[-1]


def _ja4_version(v: int) -> str:
    return _JA4_VERSIONS.get(v, "00")


def ja4_parts(ch: ClientHello) -> tuple[str, str, str]:
    """(a, b-raw, c-raw): the JA4 header and the two unhashed lists (JA4_r)."""
    versions = [v for v in ch.supported_versions if not is_grease(v)]
    version = max(versions) if versions else ch.version
    ciphers = [c for c in ch.ciphers if not is_grease(c)]
    exts = [e for e in ch.extensions if not is_grease(e)]
    a = (f"t{_ja4_version(version)}{'d' if EXT_SERVER_NAME in exts else 'i'}"
         f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{_alpn_chars(ch.alpn)}")
    b = ",".join(f"{c:04x}" for c in sorted(ciphers))
    c = ",".join(f"{e:04x}" for e in sorted(exts) if e not in (EXT_SERVER_NAME, EXT_ALPN))
    if ch.has_signature_algorithms:
        sig = [s for s in ch.signature_algorithms if not is_grease(s)]
        c += "_" + ",".join(f"{s:04x}" for s in sig)
    return a, b, c


def ja4(ch: ClientHello) -> str:
    a, b, c = ja4_parts(ch)
    return f"{a}_{_sha12(b) if b else '0' * 12}_{_sha12(c) if c else '0' * 12}"


def ja4_r(ch: ClientHello) -> str:
    return "_".join(ja4_parts(ch))


def ja4s(sh: ServerHello) -> str:
    exts = [e for e in sh.extensions if not is_grease(e)]
    a = f"t{_ja4_version(sh.selected_version)}{min(len(exts), 99):02d}{_alpn_chars(sh.alpn)}"
    c = ",".join(f"{e:04x}" for e in exts)
    return f"{a}_{sh.cipher:04x}_{_sha12(c) if c else '0' * 12}"


def _version_name(v: int) -> str:
    return VERSION_NAMES.get(v, f"0x{v:04x}")


@register_detector
class TLSDetector(Detector):
    protocol = "tls"
    max_bytes = MAX_HELLO_BYTES + 1024

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        return first[0] == CONTENT_HANDSHAKE and (len(first) < 2 or first[1] == 3)

    def __init__(self) -> None:
        super().__init__()
        self._records = {_CLIENT: bytearray(), _SERVER: bytearray()}
        self._handshake = {_CLIENT: bytearray(), _SERVER: bytearray()}

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        rec = self._records[direction]
        rec += data
        hs = self._handshake[direction]
        while self.wants(direction):
            if len(rec) >= 1 and rec[0] != CONTENT_HANDSHAKE:
                return self._give_up(direction)
            if len(rec) >= 2 and rec[1] != 3:
                return self._give_up(direction)
            if len(rec) < 5:
                return []
            length = rec[3] << 8 | rec[4]
            if length == 0 or length > 16384 + 2048:  # RFC 8446 5.1/5.2 record limits
                return self._give_up(direction)
            if len(rec) < 5 + length:
                return []
            hs += rec[5:5 + length]
            del rec[:5 + length]
            if len(hs) >= 4:
                want = int.from_bytes(hs[1:4], "big")
                if want > MAX_HELLO_BYTES:
                    return self._give_up(direction)
                if len(hs) >= 4 + want:
                    return self._hello(direction, hs[0], bytes(hs[4:4 + want]), ts_ns)
        return []

    def _give_up(self, direction: Direction) -> list[Banner]:
        self.stop(direction)
        self._records[direction].clear()
        self._handshake[direction].clear()
        return []

    def _hello(self, direction: Direction, htype: int, body: bytes, ts_ns: int) -> list[Banner]:
        self._give_up(direction)  # one hello per direction is all we read
        try:
            if direction is _CLIENT and htype == HANDSHAKE_CLIENT_HELLO:
                return [self._client_banner(parse_client_hello(body), ts_ns)]
            if direction is _SERVER and htype == HANDSHAKE_SERVER_HELLO:
                return [self._server_banner(parse_server_hello(body), ts_ns)]
        except (ValueError, struct.error):
            return []
        return []

    def _client_banner(self, ch: ClientHello, ts_ns: int) -> Banner:
        versions = [v for v in ch.supported_versions if not is_grease(v)] or [ch.version]
        attrs = [("versions", ",".join(_version_name(v) for v in versions))]
        if ch.sni is not None:
            attrs.append(("sni", ch.sni.decode("utf-8", "backslashreplace")))
        if ch.alpn:
            attrs.append(("alpn", ",".join(p.decode("utf-8", "backslashreplace") for p in ch.alpn)))
        attrs += [("ja3", ja3(ch)), ("ja3_full", ja3_string(ch)), ("ja4", ja4(ch)),
                  ("ja4_r", ja4_r(ch))]
        summary = " ".join(f"{k}={v}" for k, v in attrs if k in ("sni", "alpn", "versions",
                                                                  "ja3", "ja4"))
        return self.banner(role=_CLIENT, kind="tls-client-hello",
                           raw=summary.encode(), ts_ns=ts_ns, attrs=attrs)

    def _server_banner(self, sh: ServerHello, ts_ns: int) -> Banner:
        attrs = [("version", _version_name(sh.selected_version)), ("cipher", f"0x{sh.cipher:04x}")]
        if sh.alpn:
            attrs.append(("alpn", ",".join(p.decode("utf-8", "backslashreplace") for p in sh.alpn)))
        attrs += [("ja3s", ja3s(sh)), ("ja3s_full", ja3s_string(sh)), ("ja4s", ja4s(sh))]
        summary = " ".join(f"{k}={v}" for k, v in attrs if not k.endswith("_full"))
        return self.banner(role=_SERVER, kind="tls-server-hello",
                           raw=summary.encode(), ts_ns=ts_ns, attrs=attrs)
