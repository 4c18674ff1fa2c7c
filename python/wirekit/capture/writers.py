"""Writing capture files: classic pcap and pcapng.

Writing happens at the edge in Python; a record is one struct.pack and one write, batched
through a buffered file. Given the header of a file that was read (`CaptureFile.info`), the
pcap writer reproduces it exactly, so read-then-write round-trips byte for byte.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import BinaryIO, Iterable

from .._core import Packet
from ..errors import BuildError

__all__ = ["PcapWriter", "PcapngWriter"]

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D


def _open_out(path) -> tuple[BinaryIO, bool, str | None]:
    if hasattr(path, "write"):
        return path, False, getattr(path, "name", None)
    if str(path) == "-":
        return sys.stdout.buffer, False, "-"
    p = os.fspath(path)
    return open(p, "wb"), True, p


class _Writer:
    _file: BinaryIO
    _owns: bool

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
        finally:
            if self._owns:
                self._file.close()
            self._file = None  # type: ignore[assignment]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write_all(self, packets: Iterable[Packet]) -> int:
        n = 0
        for p in packets:
            self.write(p)
            n += 1
        return n


class PcapWriter(_Writer):
    """Writes a classic pcap file.

    `header` takes a pcap header dict as `CaptureFile.info["pcap_header"]` gives it, to
    reproduce a file's header exactly; otherwise a little-endian header with the given
    link type, snaplen and resolution (nanoseconds by default: ts_ns loses nothing).
    """

    def __init__(self, path, *, linktype: int = 1, snaplen: int = 262144, nanosecond: bool = True,
                 header: dict | None = None):
        h = dict(big_endian=False, nanosecond=nanosecond, version_major=2, version_minor=4,
                 thiszone=0, sigfigs=0, snaplen=snaplen, linktype_field=linktype)
        if header:
            h.update(header)
        self.header = h
        self.linktype = h["linktype_field"] & 0xFFFF
        self._endian = ">" if h["big_endian"] else "<"
        self._nanos = bool(h["nanosecond"])
        self._rec = struct.Struct(self._endian + "IIII")
        self._file, self._owns, self.path = _open_out(path)
        magic = _PCAP_MAGIC_NS if self._nanos else _PCAP_MAGIC_US
        self._file.write(struct.pack(self._endian + "IHHiIII", magic, h["version_major"], h["version_minor"],
                                     h["thiszone"], h["sigfigs"], h["snaplen"], h["linktype_field"]))
        self.packets_written = 0

    def write(self, pkt: Packet | None = None, *, data: bytes | None = None, ts_ns: int | None = None,
              wire_len: int | None = None) -> None:
        """Writes a Packet, or raw `data` with `ts_ns` and optional `wire_len`."""
        if pkt is not None:
            data, ts_ns, wire_len = pkt.data, pkt.ts_ns, pkt.wire_len
        if data is None or ts_ns is None:
            raise BuildError("PcapWriter.write needs a Packet or data= and ts_ns=")
        if pkt is not None and pkt.linktype != self.linktype:
            raise BuildError(f"packet link type {pkt.linktype} differs from the file's {self.linktype}; "
                             "classic pcap holds one link type (use PcapngWriter)")
        sec, ns = divmod(ts_ns, 1_000_000_000)
        frac = ns if self._nanos else ns // 1000
        caplen = len(data)
        if wire_len is None:
            wire_len = caplen
        try:
            self._file.write(self._rec.pack(sec, frac, caplen, wire_len))
        except struct.error as e:
            raise BuildError(f"timestamp or length out of range for pcap: {e}") from None
        self._file.write(data)
        self.packets_written += 1


class PcapngWriter(_Writer):
    """Writes a pcapng file: one section, interfaces declared as they are first needed.

    `interfaces` takes the list `CaptureFile.info["interfaces"]` gives, to keep a source
    file's interfaces (and their numbering); otherwise an interface is declared per link type
    the first time a packet of that type is written. Timestamps are written with nanosecond
    resolution unless an interface says otherwise.
    """

    def __init__(self, path, *, interfaces: list[dict] | None = None, shb_options: bytes = b""):
        self._file, self._owns, self.path = _open_out(path)
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_options
        self._block(0x0A0D0D0A, body)
        self._iface_by_key: dict = {}
        self._iface_resol: list[int] = []
        self._src_map: dict[int, int] | None = None
        if interfaces is not None:
            self._src_map = {}
            for i, iface in enumerate(interfaces):
                self._src_map[i] = self.add_interface(iface["linktype"], snaplen=iface.get("snaplen", 0),
                                                      tsresol=iface.get("tsresol", 9), name=iface.get("name"))
        self.packets_written = 0

    def _block(self, btype: int, body: bytes) -> None:
        pad = (-len(body)) % 4
        total = 12 + len(body) + pad
        self._file.write(struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total))

    @staticmethod
    def _option(code: int, value: bytes) -> bytes:
        return struct.pack("<HH", code, len(value)) + value + b"\0" * ((-len(value)) % 4)

    def add_interface(self, linktype: int, *, snaplen: int = 0, tsresol: int = 9, name: str | None = None) -> int:
        """Declares an interface; returns its id (the number EPBs refer to)."""
        opts = b""
        if name:
            opts += self._option(2, name.encode())
        if tsresol != 6:
            opts += self._option(9, bytes([tsresol]))
        if opts:
            opts += self._option(0, b"")
        self._block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts)
        self._iface_resol.append(tsresol)
        return len(self._iface_resol) - 1

    def _ticks(self, ts_ns: int, iface: int) -> int:
        r = self._iface_resol[iface]
        if r & 0x80:
            return (ts_ns << (r & 0x7F)) // 1_000_000_000
        if r <= 9:
            return ts_ns // 10 ** (9 - r)
        return ts_ns * 10 ** (r - 9)

    def write(self, pkt: Packet | None = None, *, data: bytes | None = None, ts_ns: int | None = None,
              wire_len: int | None = None, linktype: int = 1, interface_id: int | None = None) -> None:
        """Writes a Packet (or raw data) as an Enhanced Packet Block."""
        if pkt is not None:
            data, ts_ns, wire_len, linktype = pkt.data, pkt.ts_ns, pkt.wire_len, pkt.linktype
            if self._src_map is not None and interface_id is None:
                interface_id = self._src_map.get(pkt.interface_id)
        if data is None or ts_ns is None:
            raise BuildError("PcapngWriter.write needs a Packet or data= and ts_ns=")
        if interface_id is None:
            interface_id = self._iface_by_key.get(linktype)
            if interface_id is None:
                interface_id = self._iface_by_key[linktype] = self.add_interface(linktype)
        ticks = self._ticks(ts_ns, interface_id)
        if wire_len is None:
            wire_len = len(data)
        self._block(6, struct.pack("<IIIII", interface_id, (ticks >> 32) & 0xFFFFFFFF, ticks & 0xFFFFFFFF,
                                   len(data), wire_len) + data)
        self.packets_written += 1
