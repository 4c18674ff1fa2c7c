"""Passive service and client version detection on reassembled TCP streams.

Detectors read the first bytes of both directions of a stream, by content (never by
port), and report Banner events: SSH identification strings, HTTP Server/User-Agent and
friends, SMTP/FTP/POP3/IMAP greetings, the MySQL server version, TLS hellos with JA3/JA4,
and the first printable line of anything else. Add your own with ``register_detector``
(see ``wirekit.banners.base`` for the interface).

    from wirekit.banners import scan_capture
    for banner in scan_capture("trace.pcap"):          # reassembly + detection
        print(banner.role.value, banner.addr, banner.port, banner.software, banner.text)

    from wirekit.banners import BannerEngine, Direction  # the sans-IO engine alone
    engine = BannerEngine()
    engine.open_stream(key, client=("10.0.0.1", 40000), server=("10.0.0.2", 22))
    for banner in engine.feed(key, Direction.SERVER, data, ts_ns):
        print(banner.addr, banner.port, banner.software)
"""

from __future__ import annotations

from .base import (
    DETECTORS,
    Banner,
    Detector,
    Direction,
    LineDetector,
    decode_text,
    register_detector,
    unregister_detector,
)
from .version import Software, find_product, parse_user_agent, parse_version
from .terminal import escape_for_terminal

# Registration order is attachment order; the generic fallback goes last.
from .ssh import SSHDetector
from .http import HTTPDetector
from .mail import FTPDetector, IMAPDetector, POP3Detector, SMTPDetector
from .mysql import MySQLDetector
from .tls import TLSDetector
from .generic import FirstLineDetector
from .engine import BannerEngine
from .streams import BannerScanner, scan_capture

__all__ = [
    "DETECTORS",
    "Banner",
    "BannerEngine",
    "BannerScanner",
    "Detector",
    "Direction",
    "FTPDetector",
    "FirstLineDetector",
    "HTTPDetector",
    "IMAPDetector",
    "LineDetector",
    "MySQLDetector",
    "POP3Detector",
    "SMTPDetector",
    "SSHDetector",
    "Software",
    "TLSDetector",
    "decode_text",
    "escape_for_terminal",
    "find_product",
    "parse_user_agent",
    "parse_version",
    "register_detector",
    "scan_capture",
    "unregister_detector",
]
