"""Type stubs for `wirekit._core`, the compiled module (crates/wirekit-py).

Private: the public API is `wirekit` and its subpackages, which wrap these classes. Every
pyclass and function registered in crates/wirekit-py/src/*.rs is listed here (a test checks
that the names match both ways). Times are integer nanoseconds; addresses are bytes (4 or 16).
"""

from __future__ import annotations

import array
from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from typing import Any, Literal, final

from typing_extensions import Self

__version__: str

#: bit -> stable anomaly code of the Rust decoder (see `wirekit.anomalies`).
DECODE_ANOMALY_CODES: dict[int, str]
#: Most VLAN tags the decoder walks.
MAX_VLAN_TAGS: int

#: (code, jt, jf, k): one classic BPF instruction as libpcap's compiler produces it.
_BpfInsn = tuple[int, int, int, int]
#: Framing error: (kind: "bad_magic" | "corrupt" | "truncated", file offset, record number, message).
_FrameErrorTuple = tuple[str, int, int, str]
#: (src, dst, src_port, dst_port, proto); addresses as bytes (4 or 16).
_FlowKey = tuple[bytes, bytes, int, int, int]
#: Defragmenter event: (ts_ns, code, cap, ip_version, src, dst, ip_id, proto, frag_offset,
#: byte_count, count).
_DefragEventTuple = tuple[int, str, str | None, int, bytes, bytes, int, int, int, int, int]
#: TcpPipeline event: (kind, conn_id, dir, offset, len, payload, ts_ns, flags, anomaly,
#: ip_version, client addr, client port, server addr, server port); kind 0 opened, 1 data,
#: 2 gap, 3 closed, 4 reset, 5 timed out, 6 end of input, 7 anomaly, 8 udp, 9 ip.
_TcpEventTuple = tuple[int, int, int, int, int, bytes | None, int, int, str | None, int, bytes, int, bytes, int]
#: A flow record as a plain tuple (fields: `wirekit.flow.record.RECORD_FIELDS`).
_FlowRecordTuple = tuple[Any, ...]
#: Packed flow output: (n4, records4, n6, records6, first_ns or None, last_ns or None).
_PackedFlows = tuple[int, bytes, int, bytes, int | None, int | None]

# -- capture.rs --------------------------------------------------------------------------

@final
class Packet:
    """One captured packet: timestamp, bytes, wire length, link type, interface."""

    @property
    def ts_ns(self) -> int:
        """Capture time, integer nanoseconds since the Unix epoch."""
    @property
    def data(self) -> bytes:
        """The captured bytes (`caplen` of them), starting at the link-layer header."""
    @property
    def wire_len(self) -> int:
        """Length of the packet on the wire, in bytes (>= caplen)."""
    @property
    def linktype(self) -> int:
        """LINKTYPE_* value of `data`'s first header."""
    @property
    def interface_id(self) -> int:
        """pcapng interface number, live capture ifindex, 0 for classic pcap."""
    @property
    def flags(self) -> int:
        """Record flags from the framer (see wirekit.capture.RecordFlags)."""
    @property
    def caplen(self) -> int:
        """Number of captured bytes (len(data))."""
    def __new__(
        cls,
        data: bytes,
        ts_ns: int = 0,
        linktype: int = 1,
        wire_len: int | None = None,
        interface_id: int = 0,
        flags: int = 0,
    ) -> Self:
        """A packet from bytes; `wire_len` defaults to len(data)."""
    def decode(self) -> Any:
        """Decodes the packet into layer objects (`wirekit.wire.decode.decode_packet`)."""
    def flow_key(self, packed: bool = False) -> _FlowKey | bytes | None:
        """The 5-tuple (or with `packed`, 13/37 bytes); None when not IP."""
    def summary(self, verify_checksums: bool = False) -> Summary:
        """The Rust decode summary of this packet."""
    def __len__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class Batch:
    """A batch of framed records sharing one buffer; bytes are copied out only when asked."""

    def __len__(self) -> int: ...
    def packets(self) -> list[Packet]:
        """The batch as a list of Packet objects."""
    def ts_ns(self) -> list[int]:
        """Timestamps (ns) of every record, in order."""
    def wire_lens(self) -> list[int]:
        """Wire lengths of every record."""
    def linktypes(self) -> list[int]:
        """Link types of every record."""
    def file_offsets(self) -> list[int]:
        """Absolute file offsets of every record header."""
    def data(self, i: int) -> bytes:
        """The bytes of record `i` (IndexError when out of range)."""
    def flow_keys(self, packed: bool = False) -> list[_FlowKey | bytes | None]:
        """The 5-tuple of every packet (None when not IP), or packed bytes keys."""
    def summaries(self, verify_checksums: bool = False) -> dict[str, array.array[int] | bytes]:
        """Every decoded field as a column: name -> array.array; src/dst as 16 bytes each."""
    def summary(self, i: int, verify_checksums: bool = False) -> Summary:
        """The decoded summary of packet `i`."""

