"""tcpdump filter expressions: compiled by libpcap, run in the kernel or here.

    prog = wirekit.capture.bpf.compile("tcp port 80 and host 10.0.0.1", linktype=1)
    prog.instructions            # [(code, jt, jf, k), ...] as `tcpdump -dd` prints them
    prog.attach(sock.fileno())   # the kernel filters this socket (SO_ATTACH_FILTER)
    for batch in wirekit.open("x.pcap").batches():
        hits = prog.filter_batch(batch)      # userland: same packets as `tcpdump -r x.pcap EXPR`

libpcap is the reference for filter syntax and semantics, so its own compiler is used
(loaded at run time from libpcap.so.0.8, Debian's libpcap0.8, through ctypes:
pcap_open_dead + pcap_compile + pcap_geterr). The resulting classic BPF program runs in the
kernel for live capture and in wirekit's Rust interpreter (crates/wirekit-live/src/bpf.rs,
one call per batch) for files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Iterable

from .._core import Batch, BpfProgram as _CoreProgram, Packet
from ..errors import FilterError

__all__ = ["BpfProgram", "compile", "libpcap_version", "DEFAULT_SNAPLEN"]

DEFAULT_SNAPLEN = 262144
#: pcap_compile's netmask when unknown (the "broadcast" primitive then fails to compile).
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF

#: LINKTYPE_* values (files, wirekit) that differ from the DLT_* value libpcap's compiler
#: takes on Linux (libpcap's linktype_to_dlt()); every other value is the same in both.
LINKTYPE_TO_DLT = {100: 11, 101: 12, 102: 15, 103: 16}

_LIB_NAMES = ("libpcap.so.0.8", "libpcap.so.1", "libpcap.so")


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


_lib = None
_lib_lock = threading.Lock()  # pcap_compile's parser is not reentrant in every libpcap


def _libpcap():
    global _lib
    if _lib is not None:
        return _lib
    names = list(_LIB_NAMES)
    found = ctypes.util.find_library("pcap")
    if found:
        names.append(found)
    errors = []
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise FilterError(
            "BPF filters need libpcap's compiler, and no libpcap could be loaded "
            f"(tried {', '.join(names)}). Install libpcap (Debian: apt-get install libpcap0.8)."
        )
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.restype = None
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
    lib.pcap_close.restype = None
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_lib_version.restype = ctypes.c_char_p
    _lib = lib
    return lib


def libpcap_version() -> str:
    """libpcap's version string (the compiler in use)."""
    return _libpcap().pcap_lib_version().decode()


class BpfProgram:
    """A compiled filter: instructions plus where it runs (kernel socket or a batch here)."""

    __slots__ = ("expr", "linktype", "snaplen", "_prog")

    def __init__(self, instructions: Iterable[tuple[int, int, int, int]], *, expr: str = "",
                 linktype: int = 1, snaplen: int = DEFAULT_SNAPLEN):
        self.expr = expr
        self.linktype = linktype
        self.snaplen = snaplen
        self._prog = _CoreProgram([tuple(i) for i in instructions])

    @property
    def instructions(self) -> list[tuple[int, int, int, int]]:
        """(code, jt, jf, k) per instruction, as `tcpdump -dd` prints them."""
        return self._prog.instructions

    def attach(self, sock_fd: int) -> None:
        """Attaches the program to a socket (an int fd or an object with fileno())."""
        fd = sock_fd if isinstance(sock_fd, int) else sock_fd.fileno()
        self._prog.attach(fd)

    def filter_batch(self, batch: Batch) -> Batch:
        """The batch's records the filter accepts (a new Batch sharing the buffer)."""
        return self._prog.filter_batch(batch)

    def match_batch(self, batch: Batch) -> bytes:
        """One byte per record: 1 when accepted."""
        return self._prog.match_batch(batch)

    def run(self, data: bytes, wire_len: int | None = None) -> int:
        """Snapshot length the filter returns for these bytes (0 = rejected)."""
        return self._prog.run(data, wire_len)

    def matches(self, pkt: Packet) -> bool:
        return self._prog.run(pkt.data, pkt.wire_len) != 0

    def __len__(self) -> int:
        return len(self._prog)

    def __repr__(self) -> str:
        return f"<BpfProgram {self.expr!r} linktype={self.linktype} insns={len(self)}>"


def compile(expr: str, linktype: int = 1, snaplen: int = DEFAULT_SNAPLEN, *, optimize: bool = True,
            netmask: int = PCAP_NETMASK_UNKNOWN) -> BpfProgram:  # noqa: A001 - as re.compile
    """Compiles a tcpdump filter expression for `linktype` (a LINKTYPE_* value) with libpcap.

    Raises FilterError carrying libpcap's message when the expression does not compile.
    An empty expression accepts everything (as tcpdump with no filter).
    """
    lib = _libpcap()
    with _lib_lock:
        dlt = LINKTYPE_TO_DLT.get(int(linktype), int(linktype))
        handle = lib.pcap_open_dead(dlt, int(snaplen))
        if not handle:
            raise FilterError(f"libpcap cannot open a dead handle for link type {linktype}")
        try:
            prog = _BpfProgram()
            rc = lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1 if optimize else 0, netmask)
            if rc != 0:
                msg = (lib.pcap_geterr(handle) or b"syntax error").decode(errors="replace")
                raise FilterError(f"{msg}")
            try:
                insns = [(prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf, prog.bf_insns[i].k)
                         for i in range(prog.bf_len)]
            finally:
                lib.pcap_freecode(ctypes.byref(prog))
        finally:
            lib.pcap_close(handle)
    return BpfProgram(insns, expr=expr, linktype=linktype, snaplen=snaplen)
