"""Glue shared by the command-line tools: packet sources, filters, progress, output.

Every tool reads packets the same way (`-r FILE` or `-i IFACE`, a trailing BPF expression),
reports errors the same way (one line on stderr, tool name first, exit status 1; 2 for usage
and filter errors, as tcpdump does) and shows progress only when a person is watching.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Iterator

from ..errors import FilterError, WirekitError

__all__ = [
    "add_source_arguments",
    "filter_expression",
    "open_source",
    "Progress",
    "fail",
    "escape_for_terminal",
]


def add_source_arguments(p: argparse.ArgumentParser, *, live: bool = True, filter_arg: bool = True) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("-r", dest="read", metavar="FILE",
                     help="read packets from a pcap or pcapng FILE ('-' for standard input)")
    if live:
        src.add_argument("-i", dest="interface", metavar="IFACE", action="append",
                         help="capture live on IFACE (repeat for several; 'any' for all)")
    if filter_arg:
        p.add_argument("filter", nargs=argparse.REMAINDER, metavar="EXPRESSION",
                       help="a tcpdump (BPF) filter expression, e.g. 'tcp port 80 and host 10.0.0.1'")


def filter_expression(args: argparse.Namespace) -> str | None:
    words = getattr(args, "filter", None) or []
    expr = " ".join(words).strip()
    return expr or None


def fail(tool: str, message: str, status: int = 1) -> int:
    print(f"wirekit {tool}: {message}", file=sys.stderr)
    return status


def compile_filter(expr: str | None, linktype: int, snaplen: int = 262144):
    """Compiles a BPF expression with libpcap's compiler; None when there is none."""
    if not expr:
        return None
    try:
        from ..capture import bpf
    except ImportError as e:  # pragma: no cover - only on a build without the live layer
        raise FilterError(f"BPF filters are not available in this build: {e}") from None
    return bpf.compile(expr, linktype=linktype, snaplen=snaplen)


def open_source(args: argparse.Namespace, *, snaplen: int = 262144, promisc: bool = True):
    """Opens -r FILE or -i IFACE with the trailing filter; returns (source, program)."""
    expr = filter_expression(args)
    if getattr(args, "read", None):
        from ..capture.files import CaptureFile

        source = CaptureFile(args.read)
        program = compile_filter(expr, source.linktype or 1, snaplen)
        return source, program
    from ..capture import live

    source = live.open_live(args.interface if len(args.interface) > 1 else args.interface[0],
                            filter=expr, snaplen=snaplen, promisc=promisc)
    return source, None  # the kernel filters live captures


def filtered_batches(source, program) -> Iterator:
    """Batches from `source`, with the userland filter applied when there is one."""
    for batch in source.batches():
        if program is not None:
            batch = program.filter_batch(batch)
            if not len(batch):
                continue
        yield batch


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal and stdout is not
    (so it never mixes with output a person reads, and pipes and logs stay clean)."""

    def __init__(self, source, *, enabled: bool | None = None):
        self.source = source
        total = getattr(source, "size", None)
        if enabled is None:
            enabled = sys.stderr.isatty() and not sys.stdout.isatty() and bool(total)
        self.enabled = enabled
        self.total = total
        self._last = 0.0
        self.start = time.monotonic()

    def update(self, packets: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        done = getattr(self.source, "bytes_read", 0)
        frac = min(done / self.total, 1.0) if self.total else 0.0
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = packets / max(now - self.start, 1e-9)
        sys.stderr.write(f"\r[{bar}] {frac*100:5.1f}%  {packets} packets  {rate/1000:.0f}k pkt/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


_CONTROL = {i: f"\\x{i:02x}" for i in list(range(0x20)) + [0x7F]}
_CONTROL.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x5C: "\\\\"})
_C1 = {i: f"\\u{i:04x}" for i in range(0x80, 0xA0)}


def escape_for_terminal(text: str | bytes) -> str:
    """Text from the wire made safe for a terminal: control characters (C0, DEL, C1, so ANSI
    escape sequences too) become visible escapes; everything else stays as it is."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    return text.translate(_CONTROL).translate(_C1)


def is_wirekit_error(e: BaseException) -> bool:
    return isinstance(e, (WirekitError, OSError))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "no")