@final
class Framer:
    """Sans-IO pcap/pcapng framer: feed it buffers, get batches of records."""

    def __new__(cls) -> Self: ...
    def frame(self, buf: bytes, max_records: int = ...) -> tuple[int, Batch, _FrameErrorTuple | None]:
        """Frames up to `max_records` records: (consumed, batch, error or None)."""
    def finish(self, leftover: bytes) -> _FrameErrorTuple | None:
        """End of input: None when the file ended cleanly, else the error tuple."""
    def read_frame(
        self, file: Any, chunk_size: int, max_records: int = ...
    ) -> tuple[Batch, int, _FrameErrorTuple | None]:
        """Reads a chunk from `file` (readinto) after the unframed rest and frames it:
        (batch, bytes read, error or None); 0 bytes read is the end of input."""
    def finish_pending(self) -> _FrameErrorTuple | None:
        """`finish` after `read_frame`, with the bytes it left unframed."""
    @property
    def offset(self) -> int:
        """Absolute offset of the next unconsumed byte."""
    @property
    def records(self) -> int:
        """Packet records framed so far."""
    def info(self) -> dict[str, Any]:
        """What the file said about itself so far: format, pcap header, pcapng interfaces."""

# -- decode.rs ---------------------------------------------------------------------------

@final
class Summary:
    """One decoded packet (wirekit_core::decode::Summary); offsets and lengths in bytes."""

    l3_offset: int
    ethertype: int
    vlan_count: int
    vlan_outer: int
    vlan_inner: int
    ip_version: int
    proto: int
    ttl: int
    tos: int
    ip_len: int
    ip_header_len: int
    ip_id: int
    frag_offset: int
    more_fragments: bool
    dont_fragment: bool
    is_fragment: bool
    frag_header_offset: int
    l4_offset: int
    src_port: int
    dst_port: int
    tcp_seq: int
    tcp_ack: int
    tcp_flags: int
    tcp_window: int
    l4_header_len: int
    payload_offset: int
    payload_len: int
    @property
    def src(self) -> bytes:
        """Source address, 4 or 16 bytes (b"" when not IP)."""
    @property
    def dst(self) -> bytes:
        """Destination address, 4 or 16 bytes (b"" when not IP)."""
    @property
    def anomaly_bits(self) -> int:
        """Anomaly bitmask (see `DECODE_ANOMALY_CODES`)."""
    @property
    def anomalies(self) -> tuple[str, ...]:
        """Anomaly codes, stable snake_case strings, in bit order."""
    def flow_key(self) -> _FlowKey | None:
        """(src, dst, src_port, dst_port, proto), or None when not IP."""
    def __eq__(self, other: object, /) -> bool: ...

# -- defrag.rs ---------------------------------------------------------------------------

