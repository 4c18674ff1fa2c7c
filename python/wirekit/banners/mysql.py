"""MySQL/MariaDB: the server's initial handshake packet carries its version string.

Wire format (MySQL client/server protocol, "Protocol::HandshakeV10"): a packet header of
3 bytes little-endian payload length and 1 byte sequence id (0 for the greeting), then the
payload: protocol version (1 byte, 10; 9 for servers older than 3.21), the server version
as a NUL-terminated string, a 4-byte connection id, ... Only the server speaks first, so
the client side is never read. MariaDB 10+ prefixes its version with "5.5.5-" for old
clients' sake ("5.5.5-10.11.6-MariaDB-0+deb12u1"); the prefix is dropped when parsing.
"""

from __future__ import annotations

import re

from .base import _CLIENT, _SERVER, Banner, Detector, Direction, register_detector
from .version import Software, parse_version

__all__ = ["MySQLDetector", "parse_mysql_version"]

_VERSION = re.compile(rb"^\d+\.\d+[\x20-\x7e]*$")


def parse_mysql_version(version: str) -> Software | None:
    s = version
    name = "MySQL"
    if s.startswith("5.5.5-") and "MariaDB" in s:
        s = s[len("5.5.5-"):]
    if "MariaDB" in s:
        name = "MariaDB"
    sw = parse_version(f"{name}/{s}")
    if sw is None:
        return None
    return Software(name=name, major=sw.major, minor=sw.minor, minor2=sw.minor2,
                    minor3=sw.minor3, addl=sw.addl, unparsed=version)


@register_detector
class MySQLDetector(Detector):
    protocol = "mysql"
    max_bytes = 512

    @classmethod
    def accepts(cls, direction: Direction, first: bytes) -> bool:
        # 3-byte length, sequence id 0, protocol version 10 (or 9)
        return direction is _SERVER and (
            len(first) < 5 or (first[3] == 0 and first[4] in (9, 10)))

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()

    def feed(self, direction: Direction, data: bytes, ts_ns: int) -> list[Banner]:
        if direction is _CLIENT:
            self.stop(direction)  # the client talks second; its first bytes answer us
            return []
        buf = self._buf
        buf += data
        # Header sanity: a greeting is 30..~1000 bytes, sequence 0, protocol 9 or 10.
        if len(buf) >= 4:
            length = buf[0] | buf[1] << 8 | buf[2] << 16
            if not (20 <= length <= 4096) or buf[3] != 0:
                return self._give_up()
        if len(buf) >= 5 and buf[4] not in (9, 10):
            return self._give_up()
        nul = buf.find(b"\0", 5)
        if nul < 0:
            if len(buf) > 5 + 80:
                return self._give_up()
            return []
        version = bytes(buf[5:nul])
        self.stop()
        buf.clear()
        if not _VERSION.match(version):
            return []
        sw = parse_mysql_version(version.decode("ascii"))
        return [self.banner(role=_SERVER, kind="mysql-version", raw=version,
                            ts_ns=ts_ns, software=sw)]

    def _give_up(self) -> list[Banner]:
        self.stop()
        self._buf.clear()
        return []
