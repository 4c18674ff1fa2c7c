"""NetFlow v1/v5/v9 and IPFIX export.

The encoders (`V1Encoder`, `V5Encoder`, `V9Encoder`, `IPFIXEncoder`) are sans-IO: records and
the export time in, datagrams out. `UDPExporter` is the I/O edge that sends each datagram to
every collector (IPv4 or IPv6).
"""

from __future__ import annotations

import socket

from .v5 import V1Encoder, V5Encoder
from .v9 import IPFIXEncoder, V9Encoder

__all__ = ["V1Encoder", "V5Encoder", "V9Encoder", "IPFIXEncoder", "UDPExporter", "make_encoder",
           "make_exporter", "parse_hostport"]


def parse_hostport(text: str, default_host: str | None = None) -> tuple[str, int]:
    """"host:port", "[v6addr]:port", "v6addr:port" is ambiguous and refused, "port" with a default host."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"bad address {text!r}: expected [ADDR]:PORT")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif text.isdigit() and default_host is not None:
        host, port = default_host, text
    else:
        raise ValueError(f"bad address {text!r}: expected HOST:PORT or [IPv6]:PORT")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in {text!r}")
    return host or (default_host or ""), int(port)


def make_encoder(version: int, *, source_id: int = 0, sampling_interval: int = 1,
                 template_refresh_packets: int = 20, bidirectional: bool = False, start_ns=None):
    if version == 1:
        return V1Encoder(start_ns=start_ns)
    if version == 5:
        return V5Encoder(start_ns=start_ns, engine_id=source_id & 0xFF, sampling_interval=sampling_interval)
    cls = {9: V9Encoder, 10: IPFIXEncoder}.get(version)
    if cls is None:
        raise ValueError(f"unsupported export version {version} (1, 5, 9 or 10)")
    return cls(start_ns=start_ns, source_id=source_id, sampling_interval=sampling_interval,
               template_refresh_packets=template_refresh_packets, bidirectional=bidirectional)


class UDPExporter:
    """Sends an encoder's datagrams to one or more collectors."""

    def __init__(self, encoder, targets: list[tuple[str, int]]):
        self.encoder = encoder
        self.targets = []
        self._socks: dict[int, socket.socket] = {}
        for host, port in targets:
            fam, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            if fam not in self._socks:
                s = socket.socket(fam, socket.SOCK_DGRAM)
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                except OSError:
                    pass
                self._socks[fam] = s
            self.targets.append((fam, addr))
        self.datagrams_sent = 0
        self.send_errors = 0

    @property
    def clock(self):
        return self.encoder.clock

    def export(self, records, now_ns: int | None = None) -> int:
        """Encodes FlowRecords and sends them; returns the number of datagrams made."""
        return self.export_rows([r.row for r in records], now_ns)

    def export_rows(self, rows, now_ns: int | None = None) -> int:
        """Encodes meter rows (RECORD_FIELDS layout) and sends them."""
        return self._send(self.encoder.encode_rows(rows, now_ns))

    def export_packed(self, packed, now_ns: int | None = None) -> int:
        """Sends FlowMeter's packed output (laid out by `encoder.layouts()`)."""
        return self._send(self.encoder.encode_packed(packed, now_ns))

    def _send(self, dgrams) -> int:
        for d in dgrams:
            for fam, addr in self.targets:
                try:
                    self._socks[fam].sendto(d, addr)
                except OSError:
                    # A collector that is down (ICMP port unreachable) must not stop metering.
                    self.send_errors += 1
            self.datagrams_sent += 1
        return len(dgrams)

    def close(self) -> None:
        for s in self._socks.values():
            s.close()
        self._socks.clear()


def make_exporter(version: int, targets, **kw) -> UDPExporter:
    return UDPExporter(make_encoder(version, **kw), targets)
