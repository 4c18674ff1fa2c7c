"""Property-based fuzzing of the Python-facing reader and decode (hypothesis, bounded).

- `wirekit.open` on arbitrary bytes, and on structured-but-broken pcap/pcapng files, yields
  packets and then at most a CaptureFileError: never another exception.
- The chunk size the file is read with changes nothing: same packets, same error, same offset.
- Decoding any bytes under any link type gives a summary with anomalies, never an exception,
  and batch and per-packet decode agree.

Runs a fixed, derandomized number of examples in the test suite. For a longer campaign:
WIREKIT_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_python.py (random seeds then).
"""

from __future__ import annotations

import io
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wirekit
from wirekit import CaptureFileError
from wirekit._core import Packet

EXAMPLES = int(os.environ.get("WIREKIT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="WIREKIT_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]


def read_all(data: bytes, chunk_size: int | None = None):
    """(packets as tuples, error as (kind, offset, record) or None)."""
    kw = {} if chunk_size is None else {"chunk_size": chunk_size}
    packets = []
    try:
        cap = wirekit.open(io.BytesIO(data), **kw)
        for p in cap:
            packets.append((p.ts_ns, p.wire_len, p.linktype, p.interface_id, p.flags, p.data))
    except CaptureFileError as e:
        assert isinstance(e.offset, int) and isinstance(e.record, int)
        assert e.record == len(packets)
        return packets, (e.kind, e.offset, e.record)
    return packets, None


# ---------------------------------------------------------------- structured inputs
@st.composite
def pcap_files(draw):
    big = draw(st.booleans())
    e = ">" if big else "<"
    magic = draw(st.sampled_from([0xA1B2C3D4, 0xA1B23C4D]))
    linktype = draw(st.sampled_from(LINKTYPES + [draw(st.integers(0, 0xFFFFFFFF))]))
    snaplen = draw(st.sampled_from([65535, 262144, 64, 0, draw(st.integers(0, 0xFFFFFFFF))]))
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    for _ in range(draw(st.integers(0, 6))):
        data = draw(st.binary(max_size=200))
        caplen = draw(st.sampled_from([len(data), len(data), draw(st.integers(0, 0xFFFFFFFF))]))
        wire_len = draw(st.sampled_from([len(data), len(data) + 100, draw(st.integers(0, 0xFFFFFFFF))]))
        frac = draw(st.sampled_from([0, 999_999, 1_000_000, draw(st.integers(0, 0xFFFFFFFF))]))
        out += struct.pack(e + "IIII", draw(st.integers(0, 0xFFFFFFFF)), frac, caplen, wire_len) + data
    cut = draw(st.integers(0, len(out)))
    return out[:cut] if draw(st.booleans()) else out


def _block(e, btype, body, total=None):
    pad = (-len(body)) % 4
    length = 12 + len(body) + pad if total is None else total
    return struct.pack(e + "II", btype, length) + body + b"\0" * pad + struct.pack(e + "I", length)


@st.composite
def pcapng_files(draw):
    e = draw(st.sampled_from(["<", ">"]))
    out = b""
    for _section in range(draw(st.integers(1, 2))):
        out += _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        for _ in range(draw(st.integers(0, 3))):
            opts = b""
            if draw(st.booleans()):  # if_tsresol
                opts += struct.pack(e + "HH", 9, 1) + bytes([draw(st.integers(0, 255))]) + b"\0\0\0"
            if draw(st.booleans()):
                opts += struct.pack(e + "HH", 0, 0)
            out += _block(e, 1, struct.pack(e + "HHI", draw(st.sampled_from(LINKTYPES)), 0,
                                            draw(st.integers(0, 0xFFFFFFFF))) + opts)
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(["epb", "spb", "opb", "junk"]))
            data = draw(st.binary(max_size=120))
            caplen = draw(st.sampled_from([len(data), draw(st.integers(0, 0xFFFFFFFF))]))
            bad_total = draw(st.sampled_from([None, None, None, draw(st.integers(0, 0xFFFFFFFF))]))
            if kind == "epb":
                body = struct.pack(e + "IIIII", draw(st.integers(0, 4)), draw(st.integers(0, 0xFFFFFFFF)),
                                   draw(st.integers(0, 0xFFFFFFFF)), caplen, len(data)) + data
                out += _block(e, 6, body, bad_total)
            elif kind == "spb":
                out += _block(e, 3, struct.pack(e + "I", len(data)) + data, bad_total)
            elif kind == "opb":
                body = struct.pack(e + "HHIIII", 0, 0, 0, 0, caplen, len(data)) + data
                out += _block(e, 2, body, bad_total)
            else:
                out += _block(e, draw(st.integers(0, 0xFFFFFFFF)), data, bad_total)
    cut = draw(st.integers(0, len(out)))
    return out[:cut] if draw(st.booleans()) else out


capture_bytes = st.one_of(st.binary(max_size=600), pcap_files(), pcapng_files())


# ---------------------------------------------------------------- properties
@FUZZ
@given(data=capture_bytes)
def test_open_yields_packets_or_capture_error(data):
    packets, err = read_all(data)
    if err is None:
        # A clean end: every record's bytes are within the file.
        assert sum(len(p[5]) for p in packets) <= len(data)


@FUZZ
@given(data=st.one_of(pcap_files(), pcapng_files()), chunk=st.integers(1, 97))
def test_chunk_size_independence(data, chunk):
    whole = read_all(data)
    assert read_all(data, chunk_size=chunk) == whole
    assert read_all(data, chunk_size=1) == whole


@FUZZ
@given(data=st.binary(max_size=300), linktype=st.sampled_from(LINKTYPES),
       extra=st.integers(0, 3000))
def test_decode_never_raises(data, linktype, extra):
    pkt = Packet(data, linktype=linktype, wire_len=len(data) + extra)
    s = pkt.summary(verify_checksums=True)
    assert s.payload_offset + s.payload_len <= len(data)
    assert all(isinstance(c, str) for c in s.anomalies)
    key = pkt.flow_key()
    assert key is None or (len(key) == 5 and len(key[0]) in (4, 16))
    # The Python layer decoder: anomalies, never an exception.
    d = pkt.decode()
    assert all(isinstance(c, str) for c in d.anomalies)


@FUZZ
@given(records=st.lists(st.tuples(st.binary(max_size=120), st.sampled_from([1, 101, 0, 113, 276])),
                        max_size=8))
def test_batch_equals_per_packet_on_random_frames(records):
    buf = io.BytesIO()
    w = wirekit.PcapngWriter(buf)
    for data, lt in records:
        w.write(Packet(data, linktype=lt))
    w.flush()
    raw = buf.getvalue()
    for batch in wirekit.open(io.BytesIO(raw)).batches():
        keys = batch.flow_keys()
        cols = batch.summaries()
        for i, pkt in enumerate(batch.packets()):
            assert keys[i] == pkt.flow_key()
            assert batch.summary(i) == pkt.summary()
            assert cols["anomalies"][i] == pkt.summary().anomaly_bits
