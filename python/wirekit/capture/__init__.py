"""Packet sources and sinks: capture files (pcap, pcapng) and, later, live interfaces."""

from __future__ import annotations

from .files import CaptureFile, open_capture, RecordFlags
from .writers import PcapWriter, PcapngWriter
from .linktype import LinkType

__all__ = ["CaptureFile", "open_capture", "RecordFlags", "PcapWriter", "PcapngWriter", "LinkType"]