@final
class Defragmenter:
    """IPv4/IPv6 defragmenter over whole batches. Use `wirekit.reasm.Defragmenter`."""

    def __new__(
        cls,
        policy: str = "bsd",
        policy_by_cidr: Sequence[tuple[str, str]] | None = None,
        timeout_ns: int = 30_000_000_000,
        max_fragments_per_datagram: int = 256,
        max_datagrams: int = 8192,
        max_bytes: int = 33_554_432,
        max_datagram_len: int = 65_535,
        cap_policy: Literal["evict_oldest", "drop_new"] = "evict_oldest",
        cap_event_interval_ns: int = 1_000_000_000,
        discard_overlaps: Literal["never", "ipv6", "always"] = "never",
    ) -> Self:
        """ValueError for an unknown policy, cap policy or discard mode, or timeout_ns <= 0."""
    def push_batch(self, batch: Batch) -> tuple[list[Packet], list[_DefragEventTuple]]:
        """Pushes every frame: (datagrams completed by this batch, events)."""
    def push(self, pkt: Packet) -> tuple[int, Packet | None, list[_DefragEventTuple]]:
        """Pushes one packet: (outcome 0-3, reassembled packet or None, events)."""
    def advance(self, now_ns: int) -> list[_DefragEventTuple]:
        """Expires datagrams whose deadline is <= now_ns; returns their events."""
    def next_deadline(self) -> int | None:
        """When `advance` next has work (ns), or None."""
    def stats(self) -> dict[str, int]:
        """Counters (see DefragStats); anomalies under "anomaly:<code>"."""

# -- reasm.rs ----------------------------------------------------------------------------

