"""Capture files: reading, writing, round trips, errors that say where they stopped."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import pytest

import wirekit
from wirekit import CaptureFileError, CaptureTruncatedError, PcapngWriter, PcapWriter
from wirekit.capture import RecordFlags
from wirekit.capture.files import CaptureFile

from conftest import corpus_files, require_tool

PCAPS = [p for p in corpus_files("**/*.pcap") if "malformed" not in p.parts]
PCAPNGS = [p for p in corpus_files("**/*.pcapng") if "malformed" not in p.parts]


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def pcap_bytes(records, *, nanos=False, big=False, linktype=1, snaplen=65535):
    e = ">" if big else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for sec, frac, data, wire_len in records:
        out += struct.pack(e + "IIII", sec, frac, len(data), wire_len) + data
    return out


@pytest.mark.parametrize("path", PCAPS, ids=_ids(PCAPS))
def test_pcap_read_then_write_is_byte_identical(path, tmp_path):
    src = wirekit.open(path)
    header = src.info["pcap_header"]
    out = tmp_path / "out.pcap"
    with PcapWriter(out, header=header) as w:
        for pkt in src:
            if pkt.flags & RecordFlags.TS_FRACTION_INVALID:
                pytest.skip("timestamp fraction out of range cannot be re-encoded from ts_ns")
            w.write(pkt)
    assert out.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", PCAPNGS, ids=_ids(PCAPNGS))
def test_pcapng_read_then_write_keeps_every_record(path, tmp_path):
    original = list(wirekit.open(path))
    src = wirekit.open(path)
    out = tmp_path / "out.pcapng"
    packets = list(src)
    with PcapngWriter(out, interfaces=src.info["interfaces"]) as w:
        for pkt in packets:
            w.write(pkt)
    again = list(wirekit.open(out))
    assert len(again) == len(original)
    for a, b in zip(original, again):
        assert (a.wire_len, a.linktype, a.interface_id, a.data) == (b.wire_len, b.linktype, b.interface_id, b.data)
        # A timestamp past year 2262 (pcapng-example.pcapng has some) saturates and is flagged;
        # it cannot be written back as it was.
        if not a.flags & RecordFlags.TS_OUT_OF_RANGE:
            assert a.ts_ns == b.ts_ns


def test_far_future_pcapng_timestamp_is_flagged_not_wrapped():
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", 1, 0, 0))  # microseconds
    ticks = 18446744073204126329  # 2^64-ish microseconds: year 584,000
    epb = _block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, 1, 1) + b"x")
    (pkt,) = list(wirekit.open(io.BytesIO(shb + idb + epb)))
    assert pkt.ts_ns == 2**63 - 1
    assert pkt.flags & RecordFlags.TS_OUT_OF_RANGE


@pytest.mark.parametrize("path", (PCAPS + PCAPNGS)[:: max(1, len(PCAPS + PCAPNGS) // 12)],
                         ids=_ids((PCAPS + PCAPNGS)[:: max(1, len(PCAPS + PCAPNGS) // 12)]))
def test_tshark_reads_what_wirekit_writes(path, tmp_path):
    require_tool("tshark")
    packets = list(wirekit.open(path))
    if len({p.linktype for p in packets}) > 1:
        writer, out = PcapngWriter, tmp_path / "out.pcapng"
    else:
        writer, out = PcapWriter, tmp_path / "out.pcap"
    kw = {} if writer is PcapngWriter else {"linktype": packets[0].linktype if packets else 1}
    with writer(out, **kw) as w:
        for p in packets:
            w.write(p)
    res = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len",
                          "-e", "frame.time_epoch"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert len(rows) == len(packets)
    for p, (wire_len, caplen, epoch) in zip(packets, rows):
        assert int(wire_len) == p.wire_len and int(caplen) == p.caplen
        sec, _, frac = epoch.partition(".")
        assert int(sec) * 10**9 + int(frac.ljust(9, "0")[:9]) == p.ts_ns


def test_pcap_fields_little_endian_microseconds():
    raw = pcap_bytes([(10, 250_000, b"\x01\x02\x03", 60), (11, 999_999, b"\x04", 4)])
    pkts = list(wirekit.open(io.BytesIO(raw)))
    assert [(p.ts_ns, p.data, p.wire_len, p.caplen, p.linktype) for p in pkts] == [
        (10_250_000_000, b"\x01\x02\x03", 60, 3, 1),
        (11_999_999_000, b"\x04", 4, 1, 1),
    ]


def test_pcap_big_endian_nanoseconds_round_trip(tmp_path):
    raw = pcap_bytes([(1, 123_456_789, b"abcd", 4)], nanos=True, big=True, linktype=101)
    src = wirekit.open(io.BytesIO(raw))
    (pkt,) = list(src)
    assert (pkt.ts_ns, pkt.linktype) == (1_123_456_789, 101)
    assert src.info["pcap_header"]["big_endian"] and src.info["pcap_header"]["nanosecond"]
    buf = io.BytesIO()
    w = PcapWriter(buf, header=src.info["pcap_header"])
    w.write(pkt)
    assert buf.getvalue() == raw


def test_truncated_file_yields_every_good_packet_then_says_where():
    raw = pcap_bytes([(1, 0, b"A" * 10, 10), (2, 0, b"B" * 10, 10), (3, 0, b"C" * 10, 10)])
    cut = raw[:-4]
    got = []
    with pytest.raises(CaptureTruncatedError) as ei:
        for p in wirekit.open(io.BytesIO(cut)):
            got.append(p.data)
    assert got == [b"A" * 10, b"B" * 10]
    assert ei.value.offset == 24 + 2 * 26
    assert ei.value.record == 2
    assert "byte offset 76" in str(ei.value) and "packet record 2" in str(ei.value)


def test_corrupt_length_is_an_error_with_offset():
    raw = pcap_bytes([(1, 0, b"A" * 10, 10)]) + struct.pack("<IIII", 2, 0, 0x7FFFFFFF, 10) + b"x" * 40
    got = []
    with pytest.raises(CaptureFileError) as ei:
        for p in wirekit.open(io.BytesIO(raw)):
            got.append(p)
    assert len(got) == 1 and ei.value.kind == "corrupt" and ei.value.offset == 50


def test_not_a_capture_fails_at_open(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"hello world, not a pcap")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng file"):
        wirekit.open(f)


def test_empty_file_has_no_packets(tmp_path):
    f = tmp_path / "empty.pcap"
    f.write_bytes(b"")
    assert list(wirekit.open(f)) == []


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096])
def test_chunk_size_does_not_change_what_is_read(chunk_size):
    raw = pcap_bytes([(i, i * 7, bytes([i]) * (i * 13 % 200 + 1), 300) for i in range(50)])
    ref = [(p.ts_ns, p.data) for p in wirekit.open(io.BytesIO(raw))]
    got = [(p.ts_ns, p.data) for p in wirekit.open(io.BytesIO(raw), chunk_size=chunk_size)]
    assert got == ref and len(ref) == 50


def _block(btype, body):
    total = 12 + len(body) + (-len(body)) % 4
    return struct.pack("<II", btype, total) + body + b"\0" * ((-len(body)) % 4) + struct.pack("<I", total)


def test_pcapng_two_sections_interfaces_and_resolutions():
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb_us = _block(1, struct.pack("<HHI", 1, 0, 0))                          # default 10^-6
    idb_ns = _block(1, struct.pack("<HHI", 101, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4)
    epb0 = _block(6, struct.pack("<IIIII", 0, 0, 1_500_000, 3, 60) + b"abc")
    epb1 = _block(6, struct.pack("<IIIII", 1, 0, 7, 2, 2) + b"xy")
    spb = _block(3, struct.pack("<I", 4) + b"spb!")
    # second section, big endian, one interface with 2^-10 s resolution
    shb_be = struct.pack(">II", 0x0A0D0D0A, 28) + struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1) + struct.pack(">I", 28)
    idb_be_body = struct.pack(">HHI", 113, 0, 0) + struct.pack(">HHB3x", 9, 1, 0x8A) + b"\0" * 4
    idb_be = struct.pack(">II", 1, 12 + len(idb_be_body)) + idb_be_body + struct.pack(">I", 12 + len(idb_be_body))
    epb_be_body = struct.pack(">IIIII", 0, 0, 1024 * 3, 4, 4) + b"zzzz"
    epb_be = struct.pack(">II", 6, 12 + len(epb_be_body)) + epb_be_body + struct.pack(">I", 12 + len(epb_be_body))
    raw = shb + idb_us + idb_ns + epb0 + epb1 + spb + shb_be + idb_be + epb_be
    src = wirekit.open(io.BytesIO(raw))
    pkts = list(src)
    assert [(p.ts_ns, p.linktype, p.interface_id, p.data, p.wire_len) for p in pkts] == [
        (1_500_000_000, 1, 0, b"abc", 60),
        (7, 101, 1, b"xy", 2),
        (0, 1, 0, b"spb!", 4),
        (3_000_000_000, 113, 2, b"zzzz", 4),
    ]
    info = src.info
    assert info["format"] == "pcapng" and info["sections"] == 2
    assert [i["linktype"] for i in info["interfaces"]] == [1, 101, 113]


class _ReadOnly:
    """A file object with read() only: CaptureFile's copying path (no readinto)."""

    def __init__(self, f):
        self.f = f

    def read(self, n=-1):
        return self.f.read(n)


def _packets_and_error(source, chunk_size: int):
    out, err = [], None
    try:
        for batch in CaptureFile(source, chunk_size=chunk_size).batches():
            out += [(batch.data(i), t) for i, t in enumerate(batch.ts_ns())]
    except CaptureFileError as e:
        err = (type(e).__name__, e.offset, e.record, e.kind)
    return out, err


@pytest.mark.parametrize("chunk_size", [1 << 20, 100, 7])
def test_reading_into_the_batch_buffer_equals_reading_and_copying(chunk_size):
    # Files with readinto are read straight into each batch's buffer; anything else is
    # read and copied. Same packets and the same error, at any chunk size (records cut by
    # chunk ends, truncated and corrupt files included).
    paths = [p for p in corpus_files("**/*.pcap", "**/*.pcapng") if p.is_file()]
    if not paths:
        pytest.skip("corpus not found")
    for path in paths:
        with open(path, "rb") as a, open(path, "rb", buffering=0) as b:
            assert _packets_and_error(_ReadOnly(a), chunk_size) == _packets_and_error(b, chunk_size), path
