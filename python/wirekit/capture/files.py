"""Reading capture files: classic pcap and pcapng, framed in Rust in batches.

The file is read in chunks at this edge; `wirekit._core.Framer` (sans-IO) turns each chunk
into a batch of records. A file that stops making sense raises CaptureFileError *after*
every good packet before the bad spot has been yielded, with the byte offset and record
number where it stopped.
"""

from __future__ import annotations

import enum
import io
import os
import sys
from typing import BinaryIO, Iterator

from .._core import Batch, Framer, Packet
from ..errors import CaptureFileError, CaptureTruncatedError

__all__ = ["CaptureFile", "open_capture", "RecordFlags"]

#: Bytes read per chunk. Large enough that the per-batch Python overhead vanishes, small
#: enough that memory stays flat whatever the file size.
DEFAULT_CHUNK_SIZE = 1 << 20


class RecordFlags(enum.IntFlag):
    TS_FRACTION_INVALID = 1
    CAPLEN_OVER_SNAPLEN = 2
    TS_OUT_OF_RANGE = 4  # pcapng timestamp beyond i64 nanoseconds: ts_ns saturated


class CaptureFile:
    """A pcap or pcapng file (or pipe) as a stream of packets.

    Iterate it for Packet objects, or call `batches()` for the batch API. The format is
    detected from the magic number. `path` may be "-" for standard input or an open binary
    file object.
    """

    def __init__(self, path: str | os.PathLike | BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE):
        if hasattr(path, "read"):
            self._file: BinaryIO = path  # type: ignore[assignment]
            self.path = getattr(path, "name", None)
            self._owns = False
        elif str(path) == "-":
            self._file = sys.stdin.buffer
            self.path = "-"
            self._owns = False
        else:
            self.path = os.fspath(path)
            self._file = open(self.path, "rb", buffering=0)
            self._owns = True
        self.chunk_size = chunk_size
        self._framer = Framer()
        self._started = False
        #: Bytes read from the file so far (for progress reporting).
        self.bytes_read = 0
        try:
            self.size: int | None = os.fstat(self._file.fileno()).st_size or None
        except (OSError, io.UnsupportedOperation, AttributeError):
            self.size = None
        # Read the header now so that format and link type are known before iteration, and a
        # non-capture file fails at open time.
        self._pending: list[Batch] = []
        self._leftover = b""
        self._readinto = hasattr(self._file, "readinto")
        self._eof = False
        self._error: CaptureFileError | None = None
        self._prime()

    # -- metadata -----------------------------------------------------------------------
    @property
    def info(self) -> dict:
        """Format ("pcap"/"pcapng"), the pcap global header, pcapng interfaces so far."""
        return self._framer.info()

    @property
    def format(self) -> str | None:
        return self.info["format"]

    @property
    def linktype(self) -> int | None:
        """Link type of a classic pcap, or of the first pcapng interface."""
        info = self.info
        if info.get("pcap_header"):
            return info["pcap_header"]["linktype_field"] & 0xFFFF
        if info["interfaces"]:
            return info["interfaces"][0]["linktype"]
        return None

    @property
    def packets_read(self) -> int:
        return self._framer.records

    # -- reading ------------------------------------------------------------------------
    def _read_chunk(self) -> bytes:
        chunk = self._file.read(self.chunk_size)
        if chunk:
            self.bytes_read += len(chunk)
        return chunk or b""

    def _fail(self, err: tuple) -> CaptureFileError:
        kind, offset, record, message = err
        cls = CaptureTruncatedError if kind == "truncated" else CaptureFileError
        return cls(message + f" at byte offset {offset} (packet record {record})",
                   path=self.path, offset=offset, record=record, kind=kind)

    def _step(self) -> Batch | None:
        """Reads and frames one chunk. None at the end of input (error set if any)."""
        if self._readinto:
            return self._step_into()
        while True:
            chunk = self._read_chunk()
            if not chunk:
                self._eof = True
                err = self._framer.finish(self._leftover)
                if err is not None:
                    self._error = self._fail(err)
                self._leftover = b""
                return None
            buf = self._leftover + chunk if self._leftover else chunk
            consumed, batch, err = self._framer.frame(buf)
            self._leftover = buf[consumed:]
            if err is not None:
                self._eof = True
                self._error = self._fail(err)
                return batch if len(batch) else None
            if len(batch):
                return batch
            # A record longer than what we hold: keep reading (the framer caps its size).

    def _step_into(self) -> Batch | None:
        """`_step` for files with readinto: the framer reads each chunk straight into the
        batch's buffer (one copy of the file's bytes instead of three)."""
        while True:
            batch, n, err = self._framer.read_frame(self._file, self.chunk_size)
            self.bytes_read += n
            if err is not None:
                self._eof = True
                self._error = self._fail(err)
                return batch if len(batch) else None
            if n == 0:
                self._eof = True
                err = self._framer.finish_pending()
                if err is not None:
                    self._error = self._fail(err)
                return batch if len(batch) else None
            if len(batch):
                return batch
            # A record longer than what we hold: keep reading (the framer caps its size).

    def _prime(self) -> None:
        while not self._eof and self.format is None:
            b = self._step()
            if b is not None:
                self._pending.append(b)
        if self._error is not None and self._error.kind == "bad_magic":
            self.close()
            raise self._error

    def batches(self) -> Iterator[Batch]:
        """Yields Batch objects (the batch API); raises CaptureFileError at a bad spot."""
        if self._started:
            raise RuntimeError("a CaptureFile can be iterated once")
        self._started = True
        try:
            while self._pending:
                yield self._pending.pop(0)
            while not self._eof:
                b = self._step()
                if b is not None:
                    yield b
            if self._error is not None:
                raise self._error
        finally:
            self.close()

    def __iter__(self) -> Iterator[Packet]:
        for batch in self.batches():
            yield from batch.packets()

    def close(self) -> None:
        if self._owns and not self._file.closed:
            self._file.close()

    def __enter__(self) -> "CaptureFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CaptureFile {self.path!r} format={self.format} linktype={self.linktype}>"


def open_capture(path: str | os.PathLike | BinaryIO, **kw) -> CaptureFile:
    """Opens a pcap or pcapng file (or "-" for stdin) for reading."""
    return CaptureFile(path, **kw)