@final
class TcpPipeline:
    """Frames -> events (decode, TCP reassembly, UDP/IP events). Use `wirekit.reasm.Reassembler`."""

    def __new__(
        cls,
        *,
        policy: str = "first",
        policy_table: Sequence[tuple[str, str]] | None = None,
        delivery: Literal["immediate", "on_ack"] = "immediate",
        midstream: bool = False,
        collect_default: bool = True,
        defer_collect: bool = False,
        max_conns: int = 1 << 20,
        max_buffer_per_stream: int = 16 << 20,
        max_buffer_total: int = 1 << 30,
        conn_cap_policy: str = "evict_oldest",
        buffer_cap_policy: str = "evict_oldest",
        idle_timeout_ns: int = 600_000_000_000,
        handshake_timeout_ns: int = 60_000_000_000,
        verify_checksums: bool = True,
        checksum_drop: Sequence[str] | None = None,
        emit_udp: bool = False,
        emit_ip: bool = False,
        scan_num_hosts: int = 0,
        scan_num_ports: int = 10,
        scan_delay_ns: int = 3_000_000_000,
    ) -> Self:
        """ValueError for an unknown policy, delivery mode, cap policy or CIDR."""
    def feed_batch(self, batch: Batch, start: int = 0) -> tuple[list[_TcpEventTuple], int]:
        """Feeds records `start..` of a batch: (events, next index)."""
    def feed_batch_count(self, batch: Batch) -> int:
        """Feeds a whole batch collecting data; returns only the number of events."""
    def open_file_sink(
        self, dir: str | PathLike[str], flush_bytes: int = 1 << 18, max_copied_bytes: int = 1 << 27, echo: bool = True
    ) -> None:
        """Sends every connection's bytes to files in `dir` and writes dir/streams.jsonl (threads);
        with `echo` the feed methods return the index lines too. OSError if `dir` cannot be used."""
    def sink_stats(self) -> dict[str, int]:
        """The file sink's counters (copies_cap_hits)."""
    def feed_batch_files(self, batch: Batch) -> list[str]:
        """Feeds a batch with the file sink on: one streams.jsonl line per connection ended."""
    def advance_files(self, now_ns: int) -> list[str]:
        """`advance` with the file sink on (live idle timeouts): the lines of the connections ended."""
    def finish_files(self, now_ns: int | None = None) -> list[str]:
        """`finish` with the file sink on: the lines of the connections still open."""
    def feed_file_count(self, path: str | PathLike[str]) -> tuple[int, int]:
        """Reads and feeds a whole capture file in Rust: (frames, events)."""
    def feed_file_files(
        self, path: str | PathLike[str], progress: Callable[[int, int], object] | None = None
    ) -> tuple[list[str], int, str | None]:
        """`feed_batch_files` over a whole file read in Rust: (lines, frames, error or None)."""
    def feed_packets(self, packets: Sequence[Packet], start: int = 0) -> tuple[list[_TcpEventTuple], int]:
        """Feeds Packet objects `start..`; same return as `feed_batch`."""
    def feed_frame(self, data: bytes, ts_ns: int, linktype: int = 1, wire_len: int | None = None) -> list[_TcpEventTuple]:
        """Feeds one frame; returns its events."""
    def set_collect(self, conn_id: int, to_server: bool, to_client: bool, now_ns: int) -> list[_TcpEventTuple]:
        """Decides which directions of a connection deliver data."""
    def needs_decision(self) -> bool:
        """Whether a connection waits for `set_collect` (with defer_collect)."""
    def advance(self, now_ns: int) -> list[_TcpEventTuple]:
        """Moves time to `now_ns`: timeouts and the events they cause."""
    def next_deadline(self) -> int | None:
        """When `advance` next has work (ns), or None."""
    @property
    def last_ts_ns(self) -> int:
        """Largest frame time fed so far (ns; 0 before any frame)."""
    def finish(self, now_ns: int) -> list[_TcpEventTuple]:
        """End of input: flushes and closes every connection."""
    def counts(self, conn_id: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """((delivered, gap) to server, (delivered, gap) to client) of an open connection."""
    def next_seqs(self, conn_id: int) -> tuple[int, int] | None:
        """(client next seq, server next seq) of an open connection."""
    def stats(self) -> dict[str, int]:
        """Counters: frames, segments, connections, bytes delivered, gaps, anomalies, ..."""

# -- flow.rs -----------------------------------------------------------------------------

@final
class CaptureFeeder:
    """Framing state for `FlowMeter.feed_buffer` (raw capture-file bytes in)."""

    def __new__(cls) -> Self: ...
    def finish(self, leftover: bytes) -> _FrameErrorTuple | None:
        """End of input: None when the file ended cleanly, else the error tuple."""
    @property
    def records(self) -> int:
        """Packet records framed so far."""
    @property
    def linktype(self) -> int | None:
        """Link type of the first interface (pcap: the header's), None before the header."""

@final
class FlowMeter:
    """The flow table (wirekit-flow `Meter`); times are nanoseconds of packet time."""

    def __new__(
        cls,
        *,
        idle_timeout_ns: int,
        active_timeout_ns: int,
        fin_linger_ns: int,
        max_flows: int,
        bidirectional: bool = False,
        frag_map_cap: int = 4096,
        frag_timeout_ns: int = 30_000_000_000,
    ) -> Self: ...
    def set_export_layout(
        self,
        v4: Sequence[tuple[str, int]],
        v6: Sequence[tuple[str, int]],
        start_ns: int | None = None,
        biflow_times: bool = False,
    ) -> None:
        """Sets the record layouts of packed output (field name, length in bytes)."""
    @property
    def export_start_ns(self) -> int | None:
        """The exporter boot time the packed output uses (None before the first packet)."""
    def feed_batch(self, batch: Batch, packed: bool = False) -> list[_FlowRecordTuple] | _PackedFlows:
        """Accounts every record of a Batch; returns the flows that expired meanwhile."""
    def feed_buffer(
        self, feeder: CaptureFeeder, buf: bytearray, length: int, packed: bool = False
    ) -> tuple[int, list[_FlowRecordTuple] | _PackedFlows, _FrameErrorTuple | None, int, int | None]:
        """Meters raw file bytes: (consumed, expired flows, error, packets, first ts_ns)."""
    def feed_packets(self, packets: Sequence[Packet]) -> list[_FlowRecordTuple]:
        """Accounts a list of Packet objects; returns the flows that expired."""
    def advance(self, now_ns: int, packed: bool = False) -> list[_FlowRecordTuple] | _PackedFlows:
        """Moves packet time forward to `now_ns`; returns the flows that expired."""
    def flush(self, packed: bool = False) -> list[_FlowRecordTuple] | _PackedFlows:
        """Expires every open flow (end of input, shutdown)."""
    def next_deadline(self) -> int | None:
        """When `advance` should next be called (ns), None when no flow is open."""
    @property
    def now_ns(self) -> int | None:
        """Packet time as the meter sees it, None before any packet."""
    def __len__(self) -> int: ...
    def stats(self) -> dict[str, int]:
        """Counters: packets, non_ip, flows_created, expired_* by reason, evictions, ..."""

# -- live.rs -----------------------------------------------------------------------------

@final
class LiveRing:
    """One AF_PACKET TPACKET_V3 ring on one interface (ifindex 0: all). Yields Batches."""

    def __new__(
        cls,
        ifindex: int,
        *,
        cooked: bool,
        linktype: int,
        snaplen: int,
        promisc: bool,
        buffer_size: int,
        block_timeout_ms: int,
        fanout: tuple[int, int] | None = None,
        filter: Sequence[_BpfInsn] | None = None,
        lo_ifindex: int = 1,
        max_batch_bytes: int = 4 << 20,
    ) -> Self:
        """Opens the ring (OSError/PermissionError on failure, ValueError for a bad filter)."""
    def fileno(self) -> int:
        """The socket's file descriptor (for select/epoll)."""
    @property
    def block_count(self) -> int:
        """Number of blocks in the ring."""
    def next_batch(self, timeout_ms: int = -1) -> Batch:
        """Waits up to `timeout_ms` (-1: forever) with the GIL released; every packet ready."""
    def read_ready(self) -> Batch:
        """Every packet ready now, without waiting (maybe empty)."""
    def stats(self) -> tuple[int, int]:
        """(received, dropped_by_kernel), cumulative since open."""
    def set_filter(self, filter: Sequence[_BpfInsn] | None) -> None:
        """Replaces (or with None removes) the kernel filter; drops what the ring held."""
    def close(self) -> None:
        """Closes the socket and unmaps the ring."""
    @property
    def closed(self) -> bool:
        """Whether `close` was called."""

@final
class BpfProgram:
    """A validated classic BPF program that runs here (userland) or attaches to a socket."""

    def __new__(cls, insns: Iterable[_BpfInsn]) -> Self:
        """ValueError when the validator refuses the program."""
    @property
    def instructions(self) -> list[_BpfInsn]:
        """The instructions as (code, jt, jf, k) tuples."""
    def run(self, data: bytes, wire_len: int | None = None) -> int:
        """Runs over one packet's bytes; the snapshot length to keep (0 = reject)."""
    def match_batch(self, batch: Batch) -> bytes:
        """One byte per record of `batch`: 1 when the program accepts it."""
    def filter_batch(self, batch: Batch) -> Batch:
        """A new Batch (sharing the buffer) with only the records the program accepts."""
    def attach(self, fd: int) -> None:
        """Attaches the program to socket `fd` in the kernel (SO_ATTACH_FILTER)."""
    def __len__(self) -> int: ...

# -- scan.rs -----------------------------------------------------------------------------

@final
class SynBlaster:
    """Builds and sends SYN probes in keyed-permutation order (sendmmsg, 512 a call)."""

    def __new__(
        cls,
        secret: bytes,
        intervals: Sequence[tuple[int, bytes, bytes]],
        ports: Sequence[int],
        perm_keys: Sequence[int],
        perm_half: int,
        src4: bytes | None = None,
        src6: bytes | None = None,
        ttl: int = 64,
        window: int = 1024,
        ip_id: int = 0,
    ) -> Self:
        """intervals: (version, first, last) with 16-byte big-endian addresses."""
    def build_one(self, index: int, src_port: int) -> bytes:
        """Probe number `index` (not a permutation position) as an IP datagram."""
    def permuted(self, cursor: int) -> int:
        """The probe index at permutation position `cursor`."""
    def send(self, fd4: int, fd6: int, cursor: int, count: int, src_port: int) -> tuple[int, int]:
        """Sends positions cursor..cursor+count through raw sockets: (sent, next cursor)."""
    @property
    def total(self) -> int:
        """Number of probes in one pass (targets x ports)."""

def scan_probe_seq(secret: bytes, version: int, addr: bytes, port: int, src_port: int) -> int:
    """The keyed sequence number of a probe (low 32 bits of SipHash-2-4)."""
