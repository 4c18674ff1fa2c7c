"""Real collectors on loopback: nfcapd receives wirekit's v5, v9 and IPFIX exports of a corpus
capture and nfdump's records equal wirekit's JSON of the same run; tshark decodes every export
datagram without a malformed-packet or warning expert item."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from wirekit.capture.writers import PcapWriter
from wirekit.flow.export import IPFIXEncoder, V1Encoder, V5Encoder, V9Encoder

from .helpers import meter_file, nfdump_csv

NFDUMP_PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ms_str(ns):
    import datetime as dt

    return dt.datetime.fromtimestamp(ns // 10**9, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("version,bi", [(5, False), (9, False), (10, False), (10, True)])
def test_nfcapd_receives_what_wirekit_meters(corpus, tmp_path, version, bi):
    """nfcapd's records equal wirekit's JSON of the same run; with --bidirectional, IPFIX
    biflows (RFC 5103 reverse elements) arrive with nfdump's in/out counters filled."""
    extra = ["--bidirectional"] if bi else []
    if not (shutil.which("nfcapd") and shutil.which("nfdump")):
        pytest.skip("nfcapd/nfdump not installed (Debian package nfdump)")
    port = _free_udp_port()
    store = tmp_path / "nfcapd"
    store.mkdir()
    nfcapd = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", str(store)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)  # nfcapd binds its socket
        # Export only (the tool then sends records the Rust meter laid out: the fast path).
        run = subprocess.run(
            [sys.executable, "-m", "wirekit.cli", "flow", "-r", str(corpus / "flows" / "wikipedia.pcap"),
             "-e", f"127.0.0.1:{port}", "-V", str(version), *extra],
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        time.sleep(0.5)
    finally:
        nfcapd.send_signal(signal.SIGTERM)
        try:
            log = nfcapd.communicate(timeout=10)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            nfcapd.kill()
            log = nfcapd.communicate()[0].decode(errors="replace")
    assert "Sequence Errors: 0" in log and "Bad Packets: 0" in log, log
    # The same run with JSON output (a replay is deterministic), exporting too (row path).
    out_json = tmp_path / "flows.json"
    run = subprocess.run(
        [sys.executable, "-m", "wirekit.cli", "flow", "-r", str(corpus / "flows" / "wikipedia.pcap"),
         "-e", f"127.0.0.1:{port}", "-V", str(version), "--json", str(out_json), *extra],
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    env = dict(os.environ, TZ="UTC")
    csv_text = subprocess.run(["nfdump", "-R", str(store), "-o", "csv"], capture_output=True,
                              text=True, timeout=30, env=env).stdout
    csv_path = tmp_path / "nfdump.csv"
    csv_path.write_text(csv_text)
    theirs = []
    for r in nfdump_csv(csv_path):
        dp = r["dp"]
        dport = int(dp.split(".")[0]) * 256 + int(dp.split(".")[1]) if "." in dp else int(dp)
        theirs.append((r["sa"], r["da"], int(r["sp"]), dport, NFDUMP_PROTO[r["pr"].strip()],
                       int(r["ipkt"]), int(r["ibyt"]), int(r["opkt"]), int(r["obyt"]), r["ts"], r["te"],
                       r["td"].strip()))
    ours = []
    for line in open(out_json):
        f = json.loads(line)
        if version == 5 and f["ip_version"] != 4:
            continue  # v5 carries IPv4 only
        first, last = f["first_ns"], f["last_ns"]
        if f.get("rev_packets"):
            first, last = min(first, f["rev_first_ns"]), max(last, f["rev_last_ns"])
        dur_ms = last // 10**6 - first // 10**6
        ours.append((f["src"], f["dst"], f["src_port"], f["dst_port"], f["proto"], f["packets"],
                     f["bytes"], f.get("rev_packets", 0), f.get("rev_bytes", 0), _ms_str(first),
                     _ms_str(last), f"{dur_ms / 1000:.3f}"))
    assert len(ours) == (54 if version == 5 else 34 if bi else 57)
    assert sorted(theirs) == sorted(ours)
    # Totals: flows, packets, bytes.
    assert (len(theirs), sum(t[5] for t in theirs), sum(t[6] for t in theirs)) == \
           (len(ours), sum(o[5] for o in ours), sum(o[6] for o in ours))


def _udp_frame(payload: bytes, port: int) -> bytes:
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                               bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    ip[10:12] = struct.pack("!H", ~s & 0xFFFF)
    return b"\0" * 12 + b"\x08\x00" + bytes(ip) + udp


@pytest.mark.parametrize("enc_cls,kw", [(V1Encoder, {}), (V5Encoder, {}), (V9Encoder, {}),
                                        (V9Encoder, {"bidirectional": True, "sampling_interval": 10}),
                                        (IPFIXEncoder, {}),
                                        (IPFIXEncoder, {"bidirectional": True, "sampling_interval": 10})])
def test_tshark_decodes_every_export_datagram(corpus, tmp_path, enc_cls, kw):
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    bi = kw.get("bidirectional", False)
    flows, _ = meter_file(corpus / "flows" / "wikipedia.pcap", bidirectional=bi)
    start = min(f.first_ns for f in flows)
    enc = enc_cls(start_ns=start, **kw)
    dgs = []
    for i in range(0, len(flows), 20):  # several exports: templates, then data-only datagrams
        chunk = flows[i:i + 20]
        dgs += enc.encode(chunk, max(f.flow_last_ns for f in chunk))
    port = 2055
    path = tmp_path / "export.pcap"
    w = PcapWriter(str(path))
    for i, d in enumerate(dgs):
        w.write(data=_udp_frame(d, port), ts_ns=start + i)
    w.close()
    res = subprocess.run(["tshark", "-r", str(path), "-d", f"udp.port=={port},cflow", "-V"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "Malformed" not in text
    assert "Expert Info (Warning" not in text and "Expert Info (Error" not in text
    assert text.count("Cisco NetFlow/IPFIX") == len(dgs)
    import re

    flows_seen = len(re.findall(r"^\s+(?:pdu \d+/\d+|Flow \d+)$", text, re.M))
    expected = sum(2 if (enc_cls in (V1Encoder, V5Encoder) and f.rev_packets) else 1
                   for f in flows if f.ip_version == 4 or enc_cls not in (V1Encoder, V5Encoder))
    assert flows_seen >= expected


@pytest.mark.parametrize("capture", ["workshop_2011_browse.pcap", "wikipedia.pcap", "conn-size.pcap"])
def test_flows_agree_with_softflowd(corpus, tmp_path, capture):
    """softflowd and wirekit meter the same capture with the same timeouts; softflowd's v9
    export, received by nfcapd and printed by nfdump, has the same flows with the same
    packets and bytes as wirekit's JSON, but for two documented rules:

    * wirekit ends a TCP flow --fin-linger (default 2 s) after its FIN/RST, softflowd only at
      its tcp.fin timeout: the comparison sets a long linger (a straggler ACK would otherwise
      open a new wirekit record);
    * bytes are IP total lengths (NetFlow's dOctets); softflowd counts the Ethernet padding of
      short frames (60-byte minimum) too, so its bytes exceed ours by exactly that padding.
    """
    if not (shutil.which("softflowd") and shutil.which("nfcapd") and shutil.which("nfdump")):
        pytest.skip("softflowd/nfcapd/nfdump not installed (Debian packages softflowd, nfdump)")
    port = _free_udp_port()
    store = tmp_path / "nfcapd"
    store.mkdir()
    nfcapd = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", str(store)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pcap = str(corpus / "flows" / capture)
    try:
        time.sleep(0.5)
        subprocess.run(["softflowd", "-d", "-6", "-r", pcap, "-n", f"127.0.0.1:{port}", "-v", "9", "-c", "none",
                        "-t", "general=15s", "-t", "tcp=15s", "-t", "udp=15s", "-t", "icmp=15s",
                        "-t", "maxlife=1800s"], capture_output=True, timeout=60, check=True)
        time.sleep(0.5)
    finally:
        nfcapd.send_signal(signal.SIGTERM)
        try:
            nfcapd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nfcapd.kill()
            nfcapd.wait()
    csv_path = tmp_path / "softflowd.csv"
    csv_path.write_text(subprocess.run(["nfdump", "-R", str(store), "-o", "csv"], capture_output=True,
                                       text=True, timeout=30).stdout)
    theirs = []
    for r in nfdump_csv(csv_path):
        dp = r["dp"]
        dport = int(dp.split(".")[0]) * 256 + int(dp.split(".")[1]) if "." in dp else int(dp)
        theirs.append((r["sa"], r["da"], int(r["sp"]), dport, NFDUMP_PROTO[r["pr"].strip()],
                       int(r["ipkt"]), int(r["ibyt"])))
    out_json = tmp_path / "wirekit.json"
    run = subprocess.run([sys.executable, "-m", "wirekit.cli", "flow", "-r", pcap, "--json", str(out_json),
                          "--idle-timeout", "15", "--active-timeout", "1800", "--fin-linger", "300", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    padding = _ethernet_padding_by_flow(pcap)
    ours = [(f["src"], f["dst"], f["src_port"], f["dst_port"], f["proto"], f["packets"],
             f["bytes"] + padding.get((f["src"], f["dst"], f["src_port"], f["dst_port"]), 0))
            for f in map(json.loads, open(out_json))]
    assert len(ours) > 3
    assert sorted(ours) == sorted(theirs)


def _ethernet_padding_by_flow(pcap) -> dict:
    """Bytes of Ethernet padding (captured frame beyond the IP datagram) per TCP/UDP 4-tuple."""
    import wirekit

    pad: dict = {}
    for pkt in wirekit.open(pcap):
        d = pkt.decode()
        l4 = d.tcp or d.udp
        if d.ip is None or l4 is None or d.ip.version != 4 or d.vlan:
            continue
        extra = len(pkt.data) - 14 - d.ip.total_len
        if extra > 0:
            k = (str(d.ip.src), str(d.ip.dst), l4.src_port, l4.dst_port)
            pad[k] = pad.get(k, 0) + extra
    return pad
